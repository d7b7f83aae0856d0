"""Robustness curves: every robustness study in one figure and one table, against the ideal data.

A robustness study (``studies: robustness_*`` in config.yaml, docs/systematics.md) varies ONE
systematic effect, its values listed from weak to strong, and the training seed. At paper scale
the four shipped studies are 28 trainings (about 9 h on 2 cores), so this reads whatever runs
have finished (their ``encode/metrics.json``) and draws the curves of those: a study can be run
value by value (``snakemake results/studies/<study>/<run>/encode/metrics.json``) and looked at
as it grows. Listed values without a finished run stay on the axis, empty, and the table says
how many seeds each value has.

Runs finished on another machine (an earlier session's, whose results/ is gone) come in as
rows of the one-row-per-run CSV this module writes (``--earlier``; the repository keeps the
paper-scale one beside its figure, docs/figures/robustness_paper_scale_runs.csv), each with the
``source`` of its numbers; a run whose metrics file exists under ``root`` replaces its row.

The ideal baseline (no effect) is given as ``encode/metrics.json`` files of runs on the ideal
store with the same recipe (the default run and the ``recipe_seeds`` study).

    python -m youngvae.analysis.robustness --baseline results/encode/metrics.json \\
        results/studies/recipe_seeds/seed=1/encode/metrics.json --figure robustness.png

(the command line is in ``__main__``, apart, so that the workflow's plotting env needs no YAML
parser). The floors no model can beat under an effect are in :mod:`youngvae.physics.floors`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from youngvae.analysis.plots import new_figure, save_figure
from youngvae.analysis.study import RHO_LEVEL
from youngvae.checks.studies import Run, StudyError, expand_study, format_value

#: What each run contributes (keys of encode/metrics.json), with the figure's row titles.
METRICS = {
    "abs_spearman": "|Spearman ρ(z, λ_true)|",
    "calibration_rmse_nm": "calibration RMSE vs true λ [nm]",
    "calibration_max_abs_err_nm": "calibration max |error| [nm]",
}
LOG_METRICS = ("calibration_rmse_nm", "calibration_max_abs_err_nm")  # drawn on a log axis
#: The floors no model can beat that encode reports where the store has them (a distance
#: jitter: :func:`youngvae.stages.model.distance_floor_metrics`), each with the metric it bounds.
FLOORS = {"distance_floor_rmse_nm": "calibration_rmse_nm",
          "distance_floor_max_abs_err_nm": "calibration_max_abs_err_nm"}
NONE = "none"  # the x label of the ideal baseline


def recipe_label(train: Mapping) -> str:
    """One line naming the training recipe a figure was made with (from the config's ``train``
    section), so that figures of different recipes are not mistaken for one another."""
    enc, tgt = float(train.get("encoder_blur_px", 0) or 0), float(train.get("target_blur_px", 0) or 0)
    if enc == 0 and tgt == 0:
        blur = "no blur (the paper's VAE)"
    else:
        blur = f"{enc:g} px blur of the input" if enc == tgt else f"input blur {enc:g} px, target blur {tgt:g} px"
        if enc == tgt:
            blur += " and target"
        blur += ", renormalized" if train.get("blur_renormalize", False) else ", not renormalized"
    parts = [f"recipe: {blur}", str(train.get("precision", "?")), f"batch {train.get('batch_size', '?')}",
             f"{train.get('epochs', '?')} epochs", f"sampling {train.get('sampling', '?')}"]
    if train.get("output_conv", "float32") != "float32":
        parts.append(f"output conv {train['output_conv']}")
    return "; ".join(parts)


def tick_label(value) -> str:
    """A compact x label: 1e+07 -> '1e7' (photon budgets), else as in the run names."""
    text = f"{value:.3g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else ""
    if abs(value if text else 0) >= 1e3 and "e" in text:
        mantissa, exponent = text.split("e")
        return f"{mantissa}e{int(exponent)}"
    return format_value(value)


def effect_key(study: str, runs: Sequence[Run]) -> str:
    """The effect a robustness study varies: its one non-seed key with more than one value (keys
    with one value are fixed settings of every run), or its only non-seed key."""
    keys = [k for k, _ in runs[0].overrides if not k.endswith(".seed")]
    varied = [k for k in keys if len({format_value(dict(r.overrides)[k]) for r in runs}) > 1]
    if len(varied) == 1 or (not varied and len(keys) == 1):
        return (varied or keys)[0]
    raise StudyError(f"study {study!r}: a robustness study varies exactly one key besides the "
                     f"seed, got {varied or keys or 'none'}")


def robustness_studies(config: Mapping, names: Sequence[str] | None = None) -> dict[str, list[Run]]:
    """The runs of the named studies of ``config`` (default: every study named robustness_*)."""
    specs = config.get("studies") or {}
    names = list(names) if names else [s for s in specs if s.startswith("robustness_")]
    missing = [n for n in names if n not in specs]
    if missing:
        raise StudyError(f"no study {', '.join(map(repr, missing))} under 'studies' in the config")
    base = {k: v for k, v in config.items() if k != "studies"}
    return {name: expand_study(name, specs[name], base) for name in names}


def listed_values(study: str, runs: Sequence[Run]) -> list:
    """The effect's values in the order the study lists them (weak to strong)."""
    key = effect_key(study, runs)
    return list(dict.fromkeys(dict(run.overrides)[key] for run in runs))


