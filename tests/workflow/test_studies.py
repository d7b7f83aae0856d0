"""Studies end to end on the quick config: one job per run and stage, one summary, exact reruns,
bad studies refused at start-up."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml

from youngvae.analysis.study import SUMMARY_COLUMNS
from youngvae.testing import QUICK, copy_workflow, planned_jobs, snakemake

pytestmark = pytest.mark.slow

RUNS = ["latent_dim=1__seed=0", "latent_dim=1__seed=1", "latent_dim=2__seed=0", "latent_dim=2__seed=1"]


@pytest.fixture(scope="module")
def study_run(tmp_path_factory):
    workdir = copy_workflow(tmp_path_factory.mktemp("study"))
    snakemake(workdir, "study_quick", "--cores", "2", "--configfile", str(QUICK))
    return workdir


def test_the_quick_study_writes_one_summary_row_per_run(study_run):
    base = study_run / "results" / "studies" / "quick"
    table = pd.read_csv(base / "summary.csv")
    assert list(table.columns) == ["train.latent_dim", "train.seed", *SUMMARY_COLUMNS]
    assert table["run"].tolist() == RUNS
    assert table["train.latent_dim"].tolist() == [1, 1, 2, 2]
    assert table["latent_dim"].tolist() == [1, 1, 2, 2]  # what the trained model really has
    assert (table["train_seconds"] > 0).all() and (table["peak_rss_mb"] > 0).all()
    assert table["active_units"].between(0, table["latent_dim"]).all()
    for run in RUNS:
        for path in ("model/vae.keras", "train/history.csv", "encode/latent.csv",
                     "encode/metrics.json", "decode/metrics.json", "generated/generated_vs_real.json"):
            assert (base / run / path).is_file(), (run, path)
    # the training seed changes the weights; the split stays tied to dataset.seed
    split0 = pd.read_csv(base / RUNS[0] / "train/split.csv")
    assert split0.equals(pd.read_csv(base / RUNS[1] / "train/split.csv"))
    latent0 = pd.read_csv(base / RUNS[0] / "encode/latent.csv")
    latent1 = pd.read_csv(base / RUNS[1] / "encode/latent.csv")
    assert not latent0["z_mean_0"].equals(latent1["z_mean_0"])
    metrics = json.loads((base / RUNS[2] / "encode/metrics.json").read_text())
    assert len(metrics["kl_per_dim"]) == 2 and metrics["unit"] in (0, 1)
    assert "regression_rmse_nm" in metrics
    assert "active unit most correlated" in (base / "summary.html").read_text()
    for figure in ("metrics_vs_keys.png", "seed_spread.png"):
        assert (base / figure).stat().st_size > 10_000


def test_the_report_has_a_category_per_study(study_run):
    snakemake(study_run, "study_quick", "--report", "results/report.html", "--configfile", str(QUICK))
    html = (study_run / "results/report.html").read_text()
    match = re.search(r'<script id="categories">\s*var \w+ = (.*?);\s*</script>', html, re.DOTALL)
    categories = json.loads(match.group(1))
    study = [p for paths in categories["Study quick"].values() for p in paths]
    assert sorted(study) == [f"results/studies/quick/{name}" for name in
                             ("metrics_vs_keys.png", "seed_spread.png", "summary.html")]


def test_a_finished_study_reruns_nothing(study_run):
    assert planned_jobs(study_run, "study_quick", "--configfile", str(QUICK)) == []


def _extra(workdir, tmp_path, cfg):
    path = tmp_path / "extra.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


def test_a_new_value_runs_only_the_new_runs_and_the_summary(study_run, tmp_path):
    extra = _extra(study_run, tmp_path, {"studies": {"quick": {"train.latent_dim": [1, 2, 3],
                                                               "train.seed": [0, 1]}}})
    jobs = planned_jobs(study_run, "study_quick", "--configfile", str(QUICK), extra)
    new = [f"{rule}[quick,latent_dim=3__seed={s}]" for s in (0, 1)
           for rule in ("study_train", "study_encode", "study_decode_grid", "study_compare_generated")]
    assert jobs == sorted([*new, "summarize_study[quick]", "study_quick"])


def test_main_config_keys_rerun_a_study_only_where_the_run_does_not_override_them(study_run, tmp_path):
    overridden = _extra(study_run, tmp_path, {"train": {"seed": 7}})
    assert planned_jobs(study_run, "study_quick", "--configfile", str(QUICK), overridden) == []
    shared = _extra(study_run, tmp_path, {"train": {"beta": 0.5}})
    jobs = planned_jobs(study_run, "study_quick", "--configfile", str(QUICK), shared)
    runs = [f"{rule}[quick,{run}]" for run in RUNS
            for rule in ("study_train", "study_encode", "study_decode_grid", "study_compare_generated")]
    assert jobs == sorted([*runs, "summarize_study[quick]", "study_quick"])


STORE_RULES = ("study_init_store", "study_validate_dataset")  # the plan depends on `dataset` only
ENGINES = ("lightpipes", "fresnel")


def _store_validation(engine):
    return f"results/datasets/simulation.engine={engine}/dataset/validation.json"


@pytest.fixture(scope="module")
def engine_stores(tmp_path_factory):
    """The stores of the quick study of a dataset-side key (`quick_engine`), beside the main
    store they must not touch; the trainings on such stores run in test_systematics.py."""
    workdir = copy_workflow(tmp_path_factory.mktemp("engine_study"))
    targets = ["results/dataset/validation.json", *map(_store_validation, ENGINES)]
    snakemake(workdir, *targets, "--cores", "2", "--configfile", str(QUICK))
    return workdir, targets


def test_a_dataset_side_key_builds_a_store_per_value(engine_stores):
    from youngvae.data.store import read_attrs, read_images, read_wavelengths

    workdir, _ = engine_stores
    stores = workdir / "results" / "datasets"
    assert sorted(p.name for p in stores.iterdir()) == [f"simulation.engine={e}" for e in sorted(ENGINES)]
    main = workdir / "results" / "dataset.zarr"
    for engine in ENGINES:
        store = stores / f"simulation.engine={engine}" / "dataset.zarr"
        assert read_attrs(store)["simulation"]["engine"] == engine
        assert json.loads((store.parent / "dataset" / "validation.json").read_text())["ok"]
        # the same plan as the main store: only the engine differs
        assert np.array_equal(read_wavelengths(store), read_wavelengths(main))
    # the same config as the main store, built by the same fan-out rules: the same bytes
    same = stores / "simulation.engine=lightpipes" / "dataset.zarr"
    assert np.array_equal(read_images(same), read_images(main))
    other = read_images(stores / "simulation.engine=fresnel" / "dataset.zarr")
    assert 0 < np.abs(other - read_images(main)).max() < 0.1  # two engines, one physics


def test_a_main_dataset_key_that_every_run_overrides_rebuilds_no_study_store(engine_stores, tmp_path):
    workdir, targets = engine_stores
    extra = _extra(workdir, tmp_path, {"simulation": {"engine": "fresnel"}})
    jobs = planned_jobs(workdir, *targets[1:], "--configfile", str(QUICK), extra)
    assert jobs == []


def test_a_main_dataset_key_no_run_overrides_rebuilds_the_study_stores(engine_stores, tmp_path):
    workdir, targets = engine_stores
    extra = _extra(workdir, tmp_path, {"geometry": {"distance_m": 0.6}})
    jobs = planned_jobs(workdir, *targets[1:], "--configfile", str(QUICK), extra)
    expected = []
    for engine in ENGINES:
        ds = f"simulation.engine={engine}"
        expected += [f"{rule}[{ds}]" for rule in STORE_RULES]
        expected += [f"study_simulate_chunk[{ds},{c:04d}]" for c in range(4)]
    assert jobs == sorted(expected)


@pytest.mark.parametrize(
    ("study", "message"),
    [
        ({"s": {"train.nosuchkey": [1]}}, "study 's': train.nosuchkey=1:"),
        ({"s": {"train.latent_dim": [1, 0]}}, "study 's': train.latent_dim=0:"),
        ({"s": {"train.batch_size": [4096]}}, "study 's': train.batch_size=4096: config key 'train.batch_size'"),
        ({"s": {"train.seed": []}}, "study 's': key 'train.seed' needs a non-empty list"),
        ({"bad/name": {"train.seed": [0]}}, "study name 'bad/name' must be letters"),
        ({"s": {"train.beta": [1, 1.0]}}, "study 's': two runs would be named 'beta=1'"),
    ],
    ids=["unknown-key", "schema", "cross-key", "empty", "name", "duplicate-run"],
)
def test_a_bad_study_stops_at_start_up_naming_study_and_key(tmp_path, study, message):
    workdir = copy_workflow(tmp_path / "wf")
    keep = workdir / "results" / "keep.txt"
    keep.parent.mkdir(parents=True)
    keep.write_text("precious")
    bad = _extra(workdir, tmp_path, {"studies": study})
    out = snakemake(workdir, "-n", "--configfile", str(QUICK), bad, check=False)
    err = out.stdout + out.stderr
    assert out.returncode != 0
    assert message in err, err
    assert keep.read_text() == "precious" and len(list((workdir / "results").iterdir())) == 1
    shutil.rmtree(workdir)
