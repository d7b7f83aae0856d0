"""Analysis of a trained 1-D-latent VAE: latent tables, z->lambda calibration,
encoding metrics, SSIM/MSE image comparison and z-grid decoding helpers.

Pure numpy / scipy / pandas (no matplotlib, no TensorFlow, no scikit-image).
Every function takes plain arrays or callables so it can be unit-tested
without the optics or model modules.

Units: wavelengths are handled in whatever unit the caller passes; the latent
table stores them in metres (``wavelength_m``) and :func:`encode_metrics`
assumes the calibration was fitted on metres (as :func:`fit_calibration_from_table`
does) and reports errors in nanometres.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import ndimage, stats
from scipy.interpolate import PchipInterpolator
from scipy.optimize import isotonic_regression

SPLITS = ("train", "val", "unused")

__all__ = [
    "SPLITS",
    "Calibration",
    "central_column_profile",
    "compare_decoded",
    "correlations",
    "decode_in_batches",
    "encode_metrics",
    "fit_calibration",
    "fit_calibration_from_table",
    "latent_table",
    "mse",
    "ssim",
    "z_grid",
]


# --------------------------------------------------------------------------- #
# Latent table
# --------------------------------------------------------------------------- #
def _as_2d(name: str, arr: Any, n: int) -> np.ndarray:
    a = np.asarray(arr, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[0] != n:
        raise ValueError(
            f"{name}: expected shape [n={n}, k] or [n={n}], got {np.shape(arr)}"
        )
    return a


def latent_table(
    sample: Sequence[Any] | np.ndarray,
    wavelength_m: Sequence[float] | np.ndarray,
    split: Sequence[str] | np.ndarray,
    z_mean: np.ndarray,
    z_log_var: np.ndarray,
) -> pd.DataFrame:
    """One row per sample: ``sample, wavelength_m, split, z_mean_0.., z_log_var_0..``.

    ``z_mean`` / ``z_log_var`` are ``[n, k]`` (``[n]`` is accepted as k = 1).
    ``split`` values must be one of ``"train"``, ``"val"``, ``"unused"``.
    """
    sample = np.asarray(sample)
    n = sample.shape[0]
    lam = np.asarray(wavelength_m, dtype=np.float64).reshape(-1)
    if lam.shape[0] != n:
        raise ValueError(f"wavelength_m: expected {n} values, got {lam.shape[0]}")
    spl = np.asarray(split).astype(str).reshape(-1)
    if spl.shape[0] != n:
        raise ValueError(f"split: expected {n} values, got {spl.shape[0]}")
    bad = sorted(set(spl.tolist()) - set(SPLITS))
    if bad:
        raise ValueError(f"split: unknown value(s) {bad}; allowed {list(SPLITS)}")
    zm = _as_2d("z_mean", z_mean, n)
    zl = _as_2d("z_log_var", z_log_var, n)
    if zm.shape != zl.shape:
        raise ValueError(
            f"z_log_var: shape {zl.shape} differs from z_mean shape {zm.shape}"
        )
    cols: dict[str, Any] = {"sample": sample, "wavelength_m": lam, "split": spl}
    for j in range(zm.shape[1]):
        cols[f"z_mean_{j}"] = zm[:, j]
    for j in range(zl.shape[1]):
        cols[f"z_log_var_{j}"] = zl[:, j]
    return pd.DataFrame(cols)


def _latent_cols(table: pd.DataFrame, prefix: str) -> list[str]:
    cols = [c for c in table.columns if str(c).startswith(prefix)]
    return sorted(cols, key=lambda c: int(str(c)[len(prefix) :]))


# --------------------------------------------------------------------------- #
# Correlations
# --------------------------------------------------------------------------- #
def _is_constant(a: np.ndarray) -> bool:
    return a.size == 0 or bool(np.all(a == a[0]))


def correlations(z: Any, wavelength: Any) -> dict[str, float]:
    """Pearson and Spearman correlation of ``z`` with ``wavelength``.

    Returns ``nan`` (without warnings) when fewer than 2 finite pairs exist or
    either input is constant (e.g. a collapsed latent).
    """
    z = np.asarray(z, dtype=np.float64).reshape(-1)
    w = np.asarray(wavelength, dtype=np.float64).reshape(-1)
    if z.shape != w.shape:
        raise ValueError(
            f"wavelength: length {w.shape[0]} differs from z length {z.shape[0]}"
        )
    ok = np.isfinite(z) & np.isfinite(w)
    z, w = z[ok], w[ok]
    if z.size < 2 or _is_constant(z) or _is_constant(w):
        return {"pearson": math.nan, "spearman": math.nan}
    pearson = float(stats.pearsonr(z, w).statistic)
    spearman = float(stats.spearmanr(z, w).statistic)
    return {"pearson": pearson, "spearman": spearman}


# --------------------------------------------------------------------------- #
# Monotone calibration z -> lambda
# --------------------------------------------------------------------------- #
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
        )


def fit_calibration(z_train: Any, lam_train: Any, n_knots: int = 32) -> Calibration:
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
    """
    if n_knots < 1:
        raise ValueError(f"n_knots: must be >= 1, got {n_knots}")
    z = np.asarray(z_train, dtype=np.float64).reshape(-1)
    lam = np.asarray(lam_train, dtype=np.float64).reshape(-1)
    if z.shape != lam.shape:
        raise ValueError(
            f"lam_train: length {lam.shape[0]} differs from z_train length {z.shape[0]}"
        )
    ok = np.isfinite(z) & np.isfinite(lam)
    z, lam = z[ok], lam[ok]
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
    )


