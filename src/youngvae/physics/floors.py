"""Floors no model can beat: how well the data of a bench with one systematic effect can
determine λ at all, to compare the VAE's calibration error with (docs/systematics.md)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from youngvae.physics.optics import Geometry, simulate


def distance_floor(wavelength: np.ndarray, distance: np.ndarray, nominal: float,
                   train: np.ndarray, val: np.ndarray) -> dict[str, float]:
    """The error no model can beat under a distance jitter: in the Fresnel regime the
    normalized pattern depends on λ and the distance z only through λz, so the best any
    estimator can read is λ_eff = λ·z/z_nominal. Fitted as the best straight line λ ≈ a·λ_eff +
    b on the ``train`` indices (the shrinkage toward the mean a calibration does), scored on
    ``val``: the RMSE and maximum error in the units of ``wavelength``."""
    wavelength, distance = np.asarray(wavelength, float), np.asarray(distance, float)
    effective = wavelength * distance / nominal
    slope, offset = np.polyfit(effective[train], wavelength[train], 1)
    error = slope * effective[val] + offset - wavelength[val]
    return {"rmse": float(np.sqrt(np.mean(error**2))), "max_abs": float(np.abs(error).max())}


def poisson_fisher(p: np.ndarray, dp: np.ndarray, photons: float) -> float:
    """The Fisher information about a parameter θ carried by an image of independent Poisson
    pixel counts with means ``photons``·p_i(θ), Σ p_i = 1: photons · Σ_i (∂p_i/∂θ)² / p_i, in
    1/(unit of θ)². Pixels with p_i = 0 are left out (no counts, no information)."""
    p, dp = np.asarray(p, float).ravel(), np.asarray(dp, float).ravel()
    lit = p > 0
    return float(photons * np.sum(dp[lit] ** 2 / p[lit]))


def pattern_bound(intensities: Callable[[np.ndarray], np.ndarray], theta, photons: float, step: float,
                  psf_sigma_px: float = 0.0) -> np.ndarray:
    """The Cramér–Rao bound on the standard deviation of any unbiased estimate of a parameter θ
    from ONE image of Poisson counts, per value of ``theta``, in θ's unit. ``intensities(θ)``:
    the noise-free images [n, H, W] (any scale) at the n values; the detector's Gaussian PSF of
    ``psf_sigma_px`` (the store's blur, :func:`~youngvae.physics.systematics.apply_detector`)
    acts before the counting, then each image is scaled to ``photons`` expected counts. The
    θ-derivative by central differences of ``step``."""
    from youngvae.physics.systematics import Detector, apply_detector  # the store's blur

    detector = Detector(psf_sigma_px=psf_sigma_px)

    def probabilities(values):
        images = [apply_detector(image, detector, 1.0, None) for image in np.asarray(intensities(values), np.float64)]
        return np.stack([image / image.sum() for image in images])

    theta = np.atleast_1d(np.asarray(theta, dtype=np.float64))
    p = probabilities(theta)
    dp = (probabilities(theta + step) - probabilities(theta - step)) / (2 * step)
    return np.array([1 / np.sqrt(poisson_fisher(p[i], dp[i], photons)) for i in range(theta.size)])


def shot_noise_bound(wavelengths_m, geometry: Geometry, photons: float, engine: str = "fresnel",
                     step_m: float = 0.25e-9, psf_sigma_px: float = 0.0) -> np.ndarray:
    """The Cramér–Rao bound on the standard deviation of any unbiased estimate of λ from ONE
    pattern of the ideal bench recorded with ``photons`` expected photo-electrons (shot noise
    only, the `detector.photons_per_pattern` of the store; a detector blur of ``psf_sigma_px``
    before the counting if given), per wavelength, in metres: the floor of the photon budget as
    :func:`distance_floor` is of the distance jitter. The pattern's λ-derivative by central
    differences of ``step_m`` on the engine's pixel-averaged intensities."""
    return pattern_bound(lambda lam: simulate(lam, geometry, engine=engine, normalize="none"),
                         wavelengths_m, photons, step_m, psf_sigma_px)
