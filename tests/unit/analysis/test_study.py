"""youngvae.analysis.study: a study's summary rows and its comparison figures."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from youngvae.analysis import study

KEYS = ["train.latent_dim", "train.seed"]


def _row(latent_dim, seed, rho):
    history = pd.DataFrame({"epoch": [1, 2], "val_loss": [9.0, 5.0], "val_reconstruction": [8.0, 4.0],
                            "val_kl": [1.0, 1.0]})
    encode = {"abs_spearman": rho, "pearson": -rho, "calibration_rmse_nm": 10 / rho,
              "calibration_mae_nm": 5.0, "calibration_max_abs_err_nm": 30.0, "active_units": 1,
              "collapsed": False, "latent_dim": latent_dim, "unit": 0, "regression_rmse_nm": None}
    bench = pd.DataFrame({"s": [12.5], "max_rss": [900.0]})
    return study.summary_row(KEYS, {"train.latent_dim": latent_dim, "train.seed": seed},
                             f"latent_dim={latent_dim},seed={seed}", encode, {"mean_ssim": 0.9},
                             history, bench)


def test_a_row_holds_the_varied_keys_then_the_contract_columns():
    row = _row(2, 1, 0.98)
    assert list(row)[:2] == KEYS and list(row)[2:] == list(study.SUMMARY_COLUMNS)
    assert row["val_loss"] == 5.0 and row["val_reconstruction"] == 4.0  # the last epoch
    assert row["train_seconds"] == 12.5 and row["peak_rss_mb"] == 900.0
    assert row["decode_mean_ssim"] == 0.9 and math.isnan(row["regression_rmse_nm"])


def test_older_encode_metrics_fall_back_to_latent_collapsed():
    row = study.summary_row([], {}, "r", {"latent_collapsed": True}, {},
                            pd.DataFrame({"val_loss": [1.0], "val_reconstruction": [1.0], "val_kl": [0.0]}),
                            pd.DataFrame({"s": [1.0], "max_rss": [1.0]}))
    assert row["collapsed"] is True


@pytest.mark.parametrize("keys", [KEYS, ["train.seed"]])
def test_figures_are_written_for_sizes_and_seed_only_studies(tmp_path, keys):
    rows = [_row(d, s, 0.9 + 0.01 * d + 0.001 * s) for d in (1, 2, 4) for s in (0, 1, 2)]
    table = study.summary_table(KEYS, rows)
    if keys == ["train.seed"]:
        table = table[table["train.latent_dim"] == 1].drop(columns=["train.latent_dim"])
    study.plot_metrics_vs_keys(table, keys, tmp_path / "m.png")
    study.plot_seed_spread(table, keys, tmp_path / "s.png")
    assert (tmp_path / "m.png").stat().st_size > 10_000 and (tmp_path / "s.png").stat().st_size > 10_000
