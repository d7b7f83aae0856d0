"""What the rules of workflow/rules/dataset.smk call: plan, init, simulate a chunk, validate.

The figures of that stage are in :mod:`youngvae.stages.dataset_figures` (another conda env:
the simulation jobs need no plotting libraries).

Each function takes the paths of its rule and the config sections it needs as keyword arguments
named after the section (``dataset=``, ``geometry=``, ``simulation=``). The per-sample plan
(results/dataset/plan.csv) is written once from :class:`~youngvae.physics.plan.ChunkPlan`; the
validation reads it back instead of drawing the wavelengths again.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np
import pandas as pd

from youngvae.data import store
from youngvae.physics import optics, systematics
from youngvae.physics.systematics import Systematics
from youngvae.physics.plan import ChunkPlan
from youngvae.runtime import package_versions, write_json

#: Fault injection for the tests: the job simulating this chunk index writes part of its
#: region, then SIGKILLs itself (as a scheduler or the OOM killer would), leaving no marker.
KILL_ENV = "YOUNGVAE_TEST_KILL_CHUNK"

PLAN_COLUMNS = ("sample", "chunk", "wavelength_m")


def write_plan(*, dataset: dict, path: str | Path) -> pd.DataFrame:
    """The per-sample plan (sample, chunk, wavelength_m) as CSV, for people and for checks."""
    plan = ChunkPlan.from_config(dataset)
    table = pd.DataFrame(
        {
            "sample": np.arange(plan.n_samples),
            "chunk": np.arange(plan.n_samples) // plan.chunk_size,
            "wavelength_m": plan.all_wavelengths_m(),
        }
    )
    table.to_csv(path, index=False, float_format="%.17g")
    return table


def read_plan(path: str | Path) -> pd.DataFrame:
    """The plan written by :func:`write_plan`; a clear error if it is not one."""
    table = pd.read_csv(path)
    if tuple(table.columns) != PLAN_COLUMNS:
        raise ValueError(f"{path}: columns {list(table.columns)}, expected {list(PLAN_COLUMNS)}")
    return table


def split_systematics(simulation: dict) -> tuple[dict, Systematics]:
    """The ``simulation`` section of a store job and its systematics: the rules pass the
    systematics inside ``simulation`` only when an effect is on, so an ideal store keeps the
    params it had before systematics existed (nothing reruns)."""
    plain = {k: v for k, v in simulation.items() if k != "systematics"}
    return plain, Systematics.from_config(simulation.get("systematics"))


def store_systematics(store_path: str | Path) -> Systematics:
    """The systematics a store was made with (its attributes; none recorded = ideal)."""
    return Systematics.from_config(store.read_attrs(store_path).get("systematics"))


def init_store(*, dataset: dict, geometry: dict, simulation: dict, path: str | Path) -> None:
    """Create the empty store with its final shape, chunking and descriptive attributes; with
    systematics, also a variable per drawn nuisance (:data:`systematics.NUISANCES`)."""
    plan = ChunkPlan.from_config(dataset)
    geom = optics.Geometry.from_config(geometry)
    simulation, syst = split_systematics(simulation)
    centres = geom.pixel_centres_m()
    attrs = {
        "title": "Young's double-aperture diffraction patterns",
        "geometry": geom.as_attrs(),
        "simulation": {
            "engine": simulation["engine"],
            "normalize": simulation["normalize"],
            "oversample": simulation.get("oversample"),
        },
        "seed": plan.seed,
        "wavelength_distribution_nm": dataset["wavelength"],
        "chunk_size": plan.chunk_size,
        "versions": package_versions(),
        "systematics": syst.as_attrs(),
    }
    variables = {} if syst.ideal else systematics.NUISANCES
    store.create_store(path, plan.n_samples, plan.chunk_size, centres, centres, attrs, variables)


def simulate_patterns(
    wavelengths_m: np.ndarray, first_sample: int, geometry: dict, simulation: dict,
    syst: Systematics, seed: int,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Patterns of samples ``first_sample, first_sample + 1, ...`` and their drawn nuisances
    ({} when ideal: the plain batch simulation). Each sample's draws come from its own stream
    (dataset seed, global sample index): the same whatever the chunking, the job order or the
    number of cores."""
    if syst.ideal:
        return optics.simulate_from_config(wavelengths_m, geometry, simulation), {}
    geom = optics.Geometry.from_config(geometry)
    images = np.empty((len(wavelengths_m), geom.pixels, geom.pixels), dtype=np.float32)
    drawn = {name: np.empty(len(wavelengths_m)) for name in systematics.NUISANCES}
    for i, wavelength in enumerate(wavelengths_m):
        rng = systematics.sample_rng(seed, first_sample + i)
        nuisances = systematics.draw_nuisances(syst, geom, float(wavelength), rng)
        images[i] = systematics.simulate_sample(float(wavelength), nuisances, geom, simulation, syst, rng)
        for name in drawn:
            drawn[name][i] = nuisances[name]
    return images, drawn


