"""youngvae.bench.matrix: the benchmark matrix, its skips and its output files."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest

from youngvae.bench import ceiling
from youngvae.bench import machine as bench_machine
from youngvae.bench import matrix as bench
from youngvae.bench.worker import Setting


def test_missing_backends_and_gpu_only_precisions_are_skipped_with_a_note():
    machine = {"backends_available": {"tensorflow": True, "jax": False, "torch": False}, "gpu": None}
    assert "not installed" in bench.skip_reason(Setting(backend="jax"), machine)
    assert "requirements-backends.txt" in bench.skip_reason(Setting(backend="torch"), machine)
    assert "GPU" in bench.skip_reason(Setting(precision="mixed_float16"), machine)
    assert bench.skip_reason(Setting(), machine) is None
    row = bench.setting_row(Setting(backend="jax"), [], 16, 64, 32, 1, note="skipped: not installed")
    assert row["status"] == "skipped" and "not installed" in row["note"] and row["s_per_epoch"] is None


def test_a_row_above_the_ceiling_is_flagged_not_printed_as_a_fraction_over_one():
    run = {"step_times": [0.1, 0.1], "val_step_times": [0.05], "train_flops_per_sample": 1e9,
           "probe": {"conv_bfloat16": 500.0}, "peak_rss_mb": 900.0}  # 32 / 0.1 s = 320 GFLOP/s
    isa = {"status": "ok", "gflops": {"bf16_avx512": {"2": 166.0}}}
    setting = Setting(precision="mixed_bfloat16", batch_size=32, intra_threads=2)
    row = bench.setting_row(setting, [run], 256, 2048, 952, 2, isa=isa)
    assert row["status"] == "ceiling_exceeded" and "1.93 of the measured ceiling" in row["note"]
    assert row["isa_peak_unit"] == "bf16_avx512" and row["s_per_epoch"] == pytest.approx(6.4)
    amx = {"status": "ok", "gflops": {"bf16_avx512": {"2": 166.0}, "bf16_amx": {"2": 2900.0}}}
    row = bench.setting_row(setting, [run], 256, 2048, 952, 2, isa=amx)
    assert row["status"] == "ok" and row["isa_peak_unit"] == "bf16_amx"
    assert row["fraction_of_isa_peak"] == pytest.approx(320 / 2900)


@pytest.mark.slow  # trains a model or starts fresh processes (seconds)
def test_tiny_benchmark_writes_csv_machine_json_table_and_figure(tmp_path, monkeypatch):
    real = bench_machine.backend_available
    monkeypatch.setattr(bench_machine, "backend_available", lambda b: b == "tensorflow" and real(b))
    cfg = {"backends": ["tensorflow", "jax"], "trainers": ["keras", "youngvae"],
           "precisions": ["mixed_bfloat16"], "batch_sizes": [4], "threads": [0], "inter_threads": 1,
           "xla": [False], "repeats": 1, "steps": 2, "warmup_steps": 1, "val_steps": 1,
           "timeout_s": 300, "probe_matmul_n": 64, "probe_conv_size": 8}
    out = {k: tmp_path / name for k, name in (("csv_path", "b.csv"), ("machine_path", "m.json"),
                                               ("table_path", "t.md"), ("figure_path", "f.png"))}
    logs = []
    bench.run_benchmark(cfg, image_size=16, n_train=64, n_val=32, log=logs.append, **out)

    table = pd.read_csv(out["csv_path"])
    assert list(table.columns) == bench.CSV_COLUMNS
    machine = json.loads(out["machine_path"].read_text())
    isa_measured = machine["isa_peak"]["status"] == "ok"
    assert len(table) == 3  # tensorflow keras, tensorflow youngvae, jax keras (skipped)
    ran = table[table["backend"] == "tensorflow"]
    assert set(ran["status"]) == {"ok"} and set(ran["trainer"]) == {"keras", "youngvae"}
    for r in ran.to_dict("records"):
        assert r["s_per_step_min"] <= r["s_per_step_median"] <= r["s_per_step_max"]
        assert r["s_per_epoch"] == pytest.approx(r["s_per_step_median"] * 16, rel=1e-4)  # 64 / 4 steps
        assert r["s_per_10_epochs"] == pytest.approx(10 * r["s_per_epoch"], rel=1e-4)
        assert r["gflops"] == pytest.approx(r["gflop_per_sample"] * 4 / r["s_per_step_median"], rel=1e-3)
        assert 0 < r["fraction_of_probe"] and r["peak_rss_mb"] > 100 and r["n_repeats"] == 1
        if isa_measured:
            assert r["fraction_of_isa_peak"] == pytest.approx(r["gflops"] / r["isa_peak_gflops"], rel=1e-3)
            assert r["fraction_of_isa_peak"] <= 1.0, r  # above 1: the ceiling missed a unit
            assert r["isa_peak_unit"] in ceiling.KERNELS
        assert r["threads"] == r["intra_threads"] == os.cpu_count()
    skipped = table[table["backend"] == "jax"].iloc[0]
    assert skipped["status"] == "skipped" and "not installed" in skipped["note"]
    assert pd.isna(skipped["s_per_epoch"])  # no number for what did not run

    assert set(bench_machine.MACHINE_KEYS) <= set(machine)
    assert machine["cores"] == os.cpu_count() and machine["versions"]["keras"]
    assert machine["probe"] and all(v > 0 for p in machine["probe"].values() for v in p.values())

    md = out["table_path"].read_text()
    assert "Table IV" in md
    # the paper's three rows, as its Table IV gives them
    for row in ("| paper: Sandy Bridge EP, 16 cores, 62 GB |", "| 300 | 3027 |", "| 256 | 2566 |",
                "| 257 | 2576 |"):
        assert row in md, md
    assert md.count("| this machine |") == 3 and "skipped" in md
    assert "ISA peak" in md
    if isa_measured:  # the floor sentence, from the measured peak on all cores
        assert "cannot take less than" in md and f"on {os.cpu_count()} thread(s)" in md
        assert any(line.startswith("ISA peak") for line in logs)
    assert out["figure_path"].stat().st_size > 1000
    assert any("skipped" in line for line in logs)


def test_settings_expand_the_matrix_and_non_tensorflow_backends_use_the_keras_trainer():
    cfg = {"backends": ["tensorflow", "jax"], "trainers": ["keras", "youngvae"],
           "precisions": ["float32"], "batch_sizes": [8], "threads": [1, 0], "inter_threads": 0,
           "xla": [False]}
    settings = bench.settings_from_config(cfg, cores=4)
    assert len(settings) == 6  # tf x 2 trainers x 2 threads + jax keras x 2 threads
    assert {s.trainer for s in settings if s.backend == "jax"} == {"keras"}
    assert {(s.intra_threads, s.inter_threads) for s in settings} == {(1, 1), (4, 4)}


def test_exclude_rules_drop_every_setting_matching_all_their_keys():
    cfg = {"backends": ["tensorflow", "jax"], "trainers": ["keras"], "precisions": ["float32"],
           "batch_sizes": [8], "threads": [1, 0], "inter_threads": 1, "xla": [False, True],
           "exclude": [{"backend": "jax", "xla": False}, {"xla": True, "threads": 0}]}
    kept = {(s.backend, s.intra_threads, s.xla) for s in bench.settings_from_config(cfg, cores=4)}
    # 8 combinations; jax without XLA (2) and XLA on all 4 cores (2, one of them jax) go.
    assert kept == {("tensorflow", 1, False), ("tensorflow", 4, False), ("tensorflow", 1, True),
                    ("jax", 1, True)}
    with pytest.raises(ValueError, match="benchmark.exclude.*'cores'"):
        bench.settings_from_config({**cfg, "exclude": [{"cores": 2}]}, cores=4)
