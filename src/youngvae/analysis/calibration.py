"""Monotone calibration z -> lambda, fitted on the training split's encoded patterns.

How many knots: chosen by 5-fold cross-validation on the training split from
:data:`KNOT_GRID` (``n_knots="cv"``, the default; the smallest count within one standard error
of the best, :func:`choose_n_knots`). The knots are groups of equal sample count,
so a fixed count averages many patterns into each end knot where the λ distribution is thin:
with the earlier fixed 32 knots and 2048 training patterns every knot averaged 64 of them, and
a 950 nm pattern was predicted as the mean of the last 64 (docs/recipe.md measures what that
cost). Cross-validation picks the count that predicts held-out training patterns best.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd
from scipy.interpolate import PchipInterpolator
from scipy.optimize import isotonic_regression

from youngvae.analysis.latent import correlations, finite_pairs


@dataclass(frozen=True)
class Calibration:
    """Monotone map z -> lambda: PCHIP through knots, clamped outside them.

    ``knots_z`` is strictly increasing; ``knots_lambda`` is monotone in the
    direction ``increasing``. A single knot means a constant prediction
    (collapsed latent). ``z_min``/``z_max`` record the training z-range.
    """

    knots_z: tuple[float, ...]
    knots_lambda: tuple[float, ...]
    increasing: bool
    z_min: float
    z_max: float
    n_train: int
    #: the latent dimension the calibration reads (z_mean_<unit>)
    unit: int = 0
    #: how the knot count was chosen: {"method", "grid", "cv_rmse"} (empty: given, not chosen)
    knot_choice: Mapping[str, Any] = dataclasses.field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        kz = tuple(float(v) for v in self.knots_z)
        kl = tuple(float(v) for v in self.knots_lambda)
        if len(kz) == 0 or len(kz) != len(kl):
            raise ValueError("knots_z/knots_lambda: need equal, non-zero lengths")
        if any(b <= a for a, b in zip(kz, kz[1:])):
            raise ValueError("knots_z: must be strictly increasing")
        object.__setattr__(self, "knots_z", kz)
        object.__setattr__(self, "knots_lambda", kl)
        object.__setattr__(self, "increasing", bool(self.increasing))
        object.__setattr__(self, "z_min", float(self.z_min))
        object.__setattr__(self, "z_max", float(self.z_max))
        object.__setattr__(self, "n_train", int(self.n_train))
        object.__setattr__(self, "unit", int(self.unit))

    @property
    def is_constant(self) -> bool:
        return len(self.knots_z) == 1

    def predict(self, z: Any) -> np.ndarray | float:
        """lambda for each z (same shape as ``z``; float for a scalar)."""
        za = np.asarray(z, dtype=np.float64)
        kz = np.asarray(self.knots_z)
        kl = np.asarray(self.knots_lambda)
        if kz.size == 1:
            out = np.full(za.shape, kl[0])
        else:
            clipped = np.clip(za, kz[0], kz[-1])
            out = PchipInterpolator(kz, kl, extrapolate=False)(clipped)
            # NaN inputs stay NaN; clipping keeps every finite z inside the knots.
        out = np.where(np.isnan(za), np.nan, out)
        if np.ndim(z) == 0:
            return float(out)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": "isotonic+pchip",
            "knots_z": list(self.knots_z),
            "knots_lambda": list(self.knots_lambda),
            "increasing": self.increasing,
            "z_min": self.z_min,
            "z_max": self.z_max,
            "n_train": self.n_train,
            "unit": self.unit,
            "n_knots": len(self.knots_z),
            "knot_choice": dict(self.knot_choice),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Calibration":
        return cls(
            knots_z=tuple(d["knots_z"]),
            knots_lambda=tuple(d["knots_lambda"]),
            increasing=bool(d["increasing"]),
            z_min=float(d["z_min"]),
            z_max=float(d["z_max"]),
            n_train=int(d["n_train"]),
            unit=int(d.get("unit", 0)),  # files written before latent_dim > 1: unit 0
            knot_choice=dict(d.get("knot_choice", {})),
        )


#: knot counts :func:`choose_n_knots` tries (1024 since the ninth session: the renormalized
#: recipe's encodings are sharp enough that 512 was the best count offered, docs/recipe.md)
KNOT_GRID = (8, 16, 32, 64, 128, 256, 512, 1024)
CV_FOLDS = 5


def choose_n_knots(
    z: Any, lam: Any, grid=KNOT_GRID, folds: int = CV_FOLDS, seed: int = 0
) -> tuple[int, dict[int, float]]:
    """The knot count of ``grid`` whose calibration predicts held-out pairs best.

    ``folds``-fold cross-validation (seeded assignment of the pairs to folds): for each count,
    fit on all folds but one, predict the held-out one. Returns the SMALLEST count whose mean
    squared held-out error is within one standard error of the best count's (the one-standard-
    error rule: where the counts predict alike, as on noise, the coarse map; the plain minimum
    picks among near-ties by chance), and the root-mean-square held-out error of every count
    tried. Fewer than 2·folds pairs: the smallest count, no CV table.
    """
    z, lam = finite_pairs(z, lam, "z", "lam")
    grid = sorted({int(k) for k in grid})
    if not grid or grid[0] < 1:
        raise ValueError(f"grid: knot counts must be >= 1, got {grid}")
    if folds < 2:
        raise ValueError(f"folds: must be >= 2, got {folds}")
    if z.size < 2 * folds:
        return grid[0], {}
    fold = np.random.default_rng(seed).permutation(z.size) % folds
    squared = {}
    for k in grid:
        squared[k] = np.empty(z.size)
        for f in range(folds):
            held = fold == f
            fitted = fit_calibration(z[~held], lam[~held], n_knots=k)
            squared[k][held] = (fitted.predict(z[held]) - lam[held]) ** 2
    mse = {k: float(v.mean()) for k, v in squared.items()}
    best = min(grid, key=lambda k: (mse[k], k))
    standard_error = float(squared[best].std() / np.sqrt(z.size))
    chosen = min(k for k in grid if mse[k] <= mse[best] + standard_error)
    return chosen, {k: float(np.sqrt(m)) for k, m in mse.items()}


def fit_calibration(z_train: Any, lam_train: Any, n_knots: int | str = "cv") -> Calibration:
    """Fit a monotone z -> lambda calibration on training data.

    1. Direction (increasing/decreasing) from the sign of Spearman's rho
       (increasing if undefined).
    2. Ties in z are merged (mean lambda, weighted by count).
    3. Weighted isotonic regression (scipy PAVA) in that direction.
    4. The sorted unique z values are cut into ``n_knots`` contiguous groups
       of roughly equal sample count; each gives a knot (mean z, mean fitted
       lambda), so knots are strictly increasing in z and monotone in lambda.
    5. :meth:`Calibration.predict` runs a shape-preserving (monotone) PCHIP
       through the knots and clamps z outside the knot range.

    A constant z (collapsed latent) yields one knot: the mean training lambda.
    ``n_knots="cv"`` chooses the count by cross-validation (:func:`choose_n_knots`); an
    integer fixes it (32 was the earlier default).
    """
    knot_choice: dict[str, Any] = {}
    if n_knots == "cv":
        n_knots, cv_rmse = choose_n_knots(z_train, lam_train)
        knot_choice = {"method": f"{CV_FOLDS}-fold cross-validation", "grid": list(KNOT_GRID),
                       "cv_rmse": {str(k): v for k, v in cv_rmse.items()}}
    if isinstance(n_knots, bool) or not isinstance(n_knots, (int, np.integer)) or n_knots < 1:
        raise ValueError(f"n_knots: must be an integer >= 1 or 'cv', got {n_knots!r}")
    z, lam = finite_pairs(z_train, lam_train, "z_train", "lam_train")
    if z.size == 0:
        raise ValueError("z_train: no finite (z, lambda) pairs to fit")

    rho = correlations(z, lam)["spearman"]
    increasing = not (np.isfinite(rho) and rho < 0)

    uz, inv, counts = np.unique(z, return_inverse=True, return_counts=True)
    sums = np.bincount(inv, weights=lam, minlength=uz.size)
    means = sums / counts
    w = counts.astype(np.float64)
    if uz.size == 1:
        fitted = means
    else:
        fitted = np.asarray(
            isotonic_regression(means, weights=w, increasing=increasing).x
        )

    m = min(n_knots, uz.size)
    # Contiguous groups of unique z with roughly equal total weight.
    cum = np.cumsum(w)
    edges = np.searchsorted(cum, cum[-1] * np.arange(1, m) / m, side="left") + 1
    edges = np.unique(np.concatenate([[0], edges, [uz.size]]))
    kz, kl = [], []
    for a, b in zip(edges[:-1], edges[1:]):
        if b <= a:
            continue
        ww = w[a:b]
        kz.append(float(np.sum(uz[a:b] * ww) / np.sum(ww)))
        kl.append(float(np.sum(fitted[a:b] * ww) / np.sum(ww)))
    kz_arr, kl_arr = np.asarray(kz), np.asarray(kl)
    # Weighted means of disjoint sorted groups are strictly increasing; guard
    # against float coincidences anyway.
    keep = np.concatenate([[True], np.diff(kz_arr) > 0])
    kz_arr, kl_arr = kz_arr[keep], kl_arr[keep]
    # Enforce exact monotonicity of the knot values (rounding safety).
    kl_arr = (
        np.maximum.accumulate(kl_arr) if increasing else np.minimum.accumulate(kl_arr)
    )
    return Calibration(
        knots_z=tuple(kz_arr.tolist()),
        knots_lambda=tuple(kl_arr.tolist()),
        increasing=increasing,
        z_min=float(z.min()),
        z_max=float(z.max()),
        n_train=int(z.size),
        knot_choice=knot_choice,
    )


def fit_calibration_from_table(
    table: pd.DataFrame,
    split: str = "train",
    latent: str = "z_mean_0",
    n_knots: int | str = "cv",
    label: str = "wavelength_m",
) -> Calibration:
    """:func:`fit_calibration` on ``table[latent]`` vs ``table[label]`` (the true wavelength, or
    the recorded one where the labels carry an error) of one split; the calibration records
    which unit (``z_mean_<unit>``) it reads."""
    sub = table[table["split"] == split]
    if len(sub) == 0:
        raise ValueError(f"split: no rows with split == {split!r}")
    fitted = fit_calibration(sub[latent].to_numpy(), sub[label].to_numpy(), n_knots=n_knots)
    return dataclasses.replace(fitted, unit=int(latent.rsplit("_", 1)[1]))


def rescore(table: pd.DataFrame, n_knots: int | str, latent: str = "z_mean_0") -> dict[str, Any]:
    """Validation RMSE / max error (nm) and knot count of a calibration refitted on ``table``'s
    train split with ``n_knots``: an encoded run scored again without retraining."""
    from youngvae.analysis.latent import encode_metrics

    fitted = fit_calibration_from_table(table, latent=latent, n_knots=n_knots)
    metrics = encode_metrics(table, fitted, latent=latent)
    return {"knots": len(fitted.knots_z), "rmse_nm": metrics["calibration_rmse_nm"],
            "max_nm": metrics["calibration_max_abs_err_nm"]}


def main(argv=None) -> None:
    """``python -m youngvae.analysis.calibration LATENT.csv … [--knots 32 cv]``: refit the
    calibration of encoded runs (their ``encode/latent.csv``) with each knot setting and print
    one Markdown row per file."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m youngvae.analysis.calibration",
                                     description=main.__doc__.split("\n")[0])
    parser.add_argument("latent_csv", nargs="+", help="encode/latent.csv files")
    parser.add_argument("--knots", nargs="+", default=["32", "cv"],
                        help="knot settings to compare: integers or 'cv' (default: 32 cv)")
    parser.add_argument("--latent", default="z_mean_0", help="the z column (default z_mean_0)")
    args = parser.parse_args(argv)
    settings = [k if k == "cv" else int(k) for k in args.knots]
    header = " | ".join(f"{k} knots: n, RMSE nm, max nm" for k in settings)
    print(f"| file | {header} |\n|---|" + "---|" * len(settings))
    for path in args.latent_csv:
        table = pd.read_csv(path)
        cells = [rescore(table, k, args.latent) for k in settings]
        print(f"| {path} | " + " | ".join(f"{c['knots']}, {c['rmse_nm']:.2f}, {c['max_nm']:.1f}" for c in cells) + " |")


if __name__ == "__main__":
    main()
