"""Quality of a faster setting against a reference run (the training-speed issue's criterion).

A candidate run (e.g. ``train.precision: mixed_bfloat16``) keeps quality when, against a
reference run on the same data and seed (``float32``), its final validation loss is within
``val_loss_rel_tol`` (2 %) and its |Spearman ρ(z, λ)| within ``abs_rho_tol`` (0.01). A run is a
``results/`` directory of the workflow: ``train/history.csv`` and ``encode/metrics.json``.

Because one epoch's validation loss can move by a few per cent on its own, the comparison
also reports the mean over the last ``last_k`` epochs and each run's own last-epoch jump; the
criterion itself is judged on the final epoch, as stated.

Command line (pairs in order, one per seed)::

    python -m youngvae.bench.compare --pair RESULTS_BF16_SEED0 RESULTS_F32_SEED0 --pair ...
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import pandas as pd

__all__ = ["load_run", "compare_runs", "spread_markdown"]


def load_run(results_dir) -> dict:
    """Final and last-epoch figures of one results directory (clear error on a missing file)."""
    results_dir = Path(results_dir)
    history_path = results_dir / "train" / "history.csv"
    metrics_path = results_dir / "encode" / "metrics.json"
    for path in (history_path, metrics_path):
        if not path.is_file():
            raise FileNotFoundError(f"{path}: not found (is {results_dir} a finished run's results/?)")
    history = pd.read_csv(history_path)
    if "val_loss" not in history or history.empty:
        raise ValueError(f"{history_path}: needs a non-empty val_loss column")
    metrics = json.loads(metrics_path.read_text())
    if "abs_spearman" not in metrics:
        raise ValueError(f"{metrics_path}: has no abs_spearman")
    val = history["val_loss"].astype(float).tolist()
    return {
        "dir": str(results_dir),
        "epochs": len(val),
        "val_loss": val,
        "final_val_loss": val[-1],
        "abs_spearman": float(metrics["abs_spearman"]),
        "calibration_rmse_nm": metrics.get("calibration_rmse_nm"),
    }


def compare_runs(candidate, reference, val_loss_rel_tol: float = 0.02, abs_rho_tol: float = 0.01,
                 last_k: int = 3) -> dict:
    """Candidate against reference: the criterion's figures and whether each holds."""
    a = candidate if isinstance(candidate, dict) else load_run(candidate)
    b = reference if isinstance(reference, dict) else load_run(reference)
    if a["epochs"] != b["epochs"]:
        raise ValueError(f"{a['dir']} has {a['epochs']} epochs, {b['dir']} {b['epochs']}: not comparable")
    k = min(last_k, a["epochs"])
    rel = a["final_val_loss"] / b["final_val_loss"] - 1
    rel_last_k = statistics.fmean(a["val_loss"][-k:]) / statistics.fmean(b["val_loss"][-k:]) - 1
    d_rho = a["abs_spearman"] - b["abs_spearman"]

    def own_jump(run):  # how far the run's own loss moved at its last epoch
        v = run["val_loss"]
        return v[-1] / v[-2] - 1 if len(v) > 1 else None

    return {
        "candidate": a["dir"],
        "reference": b["dir"],
        "final_val_loss": (a["final_val_loss"], b["final_val_loss"]),
        "val_loss_rel_diff": rel,
        f"val_loss_rel_diff_last{k}_mean": rel_last_k,
        "last_epoch_jump": (own_jump(a), own_jump(b)),
        "abs_spearman": (a["abs_spearman"], b["abs_spearman"]),
        "abs_spearman_diff": d_rho,
        "val_loss_ok": abs(rel) <= val_loss_rel_tol,
        "abs_spearman_ok": abs(d_rho) <= abs_rho_tol,
        "last_k": k,
        "tolerances": (val_loss_rel_tol, abs_rho_tol),
    }


def spread_markdown(comparisons: list[dict], labels: list[str] | None = None) -> str:
    """One row per pair, then the median and the count of pairs meeting each criterion."""
    labels = labels or [f"pair {i + 1}" for i in range(len(comparisons))]
    k = comparisons[0]["last_k"] if comparisons else 3
    loss_tol, rho_tol = comparisons[0]["tolerances"] if comparisons else (0.02, 0.01)
    lines = [
        f"| pair | val loss candidate / reference | Δ final | Δ mean of last {k} | own last-epoch jump "
        f"(cand. / ref.) | \\|ρ\\| candidate / reference | Δ\\|ρ\\| | loss ≤ {100 * loss_tol:g} % "
        f"| \\|ρ\\| ≤ {rho_tol:g} |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, c in zip(labels, comparisons):
        ja, jb = c["last_epoch_jump"]
        lines.append(
            f"| {label} | {c['final_val_loss'][0]:.1f} / {c['final_val_loss'][1]:.1f} "
            f"| {100 * c['val_loss_rel_diff']:+.1f} % | {100 * c[f'val_loss_rel_diff_last{k}_mean']:+.1f} % "
            f"| {_pct(ja)} / {_pct(jb)} "
            f"| {c['abs_spearman'][0]:.3f} / {c['abs_spearman'][1]:.3f} | {c['abs_spearman_diff']:+.3f} "
            f"| {'yes' if c['val_loss_ok'] else '**no**'} | {'yes' if c['abs_spearman_ok'] else '**no**'} |"
        )
    if len(comparisons) > 1:
        med = statistics.median
        lines.append(
            f"| median | | {100 * med(c['val_loss_rel_diff'] for c in comparisons):+.1f} % "
            f"| {100 * med(c[f'val_loss_rel_diff_last{k}_mean'] for c in comparisons):+.1f} % | "
            f"| | {med(c['abs_spearman_diff'] for c in comparisons):+.3f} "
            f"| {sum(c['val_loss_ok'] for c in comparisons)} of {len(comparisons)} "
            f"| {sum(c['abs_spearman_ok'] for c in comparisons)} of {len(comparisons)} |"
        )
    return "\n".join(lines) + "\n"


def _pct(x) -> str:
    return "–" if x is None else f"{100 * x:+.1f} %"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m youngvae.bench.compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("--pair", nargs=2, action="append", required=True,
                        metavar=("CANDIDATE", "REFERENCE"), help="two results/ directories")
    parser.add_argument("--label", action="append", help="one label per --pair (default: pair N)")
    args = parser.parse_args(argv)
    if args.label and len(args.label) != len(args.pair):
        parser.error(f"--label given {len(args.label)} times for {len(args.pair)} --pair")
    comparisons = [compare_runs(a, b) for a, b in args.pair]
    print(spread_markdown(comparisons, args.label), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
