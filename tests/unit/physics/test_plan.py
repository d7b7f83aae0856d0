"""The chunk plan: deterministic per chunk, inside the truncation range, Gaussian inside it."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from youngvae.physics.plan import ChunkPlan, WavelengthDistribution

DIST = WavelengthDistribution(mean_nm=650, std_nm=100, min_nm=380, max_nm=1000)


def test_chunk_wavelengths_depend_only_on_seed_and_index():
    a = ChunkPlan(3000, 100, 0, DIST)
    b = ChunkPlan(6000, 100, 0, DIST)  # more chunks: the first ones are unchanged
    np.testing.assert_array_equal(a.chunk_wavelengths_m(7), b.chunk_wavelengths_m(7))
    assert not np.array_equal(a.chunk_wavelengths_m(7), a.chunk_wavelengths_m(8))
    c = ChunkPlan(3000, 100, 1, DIST)
    assert not np.array_equal(a.chunk_wavelengths_m(7), c.chunk_wavelengths_m(7))


def test_wavelengths_follow_the_truncated_gaussian():
    lam_nm = ChunkPlan(3000, 100, 0, DIST).all_wavelengths_m() * 1e9
    assert lam_nm.shape == (3000,)
    assert lam_nm.min() >= 380 and lam_nm.max() <= 1000
    a, b = (380 - 650) / 100, (1000 - 650) / 100
    ks = stats.kstest(lam_nm, stats.truncnorm(a, b, loc=650, scale=100).cdf)
    assert ks.pvalue > 1e-3


def test_chunk_slices_tile_the_samples():
    plan = ChunkPlan(40, 10, 0, DIST)
    assert plan.chunk_ids() == ["0000", "0001", "0002", "0003"]
    covered = np.concatenate([np.arange(40)[plan.chunk_slice(i)] for i in range(4)])
    np.testing.assert_array_equal(covered, np.arange(40))
    with pytest.raises(IndexError):
        plan.chunk_slice(4)


def test_chunk_size_must_divide_samples():
    with pytest.raises(ValueError, match="chunk_size"):
        ChunkPlan(40, 7, 0, DIST)
