"""Young's double-aperture diffraction patterns (physics core).

Geometry: two circular holes of radius a whose centres lie d apart on the vertical
axis, at y = +d/2 and y = -d/2, lit by a unit-amplitude plane wave of wavelength λ;
an L×L detector of N×N pixels at distance z, centred on the optical axis. The
centre of pixel row/column j is at ((j + 1/2) - N/2)·Δ with Δ = L/N; images are
indexed [row = y, column = x], row 0 at the most negative y. A pixel's value is
the paraxial (Fresnel) intensity averaged over the pixel's area, in units of the
incident plane-wave intensity (``normalize="none"``) or divided by each image's
maximum (``normalize="per_image"``).

Two engines compute the same quantity:

``"lightpipes"`` (default)
    LightPipes ``Forvard`` (angular-spectrum/FFT propagation with the Fresnel
    transfer function) of an anti-aliased (area-weighted) two-hole transmission
    mask on a grid ``oversample`` times finer than the detector, block-averaged
    to detector pixels. Plain ``CircAperture`` on the 256² detector grid gives
    ~10-pixel staircase holes and patterns tens of per cent off; the
    area-weighted mask on the 4× grid is within ~0.5 % (see tests).

``"fresnel"``
    The exact paraxial Fresnel integral, evaluated semi-analytically. For one
    hole at the origin, U0(r) = (2π/(iλz)) e^{ikz} e^{ikr²/2z} H(r) with
    H(r) = ∫_0^a e^{ikρ²/2z} J0(krρ/z) ρ dρ (Gauss–Legendre in ρ). Fresnel
    propagation is a convolution, so the shifted holes contribute U0 at the
    distances r1, r2 from their centres, and

        I = (2π/λz)² [ |H1|² + |H2|² + 2 Re(H1 H2* e^{-ikyd/z}) ],

    because k(r1² - r2²)/2z = -kyd/z. H is smooth (band limit k·a/z), so it is
    tabulated once per λ on a uniform 1-D r grid and interpolated (cubic Lagrange).
    The grid step (16 points per shortest period λz/a of H at 380 nm, or at the
    batch's shortest λ below that) is rounded DOWN to a power of 2^(1/16), so the
    table is never coarser than designed; the interpolation matrix depends only on
    the pixel grid, the separation, the nodes and that rounded step, and is cached
    on exactly those: geometries that differ a little in radius or distance (and
    wavelengths below 380 nm) share it. Pixel
    averages use ``oversample``² Gauss–Legendre nodes per pixel; along y the fast
    fringe factor e^{-ikyd/z} is integrated exactly against the polynomial
    interpolant of the slow part (Filon-type weights), so a few nodes suffice
    even at 380 nm where a fringe period is ~2 pixels. The mirror symmetries
    I(x, y) = I(-x, y) = I(x, -y) are used to compute one quadrant.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass

import numpy as np
import scipy.sparse
import scipy.special

__all__ = [
    "DEFAULT_OVERSAMPLE",
    "ENGINES",
    "NORMALIZATIONS",
    "Geometry",
    "normalize_images",
    "point_intensity",
    "simulate",
]

ENGINES = ("lightpipes", "fresnel")
NORMALIZATIONS = ("per_image", "none")
# lightpipes: fine-grid refinement per axis (4 -> 1024² FFT grid at 256 px, ≤ ~0.5 % rel. L2).
# fresnel: Gauss–Legendre sub-pixel nodes per axis (with exact fringe-phase weights along y).
DEFAULT_OVERSAMPLE = {"lightpipes": 4, "fresnel": 3}

# The fresnel engine's radial table is fine enough for all λ ≥ this value (shorter λ
# get a finer table automatically).
_TABLE_DESIGN_WAVELENGTH_M = 380e-9
_TABLE_POINTS_PER_PERIOD = 16  # table points per shortest period λz/a of H(r)
_BATCH = 8  # wavelengths per fresnel batch: larger batches (≥32) thrash memory (~200 MB) and run erratically


@dataclass(frozen=True)
class Geometry:
    """Aperture pair and detector, in SI units (metres)."""

    aperture_radius_m: float = 0.15e-3
    aperture_separation_m: float = 1.2e-3
    screen_size_m: float = 20e-3
    distance_m: float = 0.5
    pixels: int = 256

    def __post_init__(self):
        for name in ("aperture_radius_m", "aperture_separation_m", "screen_size_m", "distance_m"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float, np.floating, np.integer)) and math.isfinite(value) and value > 0):
                raise ValueError(f"Geometry.{name} must be a positive finite number, got {value!r}")
            object.__setattr__(self, name, float(value))
        if isinstance(self.pixels, bool) or not isinstance(self.pixels, (int, np.integer)) or self.pixels < 2:
            raise ValueError(f"Geometry.pixels must be an integer >= 2, got {self.pixels!r}")
        object.__setattr__(self, "pixels", int(self.pixels))
        if self.aperture_separation_m <= 2 * self.aperture_radius_m:
            raise ValueError(
                "Geometry: apertures overlap (aperture_separation_m "
                f"{self.aperture_separation_m} <= 2 * aperture_radius_m {self.aperture_radius_m})"
            )

    @classmethod
    def from_config(cls, geometry_cfg: dict) -> "Geometry":
        """Build from the config's ``geometry`` section (lengths in mm, distance in m)."""
        required = ("aperture_radius_mm", "aperture_separation_mm", "screen_size_mm", "distance_m", "pixels")
        missing = [key for key in required if key not in geometry_cfg]
        if missing:
            raise ValueError(f"geometry config: missing key(s) {missing}")
        mm = 1e-3
        return cls(
            aperture_radius_m=float(geometry_cfg["aperture_radius_mm"]) * mm,
            aperture_separation_m=float(geometry_cfg["aperture_separation_mm"]) * mm,
            screen_size_m=float(geometry_cfg["screen_size_mm"]) * mm,
            distance_m=float(geometry_cfg["distance_m"]),
            pixels=geometry_cfg["pixels"],
        )

    @property
    def pixel_pitch_m(self) -> float:
        return self.screen_size_m / self.pixels

    def pixel_centres_m(self) -> np.ndarray:
        """Centres of the pixel rows (= columns), ((j + 1/2) - N/2)·Δ, ascending."""
        return (np.arange(self.pixels) + 0.5 - self.pixels / 2.0) * self.pixel_pitch_m

    def as_attrs(self) -> dict:
        return {key: (int(v) if key == "pixels" else float(v)) for key, v in asdict(self).items()}


