"""What the rule of workflow/rules/report.smk calls: the report's HTML tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

import pandas as pd

from youngvae.analysis.tables import (
    benchmark_table,
    decode_metrics_table,
    decode_summary_table,
    encode_metrics_table,
    html_page,
)


def job_label(path: str | Path) -> str:
    """A benchmark file's job: 'benchmarks/train.tsv' -> 'train',
    'benchmarks/simulate_chunk/0001.tsv' -> 'simulate_chunk[0001]'."""
    p = Path(path)
    if p.parent.name and p.parent.name != "benchmarks":
        return f"{p.parent.name}[{p.stem}]"
    return p.stem


def write_report_tables(
    encode_metrics_path: str | Path,
    decode_metrics_path: str | Path,
    history_path: str | Path,
    benchmarks: Mapping[str, str | Path],
    history_html: str | Path,
    encode_html: str | Path,
    decode_html: str | Path,
    benchmarks_html: str | Path,
    benchmarks_csv: str | Path,
) -> None:
    """Render the training history, the encode and decode metrics and the per-job timings."""
    encode = json.loads(Path(encode_metrics_path).read_text())
    decode = json.loads(Path(decode_metrics_path).read_text())
    Path(history_html).write_text(
        html_page(
            "Training history (one row per epoch)",
            [("results/train/history.csv", pd.read_csv(history_path))],
        )
    )
    Path(encode_html).write_text(
        html_page(
            "Encoding metrics (validation split)",
            [("results/encode/metrics.json", encode_metrics_table(encode))],
        )
    )
    Path(decode_html).write_text(
        html_page(
            "Decoded z-grid against simulation at the calibrated wavelength",
            [
                ("Mean over the z-grid", decode_summary_table(decode)),
                ("Per z (results/decode/metrics.json)", decode_metrics_table(decode)),
            ],
        )
    )
    timings = benchmark_table(benchmarks)
    timings.to_csv(benchmarks_csv, index=False)
    Path(benchmarks_html).write_text(
        html_page(
            "Per-job timings (Snakemake benchmark files)",
            [("benchmarks/*.tsv", timings)],
            note="s: wall-clock seconds; max_rss: peak resident memory in MB; "
            "cpu_time: CPU seconds. Measured on the machine that ran the workflow.",
        )
    )