def _metrics_row(metrics: Mapping, **labels) -> dict:
    """A run's :data:`METRICS` and :data:`FLOORS` (NaN where its store has none); an undefined
    |ρ| (a constant z: the latent collapsed) counts as 0, no monotone relation to λ, so that a
    collapse reads as below any level, not as missing."""
    row = dict(labels)
    row.update({m: float(metrics[m]) if metrics.get(m) is not None else np.nan for m in (*METRICS, *FLOORS)})
    if not np.isfinite(row["abs_spearman"]):
        row["abs_spearman"] = 0.0
    row["collapsed"] = bool(metrics.get("collapsed", False))
    return row


#: The columns of the one-row-per-run table (and of the CSV it is written to).
COLUMNS = ["study", "effect", "value", "order", "seed", "run", *METRICS, *FLOORS, "collapsed", "source"]


def _earlier_rows(paths: Sequence[str | os.PathLike], runs_by_name: Mapping) -> list[tuple]:
    """(study, run, metrics, source) of the rows of earlier one-row-per-run CSVs (this module's
    own format) for runs of the current studies; a run the config no longer lists is left out.
    The :data:`FLOORS` columns are optional (CSVs written before they existed)."""
    rows = []
    for path in paths:
        frame = pd.read_csv(path, dtype={"value": str, "run": str, "study": str})
        missing = [c for c in ("study", "run", *METRICS) if c not in frame.columns]
        if missing:
            raise StudyError(f"earlier runs file {path}: missing column(s) {', '.join(missing)}")
        for record in frame.to_dict("records"):
            if (record["study"], record["run"]) not in runs_by_name:
                continue
            source = record.get("source")
            source = source if isinstance(source, str) and source else str(path)
            metrics = ({m: record[m] for m in METRICS} | {f: record.get(f) for f in FLOORS}
                       | {"collapsed": bool(record.get("collapsed", False))})
            rows.append((record["study"], record["run"], metrics, source))
    return rows


def collect(studies: Mapping[str, Sequence[Run]], root: str | os.PathLike = ".",
            earlier: Sequence[str | os.PathLike] = (), source: str = "") -> pd.DataFrame:
    """One row per FINISHED run: study, effect key, value, its position in the study's list,
    seed, :data:`METRICS` and where the numbers come from (``source``).

    A run is finished where its encode/metrics.json exists under ``root``, or where a row of an
    ``earlier`` CSV (written by :func:`write_curves`, e.g. by an earlier session on another
    machine, kept in the repository) has it; the metrics file wins over an earlier row. The
    ``source`` of a metrics file's row is its path under ``root``, after ``source`` + ': ' where
    given (e.g. the session and machine, for a CSV that is kept)."""
    by_name = {(study, run.name): run for study, runs in studies.items() for run in runs}
    found = {}
    for study, run, metrics, where in _earlier_rows(earlier, by_name):
        found[(study, run)] = (metrics, where)
    for study, runs in studies.items():
        for run in runs:
            rel = Path("results") / "studies" / study / run.name / "encode" / "metrics.json"
            if (Path(root) / rel).is_file():
                found[(study, run.name)] = (json.loads((Path(root) / rel).read_text()),
                                            f"{source}: {rel}" if source else str(rel))
    rows = []
    for study, runs in studies.items():
        key = effect_key(study, runs)
        order = {format_value(v): i for i, v in enumerate(listed_values(study, runs))}
        for run in runs:
            if (study, run.name) not in found:
                continue
            metrics, where = found[(study, run.name)]
            overrides = dict(run.overrides)
            seed = next((v for k, v in overrides.items() if k.endswith(".seed")), None)
            rows.append(_metrics_row(metrics, study=study, effect=key, value=format_value(overrides[key]),
                                     order=order[format_value(overrides[key])], seed=seed,
                                     run=run.name) | {"source": where})
    return pd.DataFrame(rows, columns=COLUMNS)


