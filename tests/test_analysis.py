"""Unit tests for youngvae.analysis (fast, synthetic data only)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from youngvae import analysis as A


# --------------------------------------------------------------------------- #
# latent_table
# --------------------------------------------------------------------------- #
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


# --------------------------------------------------------------------------- #
# correlations
# --------------------------------------------------------------------------- #
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


# --------------------------------------------------------------------------- #
# calibration
# --------------------------------------------------------------------------- #
def _true_map(z):
    # monotone increasing, non-linear, metres (380..1000 nm)
    return (380 + 620 / (1 + np.exp(-1.5 * z))) * 1e-9


@pytest.mark.parametrize("sign", [1, -1])
def test_calibration_recovers_monotone_map(sign):
    rng = np.random.default_rng(0)
    z = rng.normal(size=3000)
    lam = _true_map(sign * z) + rng.normal(scale=5e-9, size=z.size)
    cal = A.fit_calibration(z, lam)
    assert cal.increasing is (sign > 0)
    zt = np.linspace(-2, 2, 201)
    pred = cal.predict(zt)
    rmse_nm = np.sqrt(np.mean((pred - _true_map(sign * zt)) ** 2)) * 1e9
    assert rmse_nm < 8.0
    d = np.diff(pred)
    assert np.all(d >= -1e-18) if sign > 0 else np.all(d <= 1e-18)


def test_calibration_clamps_outside_range_and_scalar():
    z = np.linspace(0, 1, 200)
    cal = A.fit_calibration(z, 400e-9 + 500e-9 * z)
    lo, hi = cal.predict(np.array([-100.0, 100.0]))
    assert lo == pytest.approx(cal.knots_lambda[0])
    assert hi == pytest.approx(cal.knots_lambda[-1])
    assert cal.predict(-5.0) == pytest.approx(lo)
    assert isinstance(cal.predict(0.5), float)
    assert cal.predict(0.5) == pytest.approx(650e-9, abs=5e-9)
    assert 380e-9 < lo < hi < 920e-9


def test_calibration_constant_z_and_ties():
    lam = np.linspace(400e-9, 900e-9, 100)
    cal = A.fit_calibration(np.full(100, 0.3), lam)
    assert cal.is_constant
    np.testing.assert_allclose(cal.predict(np.array([-1.0, 0.3, 7.0])), lam.mean())
    # heavy ties: only 3 distinct z values
    z = np.repeat([0.0, 1.0, 2.0], 50)
    cal = A.fit_calibration(z, 500e-9 + 100e-9 * z)
    np.testing.assert_allclose(
        cal.predict(np.array([0.0, 1.0, 2.0])), [500e-9, 600e-9, 700e-9]
    )


def test_calibration_json_roundtrip():
    rng = np.random.default_rng(1)
    z = rng.normal(size=500)
    cal = A.fit_calibration(z, _true_map(z))
    d = json.loads(json.dumps(cal.to_dict()))
    cal2 = A.Calibration.from_dict(d)
    assert cal2 == cal
    np.testing.assert_array_equal(cal2.predict(z), cal.predict(z))


# --------------------------------------------------------------------------- #
# encode_metrics
# --------------------------------------------------------------------------- #
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
    cal = A.fit_calibration_from_table(t)
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
    m2 = A.encode_metrics(t2, A.fit_calibration_from_table(t2))
    assert m2["spearman"] == pytest.approx(1.0)
    assert m2["calibration_rmse_nm"] < 5
    assert m2["calibration_r2"] > 0.99
    assert m2["latent_collapsed"] is False


def test_encode_metrics_collapsed_latent():
    rng = np.random.default_rng(3)
    lam = _true_map(rng.normal(size=200))
    t = _table(np.zeros(150), lam[:150], np.zeros(50), lam[150:])
    m = A.encode_metrics(t, A.fit_calibration_from_table(t))
    assert m["latent_collapsed"] is True
    assert math.isnan(m["spearman"])
    assert m["calibration_rmse_nm"] == pytest.approx(
        np.sqrt(np.mean((lam[150:] - lam[:150].mean()) ** 2)) * 1e9
    )


# --------------------------------------------------------------------------- #
# ssim / mse
# --------------------------------------------------------------------------- #
C1, C2 = 0.01**2, 0.03**2


def test_mse():
    a = np.zeros((4, 4))
    b = np.full((4, 4), 0.5)
    assert A.mse(a, b) == pytest.approx(0.25)
    assert A.mse(a, b[..., None]) == pytest.approx(0.25)
    with pytest.raises(ValueError):
        A.mse(a, np.zeros((3, 4)))


def test_ssim_identical_and_symmetric():
    rng = np.random.default_rng(4)
    a = rng.random((32, 32))
    b = np.clip(a + rng.normal(scale=0.1, size=a.shape), 0, 1)
    assert A.ssim(a, a) == pytest.approx(1.0, abs=1e-12)
    assert A.ssim(a, b) == pytest.approx(A.ssim(b, a), abs=1e-12)
    assert A.ssim(a, b) < 0.99
    assert A.ssim(a, b, window="uniform") == pytest.approx(
        A.ssim(b, a, window="uniform")
    )


def test_ssim_constant_shift():
    # constant images: sigma = cov = 0 -> only the luminance term remains
    mu, c = 0.3, 0.2
    a = np.full((16, 16), mu)
    expected = (2 * mu * (mu + c) + C1) / (mu**2 + (mu + c) ** 2 + C1)
    assert A.ssim(a, a + c) == pytest.approx(expected, rel=1e-10)
    # textured image: shift keeps structure/contrast, SSIM drops with larger shifts
    rng = np.random.default_rng(5)
    x = 0.5 * rng.random((32, 32))
    s1, s2 = A.ssim(x, x + 0.1), A.ssim(x, x + 0.3)
    assert 1.0 > s1 > s2 > 0


def test_ssim_hand_computed_uniform_single_window():
    # 3x3 images, 3x3 uniform window -> exactly one (valid) window
    a = np.array([[0, 0, 0], [0, 0, 0], [1, 1, 1]], dtype=float)
    # mu_a = 1/3, var_a = 1/3 - 1/9 = 2/9 ; b = 0 -> mu_b = var_b = cov = 0
    expected = (C1 * C2) / ((1 / 9 + C1) * (2 / 9 + C2))
    assert A.ssim(a, np.zeros((3, 3)), window="uniform", win_size=3) == pytest.approx(
        expected, rel=1e-9
    )
    # b = 1 - a: mu_b = 2/3, var_b = 2/9, cov = -2/9
    expected2 = ((2 * (1 / 3) * (2 / 3) + C1) * (-4 / 9 + C2)) / (
        ((1 / 3) ** 2 + (2 / 3) ** 2 + C1) * (4 / 9 + C2)
    )
    assert A.ssim(a, 1 - a, window="uniform", win_size=3) == pytest.approx(
        expected2, rel=1e-9
    )


def test_ssim_gaussian_window_weights():
    # an impulse in a zero image: single gaussian window centred on it (11x11 image)
    a = np.zeros((11, 11))
    a[5, 5] = 1.0
    g = np.exp(-((np.arange(11) - 5) ** 2) / (2 * 1.5**2))
    w = np.outer(g, g) / np.outer(g, g).sum()
    mu, var = w[5, 5], w[5, 5] - w[5, 5] ** 2
    expected = C1 * C2 / ((mu**2 + C1) * (var + C2))
    assert A.ssim(a, np.zeros_like(a)) == pytest.approx(expected, rel=1e-9)


def test_ssim_bad_args():
    with pytest.raises(ValueError, match="window"):
        A.ssim(np.zeros((16, 16)), np.zeros((16, 16)), window="box")
    with pytest.raises(ValueError, match="a"):
        A.ssim(np.zeros((5, 5)), np.zeros((5, 5)))


def test_compare_decoded():
    rng = np.random.default_rng(6)
    sim = rng.random((3, 16, 16))
    dec = sim.copy()[..., None]
    dec[1] = 0.0
    rows = A.compare_decoded(dec, sim, z=[0.0, 0.5, 1.0])
    assert [r["index"] for r in rows] == [0, 1, 2]
    assert rows[1]["z"] == 0.5
    assert rows[0]["mse"] == 0.0 and rows[0]["ssim"] == pytest.approx(1.0)
    assert rows[1]["mse"] > 0 and rows[1]["ssim"] < 0.5
    json.dumps(rows)


# --------------------------------------------------------------------------- #
# z_grid
# --------------------------------------------------------------------------- #
def test_z_grid_inclusive():
    g = A.z_grid(0, 4, 0.5)
    assert g.tolist() == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0]
    g = A.z_grid(-3, 3, 0.1)  # float drift: 60 steps of 0.1
    assert len(g) == 61 and g[-1] == 3.0 and g[0] == -3.0
    assert A.z_grid(0, 1, 0.3).tolist() == pytest.approx([0.0, 0.3, 0.6, 0.9])
    assert A.z_grid(1.5, 1.5, 0.2).tolist() == [1.5]


@pytest.mark.parametrize(
    "args,key",
    [
        ((0, 4, 0), "z_step"),
        ((0, 4, -0.5), "z_step"),
        ((5, 4, 0.5), "z_min"),
        ((0, float("nan"), 0.5), "z_max"),
    ],
)
def test_z_grid_bad_args(args, key):
    with pytest.raises(ValueError, match=key):
        A.z_grid(*args)


# --------------------------------------------------------------------------- #
# decode_in_batches
# --------------------------------------------------------------------------- #
def test_decode_in_batches_calls_and_order():
    calls = []

    def decode(zb):
        calls.append(zb.copy())
        assert zb.dtype == np.float32 and zb.ndim == 2
        # image encodes z: every pixel equals z, shape [b, 4, 5, 1]
        return np.broadcast_to(zb[:, :1, None, None], (zb.shape[0], 4, 5, 1)).copy()

    z = np.linspace(-2, 2, 10)
    out = A.decode_in_batches(decode, z, batch_size=4)
    assert len(calls) == math.ceil(10 / 4)
    assert [c.shape[0] for c in calls] == [4, 4, 2]
    assert out.shape == (10, 4, 5)
    np.testing.assert_allclose(out[:, 0, 0], z.astype(np.float32))
    with pytest.raises(ValueError, match="batch_size"):
        A.decode_in_batches(decode, z, batch_size=0)


def test_central_column_profile():
    img = np.arange(12, dtype=float).reshape(3, 4)  # even width -> mean of cols 1, 2
    np.testing.assert_allclose(A.central_column_profile(img), [1.5, 5.5, 9.5])
    img = np.arange(15, dtype=float).reshape(3, 5)  # odd width -> col 2
    np.testing.assert_allclose(A.central_column_profile(img), [2, 7, 12])


def test_table_roundtrip_dataframe():
    t = A.latent_table(
        ["a", "b"], [5e-7, 6e-7], ["train", "val"], np.zeros((2, 1)), np.zeros((2, 1))
    )
    assert isinstance(t, pd.DataFrame)
    assert t["sample"].tolist() == ["a", "b"]


# decode_z_values


def _calibration(z_min, z_max):
    return A.Calibration(knots_z=(z_min, z_max) if z_max > z_min else (z_min,),
                         knots_lambda=(5e-7, 8e-7) if z_max > z_min else (6e-7,),
                         increasing=True, z_min=z_min, z_max=z_max, n_train=10)


def test_decode_paper_grid_ignores_the_latent_range():
    cfg = {"grid": "paper", "z_min": 0.0, "z_max": 4.0, "z_step": 0.5, "n_points": 3}
    np.testing.assert_allclose(A.decode_z_values(cfg, _calibration(-5.0, 1.0)), np.arange(0, 4.01, 0.5))
    del cfg["grid"]  # the default is the paper's grid
    assert len(A.decode_z_values(cfg, _calibration(-5.0, 1.0))) == 9


def test_decode_latent_grid_spans_the_training_range_evenly():
    cfg = {"grid": "latent", "z_min": 0.0, "z_max": 4.0, "z_step": 0.5, "n_points": 7}
    np.testing.assert_allclose(A.decode_z_values(cfg, _calibration(-4.99, 1.04)),
                               [-4.99, -3.985, -2.98, -1.975, -0.97, 0.035, 1.04])


def test_decode_grid_errors_name_the_key():
    with pytest.raises(ValueError, match="decode.grid"):
        A.decode_z_values({"grid": "log"}, _calibration(0.0, 1.0))
    with pytest.raises(ValueError, match="decode.n_points"):
        A.decode_z_values({"grid": "latent", "n_points": 1}, _calibration(0.0, 1.0))
    with pytest.raises(ValueError, match="collapsed"):
        A.decode_z_values({"grid": "latent", "n_points": 5}, _calibration(0.3, 0.3))
