"""Unit tests for youngvae.analysis.calibration (fast, synthetic data only)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from youngvae.analysis import calibration as A


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


# ---- the knot count, chosen by cross-validation ---------------------------------------------


def _linear_gaussian(n, seed, noise_nm):
    """λ = 650 nm + 100 nm·z, z ~ N(0, 1): a Gaussian λ like the dataset's, thin at both ends."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n)
    return z, (650 + 100 * z + rng.normal(scale=noise_nm, size=n)) * 1e-9


def test_cross_validated_knots_follow_the_thin_ends_that_32_knots_average_away():
    z, lam = _linear_gaussian(2048, 0, noise_nm=2.0)
    chosen = A.fit_calibration(z, lam)
    fixed = A.fit_calibration(z, lam, n_knots=32)
    assert len(chosen.knots_z) > 32
    assert chosen.knot_choice["cv_rmse"][str(len(chosen.knots_z))] == min(chosen.knot_choice["cv_rmse"].values())
    z_ends = np.concatenate([np.linspace(-3, -2, 11), np.linspace(2, 3, 11)])
    truth = (650 + 100 * z_ends) * 1e-9
    err_chosen = np.abs(chosen.predict(z_ends) - truth).max() * 1e9
    err_fixed = np.abs(fixed.predict(z_ends) - truth).max() * 1e9
    # 32 equal-count knots: the end knots average 64 patterns each and clamp beyond (~1 z unit short)
    assert err_fixed > 50
    assert err_chosen < err_fixed / 2


def test_cross_validation_prefers_few_knots_when_noise_dominates():
    z, lam = _linear_gaussian(2048, 1, noise_nm=1000.0)
    n_knots, rmse = A.choose_n_knots(z, lam)
    assert n_knots <= 16
    # one-standard-error rule: every count predicts pure noise alike, the smallest is chosen even
    # where a larger one happens to score lower (here 1024, by 0.006 %)
    assert set(rmse) == set(A.KNOT_GRID)
    # held-out error of any monotone fit: the noise itself (σ = 1000 nm), the map adds little
    assert all(0.97e-6 < v < 1.03e-6 for v in rmse.values())


def test_knot_choice_is_seeded_and_falls_back_on_tiny_data():
    z, lam = _linear_gaussian(300, 2, noise_nm=5.0)
    assert A.choose_n_knots(z, lam) == A.choose_n_knots(z, lam)
    assert A.choose_n_knots(z[:9], lam[:9]) == (min(A.KNOT_GRID), {})
    cal = A.fit_calibration(z[:9], lam[:9])
    assert len(cal.knots_z) == 8 and cal.knot_choice["cv_rmse"] == {}
    with pytest.raises(ValueError, match="n_knots"):
        A.fit_calibration(z, lam, n_knots="many")
    with pytest.raises(ValueError, match="folds"):
        A.choose_n_knots(z, lam, folds=1)


def test_rescoring_an_encoded_run_prints_one_row_per_file_and_setting(tmp_path, capsys):
    import pandas as pd

    z, lam = _linear_gaussian(600, 3, noise_nm=2.0)
    split = np.where(np.arange(600) % 3 == 0, "val", "train")
    path = tmp_path / "latent.csv"
    pd.DataFrame({"wavelength_m": lam, "split": split, "z_mean_0": z}).to_csv(path, index=False)
    table = pd.read_csv(path)
    fixed = A.rescore(table, 8)
    assert fixed["knots"] == 8
    train, val = table[table.split == "train"], table[table.split == "val"]
    expected = A.fit_calibration(train.z_mean_0, train.wavelength_m, n_knots=8).predict(val.z_mean_0)
    assert fixed["rmse_nm"] == pytest.approx(np.sqrt(np.mean((expected - val.wavelength_m) ** 2)) * 1e9)
    A.main([str(path), "--knots", "8", "cv"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and lines[2].startswith(f"| {path} | 8, {fixed['rmse_nm']:.2f},")


def test_cross_validation_offers_1024_knots_for_a_finely_structured_noise_free_map():
    # a monotone map (slope 100 ± 80 nm per unit z) with 40 wiggles over the range, no noise:
    # the knots' spacing is the whole error, so the finest count predicts held-out pairs best, by
    # far more than a standard error (the renormalized recipe's paper-scale encodings are that
    # sharp: the CV there chose the largest count offered, 512, before 1024 was added)
    rng = np.random.default_rng(4)
    z = rng.uniform(-2, 2, 2048)
    lam = (650 + 100 * z + np.sin(80 * z)) * 1e-9
    n_knots, rmse = A.choose_n_knots(z, lam)
    assert max(A.KNOT_GRID) == 1024
    assert n_knots == 1024 and rmse[1024] < 0.6 * rmse[512]