def baseline(paths: Sequence[str | os.PathLike]) -> pd.DataFrame:
    """The ideal runs' metrics, one row per file."""
    rows = [_metrics_row(json.loads(Path(p).read_text()), run=str(p)) for p in paths]
    return pd.DataFrame(rows, columns=["run", *METRICS, "collapsed"])


def medians(table: pd.DataFrame, studies: Mapping[str, Sequence[Run]],
            level: float = RHO_LEVEL) -> pd.DataFrame:
    """Per study and LISTED value: the number of finished runs and the medians of
    :data:`METRICS` and :data:`FLOORS` over them (NaN where none finished or none has a floor),
    and whether the median |ρ| is below ``level``."""
    rows = []
    for study, runs in studies.items():
        for i, value in enumerate(listed_values(study, runs)):
            sub = table[(table["study"] == study) & (table["order"] == i)]
            row = {"study": study, "effect": effect_key(study, runs), "value": format_value(value),
                   "runs": len(sub)}
            row.update({f"median_{m}": float(sub[m].median()) if len(sub) else np.nan
                        for m in (*METRICS, *FLOORS)})
            row[f"below_{level:g}"] = bool(len(sub) and row["median_abs_spearman"] < level)
            rows.append(row)
    return pd.DataFrame(rows)


def thresholds(per_value: pd.DataFrame, level: float = RHO_LEVEL,
               ideal: float | None = None) -> dict[str, str]:
    """Per study, a sentence: between which measured values the median |ρ| first drops below
    ``level``, or that it does not over the measured values (and which listed ones are
    unmeasured). ``ideal``: the ideal data's median |ρ|; where it is below ``level`` already,
    no effect can cross it, and the sentence says so."""
    if ideal is not None and ideal < level:
        return {study: f"median |ρ| below {level:g} already on the ideal data ({ideal:.6f})"
                for study in dict.fromkeys(per_value["study"])}
    out = {}
    for study, sub in per_value.groupby("study", sort=False):
        measured = sub[sub["runs"] > 0]
        unmeasured = sub.loc[sub["runs"] == 0, "value"].tolist()
        hit = measured[measured[f"below_{level:g}"]]
        if not len(measured):
            out[study] = "no run finished yet"
            continue
        if len(hit):
            first = hit.index[0]
            above = measured.loc[measured.index < first]
            before = f"{above['value'].iloc[-1]} and " if len(above) else "no effect and "
            text = f"median |ρ| below {level:g} between {before}{hit['value'].iloc[0]}"
        else:
            text = f"median |ρ| not below {level:g} at any measured value"
        if unmeasured:
            text += f" (not measured: {', '.join(unmeasured)})"
        out[study] = text
    return out


