"""youngvae.checks.studies: expansion into runs, run names, and what is refused (named)."""

from __future__ import annotations

import pytest

from youngvae.checks.config import ConfigError
from youngvae.checks.studies import (
    StudyError,
    apply_overrides,
    expand_studies,
    varied_keys,
)

BASE = {"dataset": {"seed": 0}, "train": {"latent_dim": 1, "seed": None, "beta": 1.0, "epochs": 10},
        "decode": {"grid": "paper"}}


def accept(cfg):
    return None


def expand(studies, check=accept):
    return expand_studies({**BASE, "studies": studies}, check)


def test_runs_are_the_cartesian_product_with_readable_stable_names():
    runs = expand({"latent_size": {"train.latent_dim": [1, 2, 4], "train.seed": [0, 1]}})["latent_size"]
    assert [r.name for r in runs] == [
        "latent_dim=1__seed=0", "latent_dim=1__seed=1", "latent_dim=2__seed=0",
        "latent_dim=2__seed=1", "latent_dim=4__seed=0", "latent_dim=4__seed=1",
    ]
    assert varied_keys(runs) == ["train.latent_dim", "train.seed"]
    cfg = runs[3].config(BASE)
    assert cfg["train"] == {"latent_dim": 2, "seed": 1, "beta": 1.0, "epochs": 10}
    assert BASE["train"]["latent_dim"] == 1  # the main config is not touched


def test_float_values_read_plainly_and_shared_last_parts_use_the_dotted_key():
    runs = expand({"kl": {"train.beta": [0.25, 1.0], "decode.grid": ["paper", "latent"]}})["kl"]
    assert [r.name for r in runs][:2] == ["beta=0.25__grid=paper", "beta=0.25__grid=latent"]
    assert runs[2].name == "beta=1__grid=paper"
    runs = expand({"both": {"train.seed": [0], "decode.seed": [1]}})["both"]
    assert runs[0].name == "train.seed=0__decode.seed=1"


def test_no_studies_is_no_runs():
    assert expand_studies(BASE, accept) == {}


@pytest.mark.parametrize(
    ("studies", "named"),
    [
        ({"s": {"model.depth": [1]}}, "study 's': unknown key 'model.depth'"),
        ({"s": {"train": [1]}}, "study 's': unknown key 'train'"),
        ({"s": {"geometry.pixels": [64, 128]}}, "study 's': key 'geometry.pixels' changes the dataset"),
        ({"s": {"train.seed": []}}, "study 's': key 'train.seed' needs a non-empty list"),
        ({"s": {"train.seed": 3}}, "study 's': key 'train.seed' needs a non-empty list"),
        ({"s": {"train.seed": {"a": 1}}}, "must map to a list of values, not a mapping"),
        ({"my-study": {"train.seed": [0]}}, "study name 'my-study' must be letters"),
        ({"1st": {"train.seed": [0]}}, "study name '1st' must be letters"),
        ({"s": {"train.beta": [1, 1.0]}}, "study 's': two runs would be named 'beta=1'"),
        ({"s": {"train.seed": [0], " train.seed": [1]}}, "study 's': key 'train.seed' is listed twice"),
        ({"s": {"decode.grid": ["a/b"]}}, "value 'a/b' of key 'decode.grid' cannot be part of a run name"),
        ({"s": {}}, "study 's' must map dotted keys"),
    ],
)
def test_bad_studies_are_refused_naming_the_study_and_the_key(studies, named):
    with pytest.raises(StudyError) as err:
        expand(studies)
    assert named in str(err.value)
    assert isinstance(err.value, ConfigError)


def test_each_value_is_checked_alone_and_the_failure_names_study_key_and_value():
    def check(cfg):
        if cfg["train"]["latent_dim"] < 1:
            raise ConfigError("train.latent_dim: 0 is less than the minimum of 1")

    with pytest.raises(StudyError) as err:
        expand({"latent": {"train.latent_dim": [1, 0], "train.seed": [0, 1]}}, check)
    assert str(err.value).startswith("study 'latent': train.latent_dim=0: train.latent_dim: 0 is less")


def test_apply_overrides_creates_missing_sections_and_keys():
    assert apply_overrides({}, {"train.seed": 3}) == {"train": {"seed": 3}}
