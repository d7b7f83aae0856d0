"""Systematics end to end on the quick config: a store built with them is the same on 1 and on 2
cores and records every drawn nuisance; the quick robustness study trains on such stores."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml

from youngvae.data import store
from youngvae.physics.systematics import NUISANCES
from youngvae.testing import QUICK, copy_workflow, planned_jobs, snakemake

pytestmark = pytest.mark.slow

NOISY = {"systematics": {
    "source": {"bandwidth_nm": 20, "spectral_samples": 3, "label_error_nm": 5},
    "geometry": {"separation_jitter_mm": 0.01, "distance_jitter_m": 0.005, "screen_shift_mm": 0.05},
    "detector": {"psf_sigma_px": 0.8, "photons_per_pattern": 1.0e5, "read_noise_e": 3,
                 "gain_jitter": 0.02, "bit_depth": 10},
}}
VALIDATION = "results/dataset/validation.json"


@pytest.fixture(scope="module")
def noisy(tmp_path_factory):
    workdir = copy_workflow(tmp_path_factory.mktemp("systematics"))
    extra = workdir / "noisy.yaml"
    extra.write_text(yaml.safe_dump(NOISY))
    args = ("--configfile", str(QUICK), str(extra))
    snakemake(workdir, VALIDATION, "--cores", "1", *args)
    path = workdir / "results" / "dataset.zarr"
    one_core = {"images": store.read_images(path)} | {n: store.read_sample_variable(path, n) for n in NUISANCES}
    snakemake(workdir, VALIDATION, "--cores", "2", "--forcerun", "init_store", *args)
    return workdir, args, one_core


def test_a_store_with_systematics_is_the_same_on_one_and_on_two_cores(noisy):
    workdir, _, one_core = noisy
    path = workdir / "results" / "dataset.zarr"
    np.testing.assert_array_equal(store.read_images(path), one_core["images"])
    for name in NUISANCES:
        np.testing.assert_array_equal(store.read_sample_variable(path, name), one_core[name])


def test_the_store_records_true_and_recorded_wavelength_and_every_nuisance(noisy):
    workdir, _, _ = noisy
    path = workdir / "results" / "dataset.zarr"
    ds = xr.open_zarr(path, consolidated=False)
    for name, (units, _) in NUISANCES.items():
        assert ds[name].dims == ("sample",) and ds[name].attrs["units"] == units
        assert np.isfinite(ds[name].values).all()
    assert ds.attrs["systematics"]["detector"]["bit_depth"] == 10
    offset_nm = (ds["recorded_wavelength_m"] - ds["wavelength_m"]).values * 1e9
    assert 0 < np.abs(offset_nm).max() < 25 and abs(offset_nm.std() - 5) < 2.5  # 40 draws of σ = 5 nm
    assert ds["aperture_radius_m"].values.tolist() == [0.15e-3] * 40  # no radius jitter asked
    assert json.loads((workdir / VALIDATION).read_text())["ok"]


def test_an_unchanged_noisy_config_reruns_nothing_and_a_changed_effect_reinits(noisy):
    workdir, args, _ = noisy
    assert planned_jobs(workdir, VALIDATION, *args) == []
    extra = workdir / "blur.yaml"
    extra.write_text(yaml.safe_dump({"systematics": {"detector": {"psf_sigma_px": 1.5}}}))
    jobs = planned_jobs(workdir, VALIDATION, *args, str(extra))
    assert jobs == sorted(["init_store", "validate_dataset", *(f"simulate_chunk[{c:04d}]" for c in range(4))])


@pytest.fixture(scope="module")
def robustness(tmp_path_factory):
    workdir = copy_workflow(tmp_path_factory.mktemp("robustness"))
    snakemake(workdir, "study_quick_robustness", "--cores", "2", "--configfile", str(QUICK))
    return workdir


def test_the_quick_robustness_study_reports_against_true_and_recorded_wavelengths(robustness):
    base = robustness / "results" / "studies" / "quick_robustness"
    table = pd.read_csv(base / "summary.csv")
    assert table["systematics.detector.photons_per_pattern"].tolist() == [300.0, 300.0]
    assert table["systematics.source.label_error_nm"].tolist() == [0, 30]
    assert table["run"].iloc[0] == "photons_per_pattern=300__label_error_nm=0__distance_jitter_m=0.01"
    assert table["abs_spearman"].notna().all()
    assert (table["distance_floor_rmse_nm"] > 0).all()  # both stores have a 10 mm distance jitter
    for run, error in zip(table["run"], table["systematics.source.label_error_nm"]):
        metrics = json.loads((base / run / "encode" / "metrics.json").read_text())
        assert metrics["calibration_fitted_on"] == "recorded_wavelength_m"
        assert np.isfinite(metrics["recorded_calibration_rmse_nm"])
        # λ and the drawn distance vary: which unit reads which (the recorded λ is a label)
        parts = metrics["disentanglement"]
        assert parts["factors"] == ["wavelength_m", "distance_m"]
        assert len(parts["abs_spearman_matrix"]["distance_m"]) == len(parts["units"])
        assert 0 <= parts["mig"] <= 1 or np.isnan(parts["mig"])
    stores = sorted(p.name for p in (robustness / "results" / "datasets").iterdir())
    assert len(stores) == 2 and all("systematics.detector.photons_per_pattern=300__" in s for s in stores)
    # 300 photo-electrons over the screen: the brightest pixel holds a few, in whole electrons
    dim = robustness / "results" / "datasets" / (
        "systematics.detector.photons_per_pattern=300__systematics.geometry.distance_jitter_m=0.01"
        "__systematics.source.label_error_nm=0") / "dataset.zarr"
    image = store.read_images(dim, [0])[0]
    levels = np.unique(image[image > 0])
    assert len(levels) < 20 and np.allclose(levels / levels[0], np.round(levels / levels[0]))


def test_a_study_run_reruns_only_where_it_does_not_override_a_main_dataset_key(robustness, tmp_path):
    overridden = tmp_path / "photons.yaml"
    overridden.write_text(yaml.safe_dump({"systematics": {"detector": {"photons_per_pattern": 50.0}}}))
    args = ("study_quick_robustness", "--configfile", str(QUICK))
    assert planned_jobs(robustness, *args, str(overridden)) == []
    shared = tmp_path / "blur.yaml"
    shared.write_text(yaml.safe_dump({"systematics": {"detector": {"psf_sigma_px": 1.0}}}))
    jobs = planned_jobs(robustness, *args, str(shared))
    table = pd.read_csv(robustness / "results/studies/quick_robustness/summary.csv")
    stores = sorted(p.name for p in (robustness / "results" / "datasets").iterdir())
    expected = [f"{rule}[quick_robustness,{run}]" for run in table["run"]
                for rule in ("study_train", "study_encode", "study_decode_grid", "study_compare_generated")]
    for ds in stores:  # a re-init per store (the plan depends on `dataset` only) and every chunk
        expected += [f"study_init_store[{ds}]", f"study_validate_dataset[{ds}]"]
        expected += [f"study_simulate_chunk[{ds},{c:04d}]" for c in range(4)]
    assert jobs == sorted([*expected, "summarize_study[quick_robustness]", "study_quick_robustness"])
