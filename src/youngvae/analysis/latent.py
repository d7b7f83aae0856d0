"""The latent table of an encoded dataset, z-lambda correlations and the encoding metrics.

Pure numpy / scipy / pandas (no TensorFlow). Wavelengths are in metres in the table
(``wavelength_m``); :func:`encode_metrics` reports calibration errors in nanometres.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import pandas as pd
from scipy import spatial, stats

if TYPE_CHECKING:  # calibration imports correlations from here
    from youngvae.analysis.calibration import Calibration

SPLITS = ("train", "val", "unused")


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


def finite_pairs(x: Any, y: Any, x_name: str, y_name: str) -> tuple[np.ndarray, np.ndarray]:
    """``x`` and ``y`` as flat float64 arrays of equal length, without the pairs where either is
    not finite; a ValueError naming ``y_name`` when the lengths differ."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if x.shape != y.shape:
        raise ValueError(f"{y_name}: length {y.shape[0]} differs from {x_name} length {x.shape[0]}")
    ok = np.isfinite(x) & np.isfinite(y)
    return x[ok], y[ok]


def correlations(z: Any, wavelength: Any) -> dict[str, float]:
    """Pearson and Spearman correlation of ``z`` with ``wavelength``.

    Returns ``nan`` (without warnings) when fewer than 2 finite pairs exist or
    either input is constant (e.g. a collapsed latent).
    """
    z, w = finite_pairs(z, wavelength, "z", "wavelength")
    if z.size < 2 or _is_constant(z) or _is_constant(w):
        return {"pearson": math.nan, "spearman": math.nan}
    pearson = float(stats.pearsonr(z, w).statistic)
    spearman = float(stats.spearmanr(z, w).statistic)
    return {"pearson": pearson, "spearman": spearman}



def encode_metrics(
    table: pd.DataFrame,
    calibration: Calibration,
    latent: str = "z_mean_0",
    label: str = "wavelength_m",
) -> dict[str, Any]:
    """Encoding quality on the **validation** split (json.dump-able), against ``table[label]``
    (the true wavelength by default; ``recorded_wavelength_m`` for the labels an experiment has).

    ``calibration`` must map z to lambda in metres; errors are reported in nm. Undefined
    correlations (collapsed latent) are ``nan``; ``latent_collapsed`` flags that case.
    """
    if "split" not in table.columns:
        raise ValueError("table: missing 'split' column")
    val = table[table["split"] == "val"]
    n_val = int(len(val))
    if n_val == 0:
        raise ValueError("table: no rows with split == 'val'")
    z = val[latent].to_numpy(dtype=np.float64)
    lam = val[label].to_numpy(dtype=np.float64)
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
            out["kl_mean"] = float(np.sum(kl_per_dim(table)))
            # Aggregate posterior moments (a well-used prior gives ~0 / ~1).
            out["aggregate_z_mean"] = float(np.mean(mu[:, 0]))
            out["aggregate_z_var"] = float(np.var(mu[:, 0]) + np.mean(np.exp(lv[:, 0])))
    return out


#: A latent dimension is active when its mean KL(q(z_i|x) || N(0, 1)) over the validation split
#: exceeds this many nats (Burda et al. 2016 threshold the variance of the posterior mean
#: instead; the KL form is the one our studies' contract states).
ACTIVE_KL_NATS = 0.01


def kl_per_dim(table: pd.DataFrame, split: str = "val") -> np.ndarray:
    """Mean KL(q(z_i|x) || N(0, 1)) per latent dimension over one split, in nats."""
    sub = table[table["split"] == split]
    mu = sub[_latent_cols(sub, "z_mean_")].to_numpy(dtype=np.float64)
    lv = sub[_latent_cols(sub, "z_log_var_")].to_numpy(dtype=np.float64)
    return np.mean(0.5 * (mu**2 + np.exp(lv) - 1.0 - lv), axis=0)


def active_units(kl: np.ndarray, threshold: float = ACTIVE_KL_NATS) -> list[int]:
    """Indices of the dimensions whose mean KL exceeds ``threshold`` nats."""
    return [int(i) for i in np.flatnonzero(np.asarray(kl) > threshold)]


def best_unit(table: pd.DataFrame, units: Sequence[int], label: str = "wavelength_m") -> int:
    """Of ``units`` (all dimensions when empty), the one whose posterior mean is most
    correlated with λ (``table[label]``; |Spearman ρ| on the TRAINING split, so validation
    stays unseen)."""
    train = table[table["split"] == "train"]
    candidates = list(units) or list(range(len(_latent_cols(table, "z_mean_"))))
    scores = []
    for i in candidates:
        rho = correlations(train[f"z_mean_{i}"], train[label])["spearman"]
        scores.append(abs(rho) if np.isfinite(rho) else -1.0)
    return int(candidates[int(np.argmax(scores))])


def knn_regression_rmse_nm(
    table: pd.DataFrame, units: Sequence[int], k: int = 15, label: str = "wavelength_m"
) -> float:
    """RMSE in nm on the validation split (against the true λ) of a k-nearest-neighbour
    regression z -> λ over ``units`` (posterior means, standardized with the training split's
    moments), fitted on the training split's ``table[label]``. Nonparametric, so a folded or curved latent is not penalised for its
    shape, only for mixing wavelengths. NaN when no unit is given."""
    if not units:
        return math.nan
    cols = [f"z_mean_{i}" for i in units]
    train, val = table[table["split"] == "train"], table[table["split"] == "val"]
    x_train = train[cols].to_numpy(dtype=np.float64)
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    std[std == 0] = 1.0
    tree = spatial.cKDTree((x_train - mean) / std)
    k = max(1, min(int(k), len(train)))
    _, idx = tree.query((val[cols].to_numpy(dtype=np.float64) - mean) / std, k=k)
    idx = np.asarray(idx).reshape(len(val), k)
    pred = train[label].to_numpy(dtype=np.float64)[idx].mean(axis=1)
    err_nm = (pred - val["wavelength_m"].to_numpy(dtype=np.float64)) * 1e9
    return float(np.sqrt(np.mean(err_nm**2)))


def latent_usage(table: pd.DataFrame, label: str = "wavelength_m") -> dict[str, Any]:
    """How the latent is used: its size, KL per dimension (validation), the active units, the
    unit the correlation and calibration read (:func:`best_unit`) and the k-NN regression
    over all active units; the training split's λ is ``table[label]``."""
    kl = kl_per_dim(table)
    active = active_units(kl)
    return {
        "latent_dim": int(kl.size),
        "kl_per_dim": [float(v) for v in kl],
        "active_kl_threshold_nats": ACTIVE_KL_NATS,
        "active_units": len(active),
        "active_unit_indices": active,
        "unit": best_unit(table, active, label=label),
        "regression_rmse_nm": knn_regression_rmse_nm(table, active, label=label),
    }

