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
    assert math.isnan(row["distance_floor_rmse_nm"])  # no distance jitter: no floor


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


def test_medians_per_value_find_the_first_level_below_the_threshold():
    """Known answer: three photon levels x two seeds; the median |ρ| drops below 0.99 at the
    second listed level, never for the other group."""
    from youngvae.analysis.study import first_below, medians_per_value

    keys = ["systematics.detector.photons_per_pattern", "train.latent_dim", "train.seed"]
    rows = []
    for dim in (1, 2):
        for photons, rho in ((1e6, 0.999), (1e4, 0.98), (1e3, 0.90)):
            for seed, shift in ((0, 0.0), (1, 0.002)):
                rows.append({keys[0]: photons, keys[1]: dim, keys[2]: seed,
                             "abs_spearman": (rho if dim == 1 else 0.995) + shift,
                             "calibration_rmse_nm": 10 * seed + photons / 1e5,
                             "calibration_max_abs_err_nm": 1.0})
    per_value = medians_per_value(pd.DataFrame(rows), keys)
    assert per_value[keys[0]].tolist() == [1e6, 1e4, 1e3] * 2  # the listed order
    assert per_value["runs"].tolist() == [2] * 6
    assert per_value["median_abs_spearman"].tolist()[:3] == pytest.approx([1.0, 0.981, 0.901])
    assert per_value["median_calibration_rmse_nm"].tolist()[:3] == pytest.approx([15.0, 5.1, 5.01])
    assert per_value["below_0.99"].tolist() == [False, True, True, False, False, False]
    sentence = first_below(per_value, keys)
    assert "train.latent_dim=1: first at systematics.detector.photons_per_pattern=10000.0" in sentence
    assert "train.latent_dim=2: never over the listed values" in sentence


def test_keys_spanning_decades_get_a_log_axis():
    from youngvae.analysis.study import log_x_axis

    assert log_x_axis([1e3, 1e4, 1e5, 1e7])
    assert not log_x_axis([1, 2, 3])  # blur in px: linear
    assert not log_x_axis([0, 10, 1000])  # a zero cannot sit on a log axis
    assert not log_x_axis([5.0])


def test_narrow_metric_ranges_are_labelled_as_values_without_an_offset(tmp_path, monkeypatch):
    """|ρ| of 0.99996 … 0.99999 (the recipe study's spread) must read as such on the axis."""
    rows = [_row(1, s, 0.99996 + 1e-5 * s) for s in (0, 1, 2)]
    table = study.summary_table(KEYS, rows).drop(columns=["train.latent_dim"])
    figures = []
    monkeypatch.setattr(study, "save_figure", lambda fig, path: figures.append(fig) or path)
    study.plot_metrics_vs_keys(table, ["train.seed"], tmp_path / "m.png")
    study.plot_seed_spread(table, ["train.seed"], tmp_path / "s.png")
    for fig in figures:
        fig.canvas.draw()
        for ax in fig.axes:
            assert ax.yaxis.get_major_formatter().get_offset() == ""
