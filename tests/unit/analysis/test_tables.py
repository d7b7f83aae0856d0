"""The report's HTML tables: metrics JSON and Snakemake benchmark TSVs -> standalone pages."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from youngvae.analysis import tables

BENCHMARK_TSV = (
    "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    "{s}\t0:00:{s:02.0f}\t210.5\t900.1\t200.0\t201.0\t0.1\t2.5\t95.0\t{cpu}\n"
)




def test_encode_metrics_table_keeps_every_metric_in_order():
    metrics = {"pearson": -0.99, "spearman": -0.98, "latent_collapsed": False, "n_val": 16}
    table = tables.encode_metrics_table(metrics)
    assert list(table["metric"]) == list(metrics)
    assert list(table["value"]) == list(metrics.values())


def test_decode_metrics_table_has_one_row_per_z_and_the_means_apart():
    metrics = {
        "z": [0.0, 0.5],
        "per_z": [
            {"index": 0, "z": 0.0, "mse": 0.01, "ssim": 0.9, "wavelength_nm": 500.0},
            {"index": 1, "z": 0.5, "mse": 0.03, "ssim": 0.7, "wavelength_nm": 550.0},
        ],
        "mean_ssim": 0.8,
        "mean_mse": 0.02,
    }
    per_z = tables.decode_metrics_table(metrics)
    assert list(per_z.columns) == ["z", "wavelength_nm", "mse", "ssim"]
    assert list(per_z["z"]) == [0.0, 0.5]
    summary = tables.decode_summary_table(metrics)
    assert dict(zip(summary["metric"], summary["value"])) == {"mean_mse": 0.02, "mean_ssim": 0.8}


def test_benchmark_table_labels_every_row_with_its_job(tmp_path):
    paths = {}
    for job, s in (("train", 12.0), ("simulate_chunk[0000]", 3.5)):
        paths[job] = tmp_path / f"{len(paths)}.tsv"
        paths[job].write_text(BENCHMARK_TSV.format(s=s, cpu=s * 1.5))
    table = tables.benchmark_table(paths)
    assert list(table["job"]) == ["train", "simulate_chunk[0000]"]
    assert list(table.columns) == ["job", *tables.BENCHMARK_COLUMNS]
    assert list(table["s"]) == [12.0, 3.5]
    assert tables.benchmark_table({}).empty


def test_html_page_is_standalone_escaped_and_formats_numbers():
    frame = pd.DataFrame(
        {"metric": ["a<b", "tiny", "missing", "flag"], "value": [1.23456789, 1e-9, math.nan, True]}
    )
    page = tables.html_page("T & t", [("cap", frame)], note="n")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "<script" not in page and "http" not in page
    assert "T &amp; t" in page and "a&lt;b" in page and "<caption>cap</caption>" in page
    assert "<td>1.2346</td>" in page and "<td>1e-09</td>" in page and "<td>True</td>" in page
    assert "<td></td>" in page and "nan" not in page.lower()  # NaN cells are blank


@pytest.mark.parametrize("value, text", [(0.0, "0"), (2.5, "2.5"), (123456.0, "1.235e+05")])
def test_cell_format(value, text):
    assert tables._cell(value) == text
