"""Layout of the dataset's Zarr v3 store, and the only code that writes or reads it.

Layout (one group):
    images        float32 [sample, y, x]  in [0, 1] (or absolute intensity), fill NaN
    wavelength_m  float64 [sample]        fill NaN
    y, x          float64 [y], [x]        pixel centres on the screen in metres
Every per-sample array uses the SAME chunking along `sample` (one chunk = one simulation job),
so concurrent jobs write disjoint chunks and need no locks. Unwritten samples read as NaN.
Metadata is not consolidated (consolidation is outside the Zarr v3 spec): open with
``xarray.open_zarr(path, consolidated=False)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import zarr

IMAGES = "images"
WAVELENGTH = "wavelength_m"


def create_store(
    path: str | Path,
    n_samples: int,
    chunk_size: int,
    y_m: np.ndarray,
    x_m: np.ndarray,
    attrs: dict,
    sample_variables: dict[str, tuple[str, str]] | None = None,
) -> zarr.Group:
    """Create (overwriting) the store with its final shape; data arrays start as NaN.

    ``sample_variables``: {name: (units, long name)} of further float64 values per sample
    (the drawn nuisances of the systematics), chunk-aligned like ``wavelength_m``."""
    if n_samples % chunk_size:
        raise ValueError(f"chunk_size {chunk_size} does not divide n_samples {n_samples}")
    ny, nx = len(y_m), len(x_m)
    group = zarr.open_group(str(path), mode="w", zarr_format=3)
    images = group.create_array(
        IMAGES,
        shape=(n_samples, ny, nx),
        chunks=(chunk_size, ny, nx),
        dtype="float32",
        fill_value=np.nan,
        dimension_names=["sample", "y", "x"],
    )
    images.attrs.update(
        {"long_name": "detector intensity (pixel-area average)", "units": "1"}
    )
    per_sample = {WAVELENGTH: ("m", "wavelength"), **(sample_variables or {})}
    for name, (units, long_name) in per_sample.items():
        var = group.create_array(
            name,
            shape=(n_samples,),
            chunks=(chunk_size,),
            dtype="float64",
            fill_value=np.nan,
            dimension_names=["sample"],
        )
        var.attrs.update({"long_name": long_name, "units": units})
    for name, values in (("y", y_m), ("x", x_m)):
        coord = group.create_array(
            name, shape=(len(values),), dtype="float64", dimension_names=[name]
        )
        coord[:] = values
        coord.attrs.update({"long_name": f"{name} of the pixel centre", "units": "m"})
    group.attrs.update(attrs)
    return group


def write_chunk(
    path: str | Path,
    region: slice,
    images: np.ndarray,
    wavelengths_m: np.ndarray,
    sample_values: dict[str, np.ndarray] | None = None,
) -> None:
    """Write one job's samples; the region must be exactly one chunk of every array.

    ``sample_values``: {name: [n] values} of the store's further per-sample variables."""
    group = zarr.open_group(str(path), mode="r+")
    img, wl = group[IMAGES], group[WAVELENGTH]
    chunk = img.chunks[0]
    if region.start % chunk or region.stop - region.start != chunk:
        raise ValueError(
            f"region {region.start}:{region.stop} is not one whole chunk of {chunk} samples"
        )
    if wl.chunks[0] != chunk:
        raise ValueError("images and wavelength_m are chunked differently along `sample`")
    n = region.stop - region.start
    if images.shape != (n, *img.shape[1:]) or wavelengths_m.shape != (n,):
        raise ValueError(
            f"chunk data of shape {images.shape} / {wavelengths_m.shape} does not fit "
            f"region {region.start}:{region.stop} of {img.shape}"
        )
    for name, values in (sample_values or {}).items():
        if name not in group or group[name].shape != wl.shape or np.shape(values) != (n,):
            raise ValueError(f"per-sample variable {name!r}: not in the store or not {n} values")
    for name, values in (sample_values or {}).items():
        group[name][region] = values
    img[region] = images.astype(np.float32, copy=False)
    wl[region] = wavelengths_m


