"""Metrics and timings as small self-contained HTML tables, for Snakemake's report.

The report embeds an HTML result in an iframe; images, JSON and CSV are offered only as
downloads. So the metrics JSON files and Snakemake's per-job benchmark TSVs are rendered here
into standalone HTML pages (inline CSS, no scripts, no external resources).
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

STYLE = """
body { font-family: sans-serif; font-size: 14px; margin: 1em; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th { background: #f0f0f0; }
td:first-child, th:first-child { text-align: left; }
caption { text-align: left; font-weight: bold; padding-bottom: 4px; }
"""

# Columns of Snakemake's benchmark TSV that are kept (the others are mostly NaN on short jobs).
BENCHMARK_COLUMNS = ("s", "h:m:s", "max_rss", "max_vms", "max_uss", "io_in", "io_out", "cpu_time")


def encode_metrics_table(metrics: Mapping[str, Any]) -> pd.DataFrame:
    """encode/metrics.json as (metric, value) rows, in the file's order."""
    values = [_scalar(v) for v in metrics.values()]
    return pd.DataFrame({"metric": list(metrics), "value": values})


def decode_metrics_table(metrics: Mapping[str, Any]) -> pd.DataFrame:
    """decode/metrics.json's per-z rows: z, wavelength_nm (calibrated), mse, ssim."""
    table = pd.DataFrame(list(metrics["per_z"]))
    table = table.drop(columns=["index"], errors="ignore")
    first = [c for c in ("z", "wavelength_nm") if c in table.columns]
    return table[first + [c for c in table.columns if c not in first]]


def decode_summary_table(metrics: Mapping[str, Any]) -> pd.DataFrame:
    """The means over the z-grid, as (metric, value) rows."""
    keys = [k for k in ("grid", "mean_mse", "mean_ssim", "n_outside_training_range") if k in metrics]
    return pd.DataFrame({"metric": keys, "value": [metrics[k] for k in keys]})


def benchmark_table(benchmarks: Mapping[str, str | Path]) -> pd.DataFrame:
    """Snakemake's benchmark TSVs (one row per job and repeat) as one table, 'job' first."""
    rows = []
    for job, path in benchmarks.items():
        frame = pd.read_csv(path, sep="\t")
        keep = [c for c in BENCHMARK_COLUMNS if c in frame.columns]
        frame = frame[keep].copy()
        frame.insert(0, "job", job)
        rows.append(frame)
    if not rows:
        return pd.DataFrame(columns=["job", *BENCHMARK_COLUMNS])
    return pd.concat(rows, ignore_index=True)


def html_page(title: str, tables: Iterable[tuple[str, pd.DataFrame]], note: str = "") -> str:
    """A standalone HTML page: a heading, an optional note and one <table> per (caption, frame)."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h2>{html.escape(title)}</h2>",
    ]
    if note:
        parts.append(f"<p>{html.escape(note)}</p>")
    for caption, frame in tables:
        body = frame.map(_cell).to_html(index=False, border=0, escape=True)
        head = f"><caption>{html.escape(caption)}</caption>\n  <thead>"
        parts.append(body.replace(">\n  <thead>", head, 1))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _scalar(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return value


def _cell(value: Any) -> str:
    """Floats to 4 decimals (or 4 significant digits when tiny or huge); None/NaN blank."""
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (float, np.floating)):
        x = float(value)
        if math.isnan(x):
            return ""
        if math.isinf(x) or (x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-3)):
            return f"{x:.4g}"
        return f"{x:.4f}".rstrip("0").rstrip(".")
    return str(value)
