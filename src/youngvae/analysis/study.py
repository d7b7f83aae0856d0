"""A study's runs side by side: one summary row per run, and the figures that compare them."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from youngvae.analysis.plots import new_figure, save_figure

#: The summary's columns after the varied keys (a contract: users' scripts read them).
SUMMARY_COLUMNS = (
    "run",
    "abs_spearman",
    "pearson",
    "calibration_rmse_nm",
    "calibration_mae_nm",
    "calibration_max_abs_err_nm",
    "val_loss",
    "val_reconstruction",
    "val_kl",
    "active_units",
    "collapsed",
    "decode_mean_ssim",
    "train_seconds",
    "peak_rss_mb",
    "latent_dim",
    "unit",
    "regression_rmse_nm",
    "prior_energy_p",
    "ssim_at_calibrated_z",
    "recorded_calibration_rmse_nm",
    "distance_floor_rmse_nm",
)

#: What the correlation and calibration columns read (stated in the HTML table too).
COLUMN_NOTE = (
    "abs_spearman, pearson and calibration_* read the active unit most correlated with λ on the "
    "training split (column `unit`; scored on the validation split); regression_rmse_nm is a "
    "15-nearest-neighbour regression z → λ over ALL active units (fitted on the training split, "
    "scored on validation). A unit is active when its mean KL over the validation split exceeds "
    "0.01 nats; collapsed = no active unit or a constant z. val_* = the last epoch's validation "
    "losses; train_seconds and peak_rss_mb from Snakemake's benchmark of the run's train job; "
    "prior_energy_p = the permutation p-value of the energy distance between the physical "
    "features of prior-decoded and real validation patterns, ssim_at_calibrated_z = the mean SSIM "
    "of validation patterns against those decoded at their calibrated z(λ) (generated_vs_real.json). "
    "Where the recorded wavelengths carry an error (systematics.source.label_error_nm), the "
    "calibration is fitted on the recorded labels, calibration_* score it against the TRUE λ and "
    "recorded_calibration_rmse_nm against the recorded one (empty without systematics). "
    "distance_floor_rmse_nm: where the distance was jittered, the λz floor of the run's store, "
    "the calibration RMSE no model can beat (empty otherwise)."
)


TITLES = {
    "abs_spearman": "|Spearman ρ(z, λ)|",
    "calibration_rmse_nm": "calibration RMSE [nm]",
    "val_reconstruction": "validation reconstruction loss",
    "active_units": "active units (KL > 0.01 nats)",
}


def summary_row(
    keys: Sequence[str],
    overrides: Mapping[str, Any],
    run: str,
    encode: Mapping[str, Any],
    decode: Mapping[str, Any],
    history: pd.DataFrame,
    benchmark: pd.DataFrame,
    generated: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One run's row: its varied keys (dotted names), then :data:`SUMMARY_COLUMNS`."""
    last = history.iloc[-1]
    row: dict[str, Any] = {key: overrides[key] for key in keys}
    row.update(
        run=run,
        abs_spearman=encode.get("abs_spearman"),
        pearson=encode.get("pearson"),
        calibration_rmse_nm=encode.get("calibration_rmse_nm"),
        calibration_mae_nm=encode.get("calibration_mae_nm"),
        calibration_max_abs_err_nm=encode.get("calibration_max_abs_err_nm"),
        val_loss=float(last["val_loss"]),
        val_reconstruction=float(last["val_reconstruction"]),
        val_kl=float(last["val_kl"]),
        active_units=encode.get("active_units"),
        collapsed=encode.get("collapsed", encode.get("latent_collapsed")),
        decode_mean_ssim=decode.get("mean_ssim"),
        train_seconds=float(benchmark["s"].iloc[0]) if "s" in benchmark else math.nan,
        peak_rss_mb=float(benchmark["max_rss"].iloc[0]) if "max_rss" in benchmark else math.nan,
        latent_dim=encode.get("latent_dim"),
        unit=encode.get("unit"),
        regression_rmse_nm=encode.get("regression_rmse_nm"),
        prior_energy_p=((generated or {}).get("prior") or {}).get("energy", {}).get("p_value"),
        ssim_at_calibrated_z=((generated or {}).get("decoded_at_calibrated_z") or {}).get("mean_ssim"),
        recorded_calibration_rmse_nm=encode.get("recorded_calibration_rmse_nm"),
        distance_floor_rmse_nm=encode.get("distance_floor_rmse_nm"),
    )
    return {k: (math.nan if v is None else v) for k, v in row.items()}


def summary_table(keys: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=[*keys, *SUMMARY_COLUMNS])


#: |Spearman ρ| below which a setting no longer reads λ well (the robustness question).
RHO_LEVEL = 0.99
LEVEL_METRICS = ("abs_spearman", "calibration_rmse_nm", "calibration_max_abs_err_nm")


def medians_per_value(table: pd.DataFrame, keys: Sequence[str], level: float = RHO_LEVEL) -> pd.DataFrame:
    """Per value of the study's first non-seed key (in the order the study lists them; one block
    per value of the other non-seed keys): the number of runs (seeds), the median of
    :data:`LEVEL_METRICS` over them, and whether the median |ρ| is below ``level``."""
    x, groups = _x_and_groups(keys)
    rows = []
    blocks = table.groupby(groups, sort=False, dropna=False) if groups else [((), table)]
    for label, sub in blocks:
        for value in dict.fromkeys(sub[x]):
            runs = sub[sub[x] == value] if pd.notna(value) else sub[sub[x].isna()]
            row = dict(zip(groups, np.atleast_1d(label)))
            row[x] = value
            row["runs"] = len(runs)
            row.update({f"median_{m}": float(runs[m].astype(float).median()) for m in LEVEL_METRICS})
            row[f"below_{level:g}"] = bool(row["median_abs_spearman"] < level)
            rows.append(row)
    return pd.DataFrame(rows)


