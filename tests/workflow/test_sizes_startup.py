"""Configs no job could finish stop at start-up with the estimate in the message, results/ kept."""

from __future__ import annotations

import re

import pytest
import yaml

from youngvae.testing import QUICK, snakemake

pytestmark = pytest.mark.slow


def _write(workdir, name, cfg):
    path = workdir / name
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


def test_pixels_beyond_the_cap_are_refused_by_the_schema(workflow_copy):
    bad = _write(workflow_copy, "bad.yaml", {"geometry": {"pixels": 200000}})
    out = snakemake(workflow_copy, "-n", "--configfile", bad, check=False)
    assert out.returncode != 0
    assert "200000 is greater than the maximum of 4096" in out.stdout + out.stderr


def test_a_store_larger_than_the_disk_stops_even_a_dry_run(workflow_copy):
    keep = workflow_copy / "results" / "keep.txt"
    keep.parent.mkdir(parents=True)
    keep.write_text("precious")
    bad = _write(workflow_copy, "bad.yaml", {"geometry": {"pixels": 4096},
                                             "dataset": {"n_samples": 3_000_000, "chunk_size": 1000}})
    out = snakemake(workflow_copy, "-n", "--configfile", bad, check=False)
    err = out.stdout + out.stderr
    assert out.returncode != 0
    assert "dataset store 183 TiB (3000000 × 4096² float32)" in err, err
    # config.yaml's studies build stores of their own at the same size: they count too
    assert re.search(r"the dataset store needs [\d.]+ [TP]iB \(results/dataset.zarr", err), err
    assert keep.read_text() == "precious"


def test_study_stores_count_against_the_disk_too(workflow_copy):
    bad = _write(workflow_copy, "bad.yaml", {"studies": {"big": {"geometry.pixels": [4096],
                                                                 "dataset.n_samples": [3_000_000],
                                                                 "dataset.chunk_size": [1000]}}})
    # chunk_size 1000 alone does not fit the quick config's 40 samples: only whole runs must pass
    out = snakemake(workflow_copy, "-n", "--configfile", str(QUICK), bad, check=False)
    err = out.stdout + out.stderr
    assert out.returncode != 0
    # beside the quick config's and config.yaml's study stores (a few MiB each at 64² px)
    assert re.search(r"\d+ study dataset store\(s\) under results/datasets/, 183 TiB together", err), err
    assert "(results/dataset.zarr and the studies' under results/datasets/)" in err, err


def test_the_dry_run_states_the_sizes(workflow_copy):
    out = snakemake(workflow_copy, "-n", "--configfile", str(QUICK))
    assert "sizes implied by the config: dataset store 640 KiB (40 × 64² float32)" in out.stdout + out.stderr


def test_a_job_larger_than_this_machine_stops_before_any_job(workflow_copy):
    cfg = yaml.safe_load(QUICK.read_text())
    cfg["geometry"]["pixels"] = 4096  # the VAE alone: 9.1 G parameters, ~200 GiB to train
    # ... on few patterns, so that the stores (this one and the studies', ~9 GiB) fit the free
    # disk of any CI machine and the memory check, not the disk check, is the one that stops it
    cfg["dataset"].update(n_samples=8, chunk_size=4)
    cfg["train"].update(n_train=4, n_val=4, batch_size=4)
    big = _write(workflow_copy, "big.yaml", cfg)
    out = snakemake(workflow_copy, "results/train/history.csv", "--cores", "1", "--configfile", big,
                    check=False)
    err = out.stdout + out.stderr
    assert out.returncode != 0
    assert "rule train: needs mem_mb=" in err and "but this machine has" in err, err
    assert not (workflow_copy / "results").exists()
