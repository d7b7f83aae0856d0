"""youngvae.compare: the quality criterion of a faster setting against a reference run."""

import json

import pandas as pd
import pytest

from youngvae.bench import compare


def _run(path, val_losses, abs_rho):
    (path / "train").mkdir(parents=True)
    (path / "encode").mkdir()
    n = len(val_losses)
    pd.DataFrame({"epoch": range(1, n + 1), "loss": val_losses, "val_loss": val_losses}).to_csv(
        path / "train" / "history.csv", index=False)
    (path / "encode" / "metrics.json").write_text(json.dumps({"abs_spearman": abs_rho}))
    return path


def test_final_epoch_decides_and_the_last_epochs_mean_is_reported(tmp_path):
    cand = _run(tmp_path / "bf16", [800.0, 728.1, 721.4, 739.0], 0.992)
    ref = _run(tmp_path / "f32", [810.0, 730.2, 720.1, 719.3], 0.985)
    c = compare.compare_runs(cand, ref)
    assert c["val_loss_rel_diff"] == pytest.approx(739.0 / 719.3 - 1)  # +2.74 %
    assert c["val_loss_rel_diff_last3_mean"] == pytest.approx((728.1 + 721.4 + 739.0) / (730.2 + 720.1 + 719.3) - 1)
    assert c["last_epoch_jump"][0] == pytest.approx(739.0 / 721.4 - 1)
    assert c["abs_spearman_diff"] == pytest.approx(0.007)
    assert not c["val_loss_ok"] and c["abs_spearman_ok"]


def test_both_criteria_hold_within_tolerance_and_fail_beyond(tmp_path):
    ref = _run(tmp_path / "ref", [700.0, 700.0], 0.990)
    ok = compare.compare_runs(_run(tmp_path / "a", [700.0, 713.0], 0.981), ref)  # +1.9 %, -0.009
    assert ok["val_loss_ok"] and ok["abs_spearman_ok"]
    bad = compare.compare_runs(_run(tmp_path / "b", [700.0, 680.0], 0.975), ref)  # -2.9 %, -0.015
    assert not bad["val_loss_ok"] and not bad["abs_spearman_ok"]


def test_spread_table_has_a_row_per_pair_and_counts_the_passes(tmp_path):
    ref = _run(tmp_path / "ref", [700.0, 700.0], 0.990)
    pairs = [compare.compare_runs(_run(tmp_path / "a", [700.0, 713.0], 0.991), ref),
             compare.compare_runs(_run(tmp_path / "b", [700.0, 730.0], 0.992), ref)]
    md = compare.spread_markdown(pairs, ["seed 0", "seed 1"])
    assert "| seed 0 | 713.0 / 700.0 | +1.9 % |" in md and "| seed 1 | 730.0 / 700.0 | +4.3 % |" in md
    assert "| 1 of 2 | 2 of 2 |" in md and "loss ≤ 2 %" in md
    loose = compare.compare_runs(tmp_path / "b", ref, val_loss_rel_tol=0.05, abs_rho_tol=0.02)
    assert "loss ≤ 5 %" in compare.spread_markdown([loose]) and loose["val_loss_ok"]


def test_a_missing_or_mismatched_run_is_named(tmp_path):
    ref = _run(tmp_path / "ref", [700.0, 700.0], 0.990)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        compare.compare_runs(tmp_path / "nowhere", ref)
    with pytest.raises(ValueError, match="3 epochs"):
        compare.compare_runs(_run(tmp_path / "three", [1.0, 2.0, 3.0], 0.9), ref)


def test_command_line_prints_the_table(tmp_path, capsys):
    ref = _run(tmp_path / "ref", [700.0, 700.0], 0.990)
    cand = _run(tmp_path / "cand", [700.0, 707.0], 0.995)
    assert compare.main(["--pair", str(cand), str(ref), "--label", "seed 7"]) == 0
    assert "| seed 7 | 707.0 / 700.0 | +1.0 % |" in capsys.readouterr().out
