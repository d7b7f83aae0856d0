"""Systematics of a real source and detector: the bench chain for one pattern.

Every effect is off by default (:attr:`Systematics.ideal`); the caller then keeps the plain
:func:`youngvae.physics.optics.simulate` path. Otherwise :func:`simulate_sample` runs, for one
pattern, in bench order (units after each step):

1. Nuisances (:func:`draw_nuisances`, one random stream per sample from :func:`sample_rng`):
   recorded λ, aperture separation and radius, distance, screen shift x and y (all m), gain (1).
   Each is nominal + σ·t, t a standard normal truncated to |t| < ``TRUNCATION_SD`` = 5 by
   inversion (exactly one uniform per nuisance, drawn whether its effect is on or not, so
   switching one effect does not change the draws of the others). ``youngvae.checks.config``
   rejects jitters that could make a geometry invalid within 5 σ, so every draw is valid.
2. Source (:func:`spectrum`): a Gaussian spectrum in λ of FWHM ``bandwidth_nm`` centred on the
   true λ, Gauss–Hermite nodes; the pixel-averaged intensities of ``optics.simulate(...,
   normalize="none")`` at the nodes are summed with the weights (incoherent). Unit: the
   incident plane-wave intensity.
3. Screen shift (:func:`shift_pattern`): the optical axis lands at (shift_x, shift_y) from the
   detector centre, ``out[row, col] = in[row - shift_y/Δ, col - shift_x/Δ]`` (positive =
   towards higher column/row index; Δ = pixel pitch), zero fill (the light is far from the
   edges). Band-limited (Fourier) interpolation on a zero-padded 2N × 2N grid: an integer-pixel
   shift is an exact translation, and a half-pixel shift of 64-px fresnel patterns is within
   1e-3 (rel. L2) of the exactly shifted pixel averages for λ >= 500 nm, where a cubic spline
   (``method="spline"``, ``scipy.ndimage.shift``) is 5, 2 and 0.4 % off at 500, 650 and 1000 nm.
   Near 380 nm the fringes (period ~2 px at the paper's pitch) are aliased and no interpolation
   is exact (~10 %). Undershoots are clipped to 0.
4. Blur (detector PSF): ``scipy.ndimage.gaussian_filter``, σ = ``psf_sigma_px`` pixels, kernel
   truncated at 4 σ and normalized, ``mode="constant"`` (0 beyond the screen): light blurred off
   the screen is lost, so the sum is conserved for a pattern away from the edges. Same unit.
5. Photon budget: scaled so that the expected photo-electrons over the screen equal
   ``photons_per_pattern``, then Poisson. Unit: e⁻. Without a budget: no shot noise, unit kept.
6. Gain: × gain. 7. Read noise: + Normal(0, ``read_noise_e``) e⁻ per pixel (needs a budget).
8. ADC, ``bit_depth`` b: counts = clip(round(signal / full_scale · (2^b − 1)), 0, 2^b − 1) with
   full_scale = the noise-free expected peak of this pattern before the gain ("auto-exposure":
   the ideal peak sits at full scale; gain > 1 or noise then saturate). Returned as
   counts / (2^b − 1): a fraction of full scale, on the levels k / (2^b − 1).
9. Normalization, ``simulation.normalize`` (:func:`normalize_signal`): "per_image" clips
   negatives (read noise) to 0, then divides by the image maximum; an all-dark image stays 0.
   The result is finite and in [0, 1]. "none" returns the unit of the last step unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import ClassVar

import numpy as np
import scipy.fft
import scipy.ndimage
import scipy.special

from youngvae.physics import optics

__all__ = [
    "NUISANCES",
    "TRUNCATION_SD",
    "Detector",
    "GeometryJitter",
    "Source",
    "Systematics",
    "apply_detector",
    "draw_nuisances",
    "normalize_signal",
    "sample_rng",
    "shift_pattern",
    "simulate_sample",
    "spectrum",
]

TRUNCATION_SD = 5.0  # every jitter is a Gaussian truncated here; the config checks use the same bound
FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))
_STREAM_TAG = 0x53595354  # "SYST": keeps these streams apart from default_rng([seed, index]) elsewhere

NUISANCES: dict[str, tuple[str, str]] = {
    "recorded_wavelength_m": ("m", "wavelength as recorded: the true wavelength plus the label error"),
    "aperture_separation_m": ("m", "centre-to-centre distance of the apertures of this pattern"),
    "aperture_radius_m": ("m", "aperture radius of this pattern"),
    "distance_m": ("m", "aperture-to-screen distance of this pattern"),
    "screen_shift_x_m": ("m", "position of the optical axis on the detector, x (columns), from its centre"),
    "screen_shift_y_m": ("m", "position of the optical axis on the detector, y (rows), from its centre"),
    "gain": ("1", "detector gain of this pattern, relative to nominal"),
}


_RULES = {  # kind: (test, what a value must be, None allowed, integer)
    "width": (lambda v: math.isfinite(v) and v >= 0, "finite and >= 0", False, False),
    "count": (lambda v: float(v).is_integer() and v >= 1, "an integer >= 1", False, True),
    "budget": (lambda v: math.isfinite(v) and v > 0, "finite and > 0, or null", True, False),
    "bits": (lambda v: float(v).is_integer() and 1 <= v <= 32, "an integer in 1..32, or null", True, True),
}


def _param(default, kind="width", effect=True):
    """A config parameter; ``effect=False``: its value alone switches no effect on."""
    return field(default=default, metadata={"kind": kind, "effect": effect})


class _Section:
    """Checks every field by its kind (ValueError naming the dotted key); ``off`` = no effect."""

    SECTION: ClassVar[str]

    def __post_init__(self):
        for f in fields(self):
            value, key = getattr(self, f.name), f"{self.SECTION}.{f.name}"
            test, what, nullable, integer = _RULES[f.metadata["kind"]]
            if value is None and nullable:
                continue
            numeric = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
            if not (numeric and test(value)):
                raise ValueError(f"'{key}': must be {what}, got {value!r}")
            object.__setattr__(self, f.name, int(value) if integer else float(value))

    @property
    def off(self) -> bool:
        return all(getattr(self, f.name) == f.default for f in fields(self) if f.metadata["effect"])


@dataclass(frozen=True)
class Source(_Section):
    """Light source: FWHM of the Gaussian spectrum (nm), quadrature nodes over it, std of the
    error of the recorded λ (nm)."""

    SECTION: ClassVar[str] = "systematics.source"
    bandwidth_nm: float = _param(0.0)
    spectral_samples: int = _param(9, "count", effect=False)
    label_error_nm: float = _param(0.0)


@dataclass(frozen=True)
class GeometryJitter(_Section):
    """Per-pattern standard deviations of the geometry (mm; distance in m) and of the lateral
    detector offset (mm, each axis)."""

    SECTION: ClassVar[str] = "systematics.geometry"
    separation_jitter_mm: float = _param(0.0)
    radius_jitter_mm: float = _param(0.0)
    distance_jitter_m: float = _param(0.0)
    screen_shift_mm: float = _param(0.0)


@dataclass(frozen=True)
class Detector(_Section):
    """Detector: PSF σ (px), expected photo-electrons per pattern (None = no shot noise), read
    noise (e⁻), relative std of the gain, ADC bits (None = no quantization)."""

    SECTION: ClassVar[str] = "systematics.detector"
    psf_sigma_px: float = _param(0.0)
    photons_per_pattern: float | None = _param(None, "budget")
    read_noise_e: float = _param(0.0)
    gain_jitter: float = _param(0.0)
    bit_depth: int | None = _param(None, "bits")

    def __post_init__(self):
        super().__post_init__()
        if self.read_noise_e > 0 and self.photons_per_pattern is None:
            raise ValueError(
                f"'{self.SECTION}.read_noise_e' ({self.read_noise_e} e-) needs "
                f"'{self.SECTION}.photons_per_pattern': without a photon budget the image has no electron scale"
            )


@dataclass(frozen=True)
class Systematics:
    """All systematics; the defaults (every effect off) are the ideal dataset."""

    source: Source = field(default_factory=Source)
    geometry: GeometryJitter = field(default_factory=GeometryJitter)
    detector: Detector = field(default_factory=Detector)

    @classmethod
    def from_config(cls, section: Mapping | None) -> Systematics:
        """From the config's ``systematics`` section; None or missing keys = defaults (off)."""
        section = section or {}
        parts = {"source": Source, "geometry": GeometryJitter, "detector": Detector}
        unknown = set(section) - set(parts)
        if unknown:
            raise ValueError(f"'systematics': unknown key(s) {sorted(unknown)}; expected {sorted(parts)}")
        built = {}
        for name, part in parts.items():
            values = dict(section.get(name) or {})
            unknown = set(values) - {f.name for f in fields(part)}
            if unknown:
                raise ValueError(f"'{part.SECTION}': unknown key(s) {sorted(unknown)}")
            built[name] = part(**values)
        return cls(**built)

    @property
    def ideal(self) -> bool:
        """True when every effect is off (the caller keeps the plain simulation path)."""
        return self.source.off and self.geometry.off and self.detector.off

    def as_attrs(self) -> dict:
        """JSON-able, nested like the config section."""
        return asdict(self)


