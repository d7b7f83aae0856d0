"""The training benchmark (youngvae.bench): outputs, process isolation, skips, FLOP accounting."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from youngvae import bench, store  # noqa: E402
from youngvae.bench import Setting  # noqa: E402

TINY = dict(image_size=16, steps=1, warmup_steps=1, val_steps=1,
            probe_kw={"matmul_n": 64, "conv_size": 8, "repeats": 1})


def test_flop_accounting_matches_a_hand_count_at_16px():
    from youngvae.model import build_vae

    vae = build_vae(16, 1)
    # 2 x multiply-adds: conv = out_h*out_w*kh*kw*cin*cout, transposed conv = in_h*in_w*..., dense = in*out
    hand = {
        "encoder/conv1": 2 * 16 * 16 * 9 * 1 * 32,
        "encoder/conv2": 2 * 8 * 8 * 9 * 32 * 64,  # stride 2: 8x8 outputs
        "encoder/conv3": 2 * 8 * 8 * 9 * 64 * 64,
        "encoder/conv4": 2 * 8 * 8 * 9 * 64 * 64,
        "encoder/dense": 2 * (8 * 8 * 64) * 32,
        "encoder/z_mean": 2 * 32 * 1,
        "encoder/z_log_var": 2 * 32 * 1,
        "decoder/dense": 2 * 1 * (8 * 8 * 64),
        "decoder/deconv": 2 * 8 * 8 * 9 * 64 * 32,
        "decoder/image": 2 * 16 * 16 * 9 * 32 * 1,
    }
    assert {r["layer"]: r["flops"] for r in bench.layer_flops(vae)} == hand
    assert bench.forward_flops_per_sample(vae) == sum(hand.values())
    # train step = forward + 2 x forward (input and weight gradients) - conv1's input gradient
    assert bench.train_flops_per_sample(vae) == 3 * sum(hand.values()) - hand["encoder/conv1"]


def test_flops_at_paper_scale_are_about_11_gflop_per_training_sample():
    from youngvae.model import build_vae

    vae = build_vae(256, 1)
    assert 3.7e9 < bench.forward_flops_per_sample(vae) < 3.85e9
    assert 11.1e9 < bench.train_flops_per_sample(vae) < 11.4e9


def test_one_filter_conv_is_the_same_function_as_conv2d():
    import keras

    from youngvae.model import OneFilterConv2D

    x = np.random.default_rng(0).uniform(size=(2, 12, 12, 5)).astype("float32")
    plain = keras.layers.Conv2D(1, 3, padding="same", activation="sigmoid")
    fast = OneFilterConv2D(1, 3, padding="same", activation="sigmoid")
    plain.build(x.shape)
    fast.build(x.shape)
    fast.set_weights([np.random.default_rng(1).normal(size=w.shape).astype("float32") for w in plain.get_weights()])
    plain.set_weights(fast.get_weights())
    assert fast.count_params() == plain.count_params() == 3 * 3 * 5 + 1
    np.testing.assert_allclose(np.asarray(fast(x)), np.asarray(plain(x)), rtol=1e-5, atol=1e-6)


def test_each_setting_runs_in_its_own_fresh_process_with_its_threads():
    results = [
        bench._run_in_fresh_process(Setting(trainer="keras", precision="float32", intra_threads=t,
                                            inter_threads=1), TINY, timeout_s=300)
        for t in (1, 2)
    ]
    for result, threads in zip(results, (1, 2)):
        assert "error" not in result, result
        assert result["pid"] != os.getpid()
        assert result["backend"] == "tensorflow"
        assert result["tf_intra_threads"] == threads and result["tf_inter_threads"] == 1
        # pinned to `threads` CPUs (this machine has 2: the 2-thread worker keeps both)
        assert result["cpus"] == min(threads, len(os.sched_getaffinity(0)))
        assert len(result["step_times"]) == 1 and result["peak_rss_mb"] > 0
        assert {"matmul_float32", "matmul_bfloat16", "conv_float32", "conv_bfloat16"} <= set(result["probe"])
    assert results[0]["pid"] != results[1]["pid"]


def test_missing_backends_and_gpu_only_precisions_are_skipped_with_a_note():
    machine = {"backends_available": {"tensorflow": True, "jax": False, "torch": False}, "gpu": None}
    assert "not installed" in bench._skip_reason(Setting(backend="jax"), machine)
    assert "requirements-backends.txt" in bench._skip_reason(Setting(backend="torch"), machine)
    assert "GPU" in bench._skip_reason(Setting(precision="mixed_float16"), machine)
    assert bench._skip_reason(Setting(), machine) is None
    row = bench._row(Setting(backend="jax"), [], 16, 64, 32, 1, note="skipped: not installed")
    assert row["status"] == "skipped" and "not installed" in row["note"] and row["s_per_epoch"] is None


def test_tiny_benchmark_writes_csv_machine_json_table_and_figure(tmp_path, monkeypatch):
    real = bench.backend_available
    monkeypatch.setattr(bench, "backend_available", lambda b: b == "tensorflow" and real(b))
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
        assert r["threads"] == r["intra_threads"] == os.cpu_count()
    skipped = table[table["backend"] == "jax"].iloc[0]
    assert skipped["status"] == "skipped" and "not installed" in skipped["note"]
    assert pd.isna(skipped["s_per_epoch"])  # no number for what did not run

    assert set(bench.MACHINE_KEYS) <= set(machine)
    assert machine["cores"] == os.cpu_count() and machine["versions"]["keras"]
    assert machine["probe"] and all(v > 0 for p in machine["probe"].values() for v in p.values())

    md = out["table_path"].read_text()
    assert "Table IV" in md and "257–300" in md and "2570–3000" in md
    assert md.count("| this machine |") == 3 and "skipped" in md
    assert "ISA peak" in md
    if isa_measured:  # the floor sentence, from the measured peak on all cores
        assert "cannot take less than" in md and f"on {os.cpu_count()} thread(s)" in md
        assert any(line.startswith("ISA peak") for line in logs)
    assert out["figure_path"].stat().st_size > 1000
    assert any("skipped" in line for line in logs)


def test_layer_time_table_lists_every_weighted_layer():
    md = bench.layer_time_table(image_size=16, batch_size=2, precision="float32", repeats=1)
    for name in ("encoder/conv1", "encoder/conv4", "decoder/deconv", "decoder/image", "**sum**"):
        assert f"| {name} |" in md


def test_input_pipeline_rates_compare_reading_with_training(tmp_path):
    path = tmp_path / "s.zarr"
    centres = np.linspace(-1, 1, 8)
    store.create_store(path, 8, 4, centres, centres, {})
    for start in (0, 4):
        store.write_chunk(path, slice(start, start + 4), np.full((4, 8, 8), 0.5), np.full(4, 5e-7))
    rates = bench.input_pipeline_rates(path, batch_size=2, s_per_step=0.5, repeats=1)
    assert rates["samples"] == 8 and rates["read_samples_per_s"] > 0
    assert rates["train_samples_per_s"] == pytest.approx(4.0)
    assert rates["ratio"] == pytest.approx(rates["read_samples_per_s"] / 4.0)


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


def test_speedup_is_against_plain_float32_keras_at_the_same_threads_and_batch():
    def row(trainer, precision, threads, s, backend="tensorflow", xla=False):
        return {"backend": backend, "trainer": trainer, "precision": precision, "xla": xla,
                "batch_size": 32, "intra_threads": threads, "s_per_step_median": s}

    records = [row("keras", "float32", 1, 4.0), row("keras", "float32", 2, 2.0),
               row("youngvae", "mixed_bfloat16", 2, 1.0), row("keras", "float32", 2, 8.0, "jax"),
               row("keras", "float32", 2, 4.0, xla=True), row("keras", "float32", 4, float("nan"))]
    assert bench.speedup_vs_float32_keras(records[2], records) == pytest.approx(2.0)
    assert bench.speedup_vs_float32_keras(records[3], records) == pytest.approx(0.25)
    assert bench.speedup_vs_float32_keras(records[4], records) == pytest.approx(0.5)
    assert bench.speedup_vs_float32_keras(records[0], records) == pytest.approx(1.0)
    assert bench.speedup_vs_float32_keras(row("youngvae", "float32", 8, 1.0), records) is None
    assert bench.speedup_vs_float32_keras(records[5], records) is None


def test_same_process_ab_comparison_reports_ratios_against_the_first_variant():
    out = bench.ab_compare({"plain": ("keras", "float32"), "ours": ("youngvae", "float32")},
                           image_size=16, batch=2, rounds=2, warmup=1)
    assert out["plain"]["speedup_vs_plain"] == 1.0 and len(out["ours"]["step_times"]) == 2
    assert out["ours"]["speedup_vs_plain"] == pytest.approx(out["plain"]["median"] / out["ours"]["median"])
