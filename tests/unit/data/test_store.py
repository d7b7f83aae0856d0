"""Zarr store layout: chunk-aligned regions, labelled dims, completeness checks."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from youngvae.data import store

Y = np.linspace(-1.0, 1.0, 4)


@pytest.fixture
def empty_store(tmp_path):
    path = tmp_path / "s.zarr"
    store.create_store(path, 6, 3, Y, Y, {"engine": "test", "seed": 3})
    return path


def test_store_region_roundtrip(empty_store):
    images = np.random.default_rng(0).random((3, 4, 4)).astype(np.float32)
    store.write_chunk(empty_store, slice(3, 6), images, np.array([1e-7, 2e-7, 3e-7]))
    np.testing.assert_array_equal(store.read_images(empty_store, [3, 4, 5]), images)
    assert np.isnan(store.read_images(empty_store, [0])).all()
    assert store.read_attrs(empty_store)["seed"] == 3


def test_unaligned_region_is_refused(empty_store):
    with pytest.raises(ValueError, match="chunk"):
        store.write_chunk(empty_store, slice(1, 4), np.ones((3, 4, 4)), np.ones(3))


def test_check_store_reports_missing_and_mismatched_samples(empty_store):
    plan = np.array([1, 2, 3, 4, 5, 6]) * 1e-7
    store.write_chunk(empty_store, slice(3, 6), np.ones((3, 4, 4)), plan[3:] * 1.01)
    check = store.check_store(empty_store, plan)
    assert not check.ok
    text = " ".join(check.problems)
    assert "samples 0-2 are missing" in text
    assert "wavelength_m of samples 0-5 differ" in text
    store.write_chunk(empty_store, slice(0, 3), np.zeros((3, 4, 4)), plan[:3])
    store.write_chunk(empty_store, slice(3, 6), np.ones((3, 4, 4)), plan[3:])
    assert store.check_store(empty_store, plan).problems == ("samples 0-2 are all zero",)


def test_xarray_sees_a_labelled_dataset(empty_store):
    ds = xr.open_zarr(empty_store, consolidated=False)
    assert ds["images"].dims == ("sample", "y", "x")
    assert ds["wavelength_m"].attrs["units"] == "m"
    np.testing.assert_array_equal(ds["y"].values, Y)


def test_per_sample_variables_are_chunk_aligned_and_labelled_for_xarray(tmp_path):
    path = tmp_path / "v.zarr"
    store.create_store(path, 6, 3, Y, Y, {}, {"gain": ("1", "detector gain of this pattern")})
    assert store.read_sample_variable(path, "gain").shape == (6,)
    assert store.read_sample_variable(path, "distance_m") is None
    assert store.sample_variable_names(path) == ["gain"]
    store.write_chunk(path, slice(0, 3), np.ones((3, 4, 4)), np.ones(3) * 1e-7, {"gain": np.array([1.0, 1.1, 0.9])})
    np.testing.assert_array_equal(store.read_sample_variable(path, "gain")[:3], [1.0, 1.1, 0.9])
    assert np.isnan(store.read_sample_variable(path, "gain")[3:]).all()
    with pytest.raises(ValueError, match="'offset': not in the store"):
        store.write_chunk(path, slice(3, 6), np.ones((3, 4, 4)), np.ones(3), {"offset": np.ones(3)})
    ds = xr.open_zarr(path, consolidated=False)
    assert ds["gain"].dims == ("sample",) and ds["gain"].attrs["units"] == "1"
