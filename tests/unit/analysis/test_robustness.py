"""youngvae.analysis.robustness: the robustness studies' finished runs, their medians, the level
crossings and the figure, on a tree of metrics files with known numbers."""

from __future__ import annotations

import json
import math

import pytest
import yaml

from youngvae.analysis import robustness
from youngvae.analysis.robustness import __main__ as cli
from youngvae.checks.studies import StudyError

CONFIG = {
    "train": {"seed": 0},
    "studies": {
        "robustness_photons": {
            "systematics.detector.photons_per_pattern": [1.0e7, 1.0e5, 1.0e3],
            "train.seed": [0, 1],
        },
        "robustness_blur": {"train.seed": [0, 1], "systematics.detector.psf_sigma_px": [1, 3]},
        "latent_size": {"train.latent_dim": [1, 2]},
    },
}
# |ρ| per (study, run): photons 1e7 and 1e5 above 0.99, 1e3 below (median of 0.95 and 0.97 is
# 0.96); blur never below; photons 1e5 seed 1 and blur 3 seed 0 not finished.
RHO = {
    ("robustness_photons", "photons_per_pattern=1e+07__seed=0"): 0.9999,
    ("robustness_photons", "photons_per_pattern=1e+07__seed=1"): 0.9997,
    ("robustness_photons", "photons_per_pattern=100000__seed=0"): 0.995,
    ("robustness_photons", "photons_per_pattern=1000__seed=0"): 0.95,
    ("robustness_photons", "photons_per_pattern=1000__seed=1"): 0.97,
    ("robustness_blur", "seed=0__psf_sigma_px=1"): 0.9999,
    ("robustness_blur", "seed=1__psf_sigma_px=1"): 0.9998,
    ("robustness_blur", "seed=1__psf_sigma_px=3"): 0.9996,
}


def _metrics(rho: float) -> dict:
    return {"abs_spearman": rho, "calibration_rmse_nm": 100 * (1 - rho) + 1,
            "calibration_max_abs_err_nm": 1000 * (1 - rho) + 10, "latent_dim": 1}


@pytest.fixture
def tree(tmp_path):
    for (study, run), rho in RHO.items():
        path = tmp_path / "results" / "studies" / study / run / "encode" / "metrics.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(_metrics(rho)))
    for i, rho in enumerate((0.99999, 0.99997)):
        (tmp_path / f"ideal{i}.json").write_text(json.dumps(_metrics(rho)))
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(CONFIG, sort_keys=False))  # key order names runs
    return tmp_path


def test_only_the_robustness_studies_and_only_finished_runs_are_read(tree):
    studies = robustness.robustness_studies(CONFIG)
    assert list(studies) == ["robustness_photons", "robustness_blur"]
    table = robustness.collect(studies, tree)
    assert len(table) == len(RHO)
    got = {(r.study, r.run): r.abs_spearman for r in table.itertuples()}
    assert got == RHO
    row = table[table["run"] == "seed=1__psf_sigma_px=3"].iloc[0]
    assert (row["effect"], row["value"], row["order"], row["seed"]) == (
        "systematics.detector.psf_sigma_px", "3", 1, 1)
    assert row["calibration_rmse_nm"] == pytest.approx(100 * (1 - 0.9996) + 1)


def test_medians_per_listed_value_and_the_level_crossing(tree):
    studies = robustness.robustness_studies(CONFIG)
    per_value = robustness.medians(robustness.collect(studies, tree), studies)
    photons = per_value[per_value["study"] == "robustness_photons"].set_index("value")
    assert list(photons.index) == ["1e+07", "100000", "1000"]  # the listed order
    assert list(photons["runs"]) == [2, 1, 2]
    assert photons.loc["1000", "median_abs_spearman"] == pytest.approx(0.96)
    assert photons.loc["1e+07", "median_abs_spearman"] == pytest.approx(0.9998)
    assert list(photons["below_0.99"]) == [False, False, True]
    text = robustness.thresholds(per_value)
    assert text["robustness_photons"] == "median |ρ| below 0.99 between 100000 and 1000"
    assert text["robustness_blur"] == "median |ρ| not below 0.99 at any measured value"


def test_an_unmeasured_value_is_said_and_a_crossing_at_the_first_value(tree):
    config = {"studies": {"robustness_x": {"systematics.detector.psf_sigma_px": [1, 2]}}}
    path = tree / "results/studies/robustness_x/psf_sigma_px=1/encode/metrics.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(_metrics(0.5)))
    studies = robustness.robustness_studies(config)
    per_value = robustness.medians(robustness.collect(studies, tree), studies)
    assert math.isnan(per_value.loc[1, "median_abs_spearman"]) and per_value.loc[1, "runs"] == 0
    assert robustness.thresholds(per_value)["robustness_x"] == (
        "median |ρ| below 0.99 between no effect and 1 (not measured: 2)")
    nothing = robustness.medians(robustness.collect(studies, tree / "empty"), studies)
    assert robustness.thresholds(nothing) == {"robustness_x": "no run finished yet"}


