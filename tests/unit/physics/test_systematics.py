"""Tests of youngvae.physics.systematics against independent expectations.

Noise: Poisson and Gaussian moments with tolerances of a few standard errors. Spectrum: a
brute-force sum of the independent direct Fresnel integral (youngvae.physics.reference) over
201 wavelengths. Blur: the moments of a sampled Gaussian. Shift: np.roll and the exactly
shifted pixel averages of the direct integral. Fringe period: λz/d of the DRAWN geometry.
Small geometries (64 px) keep the file fast.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from youngvae.physics import optics
from youngvae.physics import systematics as S
from youngvae.physics.reference import direct_intensity

SMALL = optics.Geometry(pixels=64, screen_size_m=5e-3)  # paper pitch (78 µm), 64 px
FRESNEL = {"engine": "fresnel", "normalize": "none"}
EFFECTS = [
    ("source", "bandwidth_nm", 5.0),
    ("source", "label_error_nm", 2.0),
    ("geometry", "separation_jitter_mm", 0.01),
    ("geometry", "radius_jitter_mm", 0.005),
    ("geometry", "distance_jitter_m", 0.01),
    ("geometry", "screen_shift_mm", 0.1),
    ("detector", "psf_sigma_px", 1.0),
    ("detector", "photons_per_pattern", 1e6),
    ("detector", "gain_jitter", 0.02),
    ("detector", "bit_depth", 12),
]


def syst_with(**sections) -> S.Systematics:
    return S.Systematics.from_config(sections)


def rel_l2(a, b) -> float:
    return float(np.linalg.norm(np.asarray(a) - b) / np.linalg.norm(b))


# ----------------------------------------------------------------------------- config object


def test_defaults_are_ideal():
    assert S.Systematics.from_config(None).ideal
    assert S.Systematics.from_config({}).ideal
    assert S.Systematics.from_config({"source": {"spectral_samples": 3}}).ideal  # no band: no effect
    assert S.Systematics() == S.Systematics.from_config(None)


@pytest.mark.parametrize("section,key,value", EFFECTS, ids=[k for _, k, _ in EFFECTS])
def test_each_single_effect_is_not_ideal(section, key, value):
    assert not syst_with(**{section: {key: value}}).ideal


@pytest.mark.parametrize(
    "section,key",
    [
        ({"source": {"bandwidth_nm": -1}}, "systematics.source.bandwidth_nm"),
        ({"source": {"bandwidth_nm": math.nan}}, "systematics.source.bandwidth_nm"),
        ({"source": {"spectral_samples": 0}}, "systematics.source.spectral_samples"),
        ({"geometry": {"screen_shift_mm": -0.1}}, "systematics.geometry.screen_shift_mm"),
        ({"detector": {"photons_per_pattern": 0}}, "systematics.detector.photons_per_pattern"),
        ({"detector": {"bit_depth": 33}}, "systematics.detector.bit_depth"),
        ({"detector": {"bit_depth": 8.5}}, "systematics.detector.bit_depth"),
        ({"detector": {"read_noise_e": 2.0}}, "systematics.detector.read_noise_e"),
        ({"detector": {"qe": 0.9}}, "systematics.detector"),
        ({"lens": {}}, "systematics"),
    ],
)
def test_bad_sections_are_value_errors_naming_the_key(section, key):
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        S.Systematics.from_config(section)


def test_as_attrs_is_json_and_nested_like_the_config():
    syst = syst_with(source={"bandwidth_nm": 3}, detector={"photons_per_pattern": 1e5, "bit_depth": 12})
    attrs = json.loads(json.dumps(syst.as_attrs()))
    assert set(attrs) == {"source", "geometry", "detector"}
    assert attrs["detector"]["bit_depth"] == 12 and attrs["detector"]["photons_per_pattern"] == 1e5
    assert S.Systematics.from_config(attrs) == syst


# ----------------------------------------------------------------------------- random streams


def draws(seed, index, syst):
    return S.draw_nuisances(syst, SMALL, 650e-9, S.sample_rng(seed, index))


ALL_JITTER = syst_with(
    source={"label_error_nm": 1.0},
    geometry={"separation_jitter_mm": 0.01, "radius_jitter_mm": 0.005, "distance_jitter_m": 0.01,
              "screen_shift_mm": 0.05},
    detector={"gain_jitter": 0.02},
)


def test_sample_streams_do_not_depend_on_processing_order():
    forward = [draws(7, i, ALL_JITTER) for i in range(20)]
    backward = [draws(7, i, ALL_JITTER) for i in reversed(range(20))][::-1]
    assert forward == backward
    separations = [d["aperture_separation_m"] for d in forward]
    assert len(set(separations)) == 20  # different samples, different draws
    assert draws(8, 0, ALL_JITTER) != forward[0]  # different dataset seed
    # tagged: not the default_rng([seed, index]) stream used for the per-chunk wavelength draw
    assert S.sample_rng(7, 3).random() != np.random.default_rng([7, 3]).random()


def test_off_effects_give_nominal_values_exactly():
    nominal = draws(0, 5, S.Systematics())
    assert nominal == {
        "recorded_wavelength_m": 650e-9,
        "aperture_separation_m": SMALL.aperture_separation_m,
        "aperture_radius_m": SMALL.aperture_radius_m,
        "distance_m": SMALL.distance_m,
        "screen_shift_x_m": 0.0,
        "screen_shift_y_m": 0.0,
        "gain": 1.0,
    }
    assert set(nominal) == set(S.NUISANCES)


def test_switching_one_effect_keeps_the_draws_of_the_others():
    both = draws(3, 11, syst_with(geometry={"distance_jitter_m": 0.01}, detector={"gain_jitter": 0.02}))
    gain_only = draws(3, 11, syst_with(detector={"gain_jitter": 0.02}))
    assert both["gain"] == gain_only["gain"] != 1.0


def test_jitter_draws_are_gaussian_truncated_at_5_sd():
    """Mean 0 and std σ within 5 standard errors (the 5-σ truncation changes σ by < 1e-5)."""
    n = 4000
    sigma = ALL_JITTER.geometry.distance_jitter_m
    z = np.array([draws(1, i, ALL_JITTER)["distance_m"] for i in range(n)]) - SMALL.distance_m
    assert abs(z.mean()) < 5 * sigma / math.sqrt(n)
    assert abs(z.std() / sigma - 1) < 5 / math.sqrt(2 * n)
    assert np.abs(z).max() < S.TRUNCATION_SD * sigma


# ----------------------------------------------------------------------------- spectrum


def test_spectrum_moments_and_degenerate_cases():
    fwhm = 20e-9
    lam, w = S.spectrum(600e-9, fwhm, 9)
    sigma = fwhm / (2 * math.sqrt(2 * math.log(2)))
    assert w.sum() == pytest.approx(1.0, abs=1e-14)
    assert (w * lam).sum() == pytest.approx(600e-9, rel=1e-14)
    assert (w * (lam - 600e-9) ** 2).sum() == pytest.approx(sigma**2, rel=1e-12)
    for args in ((600e-9, 0.0, 9), (600e-9, 20e-9, 1)):
        lam, w = S.spectrum(*args)
        assert lam.tolist() == [600e-9] and w.tolist() == [1.0]


def test_spectrum_reaching_zero_wavelength_names_the_key():
    with pytest.raises(ValueError, match=r"systematics\.source\.bandwidth_nm"):
        S.spectrum(380e-9, 250e-9, 9)  # shortest Gauss–Hermite node at 380 - 4.51·106 nm < 0
    assert S.spectrum(380e-9, 250e-9, 3)[0].min() > 0  # 3 nodes reach only 1.73 σ


def test_zero_bandwidth_is_bit_identical_to_optics_simulate():
    syst = syst_with(source={"bandwidth_nm": 0, "spectral_samples": 9})
    for engine in optics.ENGINES:
        simulation = {"engine": engine, "normalize": "per_image"}
        nuis = S.draw_nuisances(syst, SMALL, 700e-9, S.sample_rng(0, 0))
        got = S.simulate_sample(700e-9, nuis, SMALL, simulation, syst, S.sample_rng(0, 0))
        want = optics.simulate([700e-9], SMALL, engine=engine, normalize="per_image")[0]
        assert got.dtype == np.float32 and np.array_equal(got, want)


def test_bandwidth_matches_a_brute_force_spectral_sum_of_the_direct_integral():
    """A Gaussian spectrum (FWHM 100 nm at 650 nm): incoherent sum of the independent direct
    integral over 201 wavelengths (uniform grid over ±5 σ, Gaussian weights) vs simulate_sample
    (15 Gauss–Hermite nodes, fresnel engine), on the two central columns.

    Why it is visible: for a Gaussian spectrum of rms width σ_k = 2π σ_λ/λ² in wavenumber the
    two-beam fringe term averages to cos(k₀Δ)·exp(-σ_k² Δ²/2) at path difference Δ = y d/z, so
    the fringe visibility decays as exp(-(2π σ_λ y d / (λ² z))²/2): at the edge of the
    central Airy lobe (y ≈ 1.3 mm) to ~0.1, a 7 % change of the column (rel. L2). The test asks
    for the spectral EFFECT (broadband − monochrome) to 1 %.
    """
    lam0, fwhm = 650e-9, 100e-9
    sigma = fwhm / (2 * math.sqrt(2 * math.log(2)))
    rows, cols = np.arange(SMALL.pixels), np.array([31, 32])
    grid = np.linspace(lam0 - 5 * sigma, lam0 + 5 * sigma, 201)
    weights = np.exp(-0.5 * ((grid - lam0) / sigma) ** 2)
    weights /= weights.sum()
    reference = sum(w * direct_intensity(lam, SMALL, rows, cols, subpixel=4) for lam, w in zip(grid, weights))
    mono_reference = direct_intensity(lam0, SMALL, rows, cols, subpixel=4)

    syst = syst_with(source={"bandwidth_nm": 100, "spectral_samples": 15})
    nuis = S.draw_nuisances(syst, SMALL, lam0, S.sample_rng(0, 0))
    got = S.simulate_sample(lam0, nuis, SMALL, FRESNEL, syst, S.sample_rng(0, 0))[:, cols]
    mono = optics.simulate([lam0], SMALL, engine="fresnel", normalize="none")[0][:, cols]
    assert rel_l2(mono_reference, reference) > 0.05  # the band matters
    assert rel_l2(got, reference) < 1e-3
    assert rel_l2(got - mono, reference - mono_reference) < 0.01


# ----------------------------------------------------------------------------- geometry


def period_px(column: np.ndarray) -> float:
    """Fringe period in pixels: peak of the zero-padded, Hann-windowed spectrum above 0.1 /px."""
    spectrum = np.abs(np.fft.rfft((column - column.mean()) * np.hanning(column.size), 8192))
    freq = np.fft.rfftfreq(8192)
    band = freq > 0.1
    return 1.0 / freq[band][np.argmax(spectrum[band])]


@pytest.mark.parametrize("seed", [0, 4, 5])
def test_fringe_period_follows_the_drawn_geometry(seed):
    """Period along y (rows) = λz/d of the DRAWN d and z. Small apertures (30 µm: a broad Airy
    envelope, ~15 fringes on the screen) make the spectral peak sharp (measured to ~2e-4)."""
    geometry = replace(SMALL, aperture_radius_m=0.03e-3)
    syst = syst_with(geometry={"separation_jitter_mm": 0.1, "distance_jitter_m": 0.05,
                               "radius_jitter_mm": 0.002})
    lam = 800e-9
    rng = S.sample_rng(seed, 0)
    nuis = S.draw_nuisances(syst, geometry, lam, rng)
    image = S.simulate_sample(lam, nuis, geometry, FRESNEL, syst, rng)
    drawn = lam * nuis["distance_m"] / nuis["aperture_separation_m"] / geometry.pixel_pitch_m
    nominal = lam * geometry.distance_m / geometry.aperture_separation_m / geometry.pixel_pitch_m
    assert abs(drawn / nominal - 1) > 0.02  # the jitter is large enough to tell them apart
    assert period_px(image[:, 31:33].mean(axis=1)) == pytest.approx(drawn, rel=2e-3)


def test_integer_shift_is_a_translation_towards_higher_indices():
    """shift_x = +3 px, shift_y = -2 px: out[r, c] = in[r + 2, c - 3] (np.roll), zero fill."""
    syst = syst_with(geometry={"screen_shift_mm": 0.1})
    pitch = SMALL.pixel_pitch_m
    nuis = S.draw_nuisances(S.Systematics(), SMALL, 650e-9, S.sample_rng(0, 0))
    plain = S.simulate_sample(650e-9, nuis, SMALL, FRESNEL, syst, None)
    nuis.update(screen_shift_x_m=3 * pitch, screen_shift_y_m=-2 * pitch)
    shifted = S.simulate_sample(650e-9, nuis, SMALL, FRESNEL, syst, None)
    rolled = np.roll(plain, (-2, 3), axis=(0, 1))
    peak = plain.max()
    np.testing.assert_allclose(shifted[:-2, 3:], rolled[:-2, 3:], rtol=0, atol=1e-6 * peak)
    assert np.all(shifted[-2:, :] <= 1e-6 * peak) and np.all(shifted[:, :3] <= 1e-6 * peak)
    for method in ("fourier", "spline"):
        again = S.shift_pattern(plain.astype(np.float64), 3.0, -2.0, method=method)
        np.testing.assert_allclose(again[:-2, 3:], rolled[:-2, 3:], rtol=0, atol=1e-6 * peak)


def test_half_pixel_shift_matches_exactly_shifted_pixel_averages():
    """Exact reference: the direct integral on half-size pixels, averaged in the pairs that a
    detector shifted by +1/2 pixel in y sees: exact[r] = (h[2r-1] + h[2r]) / 2."""
    lam = 650e-9
    half = replace(SMALL, pixels=2 * SMALL.pixels)
    cols = np.array([31, 32])
    h = direct_intensity(lam, half, None, np.r_[2 * cols, 2 * cols + 1], subpixel=4)
    h = (h[:, :2] + h[:, 2:]) / 2
    exact = (h[1:-1:2] + h[2::2]) / 2  # rows 1 .. N-1
    image = optics.simulate([lam], SMALL, engine="fresnel", normalize="none")[0].astype(np.float64)
    shifted = S.shift_pattern(image, 0.0, 0.5)[1:, cols]
    inner = slice(2, -2)
    assert rel_l2(shifted[inner], exact[inner]) < 2e-3
    assert rel_l2(image[1:, cols][inner], exact[inner]) > 0.1  # the half pixel matters



@pytest.mark.parametrize("n", [64, 45])
def test_fourier_shift_is_the_two_dimensional_zero_padded_fourier_shift(n):
    """One 1-D shift per axis = the 2-D phase ramp on the zero-padded 2N x 2N grid (the definition)
    for a smooth, asymmetric image (no content at the Nyquist frequency, where the two treat the
    y axis' Nyquist bin differently), even and odd N, one or both axes shifted."""
    y, x = np.mgrid[:n, :n] / n
    image = np.exp(-((x - 0.42) ** 2 + (y - 0.55) ** 2) / (2 * 0.06**2)) + 0.5 * np.exp(
        -((x - 0.6) ** 2) / (2 * 0.1**2) - (y - 0.45) ** 2 / (2 * 0.065**2))
    fy = np.fft.fftfreq(2 * n)[:, None]
    fx = np.fft.rfftfreq(2 * n)[None, :]
    for dx, dy in ((0.37, -0.21), (0.0, 2.5), (-1.25, 0.0), (3.0, -2.0)):
        spectrum = np.fft.rfft2(image, s=(2 * n, 2 * n)) * np.exp(-2j * np.pi * (fy * dy + fx * dx))
        expected = np.maximum(np.fft.irfft2(spectrum, s=(2 * n, 2 * n))[:n, :n], 0.0)
        shifted = S.shift_pattern(image, dx, dy)
        assert shifted.shape == (n, n)
        np.testing.assert_allclose(shifted, expected, rtol=0, atol=1e-12)


# ----------------------------------------------------------------------------- detector


def test_blur_conserves_the_sum_and_makes_a_sampled_gaussian():
    sigma = 2.0
    image = np.zeros((64, 64))
    image[30, 33] = 1.0
    out = S.apply_detector(image, S.Detector(psf_sigma_px=sigma), 1.0, None)
    assert out.sum() == pytest.approx(1.0, abs=1e-12)
    r, c = np.indices(out.shape)
    assert (out * r).sum() == pytest.approx(30, abs=1e-9) and (out * c).sum() == pytest.approx(33, abs=1e-9)
    # second moment: σ² up to the 4-σ truncation of the kernel (-0.3 %)
    assert (out * (r - 30) ** 2).sum() == pytest.approx(sigma**2, rel=5e-3)
    k = np.arange(-8, 9)  # the kernel: exp(-k²/2σ²) on |k| <= 4σ, normalized (separable in 2-D)
    profile = np.exp(-(k**2) / (2 * sigma**2))
    profile /= profile.sum()
    np.testing.assert_allclose(out[30, 33 + k], profile[8] * profile, rtol=1e-9)
    np.testing.assert_allclose(out[30 + k, 33], profile[8] * profile, rtol=1e-9)
    assert out[30, 33 + 9] == 0  # nothing beyond 4σ
    blob = np.exp(-((r - 31.5) ** 2 + (c - 30) ** 2) / (2 * 4.0**2))
    blurred = S.apply_detector(blob, S.Detector(psf_sigma_px=3.0), 1.0, None)
    assert blurred.sum() == pytest.approx(blob.sum(), rel=1e-8)  # light 6 σ from the edges


def test_shot_noise_is_poisson_with_the_photon_budget():
    """Two areas, expected 20 and 60 e⁻ per pixel: means and variances = those (Poisson), within
    5 standard errors (SE of the variance: sqrt((μ + 2μ²)/n))."""
    image = np.ones((64, 64))
    image[:, 32:] = 3.0  # expected e⁻: 20 on the left, 60 on the right
    detector = S.Detector(photons_per_pattern=64 * 32 * (20 + 60))
    rng = np.random.default_rng(1)
    stack = np.stack([S.apply_detector(image, detector, 1.0, rng) for _ in range(10)])
    for half, mu in ((stack[..., :32], 20.0), (stack[..., 32:], 60.0)):
        n = half.size
        assert np.all(half == np.round(half))  # counts
        assert abs(half.mean() - mu) < 5 * math.sqrt(mu / n)
        assert abs(half.var() - mu) < 5 * math.sqrt((mu + 2 * mu**2) / n)


def test_gain_and_read_noise_add_their_variance():
    """Poisson(μ)·g + Normal(0, σ): mean g·μ, variance g²·μ + σ²."""
    mu, g, sigma = 40.0, 1.5, 6.0
    detector = S.Detector(photons_per_pattern=mu * 64 * 64, read_noise_e=sigma)
    rng = np.random.default_rng(2)
    values = np.stack([S.apply_detector(np.ones((64, 64)), detector, g, rng) for _ in range(10)]).ravel()
    var = g * g * mu + sigma**2
    fourth = 3 * var**2 + g**4 * mu  # 4th central moment of the sum (Poisson adds g⁴·κ₄ = g⁴·μ)
    assert abs(values.mean() - g * mu) < 5 * math.sqrt(var / values.size)
    assert abs(values.var() - var) < 5 * math.sqrt((fourth - var**2) / values.size)


def test_adc_levels_saturation_and_auto_exposure():
    r, c = np.indices((64, 64))
    image = np.exp(-((r - 32) ** 2 + (c - 32) ** 2) / (2 * 8.0**2))  # peak 1 at (32, 32)
    adc = S.Detector(bit_depth=4)
    out = S.apply_detector(image, adc, 1.0, None)
    levels = out * 15
    np.testing.assert_array_equal(levels, np.round(levels))
    assert out.max() == 1.0  # the ideal peak sits at full scale
    np.testing.assert_array_equal(levels, np.round(image * 15))  # noise-free: round(I/peak·(2^b-1))
    saturated = S.apply_detector(image, adc, 1.5, None)
    assert saturated[32, 32] == 1.0 and (saturated == 1.0).sum() > (out == 1.0).sum()
    noisy = S.apply_detector(image, S.Detector(photons_per_pattern=1e5, read_noise_e=5, bit_depth=8), 1.0,
                             np.random.default_rng(0))
    assert noisy.min() >= 0 and noisy.max() <= 1 and np.array_equal(noisy * 255, np.round(noisy * 255))
    continuous = S.apply_detector(image, S.Detector(), 1.3, None)
    np.testing.assert_array_equal(continuous, image * 1.3)  # no ADC: no levels


def test_per_image_normalization_of_dark_and_noisy_images():
    dark = S.normalize_signal(-np.ones((8, 8)), "per_image")
    assert dark.dtype == np.float32 and not dark.any()
    noisy = S.normalize_signal(np.random.default_rng(0).normal(0, 1, (8, 8)), "per_image")
    assert noisy.min() == 0 and noisy.max() == 1
    assert S.normalize_signal(-np.ones((8, 8)), "none").min() == -1


def test_full_chain_is_deterministic_finite_and_normalized():
    syst = S.Systematics.from_config({
        "source": {"bandwidth_nm": 10, "spectral_samples": 5, "label_error_nm": 1},
        "geometry": {"separation_jitter_mm": 0.02, "radius_jitter_mm": 0.005, "distance_jitter_m": 0.01,
                     "screen_shift_mm": 0.1},
        "detector": {"psf_sigma_px": 0.7, "photons_per_pattern": 1e5, "read_noise_e": 3,
                     "gain_jitter": 0.05, "bit_depth": 10},
    })
    simulation = {"engine": "fresnel", "normalize": "per_image"}

    def sample(i):
        rng = S.sample_rng(42, i)
        nuis = S.draw_nuisances(syst, SMALL, 600e-9, rng)
        return S.simulate_sample(600e-9, nuis, SMALL, simulation, syst, rng)

    first = [sample(i) for i in (0, 1)]
    assert np.array_equal(sample(1), first[1]) and np.array_equal(sample(0), first[0])
    assert not np.array_equal(first[0], first[1])
    for image in first:
        assert image.dtype == np.float32 and image.shape == (64, 64)
        assert np.all(np.isfinite(image)) and image.min() >= 0 and image.max() == 1
