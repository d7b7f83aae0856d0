"""youngvae.checks.studies: expansion into runs, run names, and what is refused (named)."""

from __future__ import annotations

import pytest

from youngvae.checks.config import ConfigError
from youngvae.checks.studies import (
    StudyError,
    apply_overrides,
    dataset_name,
    expand_studies,
    study_datasets,
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


def test_dataset_side_keys_name_a_store_per_value_shared_across_studies():
    base = {**BASE, "geometry": {"pixels": 256, "screen_size_mm": 20}, "simulation": {"engine": "lightpipes"}}
    studies = expand_studies({**base, "studies": {
        "scale": {"train.seed": [0, 1], "geometry.pixels": [64, 128]},
        "engine": {"simulation.engine": ["fresnel"], "geometry.pixels": [64]},
        "seeds": {"train.seed": [0, 1]},
    }}, accept)
    names = {run.name: dataset_name(run) for runs in studies.values() for run in runs}
    assert names["seed=0__pixels=64"] == names["seed=1__pixels=64"] == "geometry.pixels=64"
    assert names["engine=fresnel__pixels=64"] == "geometry.pixels=64__simulation.engine=fresnel"
    assert names["seed=0"] == ""  # no dataset-side key: the main store
    stores = study_datasets(studies, base)
    assert sorted(stores) == ["geometry.pixels=128", "geometry.pixels=64",
                              "geometry.pixels=64__simulation.engine=fresnel"]
    fresnel = stores["geometry.pixels=64__simulation.engine=fresnel"]
    assert fresnel["geometry"] == {"pixels": 64, "screen_size_mm": 20}
    assert fresnel["simulation"] == {"engine": "fresnel"}
    assert fresnel["dataset"] == {"seed": 0} and "train" not in fresnel


def test_a_store_name_does_not_depend_on_the_main_config():
    studies = expand({"s": {"dataset.seed": [0, 1]}})
    assert [dataset_name(run) for run in studies["s"]] == ["dataset.seed=0", "dataset.seed=1"]


def test_two_dataset_configs_that_read_alike_are_refused():
    # within one study the run names collide first; across studies the store names do
    studies = expand({"a": {"geometry.distance_m": [0.5000001]}, "b": {"geometry.distance_m": [0.5000002]}})
    with pytest.raises(StudyError, match="study 'b'.*different store of that name"):
        study_datasets(studies, {**BASE, "geometry": {"distance_m": 0.5}})


def test_keys_that_only_work_together_are_checked_as_whole_runs():
    def check(cfg):
        if cfg["dataset"]["n_samples"] % cfg["dataset"]["chunk_size"]:
            raise ConfigError("config key 'dataset.chunk_size' must divide 'dataset.n_samples'")

    base = {**BASE, "dataset": {"seed": 0, "n_samples": 40, "chunk_size": 10}}
    ok = expand_studies({**base, "studies": {"s": {"dataset.n_samples": [3000], "dataset.chunk_size": [100]}}}, check)
    assert [r.name for r in ok["s"]] == ["n_samples=3000__chunk_size=100"]  # 100 alone does not divide 40
    with pytest.raises(StudyError, match="study 's': dataset.chunk_size=7: config key 'dataset.chunk_size'"):
        expand_studies({**base, "studies": {"s": {"dataset.n_samples": [3000], "dataset.chunk_size": [100, 7]}}}, check)
    with pytest.raises(StudyError, match="study 's': run 'n_samples=3000__chunk_size=7'"):
        expand_studies({**base, "studies": {"s": {"dataset.n_samples": [3000], "dataset.chunk_size": [7]}}},
                       lambda cfg: check(cfg) if cfg["dataset"]["n_samples"] == 3000 else None)