# ---------------------------------------------------------------------------------------
# argument checking and normalization
# ---------------------------------------------------------------------------------------


def _check_wavelengths(wavelengths_m) -> np.ndarray:
    try:
        lam = np.asarray(wavelengths_m, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"wavelengths_m: not numeric ({exc})") from None
    if lam.ndim > 1:
        raise ValueError(f"wavelengths_m: expected a scalar or 1-D sequence, got shape {lam.shape}")
    lam = np.atleast_1d(lam)
    bad = ~np.isfinite(lam) | (lam <= 0)
    if bad.any():
        raise ValueError(f"wavelengths_m: must be positive and finite (in metres), got {lam[bad][:5].tolist()}")
    if (lam > 1e-3).any():
        raise ValueError(f"wavelengths_m: values above 1 mm ({lam.max()!r}); expected metres (e.g. 650e-9)")
    return lam


def _check_oversample(engine: str, oversample) -> int:
    if oversample is None:
        return DEFAULT_OVERSAMPLE[engine]
    if isinstance(oversample, bool) or not isinstance(oversample, (int, np.integer)) or not 1 <= oversample <= 32:
        raise ValueError(f"oversample: expected an integer in 1..32 or None, got {oversample!r}")
    return int(oversample)


def normalize_images(images, mode) -> np.ndarray:
    """``"per_image"``: divide each image of ``[n, H, W]`` by its maximum; ``"none"``: unchanged.

    Returns a new float32 array.
    """
    if mode not in NORMALIZATIONS:
        raise ValueError(f"normalize: unknown mode {mode!r}; expected one of {NORMALIZATIONS}")
    return _normalize_inplace(np.array(images, dtype=np.float32, copy=True), mode)


def _normalize_inplace(out: np.ndarray, mode: str) -> np.ndarray:
    if mode == "per_image":
        if out.ndim < 2:
            raise ValueError(f"images: expected [n, H, W] or [H, W], got shape {out.shape}")
        peak = out.max(axis=(-2, -1), keepdims=True)
        if not np.all(np.isfinite(peak)) or np.any(peak <= 0):
            raise ValueError("images: cannot normalize an image whose maximum is not positive and finite")
        out /= peak
    return out


