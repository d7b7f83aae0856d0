"""Layout of the decoded z-grid's Zarr v3 store (results/decode/zgrid.zarr)."""

from __future__ import annotations

import numpy as np
import zarr


def write_zgrid(path, z, images, wavelengths_m, centres_m) -> None:
    """results/decode/zgrid.zarr: images [z, y, x], z [z], calibrated wavelength_m [z]."""
    group = zarr.open_group(str(path), mode="w", zarr_format=3)
    arr = group.create_array(
        "images", shape=images.shape, dtype="float32", dimension_names=["z", "y", "x"]
    )
    arr[:] = images.astype(np.float32)
    for name, values, dims, units in (
        ("z", z, ["z"], "1"),
        ("wavelength_m", wavelengths_m, ["z"], "m"),
        ("y", centres_m, ["y"], "m"),
        ("x", centres_m, ["x"], "m"),
    ):
        a = group.create_array(name, shape=(len(values),), dtype="float64", dimension_names=dims)
        a[:] = values
        a.attrs["units"] = units
    group.attrs["description"] = "VAE decoder output on a z-grid; wavelength_m = calibration(z)"
