"""Generated against real patterns, as a physicist would compare them.

The same code measures physical features on decoded (generated) and on simulated (real)
patterns, and two-sample tests compare their distributions:

* ``fringe_period_m``: the period of the fringes along the aperture axis (rows, y), from the
  peak of the windowed, zero-padded spectrum of the central-column band in the fringe band;
  ``wavelength_from_fringes_m`` = period · d / z, the relation the engines obey for the carrier
  (the two apertures at ±d/2: the Fresnel phase difference is k·y·d/z exactly). With small
  apertures it recovers λ (tested: 1 %); with the paper's 0.15 mm apertures the single-aperture
  envelope changes sign along the column and pulls the spectral peak (measured on the fresnel
  engine at 256² over 20 mm: 500 nm reads 569 nm, 700 nm 761 nm, 1000 nm 1033 nm; at 400 nm the
  fringes are near the pixels' Nyquist limit). It is a feature measured alike on generated and
  real patterns, not a calibrated wavelength;
* ``visibility``: (max − min) / (max + min) of that profile within one period of the centre;
* ``envelope_width_m``: the RMS width of the intensity along x through the centre (no fringes
  there: the single-aperture diffraction envelope, which widens with λ);
* ``total_intensity``: the mean of the image (relative: images are normalized per image).

Tests: Kolmogorov–Smirnov per feature (``scipy.stats.ks_2samp``) and the multivariate energy
distance between the standardized feature vectors with a permutation p-value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

FEATURES = ("wavelength_from_fringes_m", "fringe_period_m", "visibility", "envelope_width_m",
            "total_intensity")


@dataclass(frozen=True)
class FringeGeometry:
    """What the feature extraction needs of the experiment: pixel pitch, aperture separation d,
    distance z, and the wavelength range that bounds the fringe band searched."""

    pitch_m: float
    separation_m: float
    distance_m: float
    min_wavelength_m: float
    max_wavelength_m: float

    def fringe_band(self) -> tuple[float, float]:
        """Spatial frequencies (cycles/m) of the fringes of the range's wavelengths, widened by
        25 % each way and capped at the pixels' Nyquist frequency."""
        nyquist = 0.5 / self.pitch_m
        low = self.separation_m / (self.max_wavelength_m * self.distance_m) / 1.25
        high = self.separation_m / (self.min_wavelength_m * self.distance_m) * 1.25
        return low, min(high, nyquist)


def _central_band(image: np.ndarray, axis: int, half_width: int = 1) -> np.ndarray:
    """Mean of the 2·half_width lines around the centre, along ``axis`` (0: a profile along y)."""
    n = image.shape[1 - axis]
    c = n // 2
    lines = image[:, c - half_width : c + half_width] if axis == 0 else image[c - half_width : c + half_width, :]
    return lines.mean(axis=1 - axis)


def fringe_period_m(profile: np.ndarray, geometry: FringeGeometry, pad: int = 16) -> float:
    """Period of the strongest spectral line of ``profile`` inside the fringe band (zero-padded
    FFT of the Hann-windowed, mean-free profile; parabolic interpolation of the peak)."""
    p = np.asarray(profile, dtype=np.float64)
    p = (p - p.mean()) * np.hanning(p.size)
    n = p.size * pad
    spectrum = np.abs(np.fft.rfft(p, n))
    freqs = np.fft.rfftfreq(n, d=geometry.pitch_m)
    low, high = geometry.fringe_band()
    band = np.flatnonzero((freqs >= low) & (freqs <= high))
    if band.size == 0 or not np.any(spectrum[band] > 0):
        return float("nan")
    i = band[np.argmax(spectrum[band])]
    if 0 < i < spectrum.size - 1:
        a, b, c = np.log(spectrum[i - 1 : i + 2] + 1e-300)
        shift = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) != 0 else 0.0
    else:
        shift = 0.0
    return float(1.0 / ((i + shift) * (freqs[1] - freqs[0])))