def fit_calibration_from_table(
    table: pd.DataFrame,
    split: str = "train",
    latent: str = "z_mean_0",
    n_knots: int = 32,
) -> Calibration:
    """:func:`fit_calibration` on ``table[latent]`` vs ``wavelength_m`` of one split."""
    sub = table[table["split"] == split]
    if len(sub) == 0:
        raise ValueError(f"split: no rows with split == {split!r}")
    return fit_calibration(
        sub[latent].to_numpy(), sub["wavelength_m"].to_numpy(), n_knots=n_knots
    )


# --------------------------------------------------------------------------- #
# Metrics
# --------------------------------------------------------------------------- #
def encode_metrics(
    table: pd.DataFrame, calibration: Calibration, latent: str = "z_mean_0"
) -> dict[str, Any]:
    """Encoding quality on the **validation** split (json.dump-able).

    ``calibration`` must map z to lambda in metres (as fitted on
    ``wavelength_m``); errors are reported in nm. Undefined correlations
    (collapsed latent) are ``nan``; ``latent_collapsed`` flags that case.
    """
    if "split" not in table.columns:
        raise ValueError("table: missing 'split' column")
    val = table[table["split"] == "val"]
    n_val = int(len(val))
    if n_val == 0:
        raise ValueError("table: no rows with split == 'val'")
    z = val[latent].to_numpy(dtype=np.float64)
    lam = val["wavelength_m"].to_numpy(dtype=np.float64)
    corr = correlations(z, lam)
    pred = np.asarray(calibration.predict(z), dtype=np.float64)
    err_nm = (pred - lam) * 1e9
    rmse = float(np.sqrt(np.mean(err_nm**2)))
    mae = float(np.mean(np.abs(err_nm)))
    lam_std_nm = float(np.std(lam) * 1e9)

    out: dict[str, Any] = {
        "pearson": corr["pearson"],
        "spearman": corr["spearman"],
        "abs_spearman": abs(corr["spearman"]),
        "calibration_rmse_nm": rmse,
        "calibration_mae_nm": mae,
        "calibration_max_abs_err_nm": float(np.max(np.abs(err_nm))),
        # 1 - MSE/Var: 1 = perfect, 0 = no better than predicting the mean.
        "calibration_r2": (
            float(1.0 - rmse**2 / lam_std_nm**2) if lam_std_nm > 0 else math.nan
        ),
        "wavelength_std_nm": lam_std_nm,
        "n_train": int((table["split"] == "train").sum()),
        "n_val": n_val,
        "n_unused": int((table["split"] == "unused").sum()),
        "z_mean_min": float(np.min(z)),
        "z_mean_max": float(np.max(z)),
        "z_mean_range": float(np.max(z) - np.min(z)),
        "z_mean_std": float(np.std(z)),
        "calibration_increasing": bool(calibration.increasing),
        "latent_collapsed": bool(np.std(z) < 1e-6 or calibration.is_constant),
    }

    lv_cols = _latent_cols(val, "z_log_var_")
    mu_cols = _latent_cols(val, "z_mean_")
    if lv_cols:
        lv = val[lv_cols].to_numpy(dtype=np.float64)
        out["posterior_std_mean"] = float(np.mean(np.exp(0.5 * lv)))
        if len(mu_cols) == len(lv_cols):
            mu = val[mu_cols].to_numpy(dtype=np.float64)
            # KL(q(z|x) || N(0, I)) per sample, summed over latent dims.
            kl = 0.5 * np.sum(mu**2 + np.exp(lv) - 1.0 - lv, axis=1)
            out["kl_mean"] = float(np.mean(kl))
            # Aggregate posterior moments (a well-used prior gives ~0 / ~1).
            out["aggregate_z_mean"] = float(np.mean(mu[:, 0]))
            out["aggregate_z_var"] = float(np.var(mu[:, 0]) + np.mean(np.exp(lv[:, 0])))
    return out


