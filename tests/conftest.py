"""Shared fixtures: a throw-away copy of the workflow to run Snakemake in (helpers: youngvae.testing)."""

from __future__ import annotations

from pathlib import Path

import pytest

from youngvae.testing import QUICK, copy_workflow, snakemake


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
