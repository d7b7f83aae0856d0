"""youngvae.physics.floors: the floors no model can beat, on cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from youngvae.physics import floors
from youngvae.physics.optics import Geometry


def test_the_distance_floor_is_zero_without_jitter_and_lambda_sigma_over_z_with_it():
    rng = np.random.default_rng(0)
    wavelength = rng.normal(650.0, 100.0, 20_000)
    train, val = np.arange(10_000), np.arange(10_000, 20_000)
    none = floors.distance_floor(wavelength, np.full(20_000, 0.5), 0.5, train, val)
    assert none["rmse"] < 1e-9 and none["max_abs"] < 1e-9
    # σ_z / z = 1 %: error λ·δz/z, RMS sqrt(E[λ²])·0.01 ≈ 6.58 nm; the fitted line's shrinkage
    # toward the mean takes off a factor sqrt(1 - 6.5²/(100² + 6.5²)) ≈ 0.998 on that part only
    jitter = floors.distance_floor(wavelength, rng.normal(0.5, 0.005, 20_000), 0.5, train, val)
    expected = np.sqrt(np.mean(wavelength**2)) * 0.01
    assert jitter["rmse"] == pytest.approx(expected, rel=0.02)


def test_poisson_fisher_of_a_shifted_spot_is_photons_over_its_variance():
    # a Gaussian spot of σ = 20 px whose centre θ is the parameter: I(θ) = N / σ² (continuum)
    x = np.arange(-200, 201, dtype=float)
    theta, sigma, photons = 0.3, 20.0, 5000.0

    def p(t):
        w = np.exp(-0.5 * ((x - t) / sigma) ** 2)
        return w / w.sum()

    dp = (p(theta + 1e-4) - p(theta - 1e-4)) / 2e-4
    assert floors.poisson_fisher(p(theta), dp, photons) == pytest.approx(photons / sigma**2, rel=1e-3)


def test_the_shot_noise_bound_scales_as_one_over_root_photons_and_grows_with_lambda():
    geometry = Geometry(pixels=64, screen_size_m=5e-3)
    lam = np.array([500e-9, 900e-9])
    few = floors.shot_noise_bound(lam, geometry, 1e3)
    many = floors.shot_noise_bound(lam, geometry, 1e5)
    np.testing.assert_allclose(few / many, 10.0, rtol=1e-9)
    assert np.all(np.isfinite(few)) and few[1] > few[0] > 0  # longer λ: wider fringes, less to read


def test_a_blur_before_the_counting_widens_a_spot_and_costs_its_information():
    # a 2-D Gaussian spot of σ = 5 px whose x centre is θ, blurred by the detector's PSF of
    # σ_b = 3 px: a spot of σ² + σ_b², so I(θ) = N / (σ² + σ_b²) (continuum; the grid is wide)
    y, x = np.mgrid[-60:61, -60:61].astype(float)

    def spot(thetas):
        return np.stack([np.exp(-0.5 * ((x - t) ** 2 + y**2) / 5.0**2) for t in thetas])

    photons = 1e4
    sharp = floors.pattern_bound(spot, [0.2], photons, 1e-3)
    blurred = floors.pattern_bound(spot, [0.2], photons, 1e-3, psf_sigma_px=3.0)
    assert sharp[0] == pytest.approx(np.sqrt(5.0**2 / photons), rel=1e-3)
    assert blurred[0] == pytest.approx(np.sqrt((5.0**2 + 3.0**2) / photons), rel=1e-3)
