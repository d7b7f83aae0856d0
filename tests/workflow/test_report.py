"""`snakemake --report` on the finished quick run: one self-contained HTML file with every
figure and table of the workflow, grouped by stage, and the rule graph."""

from __future__ import annotations

import base64
import json
import re

import pytest

from youngvae.testing import QUICK, REPO, snakemake

pytestmark = pytest.mark.slow

# The figures and tables of the data chain, by category and subcategory (the benchmark rule adds
# its own under "5. Benchmark"; every report() output is checked by name below).
EXPECTED = {
    "1. Dataset": {
        "Figures": [
            "results/dataset/wavelength_histogram.png",
            "results/dataset/example_patterns.png",
        ],
    },
    "2. Training": {
        "Figures": ["results/train/loss_curves.png"],
        "Metrics": ["results/report/training_history.html"],
    },
    "3. Latent space": {
        "Figures": ["results/encode/latent_histogram.png", "results/encode/z_vs_wavelength.png"],
        "Metrics": ["results/report/encode_metrics.html"],
    },
    "4. Decoded z-grid": {
        "Figures": ["results/decode/zgrid.png"],
        "Metrics": ["results/report/decode_metrics.html"],
        "Generated against real": ["results/generated/generated_vs_real.png"],
    },
    "5. Benchmark": {
        "Per-job timings": [
            "results/report/job_benchmarks.html",
            "results/report/job_benchmarks.csv",
        ],
    },
}


def marked_for_report(wildcards: bool = False) -> list[str]:
    """Every output the rule files wrap in report(...); the studies' (under results/studies/:
    a study's, with wildcards, and the robustness curves) only when asked: they are in the
    report once a study ran (tests/workflow/test_studies.py)."""
    text = "".join(p.read_text() for p in sorted((REPO / "workflow/rules").glob("*.smk")))
    paths = re.findall(r'report\(\s*"([^"]+)"', text)
    return [p for p in paths if wildcards or not p.startswith("results/studies/")]


def script_json(html: str, script_id: str):
    """The JSON the report assigns in <script id=...>var x = {...};</script>."""
    m = re.search(
        rf'<script id="{script_id}">\s*var \w+ = (.*?);\s*</script>', html, re.DOTALL
    )
    assert m, f"no <script id={script_id}>"
    return json.loads(m.group(1))


def content(entry: dict) -> bytes:
    """A result's bytes, decoded from the data URI the report embeds."""
    uri = entry["data_uri"]
    assert uri.startswith("data:") and ";base64," in uri, uri[:80]
    return base64.b64decode(uri.split(";base64,", 1)[1])


@pytest.fixture(scope="module")
def report_html(quick_run) -> str:
    # Writes only results/report.html (no job runs), so the shared run stays as it was.
    snakemake(quick_run, "--report", "results/report.html", "--configfile", str(QUICK))
    return (quick_run / "results/report.html").read_text()


def test_report_is_one_self_contained_html_file(report_html):
    assert report_html.lstrip().lower().startswith("<!doctype html>")
    assert not re.search(r"<script[^>]*\ssrc=", report_html), "external script"
    assert not re.search(r"<link[^>]*\shref=[\"']https?:", report_html), "external stylesheet"
    assert not re.search(r"<img[^>]*\ssrc=[\"']https?:", report_html), "external image"


def test_report_groups_every_figure_and_table_by_stage(report_html):
    categories = script_json(report_html, "categories")
    for category, subcategories in EXPECTED.items():
        for subcategory, paths in subcategories.items():
            assert set(paths) <= set(categories[category][subcategory]), (category, subcategory)
    grouped = [path for subs in categories.values() for paths in subs.values() for path in paths]
    assert sorted(grouped) == sorted(marked_for_report())


def test_report_embeds_every_result(report_html):
    results = script_json(report_html, "results")
    marked = marked_for_report()
    assert {p for subs in EXPECTED.values() for ps in subs.values() for p in ps} <= set(marked)
    for path in marked:
        data = content(results[path])
        assert data, path
        assert results[path]["caption"].strip(), f"{path}: no caption"
        if path.endswith(".png"):
            assert results[path]["mime_type"] == "image/png"
            assert data[:8] == b"\x89PNG\r\n\x1a\n", path
        if path.endswith(".html"):
            assert results[path]["mime_type"] == "text/html"  # shown inline, not as a download
    encode = content(results["results/report/encode_metrics.html"]).decode()
    assert "calibration_rmse_nm" in encode and "spearman" in encode
    decode = content(results["results/report/decode_metrics.html"]).decode()
    assert "mean_ssim" in decode and "wavelength_nm" in decode
    timings = content(results["results/report/job_benchmarks.html"]).decode()
    for job in ("train", "encode", "decode_grid", "simulate_chunk[0000]", "simulate_chunk[0003]"):
        assert f"<td>{job}</td>" in timings, job


def test_report_shows_the_rule_graph(report_html):
    rulegraph = json.dumps(script_json(report_html, "rulegraph"))
    for rule in ("plan_wavelengths", "simulate_chunk", "train", "decode_grid", "tabulate_results"):
        assert rule in rulegraph
