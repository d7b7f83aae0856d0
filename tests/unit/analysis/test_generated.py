"""youngvae.analysis.generated: physical features and two-sample tests, on known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from youngvae.analysis import generated as G
from youngvae.analysis.calibration import fit_calibration
from youngvae.physics import optics

PAPER = optics.Geometry()  # 256 px over 20 mm at 0.5 m, d = 1.2 mm
FRINGES = G.FringeGeometry(PAPER.pixel_pitch_m, 1.2e-3, 0.5, 380e-9, 1000e-9)


def synthetic(lam, sigma=1.5e-3, n=256):
    """cos² fringes of period λz/d under a Gaussian envelope of width sigma (both axes)."""
    c = (np.arange(n) + 0.5 - n / 2) * PAPER.pixel_pitch_m
    y, x = np.meshgrid(c, c, indexing="ij")
    return np.cos(np.pi * y * 1.2e-3 / (lam * 0.5)) ** 2 * np.exp(-(x**2 + y**2) / (2 * sigma**2))


@pytest.mark.parametrize("lam", [600e-9, 800e-9, 1000e-9])
def test_features_of_a_known_pattern(lam):
    f = G.pattern_features(synthetic(lam)[None], FRINGES).iloc[0]
    assert f["wavelength_from_fringes_m"] == pytest.approx(lam, rel=0.01)
    assert f["fringe_period_m"] == pytest.approx(lam * 0.5 / 1.2e-3, rel=0.01)
    assert f["envelope_width_m"] == pytest.approx(1.5e-3, rel=0.02)  # RMS of a Gaussian = sigma
    # cos² reaches 0, but sampled at 3.2–5.3 pixels per period the darkest pixel misses it
    assert f["visibility"] > 0.8


@pytest.mark.parametrize("lam", [650e-9, 1000e-9])
def test_fringe_wavelength_of_small_apertures_is_lambda(lam):
    """With 0.05 mm apertures the envelope is broad and real: the carrier's period is λz/d
    (the engines' exact relation), and the feature reads λ back."""
    small = optics.Geometry(aperture_radius_m=0.05e-3)
    image = optics.simulate([lam], small, engine="fresnel")
    f = G.pattern_features(image, G.FringeGeometry(small.pixel_pitch_m, small.aperture_separation_m,
                                                   small.distance_m, 380e-9, 1000e-9)).iloc[0]
    assert f["wavelength_from_fringes_m"] == pytest.approx(lam, rel=0.01)


def test_energy_distance_does_not_reject_one_distribution_and_rejects_a_shift():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(80, 3)), rng.normal(size=(80, 3))
    same = G.energy_distance_test(a, b, n_permutations=200, seed=0)
    assert same["p_value"] > 0.05
    shifted = G.energy_distance_test(a, b + [1.0, 0.0, 0.0], n_permutations=200, seed=0)
    assert shifted["p_value"] == pytest.approx(1 / 201) and shifted["energy_distance"] > same["energy_distance"]


def test_feature_comparison_reports_ks_per_feature():
    rng = np.random.default_rng(2)
    real = pd.DataFrame(rng.normal(size=(100, len(G.FEATURES))), columns=list(G.FEATURES))
    gen = real.copy()
    gen["visibility"] += 2.0
    out = G.compare_features(real, gen, n_permutations=50)
    assert out["features"]["envelope_width_m"]["ks_statistic"] == 0.0
    assert out["features"]["visibility"]["ks_p_value"] < 1e-10
    assert out["n_real"] == out["n_generated"] == 100


def test_wavelength_to_z_inverts_the_calibration():
    z = np.linspace(-3, 3, 500)
    lam = 650e-9 - 80e-9 * np.tanh(z / 2)  # decreasing in z, as the trained latent is
    cal = fit_calibration(z, lam)
    probe = np.array([580e-9, 650e-9, 710e-9])
    assert cal.predict(G.wavelength_to_z(cal, probe)) == pytest.approx(probe, rel=1e-3)
