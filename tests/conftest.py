"""Shared fixtures: a throw-away copy of the workflow to run Snakemake in."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
QUICK = REPO / "tests" / "configs" / "quick.yaml"
WORKFLOW_FILES = ("Snakefile", "config.yaml", "workflow", "envs", "src", "tests/configs")


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


@pytest.fixture
def workflow_copy(tmp_path: Path) -> Path:
    return copy_workflow(tmp_path / "wf")