def first_below(per_value: pd.DataFrame, keys: Sequence[str], level: float = RHO_LEVEL) -> str:
    """A sentence: per block, the first listed value of the x key whose median |ρ| is below
    ``level`` (list a study's values from no effect to the strongest)."""
    x, groups = _x_and_groups(keys)
    flag = f"below_{level:g}"
    blocks = per_value.groupby(groups, sort=False, dropna=False) if groups else [((), per_value)]
    parts = []
    for label, sub in blocks:
        where = ", ".join(f"{g}={v}" for g, v in zip(groups, np.atleast_1d(label)))
        hit = sub[sub[flag]]
        text = (f"first at {x}={hit[x].iloc[0]}" if len(hit)
                else f"never over the listed values of {x}")
        parts.append(f"{where + ': ' if where else ''}{text}")
    return f"Median |Spearman ρ(z, λ)| over seeds below {level:g}: " + "; ".join(parts) + "."


def _x_and_groups(keys: Sequence[str]) -> tuple[str, list[str]]:
    """The key on the x axis (the first that is not a seed, else the seed) and the others."""
    non_seed = [k for k in keys if not k.endswith(".seed")]
    x = non_seed[0] if non_seed else keys[0]
    return x, [k for k in keys if k != x and not k.endswith(".seed")]


def log_x_axis(values) -> bool:
    """A key whose values are all positive and span at least two decades is drawn on a log axis."""
    v = pd.to_numeric(pd.Series(values), errors="coerce").dropna().to_numpy(dtype=float)
    return v.size > 1 and bool((v > 0).all()) and v.max() / v.min() >= 100


def _whole_numbers_on_y(ax) -> None:
    """Tick labels that read as values: |ρ| of 0.99996 … 0.99999 as such, not as 1e-5 steps
    above a separate '+0.9999' offset label (Matplotlib's default for a narrow range)."""
    ax.ticklabel_format(axis="y", useOffset=False)


def plot_metrics_vs_keys(table: pd.DataFrame, keys: Sequence[str], path: str | os.PathLike,
                         metrics: Sequence[str] = ("abs_spearman", "calibration_rmse_nm",
                                                   "val_reconstruction", "active_units")):
    """One panel per metric against the study's first non-seed key: the median over the other
    runs of each value (seeds) as a line, their range as a band, one line per value of the
    remaining non-seed keys."""
    x, groups = _x_and_groups(keys)
    fig = new_figure((4.0 * len(metrics), 3.6), layout="constrained")
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    grouped = table.groupby(groups, dropna=False) if groups else [((), table)]
    numeric_x = pd.api.types.is_numeric_dtype(table[x])
    for ax, metric in zip(axes, metrics):
        for label, sub in grouped:
            stats = sub.groupby(x, sort=True)[metric].agg(["median", "min", "max"])
            xs = stats.index.to_numpy() if numeric_x else np.arange(len(stats))
            name = ", ".join(f"{g}={v}" for g, v in zip(groups, np.atleast_1d(label))) or "median"
            ax.plot(xs, stats["median"], marker="o", label=name)
            ax.fill_between(xs, stats["min"].astype(float), stats["max"].astype(float), alpha=0.2)
            if not numeric_x:
                ax.set_xticks(xs, [str(v) for v in stats.index])
        if numeric_x and log_x_axis(table[x]):
            ax.set_xscale("log")  # photon budgets and the like span decades
        if numeric_x and table[x].nunique() <= 12:
            ticks = sorted(table[x].unique())
            ax.set_xticks(ticks, [f"{v:g}" for v in ticks])
            ax.minorticks_off()
        if metric == "active_units":  # counts: whole ticks from 0, not 0.96 … 1.04 around a 1
            ax.set_ylim(-0.2, max(1.0, float(table[metric].max())) + 0.5)
            ax.yaxis.get_major_locator().set_params(integer=True)
        ax.set_xlabel(x)
        ax.set_title(TITLES.get(metric, metric))
        ax.grid(alpha=0.3)
        _whole_numbers_on_y(ax)
    axes[0].legend(fontsize="small", title="line: median; band: min–max over seeds")
    fig.suptitle(f"{len(table)} runs")
    return save_figure(fig, path)


def plot_seed_spread(table: pd.DataFrame, keys: Sequence[str], path: str | os.PathLike):
    """|ρ| and calibration RMSE of every run, one column of points per setting (the non-seed
    keys), so the spread one setting shows over seeds is visible at a glance."""
    settings = [k for k in keys if not k.endswith(".seed")]
    labels = (table[settings].astype(str).agg(", ".join, axis=1) if settings
              else pd.Series(["all runs"] * len(table), index=table.index))
    order = list(dict.fromkeys(labels))
    fig = new_figure((max(6.0, 1.2 * len(order) + 3), 3.8), layout="constrained")
    axes = fig.subplots(1, 2, squeeze=False)[0]
    for ax, metric, title in ((axes[0], "abs_spearman", "|Spearman ρ(z, λ)|"),
                              (axes[1], "calibration_rmse_nm", "calibration RMSE [nm]")):
        for i, setting in enumerate(order):
            values = table.loc[labels == setting, metric].astype(float).to_numpy()
            ax.scatter(np.full(values.size, i), values, s=30, alpha=0.8)
        ax.set_xticks(range(len(order)), order, rotation=30, ha="right", fontsize="small")
        ax.set_xlabel(", ".join(settings) or "")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        _whole_numbers_on_y(ax)
    fig.suptitle("One point per run (seeds side by side)")
    return save_figure(fig, path)
