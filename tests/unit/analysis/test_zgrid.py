"""Unit tests for youngvae.analysis.zgrid (fast, synthetic data only)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from youngvae.analysis import calibration as C
from youngvae.analysis import zgrid as A


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


def _calibration(z_min, z_max):
    return C.Calibration(knots_z=(z_min, z_max) if z_max > z_min else (z_min,),
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
