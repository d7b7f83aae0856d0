"""youngvae.stages.model's guards: an incomplete or misshapen store stops training with a clear error."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from youngvae.data import store
from youngvae.stages import model as chain


@pytest.fixture
def half_written_store(tmp_path):
    path = tmp_path / "s.zarr"
    centres = np.linspace(-1, 1, 8)
    store.create_store(path, 8, 4, centres, centres, {})
    store.write_chunk(path, slice(0, 4), np.full((4, 8, 8), 0.5), np.full(4, 5e-7))
    return path


def test_incomplete_store_is_refused_before_training(half_written_store, tmp_path):
    with pytest.raises(ValueError, match="incomplete.*first: 4"):
        store.read_complete_images(half_written_store, np.arange(8))
    with pytest.raises(ValueError, match="incomplete"):
        chain.train(
            store_path=half_written_store,
            dataset={"seed": 0},
            train={"epochs": 1, "n_train": 4, "n_val": 4, "batch_size": 2},
            model_path=tmp_path / "m.keras",
            history_path=tmp_path / "h.csv",
            split_path=tmp_path / "s.csv",
            figure_path=tmp_path / "f.png",
            checkpoint_dir=tmp_path / "ckpt",
        )
    assert not (tmp_path / "m.keras").exists()


def test_split_larger_than_store_names_the_keys(half_written_store):
    with pytest.raises(ValueError, match="train.n_train \\+ train.n_val"):
        chain.load_split(half_written_store, {"n_train": 6, "n_val": 4}, seed=0)


def test_split_is_deterministic_and_disjoint(half_written_store):
    a = chain.load_split(half_written_store, {"n_train": 5, "n_val": 2}, seed=3)
    b = chain.load_split(half_written_store, {"n_train": 5, "n_val": 2}, seed=3)
    assert a.equals(b)
    assert a["split"].value_counts().to_dict() == {"train": 5, "val": 2, "unused": 1}


GEOMETRY_16 = {"aperture_radius_mm": 0.15, "aperture_separation_mm": 1.2, "screen_size_mm": 2.0, "distance_m": 0.5}


@pytest.fixture
def compared(monkeypatch):
    """The reference images the stage hands to images.compare_decoded, under "reference"."""
    from youngvae.analysis import images as image_metrics

    seen = {}
    original = image_metrics.compare_decoded

    def spy(decoded, reference, **kw):
        seen["reference"] = np.asarray(reference)
        return original(decoded, reference, **kw)

    monkeypatch.setattr(image_metrics, "compare_decoded", spy)
    return seen


def test_generated_are_compared_with_real_patterns_blurred_as_the_loss_saw_them(tmp_path, compared):
    """A model trained against blurred targets (train.target_blur_px) is compared with the
    validation patterns through the same blur; at 0 with the sharp patterns."""
    import json

    from youngvae.testing import reference_blur

    from youngvae.analysis import calibration as calib
    from youngvae.vae.model import build_vae, save_vae

    n, size = 12, 16
    rng = np.random.default_rng(0)
    real = rng.uniform(0, 1, (n, size, size))
    lam = np.linspace(400e-9, 900e-9, n)
    path = tmp_path / "s.zarr"
    centres = np.linspace(-1e-3, 1e-3, size)
    store.create_store(path, n, 6, centres, centres, {})
    store.write_chunk(path, slice(0, 6), real[:6], lam[:6])
    store.write_chunk(path, slice(6, 12), real[6:], lam[6:])
    z = np.linspace(-1.5, 1.5, n)
    split = np.where(np.arange(n) % 3 == 0, "val", "train")
    pd.DataFrame({"sample": np.arange(n), "wavelength_m": lam, "split": split, "z_mean_0": z,
                  "z_log_var_0": np.full(n, -4.0)}).to_csv(tmp_path / "latent.csv", index=False)
    (tmp_path / "cal.json").write_text(json.dumps(calib.fit_calibration(z[split == "train"], lam[split == "train"], 4).to_dict()))
    geometry = {**GEOMETRY_16, "pixels": size}
    for blur in (0.0, 1.5):
        compared.clear()
        save_vae(build_vae(size, 1, seed=1, target_blur_px=blur), tmp_path / "m.keras")
        out = chain.compare_generated(
            store_path=path, model_path=tmp_path / "m.keras", latent_path=tmp_path / "latent.csv",
            calibration_path=tmp_path / "cal.json", geometry=geometry,
            dataset={"wavelength": {"min_nm": 380, "max_nm": 1000}}, json_path=tmp_path / "g.json",
            figure_path=tmp_path / "g.png", n_permutations=10, log=lambda s: None)
        val = real[split == "val"]
        expected = reference_blur(val, blur)
        np.testing.assert_allclose(compared["reference"], expected, rtol=1e-5, atol=1e-6)
        assert out["real_blurred_px"] == blur


@pytest.mark.parametrize("blur, renormalize", [(0.0, False), (1.5, False), (1.5, True)])
def test_the_z_grid_is_compared_with_simulations_blurred_as_the_loss_saw_them(tmp_path, compared, blur, renormalize):
    import json

    from youngvae.testing import reference_blur

    from youngvae.analysis import calibration as calib
    from youngvae.physics import optics
    from youngvae.vae.model import build_vae, save_vae

    size = 16
    geometry = {**GEOMETRY_16, "pixels": size}
    simulation = {"engine": "fresnel", "oversample": 1, "normalize": "per_image"}
    z = np.linspace(-2, 2, 9)
    cal = calib.fit_calibration(z, np.linspace(400e-9, 900e-9, 9), 4)
    (tmp_path / "cal.json").write_text(json.dumps(cal.to_dict()))
    save_vae(build_vae(size, 1, seed=1, target_blur_px=blur, blur_renormalize=renormalize), tmp_path / "m.keras")
    out = chain.decode_grid(
        model_path=tmp_path / "m.keras", calibration_path=tmp_path / "cal.json",
        decode={"grid": "paper", "z_min": -1.0, "z_max": 1.0, "z_step": 0.5}, geometry=geometry,
        simulation=simulation, zarr_path=tmp_path / "g.zarr", metrics_path=tmp_path / "g.json",
        figure_path=tmp_path / "g.png", log=lambda s: None)
    sharp = optics.simulate_from_config(np.atleast_1d(cal.predict(np.asarray(out["z"]))), geometry, simulation)
    expected = reference_blur(sharp, blur)
    if renormalize:
        expected = expected / expected.max(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(compared["reference"], expected, rtol=1e-5, atol=1e-6)
    assert out["simulated_blurred_px"] == blur and out["simulated_blur_renormalized"] == renormalize