def simulate(wavelengths_m, geometry: Geometry, engine="lightpipes", normalize="per_image", oversample=None) -> np.ndarray:
    """Pixel-averaged diffraction patterns, float32 ``[n, N, N]`` (row = y, column = x).

    ``oversample``: lightpipes = fine-grid refinement factor per axis; fresnel =
    sub-pixel quadrature nodes per axis; None -> ``DEFAULT_OVERSAMPLE[engine]``.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine: unknown engine {engine!r}; expected one of {ENGINES}")
    if normalize not in NORMALIZATIONS:
        raise ValueError(f"normalize: unknown mode {normalize!r}; expected one of {NORMALIZATIONS}")
    if not isinstance(geometry, Geometry):
        raise ValueError(f"geometry: expected a youngvae.physics.optics.Geometry, got {type(geometry).__name__}")
    lam = _check_wavelengths(wavelengths_m)
    m = _check_oversample(engine, oversample)
    n_pix = geometry.pixels
    images = np.empty((lam.size, n_pix, n_pix), dtype=np.float32)
    if engine == "lightpipes":
        for i, wavelength in enumerate(lam):
            images[i] = _lightpipes_pattern(float(wavelength), geometry, m)
    else:
        for start in range(0, lam.size, _BATCH):
            _fresnel_patterns(lam[start : start + _BATCH], geometry, m, out=images[start : start + _BATCH])
    if normalize != "none":
        _normalize_inplace(images, normalize)
    return images


def simulate_from_config(wavelengths_m, geometry: dict, simulation: dict) -> np.ndarray:
    """:func:`simulate` with the config's ``geometry`` and ``simulation`` sections."""
    return simulate(
        np.asarray(wavelengths_m, dtype=np.float64),
        Geometry.from_config(geometry),
        engine=simulation["engine"],
        normalize=simulation["normalize"],
        oversample=simulation.get("oversample"),
    )


# ---------------------------------------------------------------------------------------
# engine "lightpipes"
# ---------------------------------------------------------------------------------------


def _disk_coverage(centres: np.ndarray, pitch: float, cx: float, cy: float, radius: float, sub: int = 32):
    """Fraction of each square cell (centres × centres grid, side ``pitch``) inside a disk.

    Cells entirely inside/outside are 1/0; cells cut by the rim are sampled with
    ``sub``×``sub`` midpoints (area error ≲ 1/sub² of a cell, only on the rim).
    """
    dx = (centres - cx)[None, :]
    dy = (centres - cy)[:, None]
    dist = np.sqrt(dx**2 + dy**2)
    half_diag = pitch / math.sqrt(2.0)
    cover = (dist <= radius - half_diag).astype(np.float64)
    rim_r, rim_c = np.nonzero(np.abs(dist - radius) < half_diag)
    if rim_r.size:
        offs = ((np.arange(sub) + 0.5) / sub - 0.5) * pitch
        px = centres[rim_c][:, None, None] + offs[None, None, :] - cx
        py = centres[rim_r][:, None, None] + offs[None, :, None] - cy
        cover[rim_r, rim_c] = ((px**2 + py**2) <= radius**2).mean(axis=(1, 2))
    return cover


def _two_hole_mask(geometry: Geometry, oversample: int) -> np.ndarray:
    """Area-weighted transmission of the two holes on the fine (N·oversample)² grid (cached)."""
    # cached without the distance, which the mask does not depend on (distance jitter reuses it)
    return _two_hole_mask_cached(
        geometry.pixels, geometry.screen_size_m, geometry.aperture_radius_m, geometry.aperture_separation_m, oversample
    )


@functools.lru_cache(maxsize=8)
def _two_hole_mask_cached(pixels: int, screen_size_m: float, radius_m: float, separation_m: float,
                          oversample: int) -> np.ndarray:
    n_fine = pixels * oversample
    pitch = screen_size_m / n_fine
    centres = (np.arange(n_fine) + 0.5 - n_fine / 2.0) * pitch  # same convention as the detector
    half_d = separation_m / 2.0
    mask = _disk_coverage(centres, pitch, 0.0, +half_d, radius_m)
    mask += _disk_coverage(centres, pitch, 0.0, -half_d, radius_m)
    mask = np.minimum(mask, 1.0).astype(np.complex64)
    mask.setflags(write=False)
    return mask


