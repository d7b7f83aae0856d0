"""Which training patterns an epoch visits, and in what order.

``uniform`` (the paper's way, and the recipe until 2026-12-01): every epoch is a seeded
permutation of the training set. ``loss`` (the default of config.yaml and TrainConfig): from the
second epoch on, the epoch's ``n`` draws follow
p_i = floor/n + (1 − floor)·e_i/Σe, with e_i the pattern's excess reconstruction loss (its
summed BCE minus the BCE floor set by its own pixel entropy, 0 for a perfect reconstruction)
when the run last trained on it. Patterns the decoder renders badly — the rare ones at the ends
of the λ range (docs/recipe.md) — come round more often; ``floor`` keeps every pattern's chance
at least floor/n. Unsupervised: it uses the model's own losses, never λ.

The draws are systematic (one uniform offset, n evenly spaced points on the cumulative p), so
pattern i appears floor(n·p_i) or ceil(n·p_i) times, never a lucky or unlucky streak; then they
are shuffled.
"""

from __future__ import annotations

import numpy as np
from scipy.special import entr

__all__ = ["SAMPLINGS", "target_entropy", "loss_probabilities", "systematic_draws", "epoch_order"]

SAMPLINGS = ("uniform", "loss")


def target_entropy(images) -> np.ndarray:
    """Σ_pixels H(x) per image [n, H, W] in [0, 1], in nats: the smallest summed BCE any
    reconstruction can reach (BCE(x, y) = H(x) + KL(x‖y) ≥ H(x), equal at y = x)."""
    x = np.asarray(images, dtype=np.float64)
    return (entr(x) + entr(1.0 - x)).reshape(len(x), -1).sum(axis=1)


def loss_probabilities(excess, floor: float) -> np.ndarray:
    """p_i = floor/n + (1 − floor)·e_i/Σe (e clipped at 0; uniform where every e is 0)."""
    e = np.clip(np.asarray(excess, dtype=np.float64), 0.0, None)
    if e.ndim != 1 or not len(e) or not np.isfinite(e).all():
        raise ValueError(f"excess losses must be a non-empty finite vector, got shape {e.shape}")
    if not 0 <= floor <= 1:
        raise ValueError(f"floor must be in [0, 1], got {floor!r}")
    n = len(e)
    total = e.sum()
    if total <= 0:
        return np.full(n, 1.0 / n)
    return floor / n + (1.0 - floor) * e / total


def systematic_draws(p, n_draws: int, rng: np.random.Generator) -> np.ndarray:
    """``n_draws`` indices with expected counts n_draws·p_i, each count its floor or ceil."""
    p = np.asarray(p, dtype=np.float64)
    cdf = np.cumsum(p / p.sum())
    positions = (rng.random() + np.arange(n_draws)) / n_draws
    return np.minimum(np.searchsorted(cdf, positions, side="right"), len(p) - 1)


def epoch_order(sampling: str, floor: float, seed: int, epoch: int, n: int, excess=None) -> np.ndarray:
    """The indices epoch ``epoch`` (1-based) trains on, in order; ``excess`` is each pattern's
    last excess reconstruction loss (ignored for ``uniform`` and in epoch 1)."""
    if sampling not in SAMPLINGS:
        raise ValueError(f"sampling must be one of {SAMPLINGS}, got {sampling!r}")
    rng = np.random.default_rng([seed, epoch])
    if sampling == "uniform" or epoch == 1 or excess is None:
        return rng.permutation(n)
    if len(excess) != n:
        raise ValueError(f"expected {n} excess losses, got {len(excess)}")
    return rng.permutation(systematic_draws(loss_probabilities(excess, floor), n, rng))
