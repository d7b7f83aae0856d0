"""The robustness target end to end: config.yaml's four robustness studies in a quick form
(tests/configs/robustness_quick.yaml over the quick config) drawn against the default run."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from youngvae.testing import QUICK, REPO, copy_workflow, planned_jobs, snakemake

pytestmark = pytest.mark.slow

QUICK_ROBUSTNESS = REPO / "tests" / "configs" / "robustness_quick.yaml"
STUDIES = ["robustness_photons", "robustness_bandwidth", "robustness_blur", "robustness_geometry"]


@pytest.fixture(scope="module")
def curves(tmp_path_factory):
    workdir = copy_workflow(tmp_path_factory.mktemp("robustness"))
    args = ("--configfile", str(QUICK), str(QUICK_ROBUSTNESS))
    snakemake(workdir, "robustness", "--cores", "2", *args)
    return workdir, args


def test_every_robustness_study_and_the_default_run_are_in_one_table_and_figure(curves):
    workdir, _ = curves
    base = workdir / "results" / "studies"
    runs = pd.read_csv(base / "robustness_runs.csv", dtype={"value": str})
    assert runs["study"].tolist() == STUDIES  # config.yaml's order, one seed each
    assert runs["value"].tolist() == ["1000", "100", "3", "0.05"]
    for row in runs.itertuples():
        metrics = json.loads((base / row.study / row.run / "encode" / "metrics.json").read_text())
        assert row.abs_spearman == pytest.approx(metrics["abs_spearman"] or 0.0, rel=1e-5)  # None: collapsed
        # only the distance-jittered store has a λz floor; the table carries it from encode
        jittered = row.study == "robustness_geometry"
        assert ("distance_floor_rmse_nm" in metrics) == jittered == pd.notna(row.distance_floor_rmse_nm)
        if jittered:  # 50 mm of 0.5 m: about 10 % of λ, tens of nm
            assert row.distance_floor_rmse_nm == pytest.approx(metrics["distance_floor_rmse_nm"], rel=1e-6)
            assert 20 < row.distance_floor_rmse_nm < 150
    table = (base / "robustness_curves.md").read_text()
    ideal = json.loads((workdir / "results" / "encode" / "metrics.json").read_text())
    assert f"| none (ideal) | – | {ideal['abs_spearman']:.6f} |" in table
    assert sum(line.startswith(f"- {study}: median |ρ| ") for study in STUDIES  # quick: any verdict
               for line in table.splitlines()) == 4
    assert (base / "robustness_curves.png").stat().st_size > 30_000


def test_a_finished_robustness_target_reruns_nothing_and_a_new_value_reruns_its_run(curves, tmp_path):
    workdir, args = curves
    assert planned_jobs(workdir, "robustness", *args) == []
    more = tmp_path / "more.yaml"
    more.write_text("studies:\n  robustness_blur:\n    systematics.detector.psf_sigma_px: [1, 3]\n")
    jobs = planned_jobs(workdir, "robustness", *args, str(more))
    ds = "systematics.detector.psf_sigma_px=1"
    run = "psf_sigma_px=1__seed=0"
    assert jobs == sorted([f"study_init_store[{ds}]", f"study_plan_wavelengths[{ds}]",
                           f"study_validate_dataset[{ds}]",
                           *(f"study_simulate_chunk[{ds},{c:04d}]" for c in range(4)),
                           f"study_train[robustness_blur,{run}]", f"study_encode[robustness_blur,{run}]",
                           "robustness_curves", "robustness"])