# --------------------------------------------------------------------------- #
# Image comparison
# --------------------------------------------------------------------------- #
def _as_image(name: str, a: Any) -> np.ndarray:
    x = np.asarray(a, dtype=np.float64)
    if x.ndim == 3 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim != 2:
        raise ValueError(
            f"{name}: expected a 2-D image (H, W) or (H, W, 1), got shape {np.shape(a)}"
        )
    return x


def mse(a: Any, b: Any) -> float:
    """Mean squared error between two images of equal shape."""
    x, y = _as_image("a", a), _as_image("b", b)
    if x.shape != y.shape:
        raise ValueError(f"b: shape {y.shape} differs from a shape {x.shape}")
    return float(np.mean((x - y) ** 2))


def ssim(
    a: Any,
    b: Any,
    data_range: float = 1.0,
    window: str = "gaussian",
    win_size: int | None = None,
    sigma: float = 1.5,
    K1: float = 0.01,
    K2: float = 0.03,
) -> float:
    """Mean structural similarity (Wang et al. 2004).

    ``window="gaussian"`` (default): 11x11 Gaussian weights, sigma 1.5.
    ``window="uniform"``: ``win_size`` x ``win_size`` box (default 7).
    Local statistics are population (weighted) moments; only windows lying
    fully inside the image are averaged (the 'valid' region, as in the
    reference MATLAB implementation).
    """
    x, y = _as_image("a", a), _as_image("b", b)
    if x.shape != y.shape:
        raise ValueError(f"b: shape {y.shape} differs from a shape {x.shape}")
    if not data_range > 0:
        raise ValueError(f"data_range: must be > 0, got {data_range}")
    if window == "gaussian":
        ws = 11 if win_size is None else int(win_size)
        if ws < 1 or ws % 2 == 0:
            raise ValueError(f"win_size: must be odd and >= 1, got {ws}")
        radius = (ws - 1) // 2
        truncate = radius / sigma

        def filt(img: np.ndarray) -> np.ndarray:
            return ndimage.gaussian_filter(
                img, sigma=sigma, truncate=truncate, mode="reflect"
            )

    elif window == "uniform":
        ws = 7 if win_size is None else int(win_size)
        if ws < 1 or ws % 2 == 0:
            raise ValueError(f"win_size: must be odd and >= 1, got {ws}")
        radius = (ws - 1) // 2

        def filt(img: np.ndarray) -> np.ndarray:
            return ndimage.uniform_filter(img, size=ws, mode="reflect")

    else:
        raise ValueError(f"window: must be 'gaussian' or 'uniform', got {window!r}")
    if min(x.shape) < ws:
        raise ValueError(f"a: image shape {x.shape} smaller than the {ws}x{ws} window")

    C1 = (K1 * data_range) ** 2
    C2 = (K2 * data_range) ** 2
    mu_x, mu_y = filt(x), filt(y)
    sxx = filt(x * x) - mu_x * mu_x
    syy = filt(y * y) - mu_y * mu_y
    sxy = filt(x * y) - mu_x * mu_y
    num = (2 * mu_x * mu_y + C1) * (2 * sxy + C2)
    den = (mu_x**2 + mu_y**2 + C1) * (sxx + syy + C2)
    smap = num / den
    r = radius
    valid = smap[r : smap.shape[0] - r, r : smap.shape[1] - r]
    return float(np.mean(valid))


def compare_decoded(
    decoded: Any, simulated: Any, z: Any = None, data_range: float = 1.0
) -> list[dict[str, float]]:
    """Per-image MSE and SSIM between decoded and simulated stacks ``[n, H, W(,1)]``.

    Returns one dict per image: ``{"index", "mse", "ssim"}`` (+ ``"z"`` if given).
    """
    d = np.asarray(decoded, dtype=np.float64)
    s = np.asarray(simulated, dtype=np.float64)
    if d.ndim == 4 and d.shape[-1] == 1:
        d = d[..., 0]
    if s.ndim == 4 and s.shape[-1] == 1:
        s = s[..., 0]
    if d.ndim != 3:
        raise ValueError(f"decoded: expected [n, H, W], got shape {np.shape(decoded)}")
    if s.shape != d.shape:
        raise ValueError(
            f"simulated: shape {s.shape} differs from decoded shape {d.shape}"
        )
    zz = None if z is None else np.asarray(z, dtype=np.float64).reshape(d.shape[0], -1)
    rows = []
    for i in range(d.shape[0]):
        row: dict[str, float] = {"index": i}
        if zz is not None:
            row["z"] = float(zz[i, 0])
        row["mse"] = mse(d[i], s[i])
        row["ssim"] = ssim(d[i], s[i], data_range=data_range)
        rows.append(row)
    return rows


