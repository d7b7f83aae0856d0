"""Every invalid config value fails at start-up with a message naming the key."""

from __future__ import annotations

import copy
import math

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from youngvae.checks.config import ConfigError, check_config
from youngvae.testing import REPO

SCHEMA = str(REPO / "workflow" / "schemas" / "config.schema.yaml")


def default_config() -> dict:
    return yaml.safe_load((REPO / "config.yaml").read_text())


def with_value(cfg: dict, dotted: str, value) -> dict:
    cfg = copy.deepcopy(cfg)
    *parents, last = dotted.split(".")
    node = cfg
    for key in parents:
        node = node[key]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return cfg


DELETE = object()


BAD_VALUES = [
    ("geometry.aperture_radius_mm", -0.15, "aperture_radius_mm"),
    ("geometry.aperture_radius_mm", 0, "aperture_radius_mm"),
    ("geometry.distance_m", -0.5, "distance_m"),
    ("geometry.screen_size_mm", 0.0, "screen_size_mm"),
    ("geometry.pixels", 256.5, "pixels"),
    ("geometry.pixels", 255, "pixels"),
    ("geometry.pixels", "256", "pixels"),
    ("dataset.wavelength.std_nm", 0, "std_nm"),
    ("dataset.wavelength.std_nm", -100, "std_nm"),
    ("dataset.wavelength.std_nm", math.nan, "std_nm"),
    ("dataset.wavelength.mean_nm", math.inf, "mean_nm"),
    ("dataset.wavelength.min_nm", 1000, "min_nm"),
    ("dataset.wavelength.min_nm", 1200, "min_nm"),
    ("dataset.chunk_size", 0, "chunk_size"),
    ("dataset.chunk_size", 6000, "chunk_size"),
    ("dataset.chunk_size", 7, "chunk_size"),
    ("dataset.n_samples", -3, "n_samples"),
    ("dataset.seed", 1.5, "seed"),
    ("dataset.seed", DELETE, "seed"),
    ("simulation.engine", "raytracer", "engine"),
    ("simulation.normalize", "max", "normalize"),
    ("simulation.oversample", 0, "oversample"),
    ("geometry.aperture_separation_mm", 0.2, "aperture_separation_mm"),
    ("geometry.wavelength_nm", 500, "wavelength_nm"),
    ("train.n_train", 3000, "n_train"),
    ("train.epochs", 0, "epochs"),
    ("train.warmup_steps", -1, "warmup_steps"),
    ("train.latent_dim", 0, "latent_dim"),
    ("train.batch_size", 4096, "batch_size"),
    ("decode.z_step", 0, "z_step"),
    ("simulation.normalize", "none", "simulation.normalize"),
    ("decode.z_min", 5.0, "z_min"),
]


def validate_all(cfg: dict) -> None:
    validate(cfg, SCHEMA)
    check_config(cfg)


def test_default_config_is_valid():
    validate_all(default_config())


def test_quick_config_is_valid():
    cfg = default_config()
    quick = yaml.safe_load((REPO / "tests" / "configs" / "quick.yaml").read_text())
    for section, values in quick.items():
        cfg[section].update(values)
    validate_all(cfg)


@pytest.mark.parametrize(
    "key,value,named", BAD_VALUES, ids=[f"{k}={v!r}" for k, v, _ in BAD_VALUES]
)
def test_bad_value_is_rejected_naming_the_key(key, value, named):
    cfg = with_value(default_config(), key, value)
    with pytest.raises((WorkflowError, ConfigError)) as err:
        validate_all(cfg)
    assert named in str(err.value)
