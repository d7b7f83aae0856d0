"""Studies: many trainings declared in the config, expanded into runs, validated at start-up.

A study names config keys in dotted form with the values to try; its runs are the Cartesian
product, every other key from the main config::

    studies:
      latent_size:
        train.latent_dim: [1, 2, 4]
        train.seed: [0, 1, 2]

Each run has a readable, stable name built from the varied keys (``latent_dim=2__seed=1``; the
full dotted key where two varied keys share their last part) and a complete config of its own.
The pairs are joined by ``__``, not by a comma: Snakemake hands a cluster job its wildcards as
``--target-jobs rule:study=...,run=...`` and splits that at every comma (measured: with
comma-joined names every study job failed on the local SLURM).
Every value is checked with the main schema and the cross-key checks before any job runs; a
problem names the study, the key and the value.
"""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from youngvae.checks.config import ConfigError

#: Sections whose keys a study may vary today: they change the training and the analysis of a
#: run, not its dataset (a dataset-side key would need a store per value: not built yet).
VARIABLE_SECTIONS = ("train", "decode")
#: Sections that shape the dataset store.
DATASET_SECTIONS = ("dataset", "geometry", "simulation")
#: Study names are Snakemake rule-name suffixes (``study_<name>``) and path components.
STUDY_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: Joins the key=value pairs of a run name.
RUN_SEP = "__"


class StudyError(ConfigError):
    """A study that cannot run; the message names the study and the key."""


@dataclass(frozen=True)
class Run:
    """One training of a study: its name (a path component) and its overrides (dotted key -> value)."""

    study: str
    name: str
    overrides: tuple[tuple[str, Any], ...]

    def config(self, base: Mapping) -> dict:
        """The main config with this run's overrides applied (a deep copy)."""
        return apply_overrides(base, dict(self.overrides))


def apply_overrides(base: Mapping, overrides: Mapping[str, Any]) -> dict:
    """A deep copy of ``base`` with each dotted key set (``train.seed`` -> base['train']['seed'])."""
    out = copy.deepcopy(dict(base))
    for dotted, value in overrides.items():
        node = out
        *parents, last = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return out


def format_value(value: Any) -> str:
    """How a value reads in a run name: 0.5 -> '0.5', 1.0 -> '1', True -> 'true'."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return format(value, "g")
    return str(value)


def _labels(keys: list[str]) -> dict[str, str]:
    """Short labels (the last part) unless two keys share it; then the full dotted key."""
    last = [k.rsplit(".", 1)[-1] for k in keys]
    return {k: (s if last.count(s) == 1 else k) for k, s in zip(keys, last)}


def _check_key(study: str, key: Any, values: Any) -> str:
    if not isinstance(key, str) or not key.strip():
        raise StudyError(f"study {study!r}: key {key!r} must be a dotted config key such as 'train.seed'")
    dotted = key.strip()
    section, _, rest = dotted.partition(".")
    if section in DATASET_SECTIONS:
        raise StudyError(
            f"study {study!r}: key {dotted!r} changes the dataset; studies vary keys of "
            f"{', '.join(VARIABLE_SECTIONS)} for now (a store per dataset value is not built yet)"
        )
    if section not in VARIABLE_SECTIONS or not rest:
        raise StudyError(
            f"study {study!r}: unknown key {dotted!r}; a study varies keys of "
            f"{', '.join(VARIABLE_SECTIONS)} in dotted form (e.g. 'train.latent_dim')"
        )
    if isinstance(values, Mapping):
        raise StudyError(f"study {study!r}: key {dotted!r} must map to a list of values, not a mapping")
    if not isinstance(values, list) or not values:
        raise StudyError(f"study {study!r}: key {dotted!r} needs a non-empty list of values, got {values!r}")
    for value in values:
        text = format_value(value)
        if (not text or text != text.strip()
                or any(bad in text for bad in ("/", ",", "=", RUN_SEP, ":", " "))):
            raise StudyError(
                f"study {study!r}: value {value!r} of key {dotted!r} cannot be part of a run name "
                f"(no '/', ',', '=', ':', {RUN_SEP!r} or spaces)"
            )
    return dotted


def expand_study(study: str, spec: Any, base: Mapping) -> list[Run]:
    """The runs of one study (Cartesian product, in the order keys and values are listed)."""
    if not isinstance(study, str) or not STUDY_NAME.match(study):
        raise StudyError(
            f"study name {study!r} must be letters, digits and '_', not starting with a digit "
            "(it becomes a folder and the target study_<name>)"
        )
    if not isinstance(spec, Mapping) or not spec:
        raise StudyError(f"study {study!r} must map dotted keys to lists of values, got {spec!r}")
    keys: list[str] = []
    for key, values in spec.items():
        dotted = _check_key(study, key, values)
        if dotted in keys:
            raise StudyError(f"study {study!r}: key {dotted!r} is listed twice")
        keys.append(dotted)
    labels = _labels(keys)
    runs, names = [], {}
    for combo in itertools.product(*(spec_values(spec, k) for k in keys)):
        overrides = tuple(zip(keys, combo))
        name = RUN_SEP.join(f"{labels[k]}={format_value(v)}" for k, v in overrides)
        if name in names:
            raise StudyError(
                f"study {study!r}: two runs would be named {name!r} ({dict(names[name])} and "
                f"{dict(overrides)}); list each value once"
            )
        names[name] = overrides
        runs.append(Run(study, name, overrides))
    return runs


def spec_values(spec: Mapping, dotted: str) -> list:
    """The values listed for ``dotted`` (keys may carry stray spaces in the YAML)."""
    return next(v for k, v in spec.items() if isinstance(k, str) and k.strip() == dotted)


def expand_studies(config: Mapping, check: Callable[[dict], None]) -> dict[str, list[Run]]:
    """Every study of ``config['studies']`` as runs; ``check(run_config)`` validates one run's
    config (schema and cross-key checks) and raises with its own message, which is prefixed with
    the study, the key and the value that made it fail."""
    studies = config.get("studies") or {}
    if not isinstance(studies, Mapping):
        raise StudyError(f"config key 'studies' must map study names to keys and values, got {studies!r}")
    base = {k: v for k, v in config.items() if k != "studies"}  # a run's config holds no studies
    out = {}
    for study, spec in studies.items():
        runs = expand_study(study, spec, base)
        keys = [k for k, _ in runs[0].overrides]
        # each value alone first, so a bad value is named even when the product is large
        for key in keys:
            for value in spec_values(spec, key):
                _checked(check, apply_overrides(base, {key: value}), f"study {study!r}: {key}={value!r}")
        for run in runs:
            _checked(check, run.config(base), f"study {study!r}: run {run.name!r}")
        out[study] = runs
    return out


def _checked(check: Callable[[dict], None], run_config: dict, where: str) -> None:
    try:
        check(run_config)
    except Exception as exc:  # the schema's or the cross-key checks' own message, located
        raise StudyError(f"{where}: {exc}") from exc


def varied_keys(runs: list[Run]) -> list[str]:
    """The dotted keys a study varies, in the order listed."""
    return [k for k, _ in runs[0].overrides] if runs else []