def plot_curves(table: pd.DataFrame, ideal: pd.DataFrame, studies: Mapping[str, Sequence[Run]],
                path: str | os.PathLike, level: float = RHO_LEVEL, title: str = "", label: str = ""):
    """One column per study, one row per metric: every run as a point (seeds side by side), the
    median over seeds as a line, the ideal baseline at x = 'none' and as a dotted line; the
    |ρ| row marks ``level``; the error rows are on a log axis where every value is > 0 and show
    the floor no model can beat (:data:`FLOORS`) as a red bar where the runs report one. x: the
    study's values in its listed order (categorical). ``title`` replaces the default title;
    ``label`` goes on a line above it."""
    names = list(studies)
    fig = new_figure((max(3.6 * len(names), 7.5), 8.6), layout="constrained")
    axes = fig.subplots(len(METRICS), len(names), squeeze=False)
    for col, study in enumerate(names):
        values = listed_values(study, studies[study])
        labels = [NONE, *map(tick_label, values)]
        sub = table[table["study"] == study]
        for row, metric in enumerate(METRICS):
            ax = axes[row, col]
            base = ideal[metric].astype(float).to_numpy()
            if base.size:
                ax.scatter(np.zeros(base.size), base, color="0.4", s=22, zorder=3)
                ax.axhline(np.median(base), color="0.4", ls=":", lw=1, label="ideal (median)")
            # medians at every position, NaN where nothing finished: the line breaks there
            # instead of bridging unmeasured values
            ys = np.full(len(labels), np.nan)
            if base.size:
                ys[0] = float(np.median(base))
            for i in range(len(values)):
                runs = sub.loc[sub["order"] == i, metric].astype(float).to_numpy()
                if runs.size:
                    ax.scatter(np.full(runs.size, i + 1), runs, color="C0", s=22, alpha=0.8, zorder=3)
                    ys[i + 1] = float(np.median(runs))
            floor = _floors_at(sub, metric, len(values))
            if np.isfinite(floor).any():
                ax.scatter(np.arange(1, len(values) + 1), floor, marker="_", s=500, lw=2, color="C3",
                           zorder=4, label="λz floor (no model can beat it)")
                ax.legend(fontsize="small", loc="lower right")  # the errors grow to the right
            xs = np.arange(len(labels))
            if not len(sub) and row == 0:
                ax.text(0.5, 0.5, "no run finished yet", transform=ax.transAxes, ha="center",
                        color="0.4")
            ax.plot(xs, ys, color="C0", lw=1.2, label="median over seeds")
            if metric == "abs_spearman":
                ax.axhline(level, color="C3", ls="--", lw=1, label=f"|ρ| = {level:g}")
            ax.set_xticks(range(len(labels)), labels)
            ax.set_xlim(-0.5, len(labels) - 0.5)
            ax.grid(alpha=0.3, which="both")
            finite = np.concatenate([base, sub[metric].astype(float).to_numpy(), floor])
            finite = finite[np.isfinite(finite)]
            if metric in LOG_METRICS and finite.size and finite.min() > 0:
                log_error_axis(ax, finite.min(), finite.max())
            else:
                ax.ticklabel_format(axis="y", useOffset=False)
            if col == 0:
                ax.set_ylabel(METRICS[metric])
            if row == len(METRICS) - 1:
                ax.set_xlabel(effect_key(study, studies[study]))
        axes[0, col].set_title(study)
    axes[0, 0].legend(fontsize="small", loc="lower left")
    title = title or (f"{len(table)} run(s) of {len(names)} robustness studies, {len(ideal)} on "
                      "the ideal data\npoints: runs (grey: ideal data); line: median over seeds")
    fig.suptitle(f"{label}\n{title}" if label else title)
    return save_figure(fig, path)


def log_error_axis(ax, lo: float, hi: float) -> None:
    """A log y axis for errors spanning ``lo``..``hi`` (> 0) with plain labels: ticks at 1, 2, 5
    per decade (errors span decades: 0.1 nm on blurred data to 50 nm), or, where fewer than
    three of those fall within the data (e.g. 0.08-0.15 nm), evenly spaced round values, the
    axis reaching the round value beyond each end, so that a narrow range still reads. A single
    value gets a range of 1.5x either side. Call it after the data are drawn."""
    if hi < 1.2 * lo:
        centre = float(np.sqrt(lo * hi))
        lo, hi = centre / 1.5, centre * 1.5
    ax.set_yscale("log")
    ticks = LogLocator(base=10, subs=(1.0, 2.0, 5.0)).tick_values(lo, hi)
    if np.count_nonzero((ticks >= lo) & (ticks <= hi)) < 3:
        ticks = MaxNLocator(nbins=4, steps=[1, 2, 2.5, 5, 10]).tick_values(lo, hi)
        ticks = ticks[ticks > 0]
        below, above = ticks[ticks <= lo], ticks[ticks >= hi]
        ax.set_ylim((below.max() if below.size else lo) / 1.04, (above.min() if above.size else hi) * 1.04)
        ax.yaxis.set_major_locator(FixedLocator(ticks))
    else:
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _floors_at(runs: pd.DataFrame, metric: str, n_values: int) -> np.ndarray:
    """Per listed value (position 0..n_values-1): the median over ``runs`` of the floor that
    bounds ``metric`` (:data:`FLOORS`), NaN where none of its runs reports one."""
    out = np.full(n_values, np.nan)
    for name, bounded in FLOORS.items():
        if bounded == metric:
            for i in range(n_values):
                values = runs.loc[runs["order"] == i, name].astype(float)
                out[i] = values.median() if values.notna().any() else np.nan
    return out


