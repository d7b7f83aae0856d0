"""Shared fixtures: a throw-away copy of the workflow to run Snakemake in."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
QUICK = REPO / "tests" / "configs" / "quick.yaml"
WORKFLOW_FILES = (
    "Snakefile",
    "config.yaml",
    "workflow",
    "envs",
    "src",
    "tests/configs",
    "profiles",
)


def copy_workflow(dest: Path) -> Path:
    """Copy what a run needs (not results/, .snakemake/) into `dest`."""
    for name in WORKFLOW_FILES:
        src = REPO / name
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, target, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(src, target)
    return dest


def snakemake(workdir: Path, *args: str, env: dict | None = None, check: bool = True):
    """Run the snakemake of this interpreter's environment in `workdir`; return the result."""
    exe = Path(sys.executable).with_name("snakemake")
    cmd = [str(exe) if exe.exists() else "snakemake", *args]
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    result = subprocess.run(
        cmd, cwd=workdir, env=full_env, capture_output=True, text=True, timeout=900
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


def planned_jobs(workdir: Path, *args: str) -> list[str]:
    """Jobs a dry run of ``snakemake *args`` would execute, sorted: 'rule', or 'rule[w1,w2]'
    with the job's wildcard values (e.g. 'simulate_chunk[0001]'). Targets go first in `args`
    (``--configfile`` takes several values). Checked against Snakemake's own job count."""
    out = snakemake(workdir, *args, "--dry-run")
    text = out.stdout + out.stderr
    jobs: list[str] = []
    rule = None
    for line in text.splitlines():
        if m := re.match(r"^(?:local)?rule (\w+):$", line.rstrip()):
            rule = m.group(1)
            jobs.append(rule)
        elif rule and (m := re.match(r"^\s+wildcards: (.+)$", line)):
            values = [kv.split("=", 1)[1] for kv in m.group(1).split(", ")]
            jobs[-1] = f"{rule}[{','.join(values)}]"
        elif not line.startswith((" ", "\t")):
            rule = None
    if "Nothing to be done" in text:
        assert jobs == [], text
    else:
        total = re.search(r"^total\s+(\d+)\s*$", text, re.MULTILINE)
        assert total and int(total.group(1)) == len(jobs), text
    return sorted(jobs)


@pytest.fixture
def workflow_copy(tmp_path: Path) -> Path:
    return copy_workflow(tmp_path / "wf")


@pytest.fixture(scope="session")
def quick_run(tmp_path_factory) -> Path:
    """The whole quick workflow (dataset, train, encode, decode_grid), run once per session.

    Tests that only read its results or dry-run it may share it; tests that change files in it
    must copy it first (``shutil.copytree(quick_run, tmp_path / "wf", symlinks=True)``).
    """
    workdir = copy_workflow(tmp_path_factory.mktemp("quick"))
    snakemake(workdir, "--cores", "2", "--configfile", str(QUICK))
    return workdir