def simulate_chunk(
    *,
    store_path: str | Path,
    chunk_index: int,
    chunk_size: int,
    wavelengths_m: list[float] | np.ndarray,
    geometry: dict,
    simulation: dict,
    marker_path: str | Path,
    log=print,
) -> dict:
    """Simulate one chunk, write its region of the store, then (last) its marker file."""
    wavelengths = np.asarray(wavelengths_m, dtype=np.float64)
    if len(wavelengths) != chunk_size:
        raise ValueError(f"chunk {chunk_index}: {len(wavelengths)} wavelengths for {chunk_size} samples")
    region = slice(chunk_index * chunk_size, (chunk_index + 1) * chunk_size)
    syst = store_systematics(store_path)  # written by init_store from the config
    seed = int(store.read_attrs(store_path)["seed"])
    t0 = time.perf_counter()
    images, drawn = simulate_patterns(wavelengths, region.start, geometry, simulation, syst, seed)
    seconds = time.perf_counter() - t0
    log(f"chunk {chunk_index}: {len(wavelengths)} patterns in {seconds:.2f} s"
        + ("" if syst.ideal else " (with systematics)"))
    if os.environ.get(KILL_ENV) == str(chunk_index):
        half = images.copy()
        half[len(half) // 2 :] = np.nan
        store.write_chunk(store_path, region, half, np.full_like(wavelengths, np.nan))
        os.kill(os.getpid(), signal.SIGKILL)
    store.write_chunk(store_path, region, images, wavelengths, drawn)
    stats = {
        "chunk": chunk_index,
        "samples": [region.start, region.stop],
        "engine": simulation["engine"],
        "wavelength_nm_min": float(wavelengths.min() * 1e9),
        "wavelength_nm_max": float(wavelengths.max() * 1e9),
        "intensity_min": float(images.min()),
        "intensity_max": float(images.max()),
        "intensity_mean": float(images.mean()),
        "seconds": seconds,
        "patterns_per_s": len(wavelengths) / seconds,
    }
    write_json(marker_path, stats)
    return stats


def validate_dataset(
    *, geometry: dict, store_path: str | Path, plan_path: str | Path, out_path: str | Path
) -> dict:
    """Check the finished store against the plan file; raise (writing nothing) if anything is wrong."""
    plan = read_plan(plan_path)
    check = store.check_store(store_path, plan["wavelength_m"].to_numpy())
    pixels = geometry["pixels"]
    problems = list(check.problems)
    if check.image_shape != (pixels, pixels):
        problems.append(f"images are {check.image_shape}, config asks {pixels}x{pixels}")
    if problems:
        raise ValueError(f"dataset store {store_path} is not valid: " + "; ".join(problems))
    wavelengths = store.read_wavelengths(store_path)
    report = {
        "store": str(store_path),
        "n_samples": check.n_samples,
        "image_shape": list(check.image_shape),
        "n_chunks": int(plan["chunk"].nunique()),
        "wavelength_nm_min": float(wavelengths.min() * 1e9),
        "wavelength_nm_max": float(wavelengths.max() * 1e9),
        "wavelength_nm_mean": float(wavelengths.mean() * 1e9),
        "wavelength_nm_std": float(wavelengths.std() * 1e9),
        "ok": True,
    }
    write_json(out_path, report)
    return report