def pattern_features(images: np.ndarray, geometry: FringeGeometry) -> pd.DataFrame:
    """One row of :data:`FEATURES` per image ``[n, H, W]`` (rows = y, the aperture axis)."""
    imgs = np.asarray(images, dtype=np.float64)
    if imgs.ndim == 4 and imgs.shape[-1] == 1:
        imgs = imgs[..., 0]
    n_pix = imgs.shape[-1]
    coords = (np.arange(n_pix) + 0.5 - n_pix / 2) * geometry.pitch_m
    rows = []
    for image in imgs:
        profile_y = _central_band(image, axis=0)
        period = fringe_period_m(profile_y, geometry)
        half = max(1, int(round(period / geometry.pitch_m / 2))) if np.isfinite(period) else 1
        centre = profile_y[n_pix // 2 - half : n_pix // 2 + half + 1]
        top, bottom = centre.max(), centre.min()
        profile_x = np.clip(_central_band(image, axis=1), 0, None)
        weight = profile_x.sum()
        rows.append({
            "wavelength_from_fringes_m": period * geometry.separation_m / geometry.distance_m,
            "fringe_period_m": period,
            "visibility": float((top - bottom) / (top + bottom)) if top + bottom > 0 else np.nan,
            "envelope_width_m": float(np.sqrt(np.sum(coords**2 * profile_x) / weight)) if weight > 0 else np.nan,
            "total_intensity": float(image.mean()),
        })
    return pd.DataFrame(rows, columns=list(FEATURES))


def energy_distance_test(a: np.ndarray, b: np.ndarray, n_permutations: int = 500, seed: int = 0) -> dict:
    """Energy distance between two samples of feature vectors (rows), standardized with the
    pooled moments, and its permutation p-value ((k + 1) / (n_permutations + 1))."""
    a, b = np.atleast_2d(np.asarray(a, float)), np.atleast_2d(np.asarray(b, float))
    pooled = np.vstack([a, b])
    std = pooled.std(axis=0)
    std[std == 0] = 1.0
    z = (pooled - pooled.mean(axis=0)) / std
    d = np.sqrt(((z[:, None, :] - z[None, :, :]) ** 2).sum(-1))
    n = len(a)

    def statistic(idx_a, idx_b):
        return (2 * d[np.ix_(idx_a, idx_b)].mean() - d[np.ix_(idx_a, idx_a)].mean()
                - d[np.ix_(idx_b, idx_b)].mean())

    observed = statistic(np.arange(n), np.arange(n, len(z)))
    rng = np.random.default_rng(seed)
    count = 0
    for _ in range(n_permutations):
        perm = rng.permutation(len(z))
        count += statistic(perm[:n], perm[n:]) >= observed
    return {"energy_distance": float(observed), "p_value": (count + 1) / (n_permutations + 1),
            "n_permutations": int(n_permutations)}


def compare_features(real: pd.DataFrame, generated: pd.DataFrame, n_permutations: int = 500,
                     seed: int = 0) -> dict:
    """Per feature: both samples' median and quartiles, the KS statistic and p-value; overall:
    the energy-distance test over all features (rows with a NaN feature are left out of it)."""
    out = {"n_real": int(len(real)), "n_generated": int(len(generated)), "features": {}}
    for feature in FEATURES:
        r, g = real[feature].dropna().to_numpy(), generated[feature].dropna().to_numpy()
        ks = stats.ks_2samp(r, g) if len(r) and len(g) else None
        out["features"][feature] = {
            "real_quartiles": np.percentile(r, [25, 50, 75]).tolist() if len(r) else None,
            "generated_quartiles": np.percentile(g, [25, 50, 75]).tolist() if len(g) else None,
            "ks_statistic": float(ks.statistic) if ks else None,
            "ks_p_value": float(ks.pvalue) if ks else None,
        }
    ra, ga = real[list(FEATURES)].dropna(), generated[list(FEATURES)].dropna()
    out["energy"] = energy_distance_test(ra.to_numpy(), ga.to_numpy(), n_permutations, seed) if len(ra) and len(ga) else None
    return out


def wavelength_to_z(calibration, wavelengths_m: Sequence[float]) -> np.ndarray:
    """The z the calibration maps to each λ (its monotone knots inverted; λ outside the knots'
    range goes to the end knot)."""
    kz, kl = np.asarray(calibration.knots_z), np.asarray(calibration.knots_lambda)
    if kz.size == 1:
        return np.full(len(wavelengths_m), kz[0])
    order = np.argsort(kl, kind="stable")
    return np.interp(np.asarray(wavelengths_m, float), kl[order], kz[order])


def plot_generated_vs_real(features: dict[str, pd.DataFrame], per_wavelength: pd.DataFrame, path) -> None:
    """Histograms of each feature for the real and the generated sets side by side, and the
    SSIM of the pattern decoded at the calibrated z(λ) against the simulated one, along λ."""
    from youngvae.analysis.plots import new_figure, save_figure

    fig = new_figure((15.0, 7.0), layout="constrained")
    axes = fig.subplots(2, 3).ravel()
    units = {"wavelength_from_fringes_m": (1e9, "λ from the fringe period [nm]"),
             "fringe_period_m": (1e6, "fringe period [µm]"),
             "visibility": (1.0, "fringe visibility near the centre"),
             "envelope_width_m": (1e3, "envelope RMS width along x [mm]"),
             "total_intensity": (1.0, "mean intensity (images normalized to their peak)")}
    for ax, feature in zip(axes, FEATURES):
        scale, label = units[feature]
        values = [df[feature].dropna().to_numpy() * scale for df in features.values()]
        finite = np.concatenate([v for v in values if v.size]) if any(v.size for v in values) else np.zeros(1)
        bins = np.linspace(np.nanmin(finite), np.nanmax(finite), 30) if np.ptp(finite) > 0 else 10
        for (name, _), v in zip(features.items(), values):
            ax.hist(v, bins=bins, density=True, histtype="step", lw=1.6, label=f"{name} (n={v.size})")
        ax.set_xlabel(label)
        ax.set_ylabel("density")
    axes[0].legend(fontsize="small")
    ax = axes[-1]
    lam_nm = per_wavelength["wavelength_m"].to_numpy() * 1e9
    ax.scatter(lam_nm, per_wavelength["ssim"], s=6, alpha=0.4, label="one validation pattern")
    bins = np.linspace(lam_nm.min(), lam_nm.max(), 21)
    centre, median = [], []
    for a, b in zip(bins[:-1], bins[1:]):
        inside = (lam_nm >= a) & (lam_nm <= b)
        if inside.any():
            centre.append(0.5 * (a + b))
            median.append(float(np.median(per_wavelength["ssim"].to_numpy()[inside])))
    ax.plot(centre, median, color="k", lw=2, label="median per 1/20 of the range")
    ax.set_xlabel("wavelength λ [nm]")
    ax.set_ylabel("SSIM, decoded at z(λ) vs simulated at λ")
    ax.legend(fontsize="small")
    fig.suptitle("Generated against real: the same physical features, and decoded against simulated along λ")
    save_figure(fig, path)

