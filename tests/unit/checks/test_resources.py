"""youngvae.checks.resources: bad threads/resources are named; profiles and rules declare them.

The same checks through a real Snakemake start-up are in tests/workflow/test_profiles.py.
"""

from __future__ import annotations

import re

import pytest
import yaml

from youngvae.checks.resources import (
    ResourceError,
    check_resources,
    partition_problems,
    resource_problems,
)
from youngvae.testing import REPO

GOOD = {"mem_mb": 1000, "runtime": 30, "slurm_partition": "debug"}


def test_sane_resources_have_no_problems():
    assert resource_problems("train", 8, GOOD) == []
    check_resources({"train": (8, GOOD)}, available_partitions=["debug", "gpu"])


@pytest.mark.parametrize(
    ("name", "value"),
    [("mem_mb", -1), ("mem_mb", 0), ("runtime", 0), ("runtime", -5), ("disk_mb", 0),
     ("cpus_per_task", 0), ("mem_mb", "lots"), ("gpu", -1)],
)
def test_non_positive_or_non_integer_sizes_are_named(name, value):
    problems = resource_problems("simulate_chunk", 1, {**GOOD, name: value})
    assert problems == [
        f"rule simulate_chunk: resource {name}={value!r}"
        + (" (minutes)" if name == "runtime" else "")
        + " must be a whole number > 0"
    ]


@pytest.mark.parametrize("threads", [0, -2, 1.5, True])
def test_threads_below_one_are_named(threads):
    assert resource_problems("train", threads, GOOD) == [
        f"rule train: threads={threads!r} must be a whole number >= 1"
    ]


def test_unset_resources_are_left_to_the_executor():
    assert resource_problems("plan_wavelengths", None, {"mem_mb": None}) == []


def test_unknown_partition_names_the_rules_and_the_known_ones():
    assert partition_problems({"gpu": {"train", "encode"}}, ["debug"]) == [
        "resource slurm_partition='gpu' (rules encode, train) is not a partition of this "
        "SLURM cluster; sinfo lists: debug"
    ]
    assert partition_problems({"debug": {"train"}}, ["debug"]) == []


def test_check_resources_lists_every_problem_at_once():
    with pytest.raises(ResourceError) as err:
        check_resources(
            {"a": (0, {"mem_mb": -1}), "b": (1, {"runtime": 0, "slurm_partition": "x"})},
            available_partitions=["debug"],
        )
    text = str(err.value)
    for part in ("rule a: threads=0", "rule a: resource mem_mb=-1", "rule b: resource runtime=0",
                 "slurm_partition='x' (rules b)"):
        assert part in text


def test_partitions_are_not_checked_without_a_cluster():
    check_resources({"train": (1, {**GOOD, "slurm_partition": "anything"})}, None)


PROFILES = sorted(p for p in (REPO / "profiles").glob("*/config.yaml"))


def test_the_four_profiles_exist():
    assert {p.parent.name for p in PROFILES} == {"default", "slurm", "slurm-gpu", "cluster-generic"}


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.parent.name)
def test_every_profile_key_has_a_comment_above_it(profile):
    lines = profile.read_text().splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^\s*[\w-]+:", line) and not line.lstrip().startswith("#"):
            above = lines[i - 1].strip() if i else ""
            assert above.startswith("#"), f"{profile}: no comment above {line!r}"


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.parent.name)
def test_no_profile_turns_on_conda(profile):
    assert "software-deployment-method" not in yaml.safe_load(profile.read_text())


def test_default_profile_sets_no_cores_and_no_executor():
    keys = set(yaml.safe_load((REPO / "profiles/default/config.yaml").read_text()))
    assert not keys & {"cores", "jobs", "executor", "software-deployment-method"}


def test_every_rule_declares_threads_and_resources():
    """Profiles only map sizes: every rule that runs something names threads, mem_mb and runtime
    (target-only rules, input and nothing else, like `studies`, run nothing)."""
    rules = {}
    for smk in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        text = smk.read_text()
        for name, body in re.findall(r"^rule (\w+):\n(.*?)(?=^\S|\Z)", text, re.S | re.M):
            rules[name] = body
    assert {"simulate_chunk", "train", "encode", "decode_grid"} <= set(rules)
    assert "studies" in rules
    for name, body in rules.items():
        if not re.search(r"^    (output|script|shell|run):", body, re.M):
            continue  # a target: nothing to size
        assert re.search(r"^    threads: ", body, re.M), f"rule {name} declares no threads"
        assert re.search(r"^        mem_mb=", body, re.M), f"rule {name} declares no mem_mb"
        assert re.search(r"^        runtime=", body, re.M), f"rule {name} declares no runtime"
        assert "workflow.cores" not in body, f"rule {name}: workflow.cores breaks cluster runs"


@pytest.fixture
def status_script():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "cluster_status", REPO / "profiles" / "cluster-generic" / "status.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("scheduler", "replies", "expected"),
    [
        ("pbs", {("qstat", "-x"): (0, "    job_state = R\n")}, "running"),
        ("pbs", {("qstat", "-x"): (0, "    job_state = F\n    Exit_status = 0\n")}, "success"),
        ("pbs", {("qstat", "-x"): (0, "    job_state = F\n    Exit_status = 137\n")}, "failed"),
        ("sge", {("qstat", "-j"): (0, "job_number: 7\n")}, "running"),
        ("sge", {("qstat", "-j"): (1, "Following jobs do not exist: 7"),
                 ("qacct", "-j"): (0, "failed       0\nexit_status  0\n")}, "success"),
        ("sge", {("qstat", "-j"): (1, "Following jobs do not exist: 7"),
                 ("qacct", "-j"): (0, "failed       0\nexit_status  1\n")}, "failed"),
        ("lsf", {("bjobs", "-noheader"): (0, "RUN\n")}, "running"),
        ("lsf", {("bjobs", "-noheader"): (0, "DONE\n")}, "success"),
        ("lsf", {("bjobs", "-noheader"): (0, "EXIT\n")}, "failed"),
        ("slurm", {("squeue", "-h"): (0, "PENDING\n")}, "running"),
        ("slurm", {("squeue", "-h"): (0, "COMPLETED\n")}, "success"),
        ("slurm", {("squeue", "-h"): (0, "OUT_OF_MEMORY\n")}, "failed"),
        ("slurm", {("squeue", "-h"): (0, ""), ("sacct", "-n"): (0, "TIMEOUT\n")}, "failed"),
    ],
)
def test_status_script_maps_scheduler_states(
    status_script, monkeypatch, capsys, scheduler, replies, expected
):
    monkeypatch.setenv("SCHEDULER", scheduler)
    monkeypatch.setattr(status_script, "run", lambda *cmd: replies.get(cmd[:2], (1, "")))
    assert status_script.main(["status.py", "7"]) == 0
    assert capsys.readouterr().out.strip() == expected


def test_status_script_reads_lsf_submission_lines(status_script, monkeypatch, capsys):
    monkeypatch.setenv("SCHEDULER", "lsf")
    seen = []
    monkeypatch.setattr(status_script, "run", lambda *cmd: seen.append(cmd) or (0, "DONE\n"))
    status_script.main(["status.py", "Job <42> is submitted to queue <normal>."])
    assert seen[0][-1] == "42"
