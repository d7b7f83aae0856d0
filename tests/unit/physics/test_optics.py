"""Physics tests of youngvae.optics against an independent direct Fresnel integral.

The reference (youngvae.reference.direct_intensity) integrates the paraxial Fresnel
kernel over both holes directly (chord quadrature, no Bessel functions, no shift
theorem, no symmetry folding) and averages each pixel with 6×6 Gauss points.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from youngvae.physics import optics
from youngvae.physics.reference import direct_intensity

GEOMETRY = optics.Geometry()
# both ends of the 380–1000 nm band plus two inside
WAVELENGTHS_M = (380e-9, 520e-9, 700e-9, 1000e-9)
ACCURACY_BAR = 0.02  # relative L2 against the direct integral (spec)


def rel_l2(a, b) -> float:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.fixture(scope="module")
def reference_images():
    """Absolute-intensity reference images (full 256², incident intensity = 1)."""
    return {lam: direct_intensity(lam, GEOMETRY, subpixel=6) for lam in WAVELENGTHS_M}


@pytest.fixture(scope="module")
def engine_images():
    """Absolute-intensity images of both engines at the default oversample."""
    lam = np.array(WAVELENGTHS_M)
    return {
        engine: dict(zip(WAVELENGTHS_M, optics.simulate(lam, GEOMETRY, engine=engine, normalize="none")))
        for engine in optics.ENGINES
    }


# ----------------------------------------------------------------------------- reference


def test_reference_is_converged_in_quadrature_nodes():
    """More hole and sub-pixel nodes do not change the reference (so it can judge the engines)."""
    rows = np.r_[0, 100, 127, 128, 200, 255]
    cols = np.r_[0, 60, 127, 128, 255]
    base = direct_intensity(380e-9, GEOMETRY, rows, cols, subpixel=6)
    finer = direct_intensity(380e-9, GEOMETRY, rows, cols, subpixel=10, nodes_scale=1.6)
    assert rel_l2(base, finer) < 1e-8


# ----------------------------------------------------------------------------- accuracy


@pytest.mark.parametrize("engine", optics.ENGINES)
@pytest.mark.parametrize("lam", WAVELENGTHS_M)
def test_engine_matches_direct_fresnel_integral_per_image(engine, lam, engine_images, reference_images):
    image = optics.normalize_images(engine_images[engine][lam], "per_image")
    reference = reference_images[lam] / reference_images[lam].max()
    assert rel_l2(image, reference) < ACCURACY_BAR


@pytest.mark.parametrize("engine", optics.ENGINES)
@pytest.mark.parametrize("lam", WAVELENGTHS_M)
def test_engine_matches_direct_fresnel_integral_in_absolute_units(engine, lam, engine_images, reference_images):
    """normalize="none": intensity in units of the incident plane wave, equal across engines."""
    assert rel_l2(engine_images[engine][lam], reference_images[lam]) < ACCURACY_BAR


@pytest.mark.parametrize("lam", WAVELENGTHS_M)
def test_fresnel_engine_is_far_inside_the_accuracy_bar(lam, engine_images, reference_images):
    """The semi-analytic engine is accurate to ~1e-4 (regression guard; spec bar is 2e-2)."""
    assert rel_l2(engine_images["fresnel"][lam], reference_images[lam]) < 1e-3


@pytest.mark.parametrize("lam", WAVELENGTHS_M)
def test_lightpipes_engine_is_within_one_percent(lam, engine_images, reference_images):
    """Area-weighted mask on the 4× grid: measured ~0.5–0.6 % (regression guard)."""
    assert rel_l2(engine_images["lightpipes"][lam], reference_images[lam]) < 0.01


def test_fresnel_engine_matches_reference_for_odd_pixel_count_and_other_geometry():
    """Odd N (a pixel centred on the axis) and a different geometry exercise the mirror folding."""
    geometry = optics.Geometry(
        aperture_radius_m=0.1e-3, aperture_separation_m=0.8e-3, screen_size_m=8e-3, distance_m=0.3, pixels=45
    )
    for lam in (400e-9, 900e-9):
        image = optics.simulate([lam], geometry, engine="fresnel", normalize="none")[0]
        assert rel_l2(image, direct_intensity(lam, geometry, subpixel=6)) < 1e-3


def test_fresnel_engine_is_independent_of_batching():
    lam = np.linspace(380e-9, 1000e-9, 40)  # more than one internal batch
    together = optics.simulate(lam, GEOMETRY, engine="fresnel", normalize="none")
    alone = optics.simulate(lam[[0, 33, 39]], GEOMETRY, engine="fresnel", normalize="none")
    np.testing.assert_allclose(together[[0, 33, 39]], alone, rtol=1e-4, atol=1e-7)


def test_plain_circaperture_on_detector_grid_is_too_coarse():
    """Why the lightpipes engine oversamples: LightPipes CircAperture on the 256² grid is >2 % off."""
    from LightPipes import Begin, CircAperture, Forvard, Intensity

    lam = 650e-9
    half_d = GEOMETRY.aperture_separation_m / 2
    F = Begin(GEOMETRY.screen_size_m, lam, GEOMETRY.pixels)
    F1 = CircAperture(F, GEOMETRY.aperture_radius_m, 0.0, +half_d)
    F2 = CircAperture(F, GEOMETRY.aperture_radius_m, 0.0, -half_d)
    F.field = F1.field + F2.field
    F = Forvard(F, GEOMETRY.distance_m)
    image = Intensity(F, 0)
    reference = direct_intensity(lam, GEOMETRY, subpixel=4)
    assert rel_l2(image / image.max(), reference / reference.max()) > ACCURACY_BAR


# ----------------------------------------------------------------------------- physics


def _spectral_peak(profile, step, f_expected):
    n = 2**16
    spectrum = np.abs(np.fft.rfft((profile - profile.mean()) * np.hanning(profile.size), n=n))
    freq = np.fft.rfftfreq(n, step)
    band = (freq > 0.6 * f_expected) & (freq < 1.4 * f_expected)
    i = int(np.argmax(np.where(band, spectrum, 0)))
    lo, mid, hi = np.log(spectrum[i - 1 : i + 2])
    return (i + 0.5 * (lo - hi) / (lo - 2 * mid + hi)) * (freq[1] - freq[0])


# Small holes (a = 0.05 mm, a²/λz ≤ 0.013): each hole's envelope is broad and almost real,
# so the spectral peak of the central column is the carrier e^{-ikyd/z}, period λz/d.
# (With the default 0.15 mm holes the envelope's phase and sign changes along the
# column pull the spectral peak by up to ~15 % at 380 nm; the full pattern is then
# checked against the direct integral instead.)
SMALL_HOLES = optics.Geometry(aperture_radius_m=0.05e-3)


@pytest.mark.parametrize("lam", (380e-9, 650e-9, 1000e-9))
def test_fringe_period_along_central_column_is_lambda_z_over_d(lam):
    y = np.linspace(-10e-3, 10e-3, 8192, endpoint=False)
    profile = optics.point_intensity(lam, SMALL_HOLES, 0.0, y)
    period = 1.0 / _spectral_peak(profile, y[1] - y[0], SMALL_HOLES.aperture_separation_m / (lam * SMALL_HOLES.distance_m))
    expected = lam * SMALL_HOLES.distance_m / SMALL_HOLES.aperture_separation_m
    assert period == pytest.approx(expected, rel=0.005)


@pytest.mark.parametrize("engine", optics.ENGINES)
@pytest.mark.parametrize("lam", (650e-9, 1000e-9))
def test_fringe_period_in_images_is_lambda_z_over_d(engine, lam):
    """Same on the pixel images (at 380 nm the period is ~2 px and pixel averaging biases the peak)."""
    image = optics.simulate([lam], SMALL_HOLES, engine=engine)[0]
    n = SMALL_HOLES.pixels
    column = image[:, n // 2 - 1 : n // 2 + 1].mean(axis=1)
    expected_f = SMALL_HOLES.aperture_separation_m / (lam * SMALL_HOLES.distance_m)
    period = 1.0 / _spectral_peak(column, SMALL_HOLES.pixel_pitch_m, expected_f)
    assert period == pytest.approx(1.0 / expected_f, rel=0.005)


def _airy_midline_minimum_x(lam, geometry):
    k = 2 * np.pi / lam
    rho0 = 3.8317 * geometry.distance_m / (k * geometry.aperture_radius_m)
    half_d = geometry.aperture_separation_m / 2
    return np.sqrt(rho0**2 - half_d**2)


@pytest.mark.parametrize("lam", (380e-9, 650e-9, 1000e-9))
def test_midline_envelope_minimum_is_first_airy_zero_of_one_hole(lam):
    """Along y = 0 both holes contribute equally (in phase); the first minimum sits at
    distance ρ = 3.8317 z/(ka) from each hole's axis, i.e. x = sqrt(ρ² - (d/2)²).
    Tolerance 1 %: at these small Fresnel numbers (a²/λz = 0.045–0.12) the quadratic
    phase across the hole (≤ πa²/λz ≈ 0.37 rad) only perturbs the zero at second order
    (measured shift ~1e-5); 1 % still separates it from neighbouring features."""
    x_pred = _airy_midline_minimum_x(lam, GEOMETRY)
    x = np.linspace(0.5 * x_pred, 1.5 * x_pred, 4001)
    profile = optics.point_intensity(lam, GEOMETRY, x, 0.0)
    assert x[np.argmin(profile)] == pytest.approx(x_pred, rel=0.01)
    on_axis = optics.point_intensity(lam, GEOMETRY, 0.0, 0.0)
    assert profile.min() < 0.1 * on_axis  # a deep minimum (not exactly 0: Fresnel phase), not a shallow dip


@pytest.mark.parametrize("engine", optics.ENGINES)
def test_midline_envelope_minimum_in_images(engine):
    """Images at 1000 nm: the two central rows (y = ±Δ/2) dip near x = sqrt(ρ² - (d/2)²).
    Tolerance 3 %: the rows sit Δ/2 off the midline and pixels are 78 µm (4 % of x)."""
    lam = 1000e-9
    image = optics.simulate([lam], GEOMETRY, engine=engine)[0]
    n = GEOMETRY.pixels
    row = image[n // 2 - 1 : n // 2 + 1].mean(axis=0)[n // 2 :]
    x = GEOMETRY.pixel_centres_m()[n // 2 :]
    x_pred = _airy_midline_minimum_x(lam, GEOMETRY)
    window = (x > 0.5 * x_pred) & (x < 1.5 * x_pred)
    i = int(np.flatnonzero(window)[np.argmin(row[window])])
    lo, mid, hi = row[i - 1 : i + 2]
    x_min = x[i] + 0.5 * (lo - hi) / (lo - 2 * mid + hi) * GEOMETRY.pixel_pitch_m
    assert x_min == pytest.approx(x_pred, rel=0.03)


@pytest.mark.parametrize("engine", optics.ENGINES)
def test_pattern_is_mirror_symmetric_in_x_and_y(engine, engine_images):
    for image in engine_images[engine].values():
        scale = image.max()
        np.testing.assert_allclose(image[:, ::-1], image, atol=1e-4 * scale)
        np.testing.assert_allclose(image[::-1, :], image, atol=1e-4 * scale)


def test_point_intensity_is_mirror_symmetric():
    lam = 800e-9
    x = np.array([0.3e-3, -0.3e-3, 0.3e-3, -0.3e-3])
    y = np.array([0.7e-3, 0.7e-3, -0.7e-3, -0.7e-3])
    values = optics.point_intensity(lam, GEOMETRY, x, y)
    np.testing.assert_allclose(values, values[0], rtol=1e-10)


# ----------------------------------------------------------------------------- API


@pytest.mark.parametrize("engine", optics.ENGINES)
def test_simulate_shape_dtype_and_per_image_range(engine):
    images = optics.simulate([450e-9, 900e-9], GEOMETRY, engine=engine)
    assert images.shape == (2, 256, 256)
    assert images.dtype == np.float32
    assert np.all(np.isfinite(images))
    assert images.min() >= 0.0
    np.testing.assert_allclose(images.max(axis=(1, 2)), 1.0)


def test_simulate_accepts_a_scalar_wavelength_and_explicit_oversample():
    images = optics.simulate(600e-9, optics.Geometry(pixels=64), engine="fresnel", oversample=2)
    assert images.shape == (1, 64, 64)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"engine": "raytrace"}, "engine"),
        ({"normalize": "max"}, "normalize"),
        ({"oversample": 0}, "oversample"),
        ({"oversample": 2.5}, "oversample"),
    ],
)
def test_simulate_rejects_bad_arguments_with_their_name(kwargs, name):
    with pytest.raises(ValueError, match=name):
        optics.simulate([500e-9], GEOMETRY, **kwargs)


@pytest.mark.parametrize("bad", ([0.0], [-500e-9], [np.nan], [np.inf], [650.0], [[500e-9]], ["red"]))
def test_simulate_rejects_bad_wavelengths(bad):
    with pytest.raises(ValueError, match="wavelength"):
        optics.simulate(bad, GEOMETRY, engine="fresnel")


def test_normalize_images_modes():
    images = np.arange(2 * 3 * 3, dtype=np.float64).reshape(2, 3, 3) + 1
    per_image = optics.normalize_images(images, "per_image")
    assert per_image.dtype == np.float32
    np.testing.assert_allclose(per_image.max(axis=(1, 2)), 1.0)
    np.testing.assert_allclose(optics.normalize_images(images, "none"), images)
    with pytest.raises(ValueError, match="normalize"):
        optics.normalize_images(images, "global")


def test_geometry_from_config_converts_millimetres_once():
    cfg = {
        "aperture_radius_mm": 0.15,
        "aperture_separation_mm": 1.2,
        "screen_size_mm": 20,
        "distance_m": 0.5,
        "pixels": 256,
    }
    geometry = optics.Geometry.from_config(cfg)
    assert geometry == optics.Geometry()
    assert geometry.pixel_pitch_m == pytest.approx(20e-3 / 256)
    centres = geometry.pixel_centres_m()
    assert centres.shape == (256,)
    assert centres[0] == pytest.approx(-(128 - 0.5) * geometry.pixel_pitch_m)
    np.testing.assert_allclose(centres, -centres[::-1], atol=1e-18)
    attrs = geometry.as_attrs()
    assert json.loads(json.dumps(attrs)) == attrs
    assert attrs["aperture_radius_m"] == pytest.approx(0.15e-3)
    with pytest.raises(ValueError, match="pixels"):
        optics.Geometry.from_config({k: v for k, v in cfg.items() if k != "pixels"})


@pytest.mark.parametrize(
    "kwargs",
    [{"aperture_radius_m": 0.0}, {"pixels": 1}, {"aperture_radius_m": 0.7e-3}, {"distance_m": float("nan")}],
)
def test_geometry_rejects_unphysical_values(kwargs):
    with pytest.raises(ValueError, match="Geometry"):
        optics.Geometry(**kwargs)


# ----------------------------------------------------------------------------- caches under geometry jitter

SMALL = optics.Geometry(pixels=64, screen_size_m=5e-3)  # paper pitch, 64 px: fast


def _design_step(geometry, shortest_wavelength_m):
    """The fresnel engine's radial table step before rounding (16 points per period λz/a, λ ≤ 380 nm)."""
    lam = min(optics._TABLE_DESIGN_WAVELENGTH_M, shortest_wavelength_m)
    return lam * geometry.distance_m / (geometry.aperture_radius_m * optics._TABLE_POINTS_PER_PERIOD)


