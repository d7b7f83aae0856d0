"""Smoke tests for youngvae.plots: each figure is written as a non-blank PNG."""

from __future__ import annotations

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

from youngvae.analysis import calibration as C
from youngvae.analysis import latent as L
from youngvae.analysis import plots as P
from youngvae.analysis import zgrid as Z
from youngvae.physics.plan import WavelengthDistribution

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _check_png(path):
    with open(path, "rb") as fh:
        assert fh.read(8) == PNG_SIGNATURE
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] > 50 and img.shape[1] > 50
    assert float(np.var(img[..., :3])) > 0


def _patterns(n=6, h=32, w=32, seed=0):
    rng = np.random.default_rng(seed)
    lam = rng.uniform(400e-9, 900e-9, n)
    y = np.linspace(-2e-3, 2e-3, h)
    imgs = np.empty((n, h, w))
    for i in range(n):
        prof = np.cos(np.pi * y / (lam[i] * 2e3)) ** 2
        imgs[i] = prof[:, None] * np.exp(-(np.linspace(-1, 1, w) ** 2))[None, :]
    return imgs, lam, y


@pytest.fixture
def table():
    rng = np.random.default_rng(1)
    n = 120
    z = rng.normal(size=n)
    lam = (380 + 620 / (1 + np.exp(-1.5 * z))) * 1e-9 + rng.normal(scale=5e-9, size=n)
    split = np.array(["train"] * 80 + ["val"] * 30 + ["unused"] * 10)
    return L.latent_table(np.arange(n), lam, split, z[:, None], np.full((n, 1), -3.0))


def test_wavelength_histogram(tmp_path):
    rng = np.random.default_rng(0)
    lam = np.clip(rng.normal(690e-9, 150e-9, 500), 380e-9, 1000e-9)
    out = P.plot_wavelength_histogram(
        lam, tmp_path / "fig2.png", distribution=WavelengthDistribution(690, 150, 380, 1000)
    )
    assert out == tmp_path / "fig2.png"
    _check_png(out)
    _check_png(P.plot_wavelength_histogram(lam, tmp_path / "fig2b.png"))


def test_example_patterns(tmp_path):
    imgs, lam, y = _patterns()
    _check_png(P.plot_example_patterns(imgs, lam, y, tmp_path / "fig1.png", n=4))
    _check_png(
        P.plot_example_patterns(
            imgs[:2, ..., None], lam[:2], y, tmp_path / "fig1b.png", n=4
        )
    )


def test_loss_curves(tmp_path):
    e = np.arange(1, 11)
    hist = pd.DataFrame(
        {
            "epoch": e,
            "loss": 100 / e,
            "val_loss": 110 / e,
            "reconstruction_loss": 90 / e,
            "val_reconstruction_loss": 95 / e,
            "kl_loss": np.log1p(e),
            "val_kl_loss": np.log1p(e) + 0.1,
        }
    )
    _check_png(P.plot_loss_curves(hist, tmp_path / "fig3.png"))
    _check_png(P.plot_loss_curves(hist[["loss", "val_loss"]], tmp_path / "fig3b.png"))
    with pytest.raises(ValueError, match="history_df"):
        P.plot_loss_curves(pd.DataFrame({"x": [1, 2]}), tmp_path / "bad.png")


def test_latent_histogram(tmp_path, table):
    _check_png(P.plot_latent_histogram(table, tmp_path / "fig5.png"))


def test_z_vs_wavelength(tmp_path, table):
    cal = C.fit_calibration_from_table(table)
    _check_png(P.plot_z_vs_wavelength(table, cal, tmp_path / "fig6.png"))
    _check_png(P.plot_z_vs_wavelength(table, None, tmp_path / "sub" / "fig6b.png"))


def test_zgrid(tmp_path):
    imgs, lam, _ = _patterns(n=5)
    z = Z.z_grid(0, 2, 0.5)
    _check_png(P.plot_zgrid(z, imgs, tmp_path / "fig4.png"))
    _check_png(
        P.plot_zgrid(
            z,
            imgs[..., None],
            tmp_path / "fig4b.png",
            wavelengths_nm=lam * 1e9,
            simulated=imgs[::-1],
            max_cols=3,
        )
    )