def _lightpipes_pattern(wavelength: float, geometry: Geometry, oversample: int) -> np.ndarray:
    """One pixel-averaged intensity image (incident intensity = 1) via LightPipes Forvard."""
    from LightPipes import Begin, Forvard, Intensity  # noqa: PLC0415 (heavy import, only when used)

    n_pix = geometry.pixels
    n_fine = n_pix * oversample
    size = geometry.screen_size_m
    z = geometry.distance_m
    F = Begin(size, wavelength, n_fine, dtype=np.complex64)
    F.field = _two_hole_mask(geometry, oversample)  # anti-aliased two-hole screen (Forvard copies it)
    F = Forvard(F, z)
    I = Intensity(F, 0)
    return I.reshape(n_pix, oversample, n_pix, oversample).mean(axis=(1, 3))


# ---------------------------------------------------------------------------------------
# engine "fresnel"
# ---------------------------------------------------------------------------------------


def _radial_H(r: np.ndarray, k: np.ndarray, geometry: Geometry) -> np.ndarray:
    """H(r) = ∫_0^a e^{ikρ²/2z} J0(krρ/z) ρ dρ for r (any shape) and each k: shape k.shape + r.shape."""
    a = geometry.aperture_radius_m
    z = geometry.distance_m
    k = np.atleast_1d(np.asarray(k, dtype=np.float64))
    r = np.asarray(r, dtype=np.float64)
    bandwidth = float(k.max()) * a * max(float(np.abs(r).max(initial=0.0)), a) / z
    n_rho = int(math.ceil(0.5 * bandwidth + 0.5 * float(k.max()) * a * a / (2 * z))) + 16
    t, w = np.polynomial.legendre.leggauss(n_rho)
    rho = 0.5 * a * (t + 1.0)
    w = 0.5 * a * w * rho  # ρ dρ
    out = np.empty(k.shape + r.shape, dtype=np.complex128)
    r_flat = r.ravel()
    for i, ki in enumerate(k):
        weights = w * np.exp(1j * ki * rho**2 / (2 * z))
        bessel = scipy.special.j0((ki / z) * np.multiply.outer(r_flat, rho))
        # einsum (not @): keeps BLAS and its thread pool out of the hot path, which on
        # few cores is 2-3x faster than a threaded gemv for these small products
        out[i] = np.einsum("pq,q->p", bessel, weights).reshape(r.shape)
    return out


def point_intensity(wavelength_m: float, geometry: Geometry, x_m, y_m) -> np.ndarray:
    """Unaveraged paraxial intensity at points (x, y) (broadcast), incident intensity = 1.

    Exact radial quadrature (no table, no pixel averaging): for fine line profiles.
    """
    lam = float(_check_wavelengths(wavelength_m)[0])
    x, y = np.broadcast_arrays(np.asarray(x_m, dtype=np.float64), np.asarray(y_m, dtype=np.float64))
    k = 2 * np.pi / lam
    z = geometry.distance_m
    half_d = geometry.aperture_separation_m / 2.0
    h1 = _radial_H(np.hypot(x, y - half_d), k, geometry)[0]
    h2 = _radial_H(np.hypot(x, y + half_d), k, geometry)[0]
    cross = h1 * np.conj(h2) * np.exp(-1j * k * y * geometry.aperture_separation_m / z)
    return (2 * np.pi / (lam * z)) ** 2 * (np.abs(h1) ** 2 + np.abs(h2) ** 2 + 2 * cross.real)


