"""A bad config value stops a real Snakemake start-up, naming the key, deleting nothing."""

from __future__ import annotations

import pytest

from youngvae.testing import snakemake

pytestmark = pytest.mark.slow


def test_bad_config_fails_before_any_job_and_keeps_results(workflow_copy):
    """A real Snakemake start-up with a bad value: exits non-zero, names the key, deletes nothing."""
    results = workflow_copy / "results"
    results.mkdir()
    keep = results / "dataset.zarr"
    keep.mkdir()
    (keep / "zarr.json").write_text("{}")
    bad = workflow_copy / "bad.yaml"
    bad.write_text("dataset:\n  wavelength:\n    min_nm: 900\n    max_nm: 400\n")
    out = snakemake(workflow_copy, "--cores", "1", "--configfile", str(bad), check=False)
    assert out.returncode != 0
    assert "dataset.wavelength.min_nm" in out.stdout + out.stderr
    assert (keep / "zarr.json").read_text() == "{}"
    assert not (workflow_copy / "logs").exists()

    bad.write_text("geometry:\n  distance_m: -1\n")
    out = snakemake(workflow_copy, "--cores", "1", "--configfile", str(bad), check=False)
    assert out.returncode != 0
    assert "distance_m" in out.stdout + out.stderr
    assert (keep / "zarr.json").read_text() == "{}"
