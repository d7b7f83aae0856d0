"""Cross-key checks of the workflow configuration.

The JSON schema (workflow/schemas/config.schema.yaml, applied with ``snakemake.utils.validate``)
checks types, ranges and unknown keys one key at a time. What a schema cannot say (one key
against another, NaN/inf) is checked here, so every bad value fails at start-up with a message
naming the key, before any job runs.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any


class ConfigError(ValueError):
    """A configuration value that cannot work; the message names the key."""


def _walk(node: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            yield from _walk(value, f"{prefix}.{key}" if prefix else str(key))
    else:
        yield prefix, node


def lookup(config: Mapping, dotted: str) -> Any:
    """``lookup(cfg, "dataset.wavelength.min_nm")`` -> the value; ConfigError naming a missing key."""
    node: Any = config
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise ConfigError(f"config key {dotted!r} is missing")
        node = node[part]
    return node


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def check_config(config: Mapping) -> None:
    """Raise ConfigError (naming the key) for any value that no job could use."""
    for key, value in _walk(config):
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"config key {key!r} must be a finite number, got {value!r}")

    n_samples = lookup(config, "dataset.n_samples")
    chunk_size = lookup(config, "dataset.chunk_size")
    _require(
        chunk_size <= n_samples,
        f"config key 'dataset.chunk_size' ({chunk_size}) must not exceed "
        f"'dataset.n_samples' ({n_samples})",
    )
    _require(
        n_samples % chunk_size == 0,
        f"config key 'dataset.chunk_size' ({chunk_size}) must divide 'dataset.n_samples' "
        f"({n_samples}): every job owns whole Zarr chunks",
    )

    wl = lookup(config, "dataset.wavelength")
    _require(
        wl["min_nm"] < wl["max_nm"],
        f"config key 'dataset.wavelength.min_nm' ({wl['min_nm']}) must be smaller than "
        f"'dataset.wavelength.max_nm' ({wl['max_nm']})",
    )
    _require(
        wl["min_nm"] <= wl["mean_nm"] <= wl["max_nm"],
        f"config key 'dataset.wavelength.mean_nm' ({wl['mean_nm']}) must lie within "
        f"[min_nm, max_nm] = [{wl['min_nm']}, {wl['max_nm']}]",
    )

    geometry = lookup(config, "geometry")
    _require(
        geometry["aperture_separation_mm"] > 2 * geometry["aperture_radius_mm"],
        "config key 'geometry.aperture_separation_mm' "
        f"({geometry['aperture_separation_mm']}) must exceed twice "
        f"'geometry.aperture_radius_mm' ({geometry['aperture_radius_mm']}): the holes overlap",
    )
    _require(
        geometry["pixels"] % 2 == 0,
        f"config key 'geometry.pixels' ({geometry['pixels']}) must be even",
    )

    if config.get("systematics") is not None:
        _check_systematics(config)

    if "train" in config:
        train = config["train"]
        n_train, n_val = train["n_train"], train["n_val"]
        _require(
            n_train + n_val <= n_samples,
            f"config keys 'train.n_train' + 'train.n_val' ({n_train} + {n_val}) exceed "
            f"'dataset.n_samples' ({n_samples})",
        )
        _require(
            config["simulation"]["normalize"] == "per_image",
            "config key 'simulation.normalize' is 'none', but the VAE (train) needs images in "
            "[0, 1]: use 'per_image', or build only the dataset outputs with another config",
        )
        _require(
            train["batch_size"] <= n_train,
            f"config key 'train.batch_size' ({train['batch_size']}) must not exceed "
            f"'train.n_train' ({n_train})",
        )
        for key in ("encoder_blur_px", "target_blur_px"):
            blur = train.get(key, 0)
            _require(
                blur <= geometry["pixels"] / 8,
                f"config key 'train.{key}' ({blur}) must not exceed 'geometry.pixels'/8 "
                f"({geometry['pixels'] / 8:g}): a wider blur leaves little of the image",
            )
    if "decode" in config:
        dec = config["decode"]
        _require(
            dec["z_min"] <= dec["z_max"],
            f"config key 'decode.z_min' ({dec['z_min']}) must not exceed "
            f"'decode.z_max' ({dec['z_max']})",
        )


def _check_systematics(config: Mapping) -> None:
    """The ``systematics`` section against the geometry and the wavelength range.

    Every jitter is drawn as a Gaussian truncated at ``TRUNCATION_SD`` (5) standard deviations,
    so the limits below, taken at 5 sd, guarantee that every drawn geometry is valid.
    """
    # imported here: numpy and scipy only for configs that have the section
    from youngvae.physics.systematics import TRUNCATION_SD as K
    from youngvae.physics.systematics import Systematics, spectrum

    try:
        syst = Systematics.from_config(config["systematics"])
    except ValueError as exc:
        raise ConfigError(f"config key {exc}") from None
    key = "config key 'systematics.{}'".format
    geometry, jitter = config["geometry"], syst.geometry
    radius, separation = geometry["aperture_radius_mm"], geometry["aperture_separation_mm"]
    _require(
        radius - K * jitter.radius_jitter_mm > 0,
        f"{key('geometry.radius_jitter_mm')} ({jitter.radius_jitter_mm} mm) allows a radius <= 0 "
        f"within {K:g} sd of 'geometry.aperture_radius_mm' ({radius} mm)",
    )
    _require(
        separation - K * jitter.separation_jitter_mm > 2 * (radius + K * jitter.radius_jitter_mm),
        "config keys 'systematics.geometry.separation_jitter_mm' "
        f"({jitter.separation_jitter_mm} mm) and 'systematics.geometry.radius_jitter_mm' "
        f"({jitter.radius_jitter_mm} mm) let the apertures "
        f"overlap within {K:g} sd (separation {separation} mm, radius {radius} mm)",
    )
    _require(
        geometry["distance_m"] - K * jitter.distance_jitter_m > 0,
        f"{key('geometry.distance_jitter_m')} ({jitter.distance_jitter_m} m) allows a distance <= 0 "
        f"within {K:g} sd of 'geometry.distance_m' ({geometry['distance_m']} m)",
    )
    _require(
        K * jitter.screen_shift_mm < geometry["screen_size_mm"] / 2,
        f"{key('geometry.screen_shift_mm')} ({jitter.screen_shift_mm} mm) moves the pattern's "
        f"centre off the screen within {K:g} sd ('geometry.screen_size_mm' {geometry['screen_size_mm']})",
    )
    detector = syst.detector
    _require(
        6 * detector.psf_sigma_px < geometry["pixels"],
        f"{key('detector.psf_sigma_px')} ({detector.psf_sigma_px} px): the blur's ±3 sigma "
        f"exceeds the screen ('geometry.pixels' {geometry['pixels']})",
    )
    _require(
        K * detector.gain_jitter < 1,
        f"{key('detector.gain_jitter')} ({detector.gain_jitter}) allows a gain <= 0 within {K:g} sd",
    )
    min_nm = config["dataset"]["wavelength"]["min_nm"]
    source = syst.source
    _require(
        K * source.label_error_nm < min_nm,
        f"{key('source.label_error_nm')} ({source.label_error_nm} nm) allows a recorded wavelength "
        f"<= 0 within {K:g} sd of 'dataset.wavelength.min_nm' ({min_nm} nm)",
    )
    try:
        spectrum(min_nm * 1e-9, source.bandwidth_nm * 1e-9, source.spectral_samples)
    except ValueError as exc:
        raise ConfigError(f"config key {exc} ('dataset.wavelength.min_nm')") from None