def test_a_study_must_vary_one_effect_and_exist():
    two = {"studies": {"robustness_two": {"systematics.detector.psf_sigma_px": [1],
                                          "systematics.source.bandwidth_nm": [10]}}}
    with pytest.raises(StudyError, match="robustness_two.*exactly one key"):
        robustness.collect(robustness.robustness_studies(two), ".")
    with pytest.raises(StudyError, match="'robustness_nope'"):
        robustness.robustness_studies(CONFIG, ["robustness_nope"])


def test_compact_tick_labels():
    assert [robustness.tick_label(v) for v in (1.0e7, 1.0e5, 1000, 2.5e4, 0.005, 3)] == [
        "1e7", "1e5", "1e3", "2.5e4", "0.005", "3"]


def test_the_cli_prints_the_table_and_writes_the_figure_and_csv(tree, capsys):
    figure, csv = tree / "curves.png", tree / "runs.csv"
    cli.main(["--config", str(tree / "config.yaml"), "--root", str(tree), "--baseline",
                     str(tree / "ideal0.json"), str(tree / "ideal1.json"), "--figure", str(figure),
                     "--csv", str(csv)])
    out = capsys.readouterr().out
    assert "| none (ideal) | – | 0.999990 / 0.999970 | 0.999980 |" in out
    assert "| systematics.detector.photons_per_pattern | 1000 | 0.950000 / 0.970000 | 0.960000 |" in out
    assert "- robustness_photons: median |ρ| below 0.99 between 100000 and 1000" in out
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and figure.stat().st_size > 20_000
    assert len(csv.read_text().splitlines()) == 1 + len(RHO)


def test_configs_merge_as_snakemake_merges_them(tree):
    extra = tree / "extra.yaml"
    extra.write_text(yaml.safe_dump({"studies": {"robustness_blur": {"train.seed": [0]}}}))
    config = cli.load_configs([tree / "config.yaml", extra])
    # a study's mapping merges key by key: the seed list is replaced, the effect kept
    assert config["studies"]["robustness_blur"] == {"train.seed": [0],
                                                    "systematics.detector.psf_sigma_px": [1, 3]}
    assert config["studies"]["robustness_photons"] == CONFIG["studies"]["robustness_photons"]


def test_a_missing_baseline_file_is_named(tree, capsys):
    with pytest.raises(SystemExit):
        cli.main(["--config", str(tree / "config.yaml"), "--baseline", str(tree / "nope.json")])
    assert "nope.json" in capsys.readouterr().err


def test_a_key_with_one_value_is_a_setting_and_the_varied_one_is_the_effect():
    config = {"studies": {"robustness_labels": {"systematics.detector.photons_per_pattern": [300.0],
                                                "systematics.source.label_error_nm": [0, 30],
                                                "train.seed": [0, 1]}}}
    studies = robustness.robustness_studies(config)
    assert robustness.effect_key("robustness_labels", studies["robustness_labels"]) == (
        "systematics.source.label_error_nm")
    assert robustness.listed_values("robustness_labels", studies["robustness_labels"]) == [0, 30]


def test_ideal_data_below_the_level_is_said_instead_of_a_crossing(tree):
    studies = robustness.robustness_studies(CONFIG)
    per_value = robustness.medians(robustness.collect(studies, tree), studies)
    text = robustness.thresholds(per_value, ideal=0.64)
    assert text == {s: "median |ρ| below 0.99 already on the ideal data (0.640000)" for s in studies}
    assert robustness.thresholds(per_value, ideal=0.9999) == robustness.thresholds(per_value)


def test_a_collapsed_run_reads_as_below_the_level_not_as_missing(tree):
    path = tree / "results/studies/robustness_blur/seed=0__psf_sigma_px=3/encode/metrics.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"abs_spearman": None, "calibration_rmse_nm": 90.0,
                                "calibration_max_abs_err_nm": 300.0, "collapsed": True}))
    studies = robustness.robustness_studies(CONFIG)
    table = robustness.collect(studies, tree)
    row = table[table["run"] == "seed=0__psf_sigma_px=3"].iloc[0]
    assert row["abs_spearman"] == 0.0 and row["collapsed"]
    per_value = robustness.medians(table, studies)
    blur = per_value[per_value["study"] == "robustness_blur"].set_index("value")
    assert blur.loc["3", "median_abs_spearman"] == pytest.approx(0.9996 / 2)  # median of 0 and 0.9996
    assert robustness.thresholds(per_value)["robustness_blur"] == "median |ρ| below 0.99 between 1 and 3"


