"""The dataset stage with systematics: per-sample draws independent of the chunking, nuisances
recorded in the store, the ideal path unchanged."""

from __future__ import annotations

import numpy as np
import pytest

from youngvae.data import store
from youngvae.physics import optics
from youngvae.physics.systematics import NUISANCES, Systematics
from youngvae.stages import dataset

GEOMETRY = {"aperture_radius_mm": 0.15, "aperture_separation_mm": 1.2, "screen_size_mm": 5.0,
            "distance_m": 0.5, "pixels": 32}
SIMULATION = {"engine": "fresnel", "normalize": "per_image", "oversample": 2}
DATASET = {"n_samples": 6, "chunk_size": 3, "seed": 4,
           "wavelength": {"mean_nm": 650, "std_nm": 100, "min_nm": 380, "max_nm": 1000}}
NOISY = {"source": {"label_error_nm": 5.0},
         "geometry": {"distance_jitter_m": 0.005, "screen_shift_mm": 0.05},
         "detector": {"psf_sigma_px": 0.7, "photons_per_pattern": 1.0e5, "read_noise_e": 2.0,
                      "gain_jitter": 0.02, "bit_depth": 12}}
LAM = np.array([450e-9, 520e-9, 610e-9, 700e-9, 800e-9, 900e-9])


def test_the_ideal_path_is_the_plain_simulation():
    images, drawn = dataset.simulate_patterns(LAM, 0, GEOMETRY, SIMULATION, Systematics.from_config(None), 0)
    assert drawn == {}
    np.testing.assert_array_equal(images, optics.simulate_from_config(LAM, GEOMETRY, SIMULATION))


def test_draws_do_not_depend_on_the_chunking():
    syst = Systematics.from_config(NOISY)
    whole, drawn = dataset.simulate_patterns(LAM, 0, GEOMETRY, SIMULATION, syst, seed=4)
    first, d1 = dataset.simulate_patterns(LAM[:2], 0, GEOMETRY, SIMULATION, syst, seed=4)
    rest, d2 = dataset.simulate_patterns(LAM[2:], 2, GEOMETRY, SIMULATION, syst, seed=4)
    np.testing.assert_array_equal(whole, np.concatenate([first, rest]))
    for name in NUISANCES:
        np.testing.assert_array_equal(drawn[name], np.concatenate([d1[name], d2[name]]))
    other, _ = dataset.simulate_patterns(LAM, 0, GEOMETRY, SIMULATION, syst, seed=5)
    assert not np.array_equal(whole, other)  # the dataset seed matters
    assert np.all((whole >= 0) & (whole <= 1)) and np.all(whole.max(axis=(1, 2)) == 1)
    assert np.all(drawn["recorded_wavelength_m"] != LAM) and np.all(drawn["aperture_separation_m"] == 1.2e-3)


@pytest.mark.parametrize("section", [None, NOISY])
def test_a_store_records_its_systematics_and_every_drawn_nuisance(tmp_path, section):
    path = tmp_path / "d.zarr"
    simulation = SIMULATION if section is None else {**SIMULATION, "systematics": section}
    dataset.init_store(dataset=DATASET, geometry=GEOMETRY, simulation=simulation, path=path)
    plan = dataset.ChunkPlan.from_config(DATASET)
    for chunk in range(2):
        dataset.simulate_chunk(store_path=path, chunk_index=chunk, chunk_size=3,
                               wavelengths_m=plan.chunk_wavelengths_m(chunk), geometry=GEOMETRY,
                               simulation=SIMULATION, marker_path=tmp_path / f"{chunk}.json", log=lambda m: None)
    attrs = store.read_attrs(path)
    assert Systematics.from_config(attrs["systematics"]) == Systematics.from_config(section)
    assert "systematics" not in attrs["simulation"]
    recorded = store.read_sample_variable(path, "recorded_wavelength_m")
    if section is None:
        assert recorded is None  # an ideal store is what it was before systematics existed
        np.testing.assert_array_equal(store.read_images(path),
                                      optics.simulate_from_config(plan.all_wavelengths_m(), GEOMETRY, SIMULATION))
    else:
        true = store.read_wavelengths(path)
        assert 0 < np.abs(recorded - true).max() < 5 * 5e-9
        distance = store.read_sample_variable(path, "distance_m")
        assert np.all(np.isfinite(distance)) and len(set(distance)) == 6
        assert store.check_store(path, plan.all_wavelengths_m()).ok
