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
    if "decode" in config:
        dec = config["decode"]
        _require(
            dec["z_min"] <= dec["z_max"],
            f"config key 'decode.z_min' ({dec['z_min']}) must not exceed "
            f"'decode.z_max' ({dec['z_max']})",
        )