def test_error_rows_on_a_log_axis_unless_an_error_is_zero_and_a_label_above_the_title(tree, monkeypatch):
    scales, titles = [], []

    def keep_scales(fig, path):
        scales.append([ax.get_yscale() for ax in fig.get_axes()])
        titles.append(fig.get_suptitle())
        return path

    monkeypatch.setattr(robustness, "save_figure", keep_scales)
    studies = robustness.robustness_studies(CONFIG)
    table = robustness.collect(studies, tree)
    ideal = robustness.baseline([tree / "ideal0.json", tree / "ideal1.json"])
    robustness.plot_curves(table, ideal, studies, tree / "curves.png")
    # axes row-major: |ρ| row (2 studies), RMSE row, max-error row
    assert scales[-1] == ["linear", "linear", "log", "log", "log", "log"]
    table.loc[table["study"] == "robustness_blur", "calibration_rmse_nm"] = 0.0
    robustness.plot_curves(table, ideal, studies, tree / "curves.png")
    assert scales[-1] == ["linear", "linear", "log", "linear", "log", "log"]
    robustness.plot_curves(table, ideal, studies, tree / "curves.png", label="recipe: blur 2 px")
    assert titles[-1].startswith("recipe: blur 2 px\n") and titles[-1].endswith(titles[0])
    assert titles[0].startswith(f"{len(table)} run(s) of 2 robustness studies, 2 on the ideal data")


@pytest.mark.parametrize("lo, hi, expected", [
    (0.0824, 0.145, [0.08, 0.1, 0.12, 0.14, 0.16]),  # narrow: round values, the axis reaching 0.08 and 0.16
    (0.14, 52.4, [0.2, 0.5, 1, 2, 5, 10, 20, 50]),  # decades: 1, 2, 5 per decade
    (0.139206, 0.139206, [0.05, 0.1, 0.15, 0.2, 0.25]),  # one value (the ideal run alone): round labels
])
def test_the_error_axis_labels_round_values_across_the_data(lo, hi, expected):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.scatter([0, 1], [lo, hi])
    robustness.log_error_axis(ax, lo, hi)
    fig.canvas.draw()
    bottom, top = ax.get_ylim()
    assert bottom <= lo and hi <= top
    shown = [t for t in ax.get_yticklabels() if bottom <= t.get_position()[1] <= top and t.get_text()]
    if len(expected) > 5:  # decades: the data span the labelled ticks
        shown = [t for t in shown if lo <= t.get_position()[1] <= hi]
    assert [t.get_position()[1] for t in shown] == pytest.approx(expected)
    assert [t.get_text() for t in shown] == [f"{v:g}" for v in expected]
    plt.close(fig)


def test_the_recipe_label_names_the_blur_and_its_renormalization():
    from youngvae.analysis.robustness import recipe_label

    current = {"encoder_blur_px": 2, "target_blur_px": 2, "blur_renormalize": True,
               "precision": "mixed_bfloat16", "batch_size": 16, "epochs": 10, "sampling": "loss"}
    assert recipe_label(current) == ("recipe: 2 px blur of the input and target, renormalized; "
                                     "mixed_bfloat16; batch 16; 10 epochs; sampling loss")
    assert "not renormalized" in recipe_label({**current, "blur_renormalize": False})
    assert recipe_label({**current, "output_conv": "float32"}) == recipe_label(current)
    assert recipe_label({**current, "output_conv": "compute"}).endswith("; output conv compute")
    assert recipe_label({**current, "encoder_blur_px": 0, "target_blur_px": 0}).startswith(
        "recipe: no blur (the paper's VAE);")
    assert "input blur 0 px, target blur 2 px" in recipe_label({**current, "encoder_blur_px": 0})


