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

Keys of the dataset-side sections (``dataset``, ``geometry``, ``simulation``, ``systematics``)
make a dataset store per value: :func:`dataset_name` names it by the run's dataset-side values
(``geometry.pixels=64``, sorted dotted keys, so runs of any study with the same values share one
store); a run that varies no dataset-side key trains on the main store.
"""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from youngvae.checks.config import ConfigError

#: Sections that shape the dataset store (a value of theirs makes a store of its own).
DATASET_SECTIONS = ("dataset", "geometry", "simulation", "systematics")
#: Sections whose keys a study may vary.
VARIABLE_SECTIONS = (*DATASET_SECTIONS, "train", "decode")
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
        # each value alone too, so a failing run names the bad key and value; a value that fails
        # alone but works with the other varied keys (dataset.n_samples with dataset.chunk_size)
        # is fine: only whole runs must pass
        alone = {}
        for key in keys:
            for value in spec_values(spec, key):
                try:
                    check(apply_overrides(base, {key: value}))
                except Exception as exc:
                    alone[(key, format_value(value))] = (value, exc)
        for run in runs:
            try:
                check(run.config(base))
            except Exception as exc:
                bad = [(k, alone[(k, format_value(v))]) for k, v in run.overrides if (k, format_value(v)) in alone]
                if bad:
                    key, (value, first) = bad[0]
                    raise StudyError(f"study {study!r}: {key}={value!r}: {first}") from first
                raise StudyError(f"study {study!r}: run {run.name!r}: {exc}") from exc
        out[study] = runs
    return out


def varied_keys(runs: list[Run]) -> list[str]:
    """The dotted keys a study varies, in the order listed."""
    return [k for k, _ in runs[0].overrides] if runs else []


def dataset_name(run: Run) -> str:
    """The dataset store a run trains on: '' for the main store (the run varies no dataset-side
    key), else its dataset-side overrides, sorted (``geometry.pixels=64__simulation.engine=fresnel``).

    The name depends on the run's own values only, not on the main config: changing a main
    dataset key that a run overrides moves no run to another store (nothing of it reruns), and
    every run with the same dataset-side values, in any study, shares one store.
    """
    dataset_side = sorted((k, v) for k, v in run.overrides if k.split(".", 1)[0] in DATASET_SECTIONS)
    return RUN_SEP.join(f"{k}={format_value(v)}" for k, v in dataset_side)


def study_datasets(studies: Mapping[str, list[Run]], base: Mapping) -> dict[str, dict]:
    """{store name: the dataset-side sections of its config} for every store the studies need
    beyond the main one; two different dataset configs that would share a name are refused."""
    out: dict[str, dict] = {}
    for runs in studies.values():
        for run in runs:
            cfg = run.config(base)
            name = dataset_name(run)
            if not name:
                continue
            sections = {s: cfg[s] for s in DATASET_SECTIONS if s in cfg}
            if name in out and out[name] != sections:
                raise StudyError(
                    f"study {run.study!r}: run {run.name!r} needs a dataset store named {name!r}, "
                    "and another run needs a different store of that name (values that read alike "
                    "in a name, e.g. floats equal to 6 digits); make the values distinct"
                )
            out[name] = sections
    return out
