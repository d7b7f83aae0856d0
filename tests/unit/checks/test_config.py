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


class _Delete:
    """A marker: the key is removed (a stable repr, so the test ids match across xdist workers)."""

    def __repr__(self) -> str:
        return "<deleted>"


DELETE = _Delete()


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
    ("train.warmup_fraction", 1.0, "warmup_fraction"),
    ("train.kl_warmup_fraction", -0.1, "kl_warmup_fraction"),
    ("train.lr_schedule", "step", "lr_schedule"),
    ("train.bias_gradients", "bfloat16", "bias_gradients"),
    ("train.sampling", "hard", "sampling"),
    ("train.sampling_floor", 0, "sampling_floor"),
    ("train.encoder_blur_px", -1, "encoder_blur_px"),
    ("train.encoder_blur_px", 64, "encoder_blur_px"),
    ("train.target_blur_px", -1, "target_blur_px"),
    ("train.target_blur_px", 64, "target_blur_px"),
    ("train.blur_renormalize", "yes", "blur_renormalize"),
    ("train.output_conv", "bfloat16", "output_conv"),
    ("train.warmup_steps", 200, "warmup_steps"),
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


# ----------------------------------------------------------------------------- systematics


def with_systematics(section: dict | None) -> dict:
    """The default config with this systematics section (None: without one)."""
    cfg = default_config()
    cfg.pop("systematics", None)
    if section is not None:
        cfg["systematics"] = copy.deepcopy(section)
    return cfg


REALISTIC_SYSTEMATICS = {
    "source": {"bandwidth_nm": 10, "spectral_samples": 9, "label_error_nm": 1},
    "geometry": {"separation_jitter_mm": 0.01, "radius_jitter_mm": 0.002, "distance_jitter_m": 0.005,
                 "screen_shift_mm": 0.1},
    "detector": {"psf_sigma_px": 0.8, "photons_per_pattern": 1.0e6, "read_noise_e": 3, "gain_jitter": 0.02,
                 "bit_depth": 12},
}


def test_config_without_or_with_empty_systematics_is_valid():
    cfg = with_systematics(None)
    validate_all(cfg)
    assert "systematics" not in cfg  # absent stays absent (= the ideal dataset)
    empty = with_systematics({})
    validate_all(empty)
    assert empty["systematics"]["detector"]["bit_depth"] is None  # defaults filled: all off
    validate_all(with_systematics({"detector": {}}))


def test_realistic_systematics_are_valid():
    validate_all(with_systematics(REALISTIC_SYSTEMATICS))


def test_yaml_1e6_is_a_string_and_rejected():
    cfg = with_systematics({"detector": yaml.safe_load("photons_per_pattern: 1e6")})
    with pytest.raises((WorkflowError, ConfigError), match="photons_per_pattern"):
        validate_all(cfg)


# (section, key, value, what the message must contain). Schema errors name the path as
# jsonschema writes it (…['detector']['bit_depth']), so those rows check the leaf name; the
# cross-key rows (check_config) check the full dotted key.
SYSTEMATICS_BAD = [
    ("source", "bandwidth_nm", -1, "bandwidth_nm"),
    ("source", "bandwidth_nm", math.nan, "systematics.source.bandwidth_nm"),
    ("source", "label_error_nm", -0.5, "label_error_nm"),
    ("source", "spectral_samples", 0, "spectral_samples"),
    ("source", "spectral_samples", 2.5, "spectral_samples"),
    ("source", "colour", "red", "colour"),
    ("geometry", "separation_jitter_mm", -0.01, "separation_jitter_mm"),
    ("geometry", "radius_jitter_mm", math.inf, "systematics.geometry.radius_jitter_mm"),
    ("geometry", "distance_jitter_m", -1, "distance_jitter_m"),
    ("geometry", "screen_shift_mm", -0.1, "screen_shift_mm"),
    ("detector", "psf_sigma_px", -1, "psf_sigma_px"),
    ("detector", "photons_per_pattern", 0, "photons_per_pattern"),
    ("detector", "photons_per_pattern", -10, "photons_per_pattern"),
    ("detector", "read_noise_e", -2, "read_noise_e"),
    ("detector", "gain_jitter", -0.1, "gain_jitter"),
    ("detector", "bit_depth", 0, "bit_depth"),
    ("detector", "bit_depth", 33, "bit_depth"),
    ("detector", "bit_depth", 12.5, "bit_depth"),
    # cross-key (check_config): 5 sd limits against the geometry and the wavelength range
    ("geometry", "separation_jitter_mm", 0.2, "systematics.geometry.separation_jitter_mm"),
    ("geometry", "radius_jitter_mm", 0.03, "systematics.geometry.radius_jitter_mm"),
    ("geometry", "distance_jitter_m", 0.1, "systematics.geometry.distance_jitter_m"),
    ("geometry", "screen_shift_mm", 2.0, "systematics.geometry.screen_shift_mm"),
    ("detector", "psf_sigma_px", 43, "systematics.detector.psf_sigma_px"),
    ("detector", "gain_jitter", 0.2, "systematics.detector.gain_jitter"),
    ("source", "label_error_nm", 76, "systematics.source.label_error_nm"),
    ("source", "bandwidth_nm", 250, "systematics.source.bandwidth_nm"),
]


@pytest.mark.parametrize(
    "section,key,value,named", SYSTEMATICS_BAD, ids=[f"{s}.{k}={v!r}" for s, k, v, _ in SYSTEMATICS_BAD]
)
def test_bad_systematics_value_is_rejected_naming_the_key(section, key, value, named):
    cfg = with_systematics({section: {key: value}})
    with pytest.raises((WorkflowError, ConfigError)) as err:
        validate_all(cfg)
    assert named in str(err.value)


def test_read_noise_needs_a_photon_budget():
    with pytest.raises(ConfigError, match=r"systematics\.detector\.read_noise_e"):
        validate_all(with_systematics({"detector": {"read_noise_e": 3}}))
    validate_all(with_systematics({"detector": {"read_noise_e": 3, "photons_per_pattern": 1.0e5}}))


def test_limits_sit_at_five_standard_deviations():
    """Just inside each 5-sd limit passes; the bandwidth limit follows the spectral nodes."""
    validate_all(with_systematics({"geometry": {"separation_jitter_mm": 0.17}}))  # 1.2 - 0.85 > 0.3
    validate_all(with_systematics({"geometry": {"radius_jitter_mm": 0.029}}))  # 0.15 - 0.145 > 0
    validate_all(with_systematics({"geometry": {"screen_shift_mm": 1.99}}))  # 9.95 < 10
    validate_all(with_systematics({"detector": {"psf_sigma_px": 42}}))  # 252 < 256
    validate_all(with_systematics({"source": {"label_error_nm": 75}}))  # 375 < 380
    # 250 nm FWHM: 9 nodes reach 4.51 sd (380 - 479 nm < 0), 3 nodes only 1.73 sd
    validate_all(with_systematics({"source": {"bandwidth_nm": 250, "spectral_samples": 3}}))
    validate_all(with_systematics({"source": {"bandwidth_nm": 190}}))  # 380 - 4.51·80.7 > 0
