"""What rule summarize_study (workflow/rules/studies.smk) calls: one study's runs in one table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping, Sequence

import pandas as pd

from youngvae.analysis import study
from youngvae.analysis.tables import html_page


def summarize_study(
    *,
    name: str,
    keys: Sequence[str],
    runs: Sequence[tuple[str, Mapping]],
    files: Mapping[str, str],
    csv_path: str | Path,
    html_path: str | Path,
    metrics_figure: str | Path,
    seeds_figure: str | Path,
) -> pd.DataFrame:
    """``runs``: [(run name, {dotted key: value})]; ``files``: '<kind>/<run>' -> path, kinds
    history, encode, decode, generated, benchmark (the rule's named inputs)."""
    rows = []
    for run, overrides in runs:
        rows.append(
            study.summary_row(
                keys,
                overrides,
                run,
                encode=json.loads(Path(files[f"encode/{run}"]).read_text()),
                decode=json.loads(Path(files[f"decode/{run}"]).read_text()),
                history=pd.read_csv(files[f"history/{run}"]),
                benchmark=pd.read_csv(files[f"benchmark/{run}"], sep="\t"),
                generated=json.loads(Path(files[f"generated/{run}"]).read_text()),
            )
        )
    table = study.summary_table(keys, rows)
    table.to_csv(csv_path, index=False, float_format="%.6g")
    per_value = study.medians_per_value(table, keys)
    Path(html_path).write_text(
        html_page(
            f"Study {name}: one row per run",
            [(str(csv_path), table), ("Medians over seeds per value", per_value)],
            note=f"{study.first_below(per_value, keys)} {study.COLUMN_NOTE}",
        )
    )
    study.plot_metrics_vs_keys(table, keys, metrics_figure)
    study.plot_seed_spread(table, keys, seeds_figure)
    return table