# ---------------------------------------------------------------------------------------
# random streams and nuisances
# ---------------------------------------------------------------------------------------


def sample_rng(seed: int, sample_index: int) -> np.random.Generator:
    """The random stream of one sample, from (dataset seed, GLOBAL sample index) alone.

    Independent of chunking, job order and core count; tagged so that it never equals the
    ``default_rng([seed, index])`` streams used elsewhere (e.g. the per-chunk wavelength draw).
    """
    for name, value in (("seed", seed), ("sample_index", sample_index)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"sample_rng: {name} must be a non-negative integer, got {value!r}")
    sequence = np.random.SeedSequence(int(seed), spawn_key=(_STREAM_TAG, int(sample_index)))
    return np.random.default_rng(sequence)


def _truncated_normals(rng: np.random.Generator, n: int) -> np.ndarray:
    """n standard normals truncated to |t| < TRUNCATION_SD, one uniform each (inversion)."""
    tail = scipy.special.ndtr(-TRUNCATION_SD)
    return scipy.special.ndtri(tail + rng.random(n) * (1.0 - 2.0 * tail))


def draw_nuisances(syst: Systematics, geometry: optics.Geometry, wavelength_m: float,
                   rng: np.random.Generator) -> dict[str, float]:
    """One sample's nuisances (keys and units: :data:`NUISANCES`); an effect that is off gives
    the nominal value exactly (recorded λ = true λ, shift 0.0, gain 1.0)."""
    t = _truncated_normals(rng, len(NUISANCES))
    src, jit = syst.source, syst.geometry
    values = (
        wavelength_m + src.label_error_nm * 1e-9 * t[0],
        geometry.aperture_separation_m + jit.separation_jitter_mm * 1e-3 * t[1],
        geometry.aperture_radius_m + jit.radius_jitter_mm * 1e-3 * t[2],
        geometry.distance_m + jit.distance_jitter_m * t[3],
        0.0 + jit.screen_shift_mm * 1e-3 * t[4],  # 0.0 + (-0.0) = 0.0
        0.0 + jit.screen_shift_mm * 1e-3 * t[5],
        1.0 + syst.detector.gain_jitter * t[6],
    )
    return {name: float(v) for name, v in zip(NUISANCES, values)}


