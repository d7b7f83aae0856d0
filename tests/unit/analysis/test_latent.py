"""Unit tests for youngvae.analysis.latent (fast, synthetic data only)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from youngvae.analysis import calibration as C
from youngvae.analysis import latent as A


def _true_map(z):
    # monotone increasing, non-linear, metres (380..1000 nm)
    return (380 + 620 / (1 + np.exp(-1.5 * z))) * 1e-9


def test_latent_table_columns_and_values():
    n, k = 5, 2
    zm = np.arange(n * k, dtype=float).reshape(n, k)
    zl = -zm
    t = A.latent_table(
        np.arange(n),
        np.linspace(4e-7, 9e-7, n),
        ["train", "train", "val", "unused", "val"],
        zm,
        zl,
    )
    assert list(t.columns) == [
        "sample",
        "wavelength_m",
        "split",
        "z_mean_0",
        "z_mean_1",
        "z_log_var_0",
        "z_log_var_1",
    ]
    assert len(t) == n
    np.testing.assert_array_equal(t["z_mean_1"].to_numpy(), zm[:, 1])
    np.testing.assert_array_equal(t["z_log_var_0"].to_numpy(), zl[:, 0])
    assert t["split"].tolist() == ["train", "train", "val", "unused", "val"]


def test_latent_table_1d_latent_and_bad_split():
    t = A.latent_table(
        [0, 1], [5e-7, 6e-7], ["train", "val"], np.array([0.1, 0.2]), np.zeros(2)
    )
    assert list(t.columns) == [
        "sample",
        "wavelength_m",
        "split",
        "z_mean_0",
        "z_log_var_0",
    ]
    with pytest.raises(ValueError, match="split"):
        A.latent_table(
            [0, 1], [5e-7, 6e-7], ["train", "test"], np.zeros((2, 1)), np.zeros((2, 1))
        )
    with pytest.raises(ValueError, match="wavelength_m"):
        A.latent_table(
            [0, 1], [5e-7], ["train", "val"], np.zeros((2, 1)), np.zeros((2, 1))
        )


def test_correlations_perfect_monotone():
    z = np.linspace(-2, 2, 50)
    c = A.correlations(z, 3 * z + 1)
    assert c["pearson"] == pytest.approx(1.0)
    assert c["spearman"] == pytest.approx(1.0)
    c = A.correlations(z, -np.exp(z))  # monotone decreasing, non-linear
    assert c["spearman"] == pytest.approx(-1.0)
    assert -1.0 < c["pearson"] < -0.8


def test_correlations_constant_is_nan_without_warning():
    c = A.correlations(np.zeros(10), np.arange(10.0))  # warnings are errors in pytest
    assert math.isnan(c["pearson"]) and math.isnan(c["spearman"])


def _table(z_train, lam_train, z_val, lam_val):
    n_tr, n_va = len(z_train), len(z_val)
    z = np.concatenate([z_train, z_val])
    return A.latent_table(
        np.arange(n_tr + n_va),
        np.concatenate([lam_train, lam_val]),
        ["train"] * n_tr + ["val"] * n_va,
        z[:, None],
        np.full((n_tr + n_va, 1), -4.0),
    )


def test_encode_metrics_uses_validation_split_only():
    rng = np.random.default_rng(2)
    z_tr = rng.normal(size=400)
    lam_tr = _true_map(z_tr)  # train: perfect increasing relation
    z_va = rng.normal(size=100)
    lam_va = _true_map(-z_va)  # val: reversed relation
    t = _table(z_tr, lam_tr, z_va, lam_va)
    cal = C.fit_calibration_from_table(t)
    m = A.encode_metrics(t, cal)
    assert m["n_train"] == 400 and m["n_val"] == 100 and m["n_unused"] == 0
    assert m["spearman"] == pytest.approx(-1.0)  # val relation, not train
    assert m["abs_spearman"] == pytest.approx(1.0)
    assert m["calibration_rmse_nm"] > 100  # calibration (train) contradicts val
    assert m["z_mean_min"] == pytest.approx(z_va.min())
    assert m["posterior_std_mean"] == pytest.approx(np.exp(-2.0))
    json.dumps(m)
    for key in (
        "pearson",
        "spearman",
        "calibration_rmse_nm",
        "calibration_mae_nm",
        "kl_mean",
    ):
        assert isinstance(m[key], float)

    # consistent val split -> small error
    t2 = _table(z_tr, lam_tr, z_va, _true_map(z_va))
    m2 = A.encode_metrics(t2, C.fit_calibration_from_table(t2))
    assert m2["spearman"] == pytest.approx(1.0)
    assert m2["calibration_rmse_nm"] < 5
    assert m2["calibration_r2"] > 0.99
    assert m2["latent_collapsed"] is False


def test_encode_metrics_collapsed_latent():
    rng = np.random.default_rng(3)
    lam = _true_map(rng.normal(size=200))
    t = _table(np.zeros(150), lam[:150], np.zeros(50), lam[150:])
    m = A.encode_metrics(t, C.fit_calibration_from_table(t))
    assert m["latent_collapsed"] is True
    assert math.isnan(m["spearman"])
    assert m["calibration_rmse_nm"] == pytest.approx(
        np.sqrt(np.mean((lam[150:] - lam[:150].mean()) ** 2)) * 1e9
    )


def test_table_roundtrip_dataframe():
    t = A.latent_table(
        ["a", "b"], [5e-7, 6e-7], ["train", "val"], np.zeros((2, 1)), np.zeros((2, 1))
    )
    assert isinstance(t, pd.DataFrame)
    assert t["sample"].tolist() == ["a", "b"]


def _two_unit_table(n=400, seed=0):
    """Unit 0 inactive (posterior = prior), unit 1 encodes λ."""
    rng = np.random.default_rng(seed)
    lam = rng.uniform(400e-9, 900e-9, n)
    z1 = (lam - 650e-9) / 1e-7 + rng.normal(0, 0.02, n)
    zm = np.stack([np.zeros(n), z1], 1)
    zl = np.stack([np.zeros(n), np.full(n, -4.0)], 1)
    split = np.where(np.arange(n) < 250, "train", "val")
    return A.latent_table(np.arange(n), lam, split, zm, zl), lam


def test_kl_per_dim_is_the_closed_form_gaussian_kl():
    table, _ = _two_unit_table()
    val = table[table["split"] == "val"]
    kl = A.kl_per_dim(table)
    assert kl[0] == pytest.approx(0.0, abs=1e-12)  # N(0, 1) against N(0, 1)
    expected = np.mean(0.5 * (val["z_mean_1"] ** 2 + np.exp(-4.0) - 1 + 4.0))
    assert kl[1] == pytest.approx(expected)


def test_the_active_unit_most_correlated_with_lambda_is_read():
    table, _ = _two_unit_table()
    usage = A.latent_usage(table)
    assert usage["latent_dim"] == 2 and usage["active_units"] == 1
    assert usage["active_unit_indices"] == [1] and usage["unit"] == 1
    # λ is linear in z_1 with 2 nm of noise: a 15-NN regression recovers it within a few nm
    assert usage["regression_rmse_nm"] < 6


def test_no_active_unit_falls_back_to_the_best_dimension_and_no_regression():
    table, _ = _two_unit_table()
    table["z_log_var_1"] = 0.0
    table["z_mean_1"] = table["z_mean_1"] * 1e-3  # KL ~1e-6: inactive, but still ordered by λ
    usage = A.latent_usage(table)
    assert usage["active_units"] == 0 and usage["unit"] == 1
    assert math.isnan(usage["regression_rmse_nm"])


def test_a_calibration_fitted_on_recorded_labels_is_scored_against_each_label():
    """Recorded λ = true λ + 10 nm (a label bias): the calibration learns the bias, so it is
    ~10 nm off the true λ and only its own fit error off the recorded one."""
    lam = np.linspace(400e-9, 900e-9, 400)
    split = np.where(np.arange(400) % 4 == 0, "val", "train")
    table = A.latent_table(np.arange(400), lam, split, (lam * 1e7)[:, None], np.zeros((400, 1)))
    table["recorded_wavelength_m"] = lam + 10e-9
    cal = C.fit_calibration_from_table(table, label="recorded_wavelength_m")
    true = A.encode_metrics(table, cal)
    recorded = A.encode_metrics(table, cal, label="recorded_wavelength_m")
    assert recorded["calibration_rmse_nm"] < 2.0  # the monotone fit's own error (~1 nm here)
    assert true["calibration_rmse_nm"] == pytest.approx(10.0, abs=1.0)
    assert A.latent_usage(table, label="recorded_wavelength_m")["regression_rmse_nm"] == pytest.approx(10.0, abs=1.0)
