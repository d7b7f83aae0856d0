"""The dataset stage as functions: one per Snakemake rule (the scripts only forward arguments)."""

from __future__ import annotations

import json
import os
import signal
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import pandas as pd

from youngvae import optics, store
from youngvae.plan import ChunkPlan

#: Fault injection for the tests: the job simulating this chunk index writes part of its
#: region, then SIGKILLs itself (as a scheduler or the OOM killer would), leaving no marker.
KILL_ENV = "YOUNGVAE_TEST_KILL_CHUNK"


def package_versions() -> dict[str, str]:
    out = {}
    for name in ("youngvae", "numpy", "scipy", "LightPipes", "zarr"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def simulate_from_config(wavelengths_m, geometry_cfg: dict, simulation_cfg: dict) -> np.ndarray:
    """Patterns for `wavelengths_m` with the config's `geometry` and `simulation` sections."""
    return optics.simulate(
        np.asarray(wavelengths_m, dtype=np.float64),
        optics.Geometry.from_config(geometry_cfg),
        engine=simulation_cfg["engine"],
        normalize=simulation_cfg["normalize"],
        oversample=simulation_cfg.get("oversample"),
    )


def write_plan(config: dict, path: str | Path) -> pd.DataFrame:
    """The per-sample plan (sample, chunk, wavelength_m) as CSV, for people and for checks."""
    plan = ChunkPlan.from_config(config)
    table = pd.DataFrame(
        {
            "sample": np.arange(plan.n_samples),
            "chunk": np.arange(plan.n_samples) // plan.chunk_size,
            "wavelength_m": plan.all_wavelengths_m(),
        }
    )
    table.to_csv(path, index=False, float_format="%.17g")
    return table


def init_store(config: dict, path: str | Path) -> None:
    """Create the empty store with its final shape, chunking and descriptive attributes."""
    plan = ChunkPlan.from_config(config)
    geometry = optics.Geometry.from_config(config["geometry"])
    sim = config["simulation"]
    centres = geometry.pixel_centres_m()
    attrs = {
        "title": "Young's double-aperture diffraction patterns",
        "geometry": geometry.as_attrs(),
        "simulation": {
            "engine": sim["engine"],
            "normalize": sim["normalize"],
            "oversample": sim.get("oversample"),
        },
        "seed": plan.seed,
        "wavelength_distribution_nm": config["dataset"]["wavelength"],
        "chunk_size": plan.chunk_size,
        "versions": package_versions(),
    }
    store.create_store(path, plan.n_samples, plan.chunk_size, centres, centres, attrs)


def simulate_chunk(
    store_path: str | Path,
    chunk_index: int,
    chunk_size: int,
    wavelengths_m: list[float] | np.ndarray,
    geometry_cfg: dict,
    simulation_cfg: dict,
    marker_path: str | Path,
    log=print,
) -> dict:
    """Simulate one chunk, write its region of the store, then (last) its marker file."""
    wavelengths = np.asarray(wavelengths_m, dtype=np.float64)
    if len(wavelengths) != chunk_size:
        raise ValueError(f"chunk {chunk_index}: {len(wavelengths)} wavelengths for {chunk_size} samples")
    region = slice(chunk_index * chunk_size, (chunk_index + 1) * chunk_size)
    t0 = time.perf_counter()
    images = simulate_from_config(wavelengths, geometry_cfg, simulation_cfg)
    seconds = time.perf_counter() - t0
    log(f"chunk {chunk_index}: {len(wavelengths)} patterns in {seconds:.2f} s")
    if os.environ.get(KILL_ENV) == str(chunk_index):
        half = images.copy()
        half[len(half) // 2 :] = np.nan
        store.write_chunk(store_path, region, half, np.full_like(wavelengths, np.nan))
        os.kill(os.getpid(), signal.SIGKILL)
    store.write_chunk(store_path, region, images, wavelengths)
    stats = {
        "chunk": chunk_index,
        "samples": [region.start, region.stop],
        "engine": simulation_cfg["engine"],
        "wavelength_nm_min": float(wavelengths.min() * 1e9),
        "wavelength_nm_max": float(wavelengths.max() * 1e9),
        "intensity_min": float(images.min()),
        "intensity_max": float(images.max()),
        "intensity_mean": float(images.mean()),
        "seconds": seconds,
        "patterns_per_s": len(wavelengths) / seconds,
    }
    Path(marker_path).write_text(json.dumps(stats, indent=2) + "\n")
    return stats


def validate_dataset(config: dict, store_path: str | Path, out_path: str | Path) -> dict:
    """Check the finished store against the plan; raise (writing nothing) if anything is wrong."""
    plan = ChunkPlan.from_config(config)
    check = store.check_store(store_path, plan.all_wavelengths_m())
    pixels = config["geometry"]["pixels"]
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
        "n_chunks": plan.n_chunks,
        "wavelength_nm_min": float(wavelengths.min() * 1e9),
        "wavelength_nm_max": float(wavelengths.max() * 1e9),
        "wavelength_nm_mean": float(wavelengths.mean() * 1e9),
        "wavelength_nm_std": float(wavelengths.std() * 1e9),
        "ok": True,
    }
    Path(out_path).write_text(json.dumps(report, indent=2) + "\n")
    return report

