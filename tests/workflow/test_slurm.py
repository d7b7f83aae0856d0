"""The SLURM profile on a real scheduler: a one-node cluster on this machine.

tools/slurm/start_local_slurm.sh installs slurm-wlm and munge (apt-get) if missing and starts
slurmctld + slurmd. These tests skip ONLY where that script cannot install them (exit code 3:
not root, no apt-get, apt-get failed); any other problem is a failure.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time

import pytest

from youngvae.testing import QUICK, REPO, copy_workflow, snakemake

pytestmark = pytest.mark.slow

SCRIPT = REPO / "tools" / "slurm" / "start_local_slurm.sh"
CANNOT_INSTALL = 3
SUBMITTED = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+)")
ARRAY = re.compile(
    r"Submitted array job with Snakemake IDs ([\d,]+) and SLURM job ID (\d+)\. "
    r"The individual task IDs are (\d+)-(\d+)\."
)
QUICK_OUTPUTS = (
    "results/dataset/plan.csv",
    "results/dataset/chunks/0000.json",
    "results/dataset/chunks/0001.json",
    "results/dataset/chunks/0002.json",
    "results/dataset/chunks/0003.json",
    "results/dataset/validation.json",
    "results/dataset/wavelength_histogram.png",
    "results/dataset/example_patterns.png",
    "results/dataset.zarr/zarr.json",
    "results/model/vae.keras",
    "results/train/history.csv",
    "results/train/split.csv",
    "results/train/loss_curves.png",
    "results/encode/latent.csv",
    "results/encode/metrics.json",
    "results/encode/calibration.json",
    "results/encode/latent_histogram.png",
    "results/encode/z_vs_wavelength.png",
    "results/decode/metrics.json",
    "results/decode/zgrid.png",
    "results/decode/zgrid.zarr/zarr.json",
)


def slurm_args(*extra: str, configfiles: tuple[str, ...] = ()) -> list[str]:
    """The SLURM profile, plus what a one-node test cluster needs on top of it; `configfiles`
    are merged over the quick config (one --configfile option: a second would replace the first).

    No --max-threads: the TensorFlow rules ask for 8 cores, and the workflow caps that at the
    largest node's CPUs (workflow/rules/common.smk, tf_threads), as a user's run would need.
    --slurm-init-seconds-before-status-checks: the plugin waits 40 s before its first squeue
    by default (right for a busy cluster); 2 s keeps this test short.
    """
    return [
        "--profile",
        "profiles/slurm",
        "--configfile",
        str(QUICK),
        *configfiles,
        "--slurm-init-seconds-before-status-checks",
        "2",
        "--slurm-keep-successful-logs",
        *extra,
    ]


@pytest.fixture(scope="session")
def slurm_cluster():
    """Start (or find) the local cluster; its partition name. Stops it after the session
    only if it was not running before."""
    was_up = (
        subprocess.run(["bash", str(SCRIPT), "status"], capture_output=True).returncode == 0
    )
    proc = subprocess.run(
        ["bash", str(SCRIPT), "start"], capture_output=True, text=True, timeout=900
    )
    if proc.returncode == CANNOT_INSTALL:
        pytest.skip(f"cannot install a local SLURM cluster: {proc.stderr.strip()}")
    assert proc.returncode == 0, f"{SCRIPT} failed:\n{proc.stdout}\n{proc.stderr}"
    assert shutil.which("sbatch") and shutil.which("squeue")
    yield "debug"
    if not was_up:
        subprocess.run(["bash", str(SCRIPT), "stop"], capture_output=True, timeout=120)


def slurm_state(jobid: str) -> str:
    out = subprocess.run(
        ["squeue", "-h", "--states=all", "-o", "%T", "-j", jobid],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return out[0] if out else ""


@pytest.fixture(scope="module")
def slurm_run(slurm_cluster, tmp_path_factory):
    workdir = copy_workflow(tmp_path_factory.mktemp("slurm"))
    start = time.monotonic()
    result = snakemake(workdir, *slurm_args())
    return workdir, result, time.monotonic() - start


def test_quick_run_on_slurm_writes_every_output(slurm_run):
    workdir, result, seconds = slurm_run
    missing = [f for f in QUICK_OUTPUTS if not (workdir / f).exists()]
    assert not missing, f"missing after the SLURM run: {missing}\n{result.stderr[-3000:]}"
    print(f"quick run on SLURM: {seconds:.0f} s")
    # train asked for 8 threads; the node has fewer, so the workflow asked for all of its CPUs
    train = re.search(r"rule train:\n(?:\s+.+\n)*?\s+threads: (\d+)", result.stderr)
    node_cpus = max(int(c.rstrip("+")) for c in subprocess.run(
        ["sinfo", "-h", "-o", "%c"], capture_output=True, text=True, check=True).stdout.split())
    assert train and int(train.group(1)) == min(8, node_cpus), result.stderr[-3000:]


def test_every_job_went_through_sbatch(slurm_run):
    workdir, result, _ = slurm_run
    log = result.stdout + result.stderr
    # Snakemake's own count of the jobs it ran (`all` is local and submits nothing).
    stats = re.search(r"Job stats:\njob\s+count\n[-\s]+\n(.*?)\ntotal\s+(\d+)", log, re.S)
    assert stats, log[-3000:]
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", stats.group(1), re.M))
    expected = sum(int(n) for rule, n in counts.items() if rule != "all")

    singles = SUBMITTED.findall(log)
    arrays = ARRAY.findall(log)
    submitted = {sm_id for sm_id, _ in singles}
    slurm_ids = [slurm_id for _, slurm_id in singles]
    for sm_ids, array_id, first, last in arrays:
        submitted.update(sm_ids.split(","))
        slurm_ids += [f"{array_id}_{i}" for i in range(int(first), int(last) + 1)]
    assert len(submitted) == expected, (counts, singles, arrays)
    # The 4 simulate_chunk jobs of the quick config went out as ONE array submission.
    assert int(counts["simulate_chunk"]) == 4
    assert len(arrays) == 1 and arrays[0][2:] == ("1", "4"), arrays
    assert len(singles) + len(arrays) == expected - 3
    # SLURM itself ran them all to completion (MinJobAge keeps them in squeue for an hour).
    states = {jobid: slurm_state(jobid) for jobid in slurm_ids}
    assert set(states.values()) == {"COMPLETED"}, states
    # ... and the plugin kept each job's SLURM log.
    assert list((workdir / ".snakemake/slurm_logs").rglob("*.log"))


def test_each_training_of_a_study_is_its_own_slurm_job(slurm_run):
    """The quick study on the finished quick run's dataset: every run's training, encoding and
    decoding went out through sbatch, each training as a SLURM job of its own. One seed of the
    study (2 runs, not 4): two trainings show the same, at half the cost of the slowest test."""
    workdir, _, _ = slurm_run
    one_seed = workdir / "one_seed.yaml"
    one_seed.write_text("studies:\n  quick:\n    train.seed: [0]\n")
    result = snakemake(workdir, "study_quick", *slurm_args(configfiles=(str(one_seed),)))
    log = result.stdout + result.stderr
    trains = re.findall(r"rule study_train:\n(?:\s+.+\n)*?\s+jobid: (\d+)", log)
    assert len(trains) == 2, log[-3000:]
    submitted = dict(SUBMITTED.findall(log))
    assert set(trains) <= set(submitted), (trains, submitted)
    slurm_ids = {submitted[job] for job in trains}
    assert len(slurm_ids) == 2
    assert {slurm_state(jobid) for jobid in slurm_ids} == {"COMPLETED"}
    summary = (workdir / "results/studies/quick/summary.csv").read_text().splitlines()
    assert len(summary) == 1 + 2


def test_a_study_store_is_built_through_sbatch_by_the_same_fan_out(slurm_run):
    """A dataset-side study key (quick_engine: the fresnel engine) on SLURM: its chunk jobs go out
    as one array, the store's other jobs each as a SLURM job; every job completes (the store's
    name holds '=' and '.', which pass through --target-jobs)."""
    workdir, _, _ = slurm_run
    target = "results/datasets/simulation.engine=fresnel/dataset/validation.json"
    result = snakemake(workdir, target, *slurm_args())
    log = result.stdout + result.stderr
    assert (workdir / target).is_file(), log[-3000:]
    arrays = ARRAY.findall(log)
    assert len(arrays) == 1 and arrays[0][2:] == ("1", "4"), arrays  # 4 study_simulate_chunk jobs
    singles = dict(SUBMITTED.findall(log))
    assert len(singles) == 3, singles  # plan, init_store, validate
    slurm_ids = list(singles.values()) + [f"{arrays[0][1]}_{i}" for i in range(1, 5)]
    assert {slurm_state(jobid) for jobid in slurm_ids} == {"COMPLETED"}


def test_unknown_partition_fails_before_any_job(slurm_cluster, tmp_path):
    workdir = copy_workflow(tmp_path / "wf")
    keep = workdir / "results" / "keep.txt"
    keep.parent.mkdir(parents=True)
    keep.write_text("precious")
    result = snakemake(
        workdir,
        *slurm_args("--set-resources", "train:slurm_partition=nosuchpartition"),
        check=False,
    )
    assert result.returncode != 0
    err = result.stdout + result.stderr
    assert "slurm_partition='nosuchpartition' (rules train) is not a partition" in err, err
    assert f"sinfo lists: {slurm_cluster}" in err
    assert "has been submitted with SLURM jobid" not in err
    assert keep.read_text() == "precious"
    assert sorted(p.name for p in (workdir / "results").iterdir()) == ["keep.txt"]


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        # Snakemake refuses it (an sbatch --mem -1 would fail at submission).
        ("simulate_chunk:mem_mb=-1", "Resource 'mem_mb' was given value '-1', which is not a"),
        # The plugin would drop -t for 0 (no limit at all); youngvae.resources refuses it.
        ("train:runtime=0", "rule train: resource runtime=0 (minutes) must be a whole number"),
    ],
    ids=["negative-mem", "zero-runtime"],
)
def test_bad_size_fails_before_any_submission(slurm_cluster, tmp_path, resource, message):
    workdir = copy_workflow(tmp_path / "wf")
    result = snakemake(workdir, *slurm_args("--set-resources", resource), check=False)
    assert result.returncode != 0
    err = result.stdout + result.stderr
    assert message in err, err
    assert "has been submitted with SLURM jobid" not in err
    assert not (workdir / "results").exists()


def test_cluster_generic_profile_runs_through_its_status_script(slurm_cluster, tmp_path):
    """profiles/cluster-generic with SLURM's sbatch in place of qsub: the plugin submits, and
    profiles/cluster-generic/status.py (SCHEDULER=slurm) reports the job finished."""
    workdir = copy_workflow(tmp_path / "wf")
    result = snakemake(
        workdir,
        "--profile",
        "profiles/cluster-generic",
        "--configfile",
        str(QUICK),
        "--cluster-generic-submit-cmd",
        "sbatch --parsable -c {threads} --mem {resources.mem_mb} -t {resources.runtime} "
        f"-o {tmp_path}/%j.log",
        "--cluster-generic-cancel-cmd",
        "scancel",
        "results/dataset/plan.csv",
        env={"SCHEDULER": "slurm"},
    )
    jobid = re.search(r"Submitted job \d+ with external jobid '(\d+)'", result.stderr)
    assert jobid, result.stderr
    assert slurm_state(jobid.group(1)) == "COMPLETED"
    assert (workdir / "results/dataset/plan.csv").exists()


def test_a_job_larger_than_every_node_fails_before_any_submission(slurm_cluster, tmp_path):
    """A job asking for more cores than any node has would stay pending forever
    (PartitionConfig); the run stops at start-up naming the rule, the resource and the node."""
    workdir = copy_workflow(tmp_path / "wf")
    result = snakemake(workdir, *slurm_args("--set-threads", "train=64"), check=False)
    err = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"rule train: threads=64, but the largest node of partition '{slurm_cluster}' has" in err, err
    assert "has been submitted with SLURM jobid" not in err
    assert not (workdir / "results").exists()
