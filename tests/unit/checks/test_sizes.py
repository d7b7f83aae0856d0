"""youngvae.checks.sizes: the byte counts a config implies and the checks that judge them."""

from __future__ import annotations

import os

import pytest

from youngvae.checks import sizes

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def test_parameter_count_is_the_papers_at_256_px():
    assert sizes.vae_parameters(256, 1) == 33_647_202 + 2_115_905


@pytest.mark.parametrize(("pixels", "latent_dim"), [(16, 1), (64, 3), (128, 8)])
def test_parameter_count_formula_matches_the_built_model(pixels, latent_dim):
    from youngvae.vae.model import build_vae

    vae = build_vae(pixels, latent_dim)  # its own count also holds β, a non-trainable weight
    assert sizes.vae_parameters(pixels, latent_dim) == vae.encoder.count_params() + vae.decoder.count_params()


def test_store_bytes_and_human_units():
    assert sizes.store_bytes(3000, 256) == 3000 * 256 * 256 * 4
    assert sizes.human(sizes.store_bytes(3000, 256)) == "750 MiB"
    assert sizes.human(1536) == "1.5 KiB"
    assert sizes.human(200_000**2 * 4 * 3000) == "437 TiB"


def test_training_memory_grows_with_the_model_and_the_split():
    base = sizes.train_mem_mb(2048, 952, 256)
    assert base > 3000 + 3 * sizes.images_mb(3000, 256)  # the model counts too
    assert sizes.train_mem_mb(2048, 952, 512) > 2.5 * base  # images and Dense weights grow with pixels²


def test_a_store_larger_than_the_free_disk_is_named_with_both_sizes():
    msg = sizes.disk_problem(10 * 2**30, 0, 2 * 2**30, where="results/dataset.zarr")
    assert "needs 10 GiB (results/dataset.zarr)" in msg and "only 2 GiB are free" in msg
    # a rerun rewrites what the store already holds
    assert sizes.disk_problem(10 * 2**30, 9 * 2**30, 2 * 2**30, where="x") is None
    assert sizes.disk_problem(1, 0, 2, where="x") is None


def test_directory_bytes_and_free_disk(tmp_path):
    (tmp_path / "a").write_bytes(b"x" * 100)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "b").write_bytes(b"y" * 28)
    assert sizes.directory_bytes(tmp_path) == 128
    assert sizes.directory_bytes(tmp_path / "missing") == 0
    assert sizes.free_disk_bytes(tmp_path / "not" / "yet") > 0


def test_local_jobs_larger_than_the_machine_are_named():
    rules = {"train": (2, {"mem_mb": 30_000}), "encode": (2, {"mem_mb": 2000}), "all": (1, {})}
    problems = sizes.memory_problems(rules, ram_mb=24_000)
    assert len(problems) == 1
    assert "rule train: needs mem_mb=30000" in problems[0] and "this machine has 23.4 GiB" in problems[0]


SINFO = "debug* 2 7900\ndebug* 4 15000+\ngpu 16 64000\nbroken line\n"


def test_sinfo_lines_become_nodes_with_the_default_partition_marked():
    nodes = sizes.parse_sinfo(SINFO)
    assert [(n.name, n.cpus, n.mem_mb, n.is_default) for n in nodes] == [
        ("debug", 2, 7900, True),
        ("debug", 4, 15000, True),
        ("gpu", 16, 64000, False),
    ]


def test_jobs_larger_than_every_node_of_their_partition_are_named():
    nodes = sizes.parse_sinfo(SINFO)
    rules = {
        "train": (8, {"mem_mb": 6000}),  # default partition: largest node 4 CPUs, 15000 MB
        "encode": (2, {"mem_mb": 20_000}),
        "decode_grid": (8, {"mem_mb": 6000, "slurm_partition": "gpu"}),  # fits the gpu nodes
        "plot": (1, {"mem_mb": 1000, "slurm_partition": "nosuch"}),  # checks.resources' job
    }
    problems = sizes.node_problems(rules, nodes)
    assert len(problems) == 2
    assert "rule encode: mem_mb=20000" in problems[0] and "has 15000 MB" in problems[0]
    assert "rule train: threads=8" in problems[1] and "partition 'debug' has 4 CPUs" in problems[1]
    assert "--set-threads train=4" in problems[1]


def test_summary_states_store_jobs_and_model():
    config = {
        "dataset": {"n_samples": 3000, "chunk_size": 100},
        "geometry": {"pixels": 256},
        "simulation": {"oversample": 4},
        "train": {"n_train": 2048, "n_val": 952, "latent_dim": 1},
    }
    text = sizes.summary(config)
    assert "dataset store 750 MiB (3000 × 256² float32)" in text
    assert "35,763,107 parameters" in text
