"""youngvae.vae.batches: which patterns an epoch trains on (pure numpy, known answers)."""

import numpy as np
import pytest

from youngvae.vae import batches


def test_target_entropy_is_the_smallest_bce_a_reconstruction_can_reach():
    half = np.full((1, 4, 4), 0.5)
    binary = np.zeros((1, 4, 4))
    binary[0, :2] = 1.0
    np.testing.assert_allclose(batches.target_entropy(half), [16 * np.log(2)])
    np.testing.assert_allclose(batches.target_entropy(binary), [0.0])
    # BCE(x, y) = H(x) + KL(x || y) >= H(x), with equality at y = x
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(3, 8, 8))
    y = rng.uniform(0.01, 0.99, size=(3, 8, 8))
    bce = lambda t, p: -(t * np.log(p) + (1 - t) * np.log(1 - p)).sum(axis=(1, 2))  # noqa: E731
    h = batches.target_entropy(x)
    assert np.all(bce(x, y) > h)
    np.testing.assert_allclose(bce(x, x), h, rtol=1e-12)


def test_loss_probabilities_mix_a_floor_with_the_losses():
    p = batches.loss_probabilities([0.0, 1.0, 3.0, -2.0], floor=0.2)
    np.testing.assert_allclose(p, [0.05, 0.05 + 0.2, 0.05 + 0.6, 0.05])
    np.testing.assert_allclose(batches.loss_probabilities([0.0, 0.0], floor=0.2), [0.5, 0.5])
    with pytest.raises(ValueError, match="floor"):
        batches.loss_probabilities([1.0], floor=1.5)
    with pytest.raises(ValueError, match="finite"):
        batches.loss_probabilities([1.0, np.nan], floor=0.5)


def test_systematic_draws_give_each_index_the_floor_or_ceil_of_its_expected_count():
    rng = np.random.default_rng(1)
    p = rng.dirichlet(np.ones(50))
    for seed in range(20):
        counts = np.bincount(batches.systematic_draws(p, 200, np.random.default_rng(seed)), minlength=50)
        expected = 200 * p
        assert counts.sum() == 200
        assert np.all((counts == np.floor(expected)) | (counts == np.ceil(expected)))
    np.testing.assert_array_equal(
        np.bincount(batches.systematic_draws([0.5, 0.25, 0.25], 4, rng), minlength=3), [2, 1, 1]
    )


def test_mean_counts_over_seeds_are_the_expected_counts():
    p = np.array([0.6, 0.3, 0.1])
    counts = np.mean([np.bincount(batches.systematic_draws(p, 7, np.random.default_rng(s)), minlength=3)
                      for s in range(4000)], axis=0)
    np.testing.assert_allclose(counts, 7 * p, atol=0.03)


def test_uniform_order_is_the_seeded_permutation_and_loss_order_favours_high_losses():
    n = 100
    uniform = batches.epoch_order("uniform", 0.5, seed=3, epoch=2, n=n, excess=np.arange(n))
    np.testing.assert_array_equal(uniform, np.random.default_rng([3, 2]).permutation(n))
    first = batches.epoch_order("loss", 0.5, seed=3, epoch=1, n=n, excess=np.arange(n))
    np.testing.assert_array_equal(first, np.random.default_rng([3, 1]).permutation(n))  # no losses yet
    excess = np.ones(n)
    excess[:10] = 46.0  # ten hard patterns: p = 0.005 + 0.5·46/550 each
    order = batches.epoch_order("loss", 0.5, seed=3, epoch=2, n=n, excess=excess)
    counts = np.bincount(order, minlength=n)
    assert len(order) == n and np.all(counts[:10] >= 4) and np.all(counts[10:] <= 1)
    with pytest.raises(ValueError, match="sampling"):
        batches.epoch_order("hardest", 0.5, seed=3, epoch=2, n=n)
    with pytest.raises(ValueError, match="excess"):
        batches.epoch_order("loss", 0.5, seed=3, epoch=2, n=n, excess=np.ones(3))