def _mid_bin(geometry, lam=650e-9):
    """The geometry with its distance moved so that its design step sits mid-way in its rounding bin."""
    step = optics._table_step(geometry, lam)
    return replace(geometry, distance_m=geometry.distance_m * step * 2 ** (0.5 / 16) / _design_step(geometry, lam))


def test_fresnel_plan_is_shared_by_geometries_that_differ_a_little_in_distance_or_radius():
    base = _mid_bin(SMALL)
    near = [replace(base, distance_m=base.distance_m * 1.01),
            replace(base, aperture_radius_m=base.aperture_radius_m * 1.01)]
    optics._fresnel_plan.cache_clear()
    for geometry in [base, *near]:
        optics.simulate([650e-9], geometry, engine="fresnel")
    info = optics._fresnel_plan.cache_info()
    assert (info.misses, info.hits) == (1, 2)
    # below 380 nm the step follows the shortest λ of the batch: close wavelengths share a plan too
    lam = optics._TABLE_DESIGN_WAVELENGTH_M * 2 ** (-1 / 16)  # base's design step is mid-bin, so is this λ's
    optics.simulate([lam], base, engine="fresnel")
    optics.simulate([lam * 1.005], base, engine="fresnel")
    assert optics._fresnel_plan.cache_info().hits == info.hits + 1
    # a different separation changes the sub-pixel geometry: a plan of its own
    optics.simulate([650e-9], replace(base, aperture_separation_m=base.aperture_separation_m * 1.01), engine="fresnel")
    assert optics._fresnel_plan.cache_info().misses == info.misses + 2


