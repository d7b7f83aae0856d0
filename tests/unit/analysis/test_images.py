"""Unit tests for youngvae.analysis.images (fast, synthetic data only)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from youngvae.analysis import images as A

C1 = (0.01 * 1.0) ** 2  # SSIM constants for data_range 1
C2 = (0.03 * 1.0) ** 2


def test_mse():
    a = np.zeros((4, 4))
    b = np.full((4, 4), 0.5)
    assert A.mse(a, b) == pytest.approx(0.25)
    assert A.mse(a, b[..., None]) == pytest.approx(0.25)
    with pytest.raises(ValueError):
        A.mse(a, np.zeros((3, 4)))


def test_ssim_identical_and_symmetric():
    rng = np.random.default_rng(4)
    a = rng.random((32, 32))
    b = np.clip(a + rng.normal(scale=0.1, size=a.shape), 0, 1)
    assert A.ssim(a, a) == pytest.approx(1.0, abs=1e-12)
    assert A.ssim(a, b) == pytest.approx(A.ssim(b, a), abs=1e-12)
    assert A.ssim(a, b) < 0.99
    assert A.ssim(a, b, window="uniform") == pytest.approx(
        A.ssim(b, a, window="uniform")
    )


def test_ssim_constant_shift():
    # constant images: sigma = cov = 0 -> only the luminance term remains
    mu, c = 0.3, 0.2
    a = np.full((16, 16), mu)
    expected = (2 * mu * (mu + c) + C1) / (mu**2 + (mu + c) ** 2 + C1)
    assert A.ssim(a, a + c) == pytest.approx(expected, rel=1e-10)
    # textured image: shift keeps structure/contrast, SSIM drops with larger shifts
    rng = np.random.default_rng(5)
    x = 0.5 * rng.random((32, 32))
    s1, s2 = A.ssim(x, x + 0.1), A.ssim(x, x + 0.3)
    assert 1.0 > s1 > s2 > 0


def test_ssim_hand_computed_uniform_single_window():
    # 3x3 images, 3x3 uniform window -> exactly one (valid) window
    a = np.array([[0, 0, 0], [0, 0, 0], [1, 1, 1]], dtype=float)
    # mu_a = 1/3, var_a = 1/3 - 1/9 = 2/9 ; b = 0 -> mu_b = var_b = cov = 0
    expected = (C1 * C2) / ((1 / 9 + C1) * (2 / 9 + C2))
    assert A.ssim(a, np.zeros((3, 3)), window="uniform", win_size=3) == pytest.approx(
        expected, rel=1e-9
    )
    # b = 1 - a: mu_b = 2/3, var_b = 2/9, cov = -2/9
    expected2 = ((2 * (1 / 3) * (2 / 3) + C1) * (-4 / 9 + C2)) / (
        ((1 / 3) ** 2 + (2 / 3) ** 2 + C1) * (4 / 9 + C2)
    )
    assert A.ssim(a, 1 - a, window="uniform", win_size=3) == pytest.approx(
        expected2, rel=1e-9
    )


def test_ssim_gaussian_window_weights():
    # an impulse in a zero image: single gaussian window centred on it (11x11 image)
    a = np.zeros((11, 11))
    a[5, 5] = 1.0
    g = np.exp(-((np.arange(11) - 5) ** 2) / (2 * 1.5**2))
    w = np.outer(g, g) / np.outer(g, g).sum()
    mu, var = w[5, 5], w[5, 5] - w[5, 5] ** 2
    expected = C1 * C2 / ((mu**2 + C1) * (var + C2))
    assert A.ssim(a, np.zeros_like(a)) == pytest.approx(expected, rel=1e-9)


def test_ssim_bad_args():
    with pytest.raises(ValueError, match="window"):
        A.ssim(np.zeros((16, 16)), np.zeros((16, 16)), window="box")
    with pytest.raises(ValueError, match="a"):
        A.ssim(np.zeros((5, 5)), np.zeros((5, 5)))


def test_compare_decoded():
    rng = np.random.default_rng(6)
    sim = rng.random((3, 16, 16))
    dec = sim.copy()[..., None]
    dec[1] = 0.0
    rows = A.compare_decoded(dec, sim, z=[0.0, 0.5, 1.0])
    assert [r["index"] for r in rows] == [0, 1, 2]
    assert rows[1]["z"] == 0.5
    assert rows[0]["mse"] == 0.0 and rows[0]["ssim"] == pytest.approx(1.0)
    assert rows[1]["mse"] > 0 and rows[1]["ssim"] < 0.5
    json.dumps(rows)


def test_central_column_profile():
    img = np.arange(12, dtype=float).reshape(3, 4)  # even width -> mean of cols 1, 2
    np.testing.assert_allclose(A.central_column_profile(img), [1.5, 5.5, 9.5])
    img = np.arange(15, dtype=float).reshape(3, 5)  # odd width -> col 2
    np.testing.assert_allclose(A.central_column_profile(img), [2, 7, 12])
