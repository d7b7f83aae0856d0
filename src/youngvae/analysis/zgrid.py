"""The z values to decode (the paper's Fig. 4 grid or the learned range) and batched decoding."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable, Mapping

import numpy as np

if TYPE_CHECKING:
    from youngvae.analysis.calibration import Calibration


def z_grid(z_min: float, z_max: float, z_step: float) -> np.ndarray:
    """``z_min, z_min + z_step, ...`` up to and including ``z_max`` when it lies
    on the grid (up to float drift, e.g. 0..4 step 0.5 gives 9 values, last = 4.0)."""
    for name, v in (("z_min", z_min), ("z_max", z_max), ("z_step", z_step)):
        if not np.isfinite(v):
            raise ValueError(f"{name}: must be finite, got {v!r}")
    z_min, z_max, z_step = float(z_min), float(z_max), float(z_step)
    if z_step <= 0:
        raise ValueError(f"z_step: must be > 0, got {z_step}")
    if z_min > z_max:
        raise ValueError(f"z_min: must be <= z_max, got z_min={z_min} > z_max={z_max}")
    span = (z_max - z_min) / z_step
    n = int(math.floor(span + 1e-9)) + 1
    out = z_min + z_step * np.arange(n, dtype=np.float64)
    if abs(out[-1] - z_max) <= 1e-9 * max(1.0, abs(z_max), abs(z_step)):
        out[-1] = z_max
    return out


DECODE_GRIDS = ("paper", "latent")


def decode_z_values(decode_cfg: Mapping[str, Any], calibration: "Calibration") -> np.ndarray:
    """The z values to decode. ``grid: paper`` (default): ``z_min .. z_max`` in steps of
    ``z_step`` (the paper's Fig. 4 grid, whatever range the latent learned). ``grid: latent``:
    ``n_points`` evenly spaced over the z range the encoder gave the training patterns
    (``calibration.z_min .. z_max``), so no decoded z lies outside what the model was fit on."""
    grid = decode_cfg.get("grid", "paper")
    if grid == "paper":
        return z_grid(decode_cfg["z_min"], decode_cfg["z_max"], decode_cfg["z_step"])
    if grid == "latent":
        n = int(decode_cfg.get("n_points", 9))
        if n < 2:
            raise ValueError(f"decode.n_points: must be >= 2, got {n}")
        if not calibration.z_max > calibration.z_min:
            raise ValueError("decode.grid: latent needs a latent range, but the training patterns' z "
                             f"is constant ({calibration.z_min}): the latent collapsed")
        return np.linspace(calibration.z_min, calibration.z_max, n)
    raise ValueError(f"decode.grid: must be one of {DECODE_GRIDS}, got {grid!r}")


def decode_in_batches(
    decode_fn: Callable[[np.ndarray], Any], z: Any, batch_size: int = 64
) -> np.ndarray:
    """Decode latent vectors ``z`` (``[n]`` or ``[n, k]``) with one ``decode_fn``
    call per batch of ``float32 [b, k]``; returns ``float32 [n, H, W]`` in order
    (a trailing channel axis of size 1 is dropped)."""
    if int(batch_size) < 1:
        raise ValueError(f"batch_size: must be >= 1, got {batch_size}")
    batch_size = int(batch_size)
    zz = np.asarray(z, dtype=np.float32)
    if zz.ndim == 0:
        zz = zz.reshape(1, 1)
    elif zz.ndim == 1:
        zz = zz[:, None]
    if zz.ndim != 2:
        raise ValueError(f"z: expected [n] or [n, k], got shape {np.shape(z)}")
    n = zz.shape[0]
    if n == 0:
        return np.zeros((0, 0, 0), dtype=np.float32)
    outs = []
    for start in range(0, n, batch_size):
        batch = zz[start : start + batch_size]
        img = np.asarray(decode_fn(batch), dtype=np.float32)
        if img.ndim == 4 and img.shape[-1] == 1:
            img = img[..., 0]
        if img.ndim != 3 or img.shape[0] != batch.shape[0]:
            raise ValueError(
                f"decode_fn: returned shape {img.shape} for a batch of {batch.shape[0]};"
                " expected [b, H, W] or [b, H, W, 1]"
            )
        outs.append(img)
    return np.concatenate(outs, axis=0)