def markdown(table: pd.DataFrame, ideal: pd.DataFrame, per_value: pd.DataFrame) -> str:
    """The docs' table: per study and measured value, each seed's |ρ|, RMSE and maximum error
    (seeds in ascending order), the median |ρ|, and the floor no model can beat where the
    runs report one (:data:`FLOORS`: RMSE / max, medians over the seeds; '–' where none)."""
    def per_seed(runs: pd.DataFrame, metric: str, fmt: str) -> str:
        return " / ".join(format(v, fmt) for v in runs.sort_values("seed")[metric])

    lines = ["| effect | value | \\|ρ(z, λ_true)\\| per seed | median \\|ρ\\| | RMSE nm per seed | "
             "max nm per seed | floor nm, RMSE / max |", "|---|---|---|---|---|---|---|"]
    if len(ideal):
        lines.append(f"| none (ideal) | – | {' / '.join(f'{v:.6f}' for v in ideal['abs_spearman'])} | "
                     f"{ideal['abs_spearman'].median():.6f} | "
                     f"{' / '.join(f'{v:.2f}' for v in ideal['calibration_rmse_nm'])} | "
                     f"{' / '.join(f'{v:.1f}' for v in ideal['calibration_max_abs_err_nm'])} | – |")
    for _, row in per_value[per_value["runs"] > 0].iterrows():
        runs = table[(table["study"] == row["study"]) & (table["value"] == row["value"])]
        floor = " / ".join(f"{row[f'median_{f}']:.2f}" for f in FLOORS)
        floor = floor if all(np.isfinite(row[f"median_{f}"]) for f in FLOORS) else "–"
        lines.append(f"| {row['effect']} | {row['value']} | {per_seed(runs, 'abs_spearman', '.6f')} | "
                     f"{row['median_abs_spearman']:.6f} | {per_seed(runs, 'calibration_rmse_nm', '.2f')} | "
                     f"{per_seed(runs, 'calibration_max_abs_err_nm', '.1f')} | {floor} |")
    return "\n".join(lines)


def write_curves(studies: Mapping[str, Sequence[Run]], baseline_paths: Sequence[str | os.PathLike],
                 root: str | os.PathLike = ".", figure: str | os.PathLike | None = None,
                 csv: str | os.PathLike | None = None, markdown_path: str | os.PathLike | None = None,
                 level: float = RHO_LEVEL, label: str = "",
                 earlier: Sequence[str | os.PathLike] = (), source: str = "") -> str:
    """Collect the finished runs under ``root`` (and in the ``earlier`` CSVs: :func:`collect`); write the figure, the one-row-per-run CSV and
    the markdown (table, then one line per study on where |ρ| crosses ``level``) where a path
    is given; return the markdown. ``label``: a first line for the figure's title (e.g. the
    recipe the runs were trained with)."""
    table = collect(studies, root, earlier, source)
    ideal = baseline(baseline_paths)
    per_value = medians(table, studies, level)
    ideal_rho = float(ideal["abs_spearman"].median()) if len(ideal) else None
    crossings = "\n".join(f"- {study}: {text}"
                           for study, text in thresholds(per_value, level, ideal_rho).items())
    text = f"{markdown(table, ideal, per_value)}\n\n{crossings}\n"
    if csv:
        table.to_csv(csv, index=False, float_format="%.10g")  # kept across sessions: |ρ| near 1
    if figure:
        plot_curves(table, ideal, studies, figure, level, label=label)
    if markdown_path:
        Path(markdown_path).write_text(text)
    return text