@dataclass(frozen=True)
class StoreCheck:
    """What `check_store` found; `problems` is empty when the store is complete and sane."""

    n_samples: int
    image_shape: tuple[int, int]
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def check_store(
    path: str | Path, expected_wavelengths_m: np.ndarray, rtol: float = 1e-12
) -> StoreCheck:
    """Every sample written, finite, non-zero, wavelength as planned."""
    group = zarr.open_group(str(path), mode="r")
    img, wl = group[IMAGES], group[WAVELENGTH]
    problems: list[str] = []
    n = img.shape[0]
    if wl.shape != (n,) or len(expected_wavelengths_m) != n:
        problems.append(
            f"{n} images, {wl.shape[0]} wavelengths, {len(expected_wavelengths_m)} planned"
        )
        return StoreCheck(n, img.shape[1:], tuple(problems))
    chunk = img.chunks[0]
    for start in range(0, n, chunk):
        block = img[start : start + chunk]
        finite = np.isfinite(block).all(axis=(1, 2))
        if not finite.all():
            bad = start + np.flatnonzero(~finite)
            problems.append(f"samples {_ranges(bad)} are missing or not finite")
        nonzero = (np.abs(np.nan_to_num(block)) > 0).any(axis=(1, 2)) | ~finite
        if not nonzero.all():
            problems.append(f"samples {_ranges(start + np.flatnonzero(~nonzero))} are all zero")
    stored = wl[:]
    mismatch = ~np.isclose(stored, expected_wavelengths_m, rtol=rtol, atol=0)
    if mismatch.any():
        problems.append(
            f"wavelength_m of samples {_ranges(np.flatnonzero(mismatch))} differ from the plan"
        )
    return StoreCheck(n, tuple(img.shape[1:]), tuple(problems))


def read_images(path: str | Path, indices: np.ndarray | None = None) -> np.ndarray:
    group = zarr.open_group(str(path), mode="r")
    img = group[IMAGES]
    if indices is None:
        return img[:]
    return img.get_orthogonal_selection((np.asarray(indices), slice(None), slice(None)))


def read_complete_images(store_path: str | Path, indices: np.ndarray) -> np.ndarray:
    """Images of `indices`; a clear error if any is missing (NaN) or the store is not square/even."""
    images = read_images(store_path, np.asarray(indices))
    if images.ndim != 3 or images.shape[1] != images.shape[2] or images.shape[1] % 2:
        raise ValueError(
            f"dataset store {store_path} has images of shape {images.shape[1:]}; the VAE needs "
            "square images with an even side"
        )
    missing = ~np.isfinite(images).all(axis=(1, 2))
    if missing.any():
        raise ValueError(
            f"dataset store {store_path} is incomplete: {int(missing.sum())} of the requested "
            f"samples (first: {int(np.asarray(indices)[missing][0])}) are missing or not finite; "
            "rerun the dataset rules"
        )
    return images


def read_wavelengths(path: str | Path) -> np.ndarray:
    return zarr.open_group(str(path), mode="r")[WAVELENGTH][:]


def read_sample_variable(path: str | Path, name: str) -> np.ndarray | None:
    """A further per-sample variable (e.g. ``recorded_wavelength_m``), None where the store has none."""
    group = zarr.open_group(str(path), mode="r")
    return group[name][:] if name in group else None


def sample_variable_names(path: str | Path) -> list[str]:
    """Names of the further per-sample variables (1-D along ``sample``, beside ``wavelength_m``)."""
    group = zarr.open_group(str(path), mode="r")
    n = group[IMAGES].shape[0]
    return sorted(
        name for name, array in group.arrays()
        if name not in (IMAGES, WAVELENGTH) and array.shape == (n,)
        and list(array.metadata.dimension_names or []) == ["sample"]
    )


def read_coordinate(path: str | Path, name: str) -> np.ndarray:
    """Pixel centres (metres) along `name` ("y" or "x")."""
    return zarr.open_group(str(path), mode="r")[name][:]


def read_attrs(path: str | Path) -> dict:
    return dict(zarr.open_group(str(path), mode="r").attrs)


def _ranges(indices: np.ndarray, limit: int = 5) -> str:
    """[0,1,2,7] -> '0-2, 7' (at most `limit` ranges, then '…')."""
    idx = np.asarray(indices, dtype=int)
    if idx.size == 0:
        return ""
    breaks = np.flatnonzero(np.diff(idx) != 1)
    starts = np.r_[idx[0], idx[breaks + 1]]
    stops = np.r_[idx[breaks], idx[-1]]
    parts = [f"{a}" if a == b else f"{a}-{b}" for a, b in zip(starts, stops)]
    return ", ".join(parts[:limit]) + (", …" if len(parts) > limit else "")
