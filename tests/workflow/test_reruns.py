"""Incremental reruns: after a finished quick run, exactly which jobs does a change rerun?

Each case dry-runs the finished quick run (the session's `quick_run`) with one change: a config
override passed as a second ``--configfile`` after tests/configs/quick.yaml (merged over it), or,
in a copy of the run, an edited script or a deleted chunk marker. Snakemake reruns a job when its
params change (a config value it reads), when an input is newer or will be rebuilt, when an
output is missing, or when its script is newer than its outputs (the code trigger).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml

from youngvae.testing import QUICK, planned_jobs, snakemake

pytestmark = pytest.mark.slow


def chunks(n: int) -> list[str]:
    return [f"simulate_chunk[{i:04d}]" for i in range(n)]


REPORT = ["tabulate_results", "all"]  # downstream of every model job (metrics, benchmarks)
MODEL = ["train", "encode", "decode_grid", "compare_generated", *REPORT]


def dataset(n_chunks: int) -> list[str]:
    return [
        "plan_wavelengths",
        "init_store",
        *chunks(n_chunks),
        "validate_dataset",
        "plot_dataset",
    ]


def jobs_after_config_change(workdir: Path, tmp_path: Path, override: dict) -> list[str]:
    path = tmp_path / "override.yaml"
    path.write_text(yaml.safe_dump(override))
    return planned_jobs(workdir, "--configfile", str(QUICK), str(path))


def copy_run(quick_run: Path, tmp_path: Path) -> Path:
    """A copy of the finished run: metadata (.snakemake/), timestamps and dotfiles kept."""
    return Path(shutil.copytree(quick_run, tmp_path / "wf", symlinks=True))


def test_unchanged_config_reruns_nothing(quick_run):
    out = snakemake(quick_run, "--dry-run", "--configfile", str(QUICK))
    assert "Nothing to be done" in out.stdout + out.stderr
    assert planned_jobs(quick_run, "--configfile", str(QUICK)) == []


@pytest.mark.parametrize(
    "override, expected",
    [
        # A training knob: the model chain only, no simulation job.
        pytest.param({"train": {"epochs": 3}}, MODEL, id="train.epochs"),
        pytest.param({"train": {"batch_size": 4}}, MODEL, id="train.batch_size"),
        pytest.param({"train": {"beta": 0.5}}, MODEL, id="train.beta"),
        # The decoded z-grid: decode_grid only (and the tables that show its metrics).
        pytest.param({"decode": {"z_step": 1.0}}, ["decode_grid", *REPORT], id="decode.z_step"),
        pytest.param({"decode": {"grid": "latent"}}, ["decode_grid", *REPORT], id="decode.grid"),
        # The λ draw: a new store, every chunk, and everything downstream.
        pytest.param({"dataset": {"seed": 1}}, dataset(4) + MODEL, id="dataset.seed"),
        pytest.param(
            {"dataset": {"wavelength": {"mean_nm": 600}}},
            dataset(4) + MODEL,
            id="dataset.wavelength",
        ),
        # Growing by a whole chunk: the store's shape is fixed at init, so everything reruns,
        # the 4 chunks already computed included (their λ would not have changed).
        pytest.param({"dataset": {"n_samples": 50}}, dataset(5) + MODEL, id="dataset.n_samples"),
        # The benchmark matrix: the benchmark job (in the quick config's default target) only.
        pytest.param({"benchmark": {"steps": 1}}, ["benchmark", "all"], id="benchmark.steps"),
        # Leaving the default target drops the job from it (see also the test below).
        pytest.param({"benchmark": {"in_default_target": False}}, [], id="benchmark.in_default_target"),
    ],
)
def test_config_change_reruns_exactly(quick_run, tmp_path, override, expected):
    assert jobs_after_config_change(quick_run, tmp_path, override) == sorted(expected)


def test_toggling_in_default_target_does_not_rerun_a_finished_benchmark(quick_run, tmp_path):
    # The paper-scale matrix takes ~1 h: a benchmark run by hand (`snakemake benchmark`) must
    # stay done when the user then adds it to the default target, or takes it out again.
    path = tmp_path / "override.yaml"
    path.write_text(yaml.safe_dump({"benchmark": {"in_default_target": False}}))
    assert planned_jobs(quick_run, "benchmark", "--configfile", str(QUICK), str(path)) == []


def test_latent_grid_reruns_decode_alone_and_stays_inside_the_training_range(quick_run, tmp_path):
    workdir = copy_run(quick_run, tmp_path)
    path = tmp_path / "latent.yaml"
    path.write_text(yaml.safe_dump({"decode": {"grid": "latent", "n_points": 5}}))
    snakemake(workdir, "--cores", "2", "--configfile", str(QUICK), str(path))
    metrics = json.loads((workdir / "results/decode/metrics.json").read_text())
    lo, hi = metrics["training_z_range"]
    assert metrics["grid"] == "latent" and len(metrics["z"]) == 5
    assert metrics["z"][0] == pytest.approx(lo) and metrics["z"][-1] == pytest.approx(hi)
    assert metrics["n_outside_training_range"] == 0
    assert all(row["in_training_range"] for row in metrics["per_z"])
    zgrid = xr.open_zarr(workdir / "results/decode/zgrid.zarr", consolidated=False)
    np.testing.assert_allclose(zgrid["z"].values, metrics["z"])
    # the encoder's calibration is where the range comes from: the same numbers
    calibration = json.loads((workdir / "results/encode/calibration.json").read_text())
    assert [lo, hi] == [calibration["z_min"], calibration["z_max"]]


def test_edited_script_reruns_its_rule_and_downstream(quick_run, tmp_path):
    workdir = copy_run(quick_run, tmp_path)
    script = workdir / "workflow" / "scripts" / "encode.py"
    script.write_text(script.read_text() + "# edited\n")  # newer than encode's outputs
    expected = ["encode", "decode_grid", "compare_generated", *REPORT]
    assert planned_jobs(workdir, "--configfile", str(QUICK)) == sorted(expected)
    # It is Snakemake's code trigger (script newer than the outputs): without it, nothing.
    others = ("mtime", "params", "input", "software-env")
    assert planned_jobs(workdir, "--configfile", str(QUICK), "--rerun-triggers", *others) == []


def test_one_chunk_reruns_alone_only_when_forced(quick_run, tmp_path):
    """No config key changes one chunk alone (see README); forcing its marker reruns just it."""
    marker = "results/dataset/chunks/0002.json"
    expected = ["simulate_chunk[0002]", "validate_dataset", "plot_dataset", *MODEL]
    forced = planned_jobs(quick_run, "--configfile", str(QUICK), "--forcerun", marker)
    assert forced == sorted(expected)
    # A lost marker alone reruns nothing: Snakemake does not rebuild a missing intermediate
    # file while everything downstream of it is present and up to date.
    workdir = copy_run(quick_run, tmp_path)
    (workdir / marker).unlink()
    assert planned_jobs(workdir, "--configfile", str(QUICK)) == []