def test_lightpipes_mask_is_shared_by_geometries_that_differ_only_in_distance():
    optics._two_hole_mask_cached.cache_clear()
    for distance in (0.5, 0.505, 0.49):
        optics.simulate([650e-9], replace(SMALL, distance_m=distance), engine="lightpipes")
    info = optics._two_hole_mask_cached.cache_info()
    assert (info.misses, info.hits) == (1, 2)


def test_jittered_geometry_gives_the_same_image_from_a_cold_and_a_warm_cache():
    """A warm cache holding plans of nearby geometries, coarser and finer, must not change the image:
    the plan's table step is the geometry's own design step rounded down, never a coarser one."""
    lam = np.array([380e-9, 650e-9])
    jittered = replace(SMALL, distance_m=0.5 * 1.004, aperture_radius_m=0.15e-3 * 0.997)
    design = _design_step(jittered, lam.min())
    optics._fresnel_plan.cache_clear()
    for factor in (0.97, 0.99, 0.999, 1.001, 1.01, 1.03):  # design steps around the jittered one's
        optics.simulate(lam, replace(jittered, distance_m=jittered.distance_m * factor), engine="fresnel")
    warm = optics.simulate(lam, jittered, engine="fresnel", normalize="none")
    nodes = optics.DEFAULT_OVERSAMPLE["fresnel"]
    assert design * 2 ** (-1 / 16) < optics._plan_for(jittered, nodes, lam.min()).table_step <= design
    for factor in np.linspace(1.0, 1.05, 11):  # across a whole rounding bin (2^(1/16) = 1.044)
        geometry = replace(jittered, distance_m=jittered.distance_m * factor)
        step = optics._plan_for(geometry, nodes, lam.min()).table_step
        assert _design_step(geometry, lam.min()) * 2 ** (-1 / 16) < step <= _design_step(geometry, lam.min())
    optics._fresnel_plan.cache_clear()
    cold = optics.simulate(lam, jittered, engine="fresnel", normalize="none")
    np.testing.assert_array_equal(warm, cold)
    nominal = optics.simulate(lam, SMALL, engine="fresnel", normalize="none")
    for image, image_nominal, wavelength in zip(cold, nominal, lam):
        reference = direct_intensity(wavelength, jittered, subpixel=6)
        assert rel_l2(image, reference) < 1e-3
        assert rel_l2(image_nominal, reference) > 1e-2  # the jitter is large enough to tell