def test_earlier_runs_from_a_kept_csv_count_unless_results_has_them(tree, tmp_path_factory):
    studies = robustness.robustness_studies(CONFIG)
    out = tmp_path_factory.mktemp("out")
    robustness.write_curves(studies, [], root=tree, csv=out / "runs.csv")  # the tool's own CSV
    kept = robustness.collect(studies, tree)
    assert set(kept["source"]) == {f"results/studies/{s}/{r}/encode/metrics.json" for s, r in RHO}
    # a fresh machine without results/: the kept CSV alone gives the same table
    again = robustness.collect(studies, tree / "empty", earlier=[out / "runs.csv"])
    robustness.pd.testing.assert_frame_equal(again.drop(columns="source"), kept.drop(columns="source"),
                                             check_exact=False, rtol=1e-9)
    # an earlier row of a run that results/ has is replaced by the metrics file; a row of a run
    # the config no longer lists is left out; the source column is carried
    extra = kept.iloc[[0]].assign(abs_spearman=0.5, source="typed from the docs")
    gone = kept.iloc[[0]].assign(run="photons_per_pattern=42__seed=0")
    missing_run = kept.iloc[[2]].assign(abs_spearman=0.25, source="typed from the docs")
    pd = robustness.pd
    pd.concat([extra, gone]).to_csv(out / "earlier.csv", index=False)
    merged = robustness.collect(studies, tree, earlier=[out / "earlier.csv"])
    assert merged.equals(kept)
    # photons 1e5 seed 1 is not finished under the tree: an earlier row supplies it
    row = missing_run.assign(run="photons_per_pattern=100000__seed=1", seed=1)
    row.to_csv(out / "one.csv", index=False)
    merged = robustness.collect(studies, tree, earlier=[out / "one.csv"])
    added = merged[merged["run"] == "photons_per_pattern=100000__seed=1"]
    assert len(merged) == len(kept) + 1 and added["abs_spearman"].item() == 0.25
    assert added["source"].item() == "typed from the docs" and added["order"].item() == 1
    labelled = robustness.collect(studies, tree, source="session 10, AMX")
    assert labelled["source"].str.startswith("session 10, AMX: results/studies/").all()


def test_an_earlier_csv_without_the_metrics_is_named(tree, tmp_path):
    (tmp_path / "bad.csv").write_text("study,run\nrobustness_blur,seed=0__psf_sigma_px=1\n")
    with pytest.raises(StudyError, match=r"bad\.csv: missing column\(s\) abs_spearman"):
        robustness.collect(robustness.robustness_studies(CONFIG), tree, earlier=[tmp_path / "bad.csv"])
    with pytest.raises(SystemExit):
        cli.main(["--config", str(tree / "config.yaml"), "--root", str(tree), "--earlier", str(tmp_path / "nope.csv")])


def test_the_distance_floor_is_carried_per_run_tabled_and_drawn_on_the_error_rows(tree, tmp_path, monkeypatch):
    config = {"studies": {"robustness_geometry": {"systematics.geometry.distance_jitter_m": [0.005, 0.02],
                                                  "train.seed": [0, 1]}}}
    floors = {0.005: (6.0, 20.0), 0.02: (24.0, 80.0)}
    for (jitter, seed), rmse in {(0.005, 0): 6.5, (0.005, 1): 6.4, (0.02, 0): 24.5}.items():
        path = tree / f"results/studies/robustness_geometry/distance_jitter_m={jitter:g}__seed={seed}/encode/metrics.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(_metrics(0.99) | {"calibration_rmse_nm": rmse,
                                                     "distance_floor_rmse_nm": floors[jitter][0] + seed,
                                                     "distance_floor_max_abs_err_nm": floors[jitter][1]}))
    studies = robustness.robustness_studies(config)
    table = robustness.collect(studies, tree)
    assert sorted(table["distance_floor_rmse_nm"]) == [6.0, 7.0, 24.0]
    per_value = robustness.medians(table, studies).set_index("value")
    assert per_value.loc["0.005", "median_distance_floor_rmse_nm"] == pytest.approx(6.5)  # median of 6, 7
    assert per_value.loc["0.02", "median_distance_floor_max_abs_err_nm"] == 80.0
    text = robustness.markdown(table, robustness.baseline([]), per_value.reset_index())
    assert "| 0.990000 / 0.990000 | 0.990000 | 6.50 / 6.40 | 20.0 / 20.0 | 6.50 / 20.00 |" in text
    # a study without floors (photons) shows '–'; so does a CSV written before floors existed
    photons = robustness.robustness_studies(CONFIG)
    old = robustness.collect(photons, tree).drop(columns=list(robustness.FLOORS))
    old.to_csv(tmp_path / "old.csv", index=False)
    again = robustness.collect(photons, tmp_path / "empty", earlier=[tmp_path / "old.csv"])
    assert again["distance_floor_rmse_nm"].isna().all()
    rows = robustness.markdown(again, robustness.baseline([]), robustness.medians(again, photons)).splitlines()[2:]
    assert len(rows) == 5 and all(row.endswith("| – |") for row in rows)  # photons ×3, blur ×2
    # the figure: a red bar at each value with a floor, on the RMSE and max rows only
    drawn = []

    def keep(fig, path):
        drawn.extend((ax.get_ylabel() or ax.get_title(), [c.get_label() for c in ax.collections])
                     for ax in fig.get_axes())
        return path

    monkeypatch.setattr(robustness, "save_figure", keep)
    robustness.plot_curves(table, robustness.baseline([]), studies, tmp_path / "f.png")
    with_floor = [name for name, labels in drawn if "λz floor (no model can beat it)" in labels]
    assert with_floor == [robustness.METRICS["calibration_rmse_nm"], robustness.METRICS["calibration_max_abs_err_nm"]]
