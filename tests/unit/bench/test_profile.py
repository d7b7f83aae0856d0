"""youngvae.bench.profile: per-layer table, input-pipeline rate, same-process A/B."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from youngvae.bench import profile as bench  # noqa: E402
from youngvae.data import store  # noqa: E402


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


def test_same_process_ab_comparison_reports_ratios_against_the_first_variant():
    out = bench.ab_compare({"plain": ("keras", "float32"), "ours": ("youngvae", "float32")},
                           image_size=16, batch=2, rounds=2, warmup=1)
    assert out["plain"]["speedup_vs_plain"] == 1.0 and len(out["ours"]["step_times"]) == 2
    assert out["ours"]["speedup_vs_plain"] == pytest.approx(out["plain"]["median"] / out["ours"]["median"])


def test_ab_table_gives_each_variant_its_speed_up_over_the_earlier_ones():
    result = {"a": {"median": 2.0, "min": 1.9}, "b": {"median": 1.0, "min": 0.9},
              "c": {"median": 0.5, "min": 0.4}}
    rows = bench.ab_table(result).splitlines()
    assert rows[0] == "| variant | median ms | min ms | × a | × b |"
    assert rows[2] == "| a | 2000.0 | 1900.0 |  |  |"
    assert rows[3] == "| b | 1000.0 | 900.0 | 2.00 |  |"
    assert rows[4] == "| c | 500.0 | 400.0 | 4.00 | 2.00 |"


def test_the_ab_command_line_times_the_train_step_against_both_baselines(capsys):
    from youngvae.bench.__main__ import main

    assert main(["--ab", "--image-size", "16", "--batch-size", "2", "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    for name in bench.AB_VARIANTS:
        assert f"| {name} |" in out


def test_route_table_times_every_route_and_finds_each_identity_in_float32():
    from youngvae.bench import routes

    for case in routes.cases(16):
        row = routes.compare_case(case, batch=2, dtype="float32", rounds=1)
        assert row["stock_ms"] > 0 and row["route_ms"] > 0
        assert row["speedup"] == pytest.approx(row["stock_ms"] / row["route_ms"])
        assert row["max_rel_error"] < 1e-5, (case.name, row["errors"])
    md = routes.route_table(image_size=16, batch=2, dtype="bfloat16", rounds=1)
    assert md.count("\n| ") == 1 + len(routes.cases(16))  # the header and one row per route
