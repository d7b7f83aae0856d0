"""Image comparison (MSE, SSIM) and profiles, on plain arrays."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage


def _as_image(name: str, a: Any) -> np.ndarray:
    x = np.asarray(a, dtype=np.float64)
    if x.ndim == 3 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim != 2:
        raise ValueError(
            f"{name}: expected a 2-D image (H, W) or (H, W, 1), got shape {np.shape(a)}"
        )
    return x


def mse(a: Any, b: Any) -> float:
    """Mean squared error between two images of equal shape."""
    x, y = _as_image("a", a), _as_image("b", b)
    if x.shape != y.shape:
        raise ValueError(f"b: shape {y.shape} differs from a shape {x.shape}")
    return float(np.mean((x - y) ** 2))


def ssim(
    a: Any,
    b: Any,
    data_range: float = 1.0,
    window: str = "gaussian",
    win_size: int | None = None,
    sigma: float = 1.5,
    K1: float = 0.01,
    K2: float = 0.03,
) -> float:
    """Mean structural similarity (Wang et al. 2004).

    ``window="gaussian"`` (default): 11x11 Gaussian weights, sigma 1.5.
    ``window="uniform"``: ``win_size`` x ``win_size`` box (default 7).
    Local statistics are population (weighted) moments; only windows lying
    fully inside the image are averaged (the 'valid' region, as in the
    reference MATLAB implementation).
    """
    x, y = _as_image("a", a), _as_image("b", b)
    if x.shape != y.shape:
        raise ValueError(f"b: shape {y.shape} differs from a shape {x.shape}")
    if not data_range > 0:
        raise ValueError(f"data_range: must be > 0, got {data_range}")
    if window == "gaussian":
        ws = 11 if win_size is None else int(win_size)
        if ws < 1 or ws % 2 == 0:
            raise ValueError(f"win_size: must be odd and >= 1, got {ws}")
        radius = (ws - 1) // 2
        truncate = radius / sigma

        def filt(img: np.ndarray) -> np.ndarray:
            return ndimage.gaussian_filter(
                img, sigma=sigma, truncate=truncate, mode="reflect"
            )

    elif window == "uniform":
        ws = 7 if win_size is None else int(win_size)
        if ws < 1 or ws % 2 == 0:
            raise ValueError(f"win_size: must be odd and >= 1, got {ws}")
        radius = (ws - 1) // 2

        def filt(img: np.ndarray) -> np.ndarray:
            return ndimage.uniform_filter(img, size=ws, mode="reflect")

    else:
        raise ValueError(f"window: must be 'gaussian' or 'uniform', got {window!r}")
    if min(x.shape) < ws:
        raise ValueError(f"a: image shape {x.shape} smaller than the {ws}x{ws} window")

    C1 = (K1 * data_range) ** 2
    C2 = (K2 * data_range) ** 2
    mu_x, mu_y = filt(x), filt(y)
    sxx = filt(x * x) - mu_x * mu_x
    syy = filt(y * y) - mu_y * mu_y
    sxy = filt(x * y) - mu_x * mu_y
    num = (2 * mu_x * mu_y + C1) * (2 * sxy + C2)
    den = (mu_x**2 + mu_y**2 + C1) * (sxx + syy + C2)
    smap = num / den
    r = radius
    valid = smap[r : smap.shape[0] - r, r : smap.shape[1] - r]
    return float(np.mean(valid))


def compare_decoded(
    decoded: Any, simulated: Any, z: Any = None, data_range: float = 1.0
) -> list[dict[str, float]]:
    """Per-image MSE and SSIM between decoded and simulated stacks ``[n, H, W(,1)]``.

    Returns one dict per image: ``{"index", "mse", "ssim"}`` (+ ``"z"`` if given).
    """
    d = np.asarray(decoded, dtype=np.float64)
    s = np.asarray(simulated, dtype=np.float64)
    if d.ndim == 4 and d.shape[-1] == 1:
        d = d[..., 0]
    if s.ndim == 4 and s.shape[-1] == 1:
        s = s[..., 0]
    if d.ndim != 3:
        raise ValueError(f"decoded: expected [n, H, W], got shape {np.shape(decoded)}")
    if s.shape != d.shape:
        raise ValueError(
            f"simulated: shape {s.shape} differs from decoded shape {d.shape}"
        )
    zz = None if z is None else np.asarray(z, dtype=np.float64).reshape(d.shape[0], -1)
    rows = []
    for i in range(d.shape[0]):
        row: dict[str, float] = {"index": i}
        if zz is not None:
            row["z"] = float(zz[i, 0])
        row["mse"] = mse(d[i], s[i])
        row["ssim"] = ssim(d[i], s[i], data_range=data_range)
        rows.append(row)
    return rows



def central_column_profile(image: Any) -> np.ndarray:
    """Intensity along the vertical axis through the image centre:
    the central column (mean of the two central columns for even width)."""
    x = _as_image("image", image)
    w = x.shape[1]
    if w % 2 == 1:
        return x[:, w // 2].copy()
    return 0.5 * (x[:, w // 2 - 1] + x[:, w // 2])
