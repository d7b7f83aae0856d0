"""The fold diagnostics against closed forms and known answers."""

import numpy as np
import pytest
from scipy import integrate, stats

from youngvae.analysis import tails


def test_excess_bce_is_the_bernoulli_kl_summed_over_pixels():
    x = np.array([[[0.3, 0.0], [1.0, 0.8]]])
    r = np.array([[[0.5, 0.2], [0.9, 0.8]]])
    xc, rc = np.clip(x, 1e-7, 1 - 1e-7), np.clip(r, 1e-7, 1 - 1e-7)
    expected = np.sum(xc * np.log(xc / rc) + (1 - xc) * np.log((1 - xc) / (1 - rc)))
    np.testing.assert_allclose(tails.excess_bce(x, r), [expected], rtol=1e-12)
    assert tails.excess_bce(x, x)[0] == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match="shapes"):
        tails.excess_bce(x, r[:, :1])


@pytest.mark.parametrize("mu, log_var", [(0.0, 0.0), (2.0, -3.0), (-1.5, 0.7)])
def test_kl_to_prior_matches_a_numerical_integral(mu, log_var):
    sigma = np.exp(log_var / 2)
    q, p = stats.norm(mu, sigma), stats.norm(0, 1)
    direct, _ = integrate.quad(lambda z: q.pdf(z) * (q.logpdf(z) - p.logpdf(z)), mu - 12 * sigma, mu + 12 * sigma)
    np.testing.assert_allclose(tails.kl_to_prior([mu], [log_var]), [direct], rtol=1e-6, atol=1e-9)
    # two units add
    np.testing.assert_allclose(tails.kl_to_prior([[mu, mu]], [[log_var, log_var]]), [2 * direct], rtol=1e-6, atol=1e-9)


def test_per_bin_gives_medians_and_counts():
    lam = np.array([410, 420, 430, 460, 470])
    table = tails.per_bin(lam, {"z": [1, 2, 30, 4, 6]}, [400, 450, 500])
    assert table.index.tolist() == ["400-450", "450-500"]
    assert table["count"].tolist() == [3, 2] and table["z"].tolist() == [2.0, 5.0]


def test_nearest_wavelength_finds_the_family_member_and_along_z_reads_a_known_decoder():
    lam = np.linspace(400, 1000, 61)
    grid = np.linspace(-1, 1, 32)
    images = np.stack([np.exp(-(grid[:, None] ** 2 + grid[None] ** 2) / (2 * (l / 2000) ** 2)) for l in lam])
    np.testing.assert_allclose(tails.nearest_wavelength(images[[3, 40]], images, lam, k=1), lam[[3, 40]])
    # a decoder that renders λ = 700 + 100 z, saturating at 850 (the fold's signature)
    z_data = (lam - 700) / 100

    def decode(z):
        rendered = np.minimum(700 + 100 * z, 850)
        return np.stack([np.exp(-(grid[:, None] ** 2 + grid[None] ** 2) / (2 * (r / 2000) ** 2)) for r in rendered])

    table = tails.along_z(decode, images, lam, z_data, n_points=7, margin=0.0)
    expected = np.minimum(700 + 100 * table["z"], 850)
    np.testing.assert_allclose(table["decoder_renders_nm"], expected, atol=20)  # nearest of a 10 nm family, median of 5
    assert table["data_min_nm"].notna().all()


def test_fold_scores_are_one_for_a_monotone_map_and_drop_where_a_map_turns_back():
    lam = np.linspace(400.0, 500.0, 101)
    np.testing.assert_allclose(tails.fold_scores(lam[:, None], lam, 20.0)[:-3], 1.0)
    folded = np.abs(lam - 450.0)[:, None]  # the map turns back at 450 nm
    scores = tails.fold_scores(folded, lam, 20.0)
    assert np.all(scores[lam <= 430] == pytest.approx(1.0))  # window ends before the turn
    assert np.all(scores[(lam >= 450) & (lam < 497)] == pytest.approx(1.0))  # after it
    assert np.all(scores[(lam >= 437) & (lam <= 444)] < 0.6)  # the window spans the turn: back toward i
    assert scores[lam == 441] < 0
    assert np.isnan(scores[-1]) and np.isnan(scores[-3])  # fewer than 3 patterns ahead
    with pytest.raises(ValueError, match="feature rows"):
        tails.fold_scores(folded[:5], lam)


def test_fold_by_layer_names_the_first_layer_that_folds():
    import keras

    # pixels = λ/1000 everywhere; conv = identity; hidden = relu(±(x − 0.45)); out = |x − 0.45|
    inputs = keras.Input((4, 4, 1))
    conv = keras.layers.Conv2D(1, 1, name="conv", kernel_initializer="ones", bias_initializer="zeros")(inputs)
    mean = keras.layers.Flatten()(conv)
    hidden = keras.layers.Dense(2, activation="relu", name="hidden")(mean)
    out = keras.layers.Dense(1, name="out", kernel_initializer="ones", bias_initializer="zeros")(hidden)
    encoder = keras.Model(inputs, out)
    encoder.get_layer("hidden").set_weights([np.tile([[1.0, -1.0]], (16, 1)) / 16, np.array([-0.45, 0.45])])
    lam = np.linspace(400.0, 500.0, 101)
    images = np.broadcast_to((lam / 1000.0)[:, None, None], (101, 4, 4)).copy()
    table = tails.fold_by_layer(encoder, images, lam, window_nm=20.0, edges_nm=(400, 430, 436, 445))
    assert list(table.columns) == ["count", "pixels", "conv", "hidden", "out"]
    assert table.loc["400-430", ["pixels", "conv", "hidden", "out"]].tolist() == pytest.approx([1, 1, 1, 1])
    assert table.loc["436-445", ["pixels", "conv", "hidden"]].tolist() == pytest.approx([1, 1, 1])
    assert table.loc["436-445", "out"] < 0.5  # only the last layer turns back
