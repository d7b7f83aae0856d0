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


def build_store(tmp_path, section):
    """The 6-sample store of DATASET with the systematics ``section``, both chunks written."""
    path = tmp_path / "d.zarr"
    simulation = SIMULATION if section is None else {**SIMULATION, "systematics": section}
    dataset.init_store(dataset=DATASET, geometry=GEOMETRY, simulation=simulation, path=path)
    plan = dataset.ChunkPlan.from_config(DATASET)
    for chunk in range(2):
        dataset.simulate_chunk(store_path=path, chunk_index=chunk, chunk_size=3,
                               wavelengths_m=plan.chunk_wavelengths_m(chunk), geometry=GEOMETRY,
                               simulation=SIMULATION, marker_path=tmp_path / f"{chunk}.json", log=lambda m: None)
    return path, plan


@pytest.mark.parametrize("section", [None, NOISY])
def test_a_store_records_its_systematics_and_every_drawn_nuisance(tmp_path, section):
    path, plan = build_store(tmp_path, section)
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


@pytest.mark.parametrize("section", [None, {"detector": {"photons_per_pattern": 1.0e5}}, NOISY])
def test_encode_reports_the_lambda_z_floor_of_a_store_with_a_distance_jitter(tmp_path, section):
    from youngvae.physics.floors import distance_floor
    from youngvae.stages.model import distance_floor_metrics

    path, _ = build_store(tmp_path, section)
    true = store.read_wavelengths(path)
    split = np.array(["train", "val", "train", "val", "train", "val"])
    floor = distance_floor_metrics(path, true, split)
    if section is not NOISY:  # no distance jitter (ideal, or another effect): no floor
        assert floor == {}
        return
    # in nm, against the store's drawn distances and its nominal 0.5 m, fitted on the train rows
    distance = store.read_sample_variable(path, "distance_m")
    direct = distance_floor(true * 1e9, distance, 0.5, np.array([0, 2, 4]), np.array([1, 3, 5]))
    assert floor == {"distance_floor_rmse_nm": direct["rmse"], "distance_floor_max_abs_err_nm": direct["max_abs"]}
    # a 5 mm jitter (1 %) of 450-900 nm: errors of a few nm, not metres or zero
    assert 0.5 < floor["distance_floor_rmse_nm"] <= floor["distance_floor_max_abs_err_nm"] < 50
