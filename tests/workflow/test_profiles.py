"""Profiles and job resources, through Snakemake itself (no cluster needed): the profiles parse,
and a bad threads/resources value is refused at start-up naming the rule and the resource,
leaving results/ as it was.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from youngvae.checks.resources import slurm_partitions
from youngvae.testing import QUICK, snakemake

pytestmark = pytest.mark.slow


def dry_run_jobs(workdir: Path, *args: str) -> str:
    out = snakemake(workdir, "-n", "--configfile", str(QUICK), *args)
    return out.stdout + out.stderr


def test_default_profile_is_applied_automatically(workflow_copy):
    log = dry_run_jobs(workflow_copy)
    assert "workflow specific profile profiles/default" in log


@pytest.mark.parametrize(
    "profiles",
    [["profiles/slurm"], ["profiles/slurm", "profiles/slurm-gpu"], ["profiles/cluster-generic"]],
    ids=["slurm", "slurm+gpu", "cluster-generic"],
)
def test_cluster_profiles_dry_run(workflow_copy, profiles):
    args = [a for p in profiles for a in ("--profile", p)]
    partitions = slurm_partitions()
    if "profiles/slurm-gpu" in profiles and partitions is not None and "gpu" not in partitions:
        # A SLURM cluster answers here (the local test cluster) and has no `gpu` partition.
        out = snakemake(workflow_copy, "-n", "--configfile", str(QUICK), *args, check=False)
        assert out.returncode != 0
        assert "slurm_partition='gpu' (rules train) is not a partition" in out.stdout + out.stderr
        return
    log = dry_run_jobs(workflow_copy, *args)
    assert "simulate_chunk" in log
    if "profiles/slurm-gpu" in profiles:
        train = log[log.index("rule train:") :]
        train = train[: train.index("\n\n")]
        assert "gpu=1" in train and "slurm_partition=gpu" in train, train


@pytest.mark.parametrize(
    ("args", "message"),
    [
        # Snakemake itself refuses negative sizes and runtimes (without naming the rule) ...
        (["--set-resources", "train:mem_mb=-1"], "'mem_mb' was given value '-1', which is not"),
        (["--set-resources", "train:runtime=-3"], "'runtime' was given value '-3', which is not"),
        # ... but not zero, which SLURM reads as "no limit": youngvae.resources does.
        (["--set-resources", "simulate_chunk:mem_mb=0"], "rule simulate_chunk: resource mem_mb=0"),
        (["--set-resources", "encode:runtime=0"], "rule encode: resource runtime=0 (minutes)"),
        (["--set-threads", "train=0"], "rule train: threads=0 must be a whole number >= 1"),
    ],
    ids=["negative-mem", "negative-runtime", "zero-mem", "zero-runtime", "zero-threads"],
)
def test_bad_resources_stop_the_run_and_keep_results(workflow_copy, args, message):
    keep = workflow_copy / "results" / "dataset" / "plan.csv"
    keep.parent.mkdir(parents=True)
    keep.write_text("sample,chunk,wavelength_m\n")
    before = sorted(p.relative_to(workflow_copy) for p in (workflow_copy / "results").rglob("*"))
    out = snakemake(
        workflow_copy, "--cores", "2", "--configfile", str(QUICK), *args, check=False
    )
    assert out.returncode != 0
    assert message in out.stdout + out.stderr, out.stderr
    after = sorted(p.relative_to(workflow_copy) for p in (workflow_copy / "results").rglob("*"))
    assert after == before
    assert keep.read_text() == "sample,chunk,wavelength_m\n"


def test_bad_value_in_a_profile_is_named(workflow_copy, tmp_path):
    profile = tmp_path / "bad"
    profile.mkdir()
    (profile / "config.yaml").write_text("set-resources:\n  plot_dataset:\n    runtime: 0\n")
    out = snakemake(
        workflow_copy, "-n", "--configfile", str(QUICK), "--profile", str(profile), check=False
    )
    assert out.returncode != 0
    assert "rule plot_dataset: resource runtime=0 (minutes) must be a whole number > 0" in (
        out.stdout + out.stderr
    )
