"""The shipped training recipe where it is cheap: the default train section, unchanged, on the
64 px / 5 mm / 640-pattern config (tests/configs/recipe_64.yaml), seed 0, through the workflow.

Before the recipe of docs/recipe.md this config ended unconverged (KL 30 nats, z between 6.9
and 8.2, |ρ| 0.84, calibration RMSE 60 nm): the test fails if a recipe collapses the posterior
or leaves the latent unsettled on it."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import yaml

from youngvae.testing import REPO, copy_workflow, planned_jobs, snakemake

pytestmark = pytest.mark.slow

CONFIGS = REPO / "tests" / "configs"
RECIPE_64 = CONFIGS / "recipe_64.yaml"


@pytest.mark.parametrize("name", ["recipe_64", "recipe_128"])
def test_the_small_configs_keep_the_default_train_section(name):
    overlay = yaml.safe_load((CONFIGS / f"{name}.yaml").read_text())
    assert set(overlay["train"]) == {"n_train", "n_val"}  # the recipe itself is config.yaml's


def documented_commands():
    """(config, argv) of every `#   snakemake …` command in the header of tests/configs/*.yaml,
    backslash continuations joined."""
    found = []
    for path in sorted(CONFIGS.glob("*.yaml")):
        text = re.sub(r"\\\n#\s*", " ", path.read_text())
        for line in text.splitlines():
            if m := re.match(r"^#\s+snakemake (.+)$", line):
                found.append((path.name, m.group(1).split()))
    return found


#: trainings the documented study commands plan (docs/recipe.md, docs/systematics.md)
STUDY_TRAININGS = {"recipe_64.yaml": 3, "recipe_128.yaml": 3, "robustness_128.yaml": 10 + 6 + 6 + 6,
                   "robustness_quick.yaml": 4}


@pytest.mark.parametrize("config, argv", documented_commands(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_command_a_config_file_documents_runs_as_written(tmp_path, config, argv):
    """Word for word (a target written after `--configfile` would be read as a config file),
    as a dry run; a study command plans its runs' trainings (5 photon budgets x 2 seeds, ...)."""
    workdir = copy_workflow(tmp_path)
    argv = [str(REPO / a) if a.startswith("tests/configs/") else a for a in argv]
    jobs = planned_jobs(workdir, *argv)
    assert jobs, argv
    trainings = sum(j.startswith("study_train[") for j in jobs)
    assert trainings == STUDY_TRAININGS.get(config, 0), jobs


def test_the_default_recipe_converges_on_the_small_config(tmp_path):
    workdir = copy_workflow(tmp_path)
    run = workdir / "results" / "studies" / "recipe_64" / "seed=0"
    snakemake(workdir, str(run.relative_to(workdir) / "encode" / "metrics.json"), "--cores", "2",
              "--configfile", str(RECIPE_64))
    metrics = json.loads((run / "encode" / "metrics.json").read_text())
    history = pd.read_csv(run / "train" / "history.csv")
    latent = pd.read_csv(run / "encode" / "latent.csv")
    assert not metrics["collapsed"]
    assert metrics["abs_spearman"] >= 0.99
    assert metrics["calibration_rmse_nm"] <= 25  # 3 seeds measured 2.5-6.6 nm (docs/recipe.md)
    assert 0.5 < history["val_kl"].iloc[-1] < 10  # collapsed ~0; the unconverged run had 30
    assert abs(np.median(latent["z_mean_0"])) < 3  # settled around the prior, not offset
