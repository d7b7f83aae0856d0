"""The train / validation split: one seeded permutation of the store's samples."""

from __future__ import annotations

import numpy as np
import pandas as pd

SPLIT_FILE_COLUMNS = ("sample", "split")


def split_indices(n_samples: int, n_train: int, n_val: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint train/validation sample indices drawn from one seeded permutation.

    ``numpy.random.default_rng(seed).permutation(n_samples)``: the first n_train entries are the
    training set, the next n_val the validation set. Each is returned SORTED ascending (int64),
    which keeps reads from a chunked store in order; training shuffles per epoch anyway.
    """
    for name, value in (("n_samples", n_samples), ("n_train", n_train), ("n_val", n_val), ("seed", seed)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
    if n_train < 1:
        raise ValueError(f"n_train must be >= 1, got {n_train}")
    if n_train + n_val > n_samples:
        raise ValueError(f"n_train + n_val = {n_train + n_val} exceeds n_samples = {n_samples}")
    order = np.random.default_rng(seed).permutation(n_samples)
    return np.sort(order[:n_train]), np.sort(order[n_train : n_train + n_val])


def split_table(n_samples: int, n_train: int, n_val: int, seed: int) -> pd.DataFrame:
    """sample -> 'train' / 'val' / 'unused' (the columns of results/train/split.csv)."""
    train_idx, val_idx = split_indices(n_samples, n_train, n_val, seed)
    split = np.full(n_samples, "unused", dtype=object)
    split[train_idx] = "train"
    split[val_idx] = "val"
    return pd.DataFrame({"sample": np.arange(n_samples), "split": split})
