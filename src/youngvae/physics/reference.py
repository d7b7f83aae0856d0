"""Independent reference for the two-aperture patterns: a direct 2-D Fresnel integral.

Used by the tests and by ``youngvae.bench.engines`` to measure the accuracy of the
engines in :mod:`youngvae.physics.optics`. It deliberately shares no code path with them: no
Bessel functions, no shift theorem, no radial tabulation, no interpolation, no
symmetry folding, and its own pixel-centre arithmetic.

Method
------
The paraxial (Fresnel) field of a unit plane wave behind an opaque screen with
two circular holes is

    U(x, y) = e^{ikz}/(iλz) ∬_holes exp(ik[(x-x')² + (y-y')²]/(2z)) dx' dy'.

For each hole (centre (0, c), radius a) the area integral is written as an
iterated integral over chords: y' = c + a·u, half-chord h(u) = a·sqrt(1-u²),
x' = h(u)·s with s ∈ [-1, 1]. Then dx' dy' = a² sqrt(1-u²) ds du, the
u-integral has exactly the Chebyshev-U weight sqrt(1-u²) (Gauss–Chebyshev of the
2nd kind) and the s-integral is smooth (Gauss–Legendre). The kernel factorises,
exp(ik(x-x')²/2z)·exp(ik(y-y')²/2z), so on a tensor set of screen points
(rows × columns) the double sum is a matrix product. Each pixel value is the
intensity averaged over the pixel with a tensor Gauss–Legendre rule of
``subpixel``² points. Node counts follow the largest phase variation across the
hole (≈ k·a·|x|/z) with a generous margin; ``nodes_scale`` > 1 adds more for
convergence checks.
"""

from __future__ import annotations

import numpy as np

__all__ = ["direct_intensity"]


def _chord_nodes(n: int):
    """Gauss–Chebyshev (2nd kind) nodes/weights for ∫_{-1}^{1} f(u) sqrt(1-u²) du."""
    j = np.arange(1, n + 1)
    theta = j * np.pi / (n + 1)
    return np.cos(theta), np.pi / (n + 1) * np.sin(theta) ** 2


def direct_intensity(
    wavelength_m: float,
    geometry,
    rows=None,
    cols=None,
    subpixel: int = 8,
    nodes_scale: float = 1.0,
) -> np.ndarray:
    """Pixel-averaged intensity (units of the incident intensity) on rows × cols.

    ``geometry`` needs the attributes aperture_radius_m, aperture_separation_m,
    screen_size_m, distance_m and pixels. ``rows``/``cols`` are detector pixel
    indices (row = y, row 0 at the most negative y); None means all. Returns a
    float64 array of shape (len(rows), len(cols)).
    """
    lam = float(wavelength_m)
    a = float(geometry.aperture_radius_m)
    d = float(geometry.aperture_separation_m)
    L = float(geometry.screen_size_m)
    z = float(geometry.distance_m)
    n_pix = int(geometry.pixels)
    pitch = L / n_pix
    rows = np.arange(n_pix) if rows is None else np.asarray(rows, dtype=int)
    cols = np.arange(n_pix) if cols is None else np.asarray(cols, dtype=int)
    k = 2.0 * np.pi / lam

    # Sub-pixel Gauss–Legendre points: pixel j covers [(j - N/2)·Δ, (j + 1 - N/2)·Δ].
    t, w = np.polynomial.legendre.leggauss(subpixel)
    w = w / 2.0
    y_pts = ((rows[:, None] - n_pix / 2.0) + (1.0 + t[None, :]) / 2.0).ravel() * pitch
    x_pts = ((cols[:, None] - n_pix / 2.0) + (1.0 + t[None, :]) / 2.0).ravel() * pitch

    x_max = np.abs(x_pts).max()
    y_max = np.abs(y_pts).max() + d / 2.0
    n_s = int(np.ceil(nodes_scale * (k * a * x_max / z + 24)))
    n_u = int(np.ceil(nodes_scale * (k * a * (x_max + y_max) / z + 24)))
    s, ws = np.polynomial.legendre.leggauss(n_s)
    u, wu = _chord_nodes(n_u)
    half_chord = a * np.sqrt(1.0 - u**2)  # (n_u,)

    # G[p, q] = ∫_{-1}^{1} exp(ik (x_p - h_q s)² / 2z) ds   (x-integral along chord q)
    G = np.empty((x_pts.size, n_u), dtype=np.complex128)
    xs = half_chord[:, None] * s[None, :]  # (n_u, n_s)
    step = max(1, int(2_000_000 // (n_u * n_s)))
    for p0 in range(0, x_pts.size, step):
        xp = x_pts[p0 : p0 + step]
        phase = (k / (2.0 * z)) * (xp[:, None, None] - xs[None, :, :]) ** 2
        G[p0 : p0 + step] = np.cos(phase) @ ws + 1j * (np.sin(phase) @ ws)

    field = np.zeros((y_pts.size, x_pts.size), dtype=np.complex128)
    for c in (+d / 2.0, -d / 2.0):
        yq = c + a * u
        phase = (k / (2.0 * z)) * (y_pts[:, None] - yq[None, :]) ** 2
        E = np.exp(1j * phase) * (a * a * wu)[None, :]  # a² sqrt(1-u²) du (weight in wu)
        field += E @ G.T
    field *= np.exp(1j * k * z) / (1j * lam * z)
    intensity = np.abs(field) ** 2
    intensity = intensity.reshape(rows.size, subpixel, cols.size, subpixel)
    return np.einsum("ibjc,b,c->ij", intensity, w, w)