# ---------------------------------------------------------------------------------------
# the chain
# ---------------------------------------------------------------------------------------


def spectrum(wavelength_m: float, bandwidth_fwhm_m: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss–Hermite quadrature of a Gaussian spectrum in λ: (wavelengths in m, weights summing to 1).

    The n-node rule is exact for polynomials in λ of degree < 2n; for the fringe term it
    resolves phase spreads a = 2π σ_λ Δ/λ² (Δ = path difference) up to a ≈ 3 with n = 9 (error
    ~3e-3, where the true fringe visibility e^{-a²/2} is ~1 %); broader bands need more nodes.
    n = 1 or bandwidth 0 gives ([λ], [1]). A node at λ <= 0 is a ValueError.
    """
    lam0 = float(wavelength_m)
    if bandwidth_fwhm_m == 0 or n == 1:
        return np.array([lam0]), np.array([1.0])
    nodes, weights = np.polynomial.hermite_e.hermegauss(int(n))
    wavelengths = lam0 + bandwidth_fwhm_m / FWHM_PER_SIGMA * nodes
    if wavelengths.min() <= 0:
        raise ValueError(
            f"'systematics.source.bandwidth_nm': a FWHM of {bandwidth_fwhm_m * 1e9:g} nm puts the "
            f"shortest of {n} spectral nodes at {wavelengths.min() * 1e9:.4g} nm <= 0 for "
            f"λ = {lam0 * 1e9:g} nm: narrow the band or lower systematics.source.spectral_samples"
        )
    return wavelengths, weights / weights.sum()


def shift_pattern(image: np.ndarray, dx_px: float, dy_px: float, method: str = "fourier") -> np.ndarray:
    """The image translated by (dx, dy) pixels, ``out[r, c] = in[r - dy, c - dx]``, zero fill,
    negatives clipped; ``method`` "fourier" (band-limited, zero-padded) or "spline" (cubic).
    No shift returns ``image`` itself. |dx|, |dy| < N keep the zero padding from wrapping."""
    if dx_px == 0 and dy_px == 0:
        return image
    img = np.asarray(image, dtype=np.float64)
    if method == "spline":
        out = scipy.ndimage.shift(img, (dy_px, dx_px), order=3, mode="constant", cval=0.0)
    elif method == "fourier":
        # the 2-D phase ramp on the zero-padded 2N x 2N grid is a product of one ramp per axis, so
        # one 1-D shift per axis (none for a zero shift) is the same operator at ~1/3 of the cost;
        # only the Nyquist bin of y is now treated like that of x (real part of its ramp), which
        # changes nothing for the mirror-symmetric patterns of an even N (no content there)
        out = img
        for axis, shift in ((0, dy_px), (1, dx_px)):
            if shift != 0:
                out = _fourier_shift_axis(out, float(shift), axis)
    else:
        raise ValueError(f"shift_pattern: unknown method {method!r}; expected 'fourier' or 'spline'")
    return np.maximum(out, 0.0, out=out)


def _fourier_shift_axis(img: np.ndarray, shift: float, axis: int) -> np.ndarray:
    """Every line of ``img`` along ``axis`` (length n) shifted by ``shift`` samples towards
    higher indices: band-limited interpolation on the line zero-padded to 2n. A new array."""
    n = img.shape[axis]
    padded = 2 * n
    spec = scipy.fft.rfft(img, n=padded, axis=axis)
    ramp = np.exp(-2j * np.pi * shift * scipy.fft.rfftfreq(padded))
    spec *= ramp[:, None] if axis == 0 else ramp[None, :]
    out = scipy.fft.irfft(spec, n=padded, axis=axis, overwrite_x=True)
    return out[:n] if axis == 0 else out[:, :n]


def apply_detector(intensity: np.ndarray, detector: Detector, gain: float, rng) -> np.ndarray:
    """Blur, photon budget and shot noise, gain, read noise, ADC (module docstring, steps 4-8).

    ``intensity``: [N, N], absolute, any scale. Returns float64: e⁻ with a photon budget, else
    the input's unit (both × gain, + read noise); with ``bit_depth`` the fraction of full scale.
    """
    signal = np.array(intensity, dtype=np.float64)
    if signal.ndim != 2 or not np.all(np.isfinite(signal)):
        raise ValueError(f"intensity: expected a finite [N, N] image, got shape {signal.shape} (or non-finite values)")
    if detector.psf_sigma_px > 0:
        signal = scipy.ndimage.gaussian_filter(signal, detector.psf_sigma_px, mode="constant", truncate=4.0)
    if detector.photons_per_pattern is not None:
        total = signal.sum()
        if not total > 0:
            raise ValueError("intensity: a photon budget needs an image with a positive sum")
        signal *= detector.photons_per_pattern / total  # expected e⁻ per pixel
    full_scale = signal.max()  # noise-free expected peak, before the gain
    if detector.photons_per_pattern is not None:
        signal = rng.poisson(np.maximum(signal, 0.0)).astype(np.float64)
    signal *= gain
    if detector.read_noise_e > 0:
        signal += rng.normal(0.0, detector.read_noise_e, signal.shape)
    if detector.bit_depth is not None:
        top = 2.0**detector.bit_depth - 1.0
        scale = top / full_scale if full_scale > 0 else 0.0
        signal = np.clip(np.rint(signal * scale), 0.0, top) / top
    return signal


def normalize_signal(signal: np.ndarray, mode: str) -> np.ndarray:
    """float32 image for ``simulation.normalize``: "per_image" clips negatives to 0 and divides by
    the maximum (an all-dark image stays 0; result in [0, 1]); "none" leaves the values."""
    out = np.asarray(signal, dtype=np.float32)
    if mode == "per_image":
        out = np.maximum(out, 0.0)
        if not out.max() > 0:
            return out
    return optics.normalize_images(out, mode)


def simulate_sample(wavelength_m: float, nuisances: Mapping, geometry: optics.Geometry, simulation: Mapping,
                    syst: Systematics, rng) -> np.ndarray:
    """One pattern through the whole chain (module docstring): float32 [N, N].

    ``wavelength_m``: the TRUE λ; ``nuisances``: from :func:`draw_nuisances`; ``simulation``: the
    config's section (engine, normalize, optional oversample); ``rng``: the sample's stream.
    """
    geom = replace(
        geometry,
        aperture_separation_m=nuisances["aperture_separation_m"],
        aperture_radius_m=nuisances["aperture_radius_m"],
        distance_m=nuisances["distance_m"],
    )
    lam, weights = spectrum(wavelength_m, syst.source.bandwidth_nm * 1e-9, syst.source.spectral_samples)
    stack = optics.simulate(lam, geom, engine=simulation["engine"], normalize="none",
                            oversample=simulation.get("oversample"))
    intensity = np.einsum("s,syx->yx", weights, stack, dtype=np.float64)  # incoherent sum (einsum: no BLAS)
    dx, dy = (nuisances[f"screen_shift_{axis}_m"] / geom.pixel_pitch_m for axis in "xy")
    intensity = shift_pattern(intensity, dx, dy)
    signal = apply_detector(intensity, syst.detector, nuisances["gain"], rng)
    return normalize_signal(signal, simulation["normalize"])
