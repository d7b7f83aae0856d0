"""Correlation matrix and MIG on cases with a known answer."""

from __future__ import annotations

import numpy as np
import pytest

from youngvae.analysis import disentangle as D

N = 4000


def factors(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=N), rng.uniform(size=N)


def test_mutual_information_of_a_variable_with_itself_is_its_entropy_and_zero_with_noise():
    a, b = factors()
    ca, cb = D.quantile_codes(a), D.quantile_codes(b)
    assert D.entropy(ca) == pytest.approx(np.log(D.BINS), rel=1e-3)  # equal-count bins
    assert D.mutual_information(ca, ca) == pytest.approx(D.entropy(ca), rel=1e-9)
    # independent: the plug-in bias is about (bins-1)^2 / (2N) nats
    assert D.mutual_information(ca, cb) < 2 * (D.BINS - 1) ** 2 / (2 * N)


def test_one_unit_per_factor_gives_a_mig_near_one_and_a_diagonal_matrix():
    a, b = factors()
    z = np.column_stack([np.tanh(a), b ** 3])  # monotone maps: the same information
    out = D.disentanglement(z, [0, 1], {"wavelength_m": a, "distance_m": b})
    assert out["mig"] > 0.85
    m = out["abs_spearman_matrix"]
    assert m["wavelength_m"][0] == pytest.approx(1.0) and m["distance_m"][1] == pytest.approx(1.0)
    assert m["wavelength_m"][1] < 0.05 and m["distance_m"][0] < 0.05


def test_two_units_that_read_the_same_factor_give_no_gap():
    a, b = factors()
    z = np.column_stack([a, 2 * a + 1])
    value, gaps = D.mig(z, np.column_stack([a, b]))
    assert gaps[0] == pytest.approx(0.0, abs=1e-9)  # both units read a fully: no gap
    assert abs(gaps[1]) < 0.05  # neither reads b
    assert value < 0.05


def test_a_mixed_latent_scores_between():
    a, b = factors()
    z = np.column_stack([a + 0.5 * (b - 0.5) * 4, b])
    value, _ = D.mig(z, np.column_stack([a, b]))
    assert 0.1 < value < 0.85


def test_only_varying_parameters_are_factors():
    out = D.varied_factors({"wavelength_m": np.arange(5.0), "gain": np.ones(5)})
    assert list(out) == ["wavelength_m"]
