"""The dataset stage run by Snakemake on the quick config: fan-out, one store, faults, reruns."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml

from youngvae.data import store
from youngvae.physics.plan import ChunkPlan
from youngvae.stages.dataset import KILL_ENV
from youngvae.testing import QUICK, copy_workflow, planned_jobs, snakemake

pytestmark = pytest.mark.slow

DATASET_TARGETS = (
    "results/dataset/validation.json",
    "results/dataset/wavelength_histogram.png",
    "results/dataset/example_patterns.png",
)


def quick_config(workdir: Path) -> dict:
    cfg = yaml.safe_load((workdir / "config.yaml").read_text())
    for section, values in yaml.safe_load(QUICK.read_text()).items():
        cfg[section].update(values)
    return cfg


def dataset_jobs(workdir: Path) -> list[str]:
    """Jobs a dry run of the dataset stage would execute, as 'rule' or 'rule[chunk]', sorted."""
    return planned_jobs(workdir, *DATASET_TARGETS, "--configfile", str(QUICK))


def build(workdir: Path, cores: int = 2, env: dict | None = None, check: bool = True):
    return snakemake(
        workdir,
        *DATASET_TARGETS,
        "--cores",
        str(cores),
        "--configfile",
        str(QUICK),
        "--keep-going",
        env=env,
        check=check,
    )


@pytest.fixture(scope="module")
def clean_run(quick_run) -> Path:
    return quick_run


def test_quick_run_builds_one_labelled_store(clean_run):
    cfg = quick_config(clean_run)
    ds = xr.open_zarr(clean_run / "results" / "dataset.zarr", consolidated=False)
    assert ds["images"].dims == ("sample", "y", "x")
    assert ds["images"].shape == (40, 64, 64)
    assert ds["images"].dtype == np.float32
    images = ds["images"].values
    assert np.isfinite(images).all()
    assert images.min() >= 0.0
    np.testing.assert_allclose(images.max(axis=(1, 2)), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(
        ds["wavelength_m"].values, ChunkPlan.from_config(cfg["dataset"]).all_wavelengths_m()
    )
    assert ds.attrs["simulation"]["engine"] == "lightpipes"
    assert ds.attrs["seed"] == 0
    assert ds.attrs["geometry"]["aperture_radius_m"] == pytest.approx(0.15e-3)
    assert "LightPipes" in ds.attrs["versions"]
    assert ds["images"].encoding["chunks"][0] == cfg["dataset"]["chunk_size"]
    report = json.loads((clean_run / "results/dataset/validation.json").read_text())
    assert report["ok"] and report["n_samples"] == 40
    for png in DATASET_TARGETS[1:]:
        assert (clean_run / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    markers = sorted((clean_run / "results/dataset/chunks").glob("*.json"))
    assert [m.stem for m in markers] == ["0000", "0001", "0002", "0003"]


def test_quick_run_trains_encodes_and_decodes(clean_run):
    cfg = quick_config(clean_run)
    results = clean_run / "results"
    history = pd.read_csv(results / "train/history.csv")
    assert list(history["epoch"]) == list(range(1, cfg["train"]["epochs"] + 1))
    assert {"loss", "reconstruction", "kl", "val_loss", "val_reconstruction", "val_kl"} <= set(
        history.columns
    )
    assert np.isfinite(history.drop(columns="epoch").to_numpy()).all()
    assert not (results / "train/checkpoint").exists()

    latent = pd.read_csv(results / "encode/latent.csv")
    assert len(latent) == cfg["dataset"]["n_samples"]
    assert (latent["split"] == "train").sum() == cfg["train"]["n_train"]
    assert (latent["split"] == "val").sum() == cfg["train"]["n_val"]
    assert {"sample", "wavelength_m", "z_mean_0", "z_log_var_0"} <= set(latent.columns)
    metrics = json.loads((results / "encode/metrics.json").read_text())
    for key in ("pearson", "spearman", "calibration_rmse_nm"):
        assert key in metrics

    zgrid = xr.open_zarr(results / "decode/zgrid.zarr", consolidated=False)
    assert zgrid["images"].shape == (9, 64, 64)
    np.testing.assert_allclose(zgrid["z"].values, np.arange(0, 4.01, 0.5))
    decode = json.loads((results / "decode/metrics.json").read_text())
    assert len(decode["per_z"]) == 9 and decode["grid"] == "paper"
    lo, hi = decode["training_z_range"]
    assert [row["in_training_range"] for row in decode["per_z"]] == [lo <= z <= hi for z in decode["z"]]
    assert decode["n_outside_training_range"] == sum(not (lo <= z <= hi) for z in decode["z"])
    assert all(0 <= row["mse"] <= 1 and -1 <= row["ssim"] <= 1 for row in decode["per_z"])
    for png in ("train/loss_curves.png", "encode/z_vs_wavelength.png", "decode/zgrid.png"):
        assert (results / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_killed_chunk_rerun_is_bit_identical_to_a_clean_run(clean_run, tmp_path):
    workdir = copy_workflow(tmp_path / "faulty")
    failed = build(workdir, env={KILL_ENV: "1"}, check=False)
    assert failed.returncode != 0
    chunks = workdir / "results/dataset/chunks"
    assert sorted(m.stem for m in chunks.glob("*.json")) == ["0000", "0002", "0003"]
    # The killed job wrote part of its region before dying: the store is not complete.
    assert not store.check_store(
        workdir / "results/dataset.zarr",
        ChunkPlan.from_config(quick_config(workdir)["dataset"]).all_wavelengths_m(),
    ).ok

    assert dataset_jobs(workdir) == [
        "plot_dataset",
        "simulate_chunk[0001]",
        "validate_dataset",
    ]
    build(workdir)
    for name in ("images", "wavelength_m"):
        clean = xr.open_zarr(clean_run / "results/dataset.zarr", consolidated=False)[name]
        rerun = xr.open_zarr(workdir / "results/dataset.zarr", consolidated=False)[name]
        assert np.array_equal(clean.values, rerun.values), name
