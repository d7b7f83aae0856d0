"""Which latent unit reads which physical parameter, when the data vary in more than one.

With systematics, a dataset varies per sample in λ and in the drawn nuisances (aperture
separation and radius, distance, screen shift, gain). Two views on the latent:

* the **correlation matrix**: |Spearman ρ| between every active unit's posterior mean and every
  varied parameter (validation split);
* the **mutual information gap** (MIG; Chen et al. 2018, "Isolating sources of disentanglement
  in VAEs"): for each parameter v_k, the gap between the largest and the second-largest mutual
  information I(z_j; v_k) over the latent units, divided by the entropy H(v_k), averaged over
  the parameters. 1 = each parameter is read by exactly one unit (and fully); 0 = no unit
  reads a parameter better than another. Estimated on the validation split with both variables
  discretized into ``bins`` equal-count (quantile) bins, so H(v_k) = log(bins) up to ties and
  the estimate is invariant under monotone maps of z and v.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import stats

#: Default number of equal-count bins per variable for the MI estimate.
BINS = 20


def quantile_codes(values: np.ndarray, bins: int = BINS) -> np.ndarray:
    """Equal-count bin index (0..bins-1) of each value (ties share a bin)."""
    values = np.asarray(values, dtype=np.float64)
    ranks = stats.rankdata(values, method="min") - 1
    return np.minimum((ranks * bins) // len(values), bins - 1).astype(np.int64)


def mutual_information(a: np.ndarray, b: np.ndarray) -> float:
    """I(a; b) in nats of two discrete code arrays (plug-in estimate from the joint histogram)."""
    a, b = np.asarray(a), np.asarray(b)
    joint = np.zeros((a.max() + 1, b.max() + 1))
    np.add.at(joint, (a, b), 1.0)
    joint /= joint.sum()
    pa, pb = joint.sum(axis=1, keepdims=True), joint.sum(axis=0, keepdims=True)
    nz = joint > 0
    return float(np.sum(joint[nz] * np.log(joint[nz] / (pa @ pb)[nz])))


def entropy(codes: np.ndarray) -> float:
    """H in nats of a discrete code array."""
    p = np.bincount(np.asarray(codes)) / len(codes)
    p = p[p > 0]
    return float(-np.sum(p * np.log(p)))


def mig(latents: np.ndarray, factors: np.ndarray, bins: int = BINS) -> tuple[float, list[float]]:
    """MIG of ``latents`` [n, J] against ``factors`` [n, K], and the normalized gap per factor.
    With one latent unit the second-largest mutual information is 0."""
    z_codes = [quantile_codes(latents[:, j], bins) for j in range(latents.shape[1])]
    gaps = []
    for k in range(factors.shape[1]):
        v = quantile_codes(factors[:, k], bins)
        h = entropy(v)
        mi = sorted((mutual_information(z, v) for z in z_codes), reverse=True) + [0.0]
        gaps.append((mi[0] - mi[1]) / h if h > 0 else float("nan"))
    return float(np.nanmean(gaps)), gaps


def varied_factors(columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The parameters that vary over the samples (standard deviation > 0), by name."""
    return {name: np.asarray(v, dtype=np.float64) for name, v in columns.items()
            if np.nanstd(np.asarray(v, dtype=np.float64)) > 0}


def disentanglement(latents: np.ndarray, units: Sequence[int], factors: Mapping[str, np.ndarray],
                    bins: int = BINS) -> dict[str, Any]:
    """The correlation matrix (|Spearman ρ|, one list per factor, one value per unit in
    ``units``) and the MIG over ``units``, json.dump-able. ``latents`` [n, J] posterior means."""
    names = list(factors)
    z = np.asarray(latents, dtype=np.float64)[:, list(units)]
    matrix = {name: [float(abs(stats.spearmanr(z[:, j], factors[name])[0])) for j in range(z.shape[1])]
              for name in names}
    value, gaps = (mig(z, np.column_stack([factors[n] for n in names]), bins) if len(units) and names
                   else (float("nan"), []))
    return {
        "factors": names,
        "units": [int(u) for u in units],
        "abs_spearman_matrix": matrix,
        "mig": value,
        "mig_per_factor": dict(zip(names, gaps)),
        "mig_bins": bins,
    }