# --------------------------------------------------------------------------- #
# z grid and decoding
# --------------------------------------------------------------------------- #
def z_grid(z_min: float, z_max: float, z_step: float) -> np.ndarray:
    """``z_min, z_min + z_step, ...`` up to and including ``z_max`` when it lies
    on the grid (up to float drift, e.g. 0..4 step 0.5 gives 9 values, last = 4.0)."""
    for name, v in (("z_min", z_min), ("z_max", z_max), ("z_step", z_step)):
        if not np.isfinite(v):
            raise ValueError(f"{name}: must be finite, got {v!r}")
    z_min, z_max, z_step = float(z_min), float(z_max), float(z_step)
    if z_step <= 0:
        raise ValueError(f"z_step: must be > 0, got {z_step}")
    if z_min > z_max:
        raise ValueError(f"z_min: must be <= z_max, got z_min={z_min} > z_max={z_max}")
    span = (z_max - z_min) / z_step
    n = int(math.floor(span + 1e-9)) + 1
    out = z_min + z_step * np.arange(n, dtype=np.float64)
    if abs(out[-1] - z_max) <= 1e-9 * max(1.0, abs(z_max), abs(z_step)):
        out[-1] = z_max
    return out


DECODE_GRIDS = ("paper", "latent")


def decode_z_values(decode_cfg: Mapping[str, Any], calibration: "Calibration") -> np.ndarray:
    """The z values to decode. ``grid: paper`` (default): ``z_min .. z_max`` in steps of
    ``z_step`` (the paper's Fig. 4 grid, whatever range the latent learned). ``grid: latent``:
    ``n_points`` evenly spaced over the z range the encoder gave the training patterns
    (``calibration.z_min .. z_max``), so no decoded z lies outside what the model was fit on."""
    grid = decode_cfg.get("grid", "paper")
    if grid == "paper":
        return z_grid(decode_cfg["z_min"], decode_cfg["z_max"], decode_cfg["z_step"])
    if grid == "latent":
        n = int(decode_cfg.get("n_points", 9))
        if n < 2:
            raise ValueError(f"decode.n_points: must be >= 2, got {n}")
        if not calibration.z_max > calibration.z_min:
            raise ValueError("decode.grid: latent needs a latent range, but the training patterns' z "
                             f"is constant ({calibration.z_min}): the latent collapsed")
        return np.linspace(calibration.z_min, calibration.z_max, n)
    raise ValueError(f"decode.grid: must be one of {DECODE_GRIDS}, got {grid!r}")


def decode_in_batches(
    decode_fn: Callable[[np.ndarray], Any], z: Any, batch_size: int = 64
) -> np.ndarray:
    """Decode latent vectors ``z`` (``[n]`` or ``[n, k]``) with one ``decode_fn``
    call per batch of ``float32 [b, k]``; returns ``float32 [n, H, W]`` in order
    (a trailing channel axis of size 1 is dropped)."""
    if int(batch_size) < 1:
        raise ValueError(f"batch_size: must be >= 1, got {batch_size}")
    batch_size = int(batch_size)
    zz = np.asarray(z, dtype=np.float32)
    if zz.ndim == 0:
        zz = zz.reshape(1, 1)
    elif zz.ndim == 1:
        zz = zz[:, None]
    if zz.ndim != 2:
        raise ValueError(f"z: expected [n] or [n, k], got shape {np.shape(z)}")
    n = zz.shape[0]
    if n == 0:
        return np.zeros((0, 0, 0), dtype=np.float32)
    outs = []
    for start in range(0, n, batch_size):
        batch = zz[start : start + batch_size]
        img = np.asarray(decode_fn(batch), dtype=np.float32)
        if img.ndim == 4 and img.shape[-1] == 1:
            img = img[..., 0]
        if img.ndim != 3 or img.shape[0] != batch.shape[0]:
            raise ValueError(
                f"decode_fn: returned shape {img.shape} for a batch of {batch.shape[0]};"
                " expected [b, H, W] or [b, H, W, 1]"
            )
        outs.append(img)
    return np.concatenate(outs, axis=0)


def central_column_profile(image: Any) -> np.ndarray:
    """Intensity along the vertical axis through the image centre:
    the central column (mean of the two central columns for even width)."""
    x = _as_image("image", image)
    w = x.shape[1]
    if w % 2 == 1:
        return x[:, w // 2].copy()
    return 0.5 * (x[:, w // 2 - 1] + x[:, w // 2])
