"""The report's HTML tables: metrics JSON and Snakemake benchmark TSVs -> standalone pages."""

from __future__ import annotations

import json

import pandas as pd

from youngvae.stages import report as tables

BENCHMARK_TSV = (
    "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    "{s}\t0:00:{s:02.0f}\t210.5\t900.1\t200.0\t201.0\t0.1\t2.5\t95.0\t{cpu}\n"
)




def test_job_label_names_the_job_of_a_benchmark_file():
    assert tables.job_label("benchmarks/train.tsv") == "train"
    assert tables.job_label("benchmarks/simulate_chunk/0001.tsv") == "simulate_chunk[0001]"


def test_write_report_tables_renders_every_input(tmp_path):
    encode = {"pearson": -0.97, "calibration_rmse_nm": 12.5, "latent_collapsed": False}
    decode = {
        "z": [0.0],
        "per_z": [{"index": 0, "z": 0.0, "mse": 0.01, "ssim": 0.9, "wavelength_nm": 500.0}],
        "mean_ssim": 0.9,
        "mean_mse": 0.01,
    }
    (tmp_path / "encode.json").write_text(json.dumps(encode))
    (tmp_path / "decode.json").write_text(json.dumps(decode))
    pd.DataFrame({"epoch": [1, 2], "loss": [10.0, 8.0], "val_loss": [11.0, 9.0]}).to_csv(
        tmp_path / "history.csv", index=False
    )
    (tmp_path / "train.tsv").write_text(BENCHMARK_TSV.format(s=12.0, cpu=20.0))
    out = {name: tmp_path / f"{name}.html" for name in ("history", "encode", "decode", "timings")}
    tables.write_report_tables(
        encode_metrics_path=tmp_path / "encode.json",
        decode_metrics_path=tmp_path / "decode.json",
        history_path=tmp_path / "history.csv",
        benchmarks={"train": tmp_path / "train.tsv"},
        history_html=out["history"],
        encode_html=out["encode"],
        decode_html=out["decode"],
        benchmarks_html=out["timings"],
        benchmarks_csv=tmp_path / "timings.csv",
    )
    assert "val_loss" in out["history"].read_text()
    assert "calibration_rmse_nm" in out["encode"].read_text()
    assert "12.5" in out["encode"].read_text()
    assert "mean_ssim" in out["decode"].read_text() and "500" in out["decode"].read_text()
    assert "<td>train</td>" in out["timings"].read_text()
    csv = pd.read_csv(tmp_path / "timings.csv")
    assert list(csv["job"]) == ["train"] and csv["s"].tolist() == [12.0]
