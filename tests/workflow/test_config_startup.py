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


@pytest.mark.parametrize(
    ("yaml_text", "named"),
    [
        ("systematics:\n  detector:\n    bit_depth: 40\n", "bit_depth"),
        ("systematics:\n  geometry:\n    screen_shift_mm: 3\n", "'systematics.geometry.screen_shift_mm'"),
        ("systematics:\n  detector:\n    read_noise_e: 2\n", "'systematics.detector.read_noise_e'"),
    ],
    ids=["schema", "shift-off-screen", "read-noise-without-photons"],
)
def test_bad_systematics_stop_at_start_up_naming_the_key(workflow_copy, yaml_text, named):
    bad = workflow_copy / "bad.yaml"
    bad.write_text(yaml_text)
    out = snakemake(workflow_copy, "-n", "--configfile", str(bad), check=False)
    assert out.returncode != 0
    assert named in out.stdout + out.stderr, out.stdout + out.stderr
    assert not (workflow_copy / "results").exists()