class _FresnelPlan:
    """Precomputation for the fresnel engine (cached by :func:`_fresnel_plan`).

    Depends only on the pixel grid, the separation, the sub-pixel nodes and the radial
    table step. The sub-pixel points are ordered [hole, x_node, y_half, y_node, x_half]
    (halves: the non-negative pixel centres; the mirror symmetries give the rest), and
    each row of the cubic interpolation matrix carries the square root of its x node's
    pixel-average weight: every quantity formed from H is a product of two H at the same
    point, so the x average is then a plain sum over the (outermost, contiguous) x nodes.
    """

    def __init__(self, pixels: int, screen_size_m: float, separation_m: float, nodes: int, table_step: float):
        pitch = screen_size_m / pixels
        half_d = separation_m / 2.0
        centres = (np.arange(pixels) + 0.5 - pixels / 2.0) * pitch  # = Geometry.pixel_centres_m()
        self.half = centres[pixels // 2 :]  # |centres| ≥ 0 ascending; mirror gives the rest
        self.mirror = np.abs(2 * np.arange(pixels) - (pixels - 1)) // 2  # full index -> half index
        t, w = np.polynomial.legendre.leggauss(nodes)
        self.nodes = t
        self.weights = w / 2.0  # sum to 1: pixel average
        nh = self.half.size
        self.nh = nh
        sub = self.half[:, None] + 0.5 * pitch * t[None, :]  # (nh, m) sub-pixel coords [half, node]
        x2 = (sub.T**2)[:, None, None, :]  # [x_node, ., ., x_half]
        r = np.empty((2, nodes, nh, nodes, nh))  # distances from the hole at +d/2, then -d/2
        np.sqrt(x2 + ((sub - half_d) ** 2)[None, :, :, None], out=r[0])
        np.sqrt(x2 + ((sub + half_d) ** 2)[None, :, :, None], out=r[1])
        r = r.ravel()
        self.n_points = r.size // 2  # per hole
        # cubic Lagrange interpolation on the uniform table r_j = j·step, j = 0..T-1
        self.table_step = table_step
        pos = r / table_step
        start = np.floor(pos)
        start -= 1.0
        np.maximum(start, 0.0, out=start)  # near r = 0 use nodes 0..3 (H is smooth and even there)
        pos -= start
        x = pos.astype(np.float32)  # position within the 4 nodes: in [1, 2) normally, in [0, 2) at the start
        # the four cubic Lagrange basis polynomials on nodes 0, 1, 2, 3 at x, in closed form, in
        # float32 like the matrix (weights within ~1e-7 of float64 ones, at half the build time)
        xm1, xm2, xm3 = x - np.float32(1.0), x - np.float32(2.0), x - np.float32(3.0)
        x_xm1, xm2_xm3 = x * xm1, xm2 * xm3
        root_w = np.sqrt(self.weights)[None, :, None]  # per [hole, x_node, rest] (see the class docstring)
        lag = np.empty((2, nodes, r.size // (2 * nodes), 4), dtype=np.float32)
        shape = lag.shape[:3]
        factors = ((xm1, xm2_xm3, -6.0), (x, xm2_xm3, 2.0), (x_xm1, xm3, -2.0), (x_xm1, xm2, 6.0))
        for j, (u, v, denominator) in enumerate(factors):
            np.multiply((u * v).reshape(shape), (root_w / denominator).astype(np.float32), out=lag[..., j])
        start = start.astype(np.int32)
        self.n_table = int(start.max()) + 4
        cols = np.empty((r.size, 4), dtype=np.int32)
        for j in range(4):
            np.add(start, j, out=cols[:, j])
        indptr = np.arange(0, 4 * r.size + 1, 4, dtype=np.int32)
        self.interp = scipy.sparse.csr_matrix((lag.ravel(), cols.ravel(), indptr), shape=(r.size, self.n_table))
        self.table_r = np.arange(self.n_table) * table_step
        # y pixel centres for the fringe phase and the Filon weights' basis at fine GL points
        tq, wq = np.polynomial.legendre.leggauss(32)
        basis = np.ones((nodes, tq.size))
        for j in range(nodes):
            for q in range(nodes):
                if q != j:
                    basis[j] *= (tq - t[q]) / (t[j] - t[q])
        self._filon_basis = basis * (wq / 2.0)[None, :]  # (m, 32)
        self._filon_t = tq

    def filon_weights(self, kappa: np.ndarray) -> np.ndarray:
        """f[b, j] = ½∫_{-1}^{1} ℓ_j(t) e^{-iκ_b t} dt for each κ_b: shape (B, m)."""
        phase = np.exp(-1j * np.multiply.outer(kappa, self._filon_t))  # (B, 32)
        return np.einsum("bq,jq->bj", phase, self._filon_basis)


_TABLE_STEP_GRID = 16  # table steps are rounded down to powers of 2^(1/16) (≤ 4.4 % finer)


def _table_step(geometry: Geometry, shortest_wavelength_m: float) -> float:
    """The radial table step for this geometry and batch, rounded DOWN onto the 2^(1/16) grid.

    Design: 16 points per shortest period λz/a of H, λ = min(380 nm, shortest λ). Rounding
    down (never a coarser table) lets nearby geometries and wavelengths share one plan.
    """
    design = min(_TABLE_DESIGN_WAVELENGTH_M, shortest_wavelength_m)
    step = design * geometry.distance_m / (geometry.aperture_radius_m * _TABLE_POINTS_PER_PERIOD)
    e = math.floor(_TABLE_STEP_GRID * math.log2(step))
    while 2.0 ** (e / _TABLE_STEP_GRID) > step:  # guard against log2 rounding up
        e -= 1
    return 2.0 ** (e / _TABLE_STEP_GRID)


@functools.lru_cache(maxsize=8)
def _fresnel_plan(pixels: int, screen_size_m: float, separation_m: float, nodes: int,
                  table_step: float) -> _FresnelPlan:
    """The cached plan, keyed on exactly what it depends on (not the radius or the distance)."""
    return _FresnelPlan(pixels, screen_size_m, separation_m, nodes, table_step)


def _plan_for(geometry: Geometry, nodes: int, shortest_wavelength_m: float) -> _FresnelPlan:
    return _fresnel_plan(geometry.pixels, geometry.screen_size_m, geometry.aperture_separation_m, nodes,
                         _table_step(geometry, shortest_wavelength_m))


def _fresnel_patterns(lam: np.ndarray, geometry: Geometry, nodes: int, out=None) -> np.ndarray:
    """Pixel-averaged intensities (incident intensity = 1) for a batch of wavelengths: (B, N, N)."""
    z = geometry.distance_m
    d = geometry.aperture_separation_m
    plan = _plan_for(geometry, nodes, float(lam.min()))
    B = lam.size
    m = nodes
    nh = plan.nh
    k = 2 * np.pi / lam
    table = _radial_H(plan.table_r, k, geometry)  # (B, T) complex
    tab = np.empty((plan.n_table, B, 2), dtype=np.float32)  # columns [re, im] per λ: rows of vals are complex64
    tab[:, :, 0] = table.real.T
    tab[:, :, 1] = table.imag.T
    vals = np.ascontiguousarray(plan.interp @ tab.reshape(plan.n_table, 2 * B))  # (2P, 2B) float32
    # H·sqrt(w_x) at every point: [hole, x_node, (y_half, y_node, x_half, λ)], each block contiguous
    h = vals.view(np.complex64).reshape(2, m, -1)
    stacked = np.empty((3, h.shape[-1]), dtype=np.float32)  # x-averaged |H1|² + |H2|², Re and Im of H1·conj(H2)
    power = np.square(h.real)
    power += np.square(h.imag)
    np.sum(power.reshape(2 * m, -1), axis=0, out=stacked[0])
    cross = np.conj(h[1])
    cross *= h[0]
    cross = cross.sum(axis=0)
    stacked[1] = cross.real
    stacked[2] = cross.imag
    stacked = stacked.reshape(3, nh, m, nh, B)
    # cross term: e^{-ikdy/z}, y = Y + (Δ/2) t  ->  e^{-ikdY/z} · e^{-iκt},  κ = kdΔ/(2z)
    kappa = k * d * geometry.pixel_pitch_m / (2 * z)
    f = plan.filon_weights(kappa)  # (B, m)
    carrier = np.exp(-1j * np.multiply.outer(plan.half, k * d / z))  # (nh, B)
    fc = f.T[None, :, :] * carrier[:, None, :]  # (nh, m, B)
    scale = (2 * np.pi / (lam * z)) ** 2
    # y-node weights per term: plain GL for |H|², Filon(+carrier) for Re and Im of the cross term
    wy = np.empty((3, nh, m, B), dtype=np.float32)
    wy[0] = (plan.weights[None, :, None] * scale[None, None, :])
    wy[1] = 2.0 * fc.real * scale[None, None, :]
    wy[2] = -2.0 * fc.imag * scale[None, None, :]
    quadrant = np.einsum("symxb,symb->byx", stacked, wy)  # (B, nh, nh)
    if out is None:
        out = np.empty((B, geometry.pixels, geometry.pixels), dtype=np.float32)
    n_pix = geometry.pixels
    lo = n_pix // 2
    if n_pix % 2 == 0:
        out[:, lo:, lo:] = quadrant
        out[:, lo:, :lo] = quadrant[:, :, ::-1]
        out[:, :lo, :] = out[:, lo:, :][:, ::-1, :]
    else:
        out[:] = quadrant[:, plan.mirror][:, :, plan.mirror]
    return out
