# Studies: many trainings declared under `studies:` in the config (youngvae.checks.studies),
# one ordinary job per run and stage, so `--cores N` runs them side by side and a cluster
# profile sends each training to its own job. A run trains on the main dataset store, or on a
# store of its own where it varies a dataset-side key (workflow/rules/dataset.smk); outputs under results/studies/<study>/<run>/, one summary per
# study. Targets: `studies` (every study), `study_<name>` (one). Not in the default target.


use rule train as study_train with:
    input:
        store=run_store,
        validation=run_validation,
    output:
        model="results/studies/{study}/{run}/model/vae.keras",
        history="results/studies/{study}/{run}/train/history.csv",
        split="results/studies/{study}/{run}/train/split.csv",
        figure="results/studies/{study}/{run}/train/loss_curves.png",
    log:
        "logs/studies/{study}/{run}/train.log",
    benchmark:
        "benchmarks/studies/{study}/{run}/train.tsv"
    params:
        dataset=run_section("dataset"),
        train=run_section("train"),
        checkpoint_dir=study_checkpoint_dir,


use rule encode as study_encode with:
    input:
        store=run_store,
        model="results/studies/{study}/{run}/model/vae.keras",
        split="results/studies/{study}/{run}/train/split.csv",
    output:
        latent="results/studies/{study}/{run}/encode/latent.csv",
        metrics="results/studies/{study}/{run}/encode/metrics.json",
        calibration="results/studies/{study}/{run}/encode/calibration.json",
        histogram="results/studies/{study}/{run}/encode/latent_histogram.png",
        scatter="results/studies/{study}/{run}/encode/z_vs_wavelength.png",
    log:
        "logs/studies/{study}/{run}/encode.log",
    benchmark:
        "benchmarks/studies/{study}/{run}/encode.tsv"


use rule decode_grid as study_decode_grid with:
    input:
        model="results/studies/{study}/{run}/model/vae.keras",
        calibration="results/studies/{study}/{run}/encode/calibration.json",
    output:
        zgrid=directory("results/studies/{study}/{run}/decode/zgrid.zarr"),
        metrics="results/studies/{study}/{run}/decode/metrics.json",
        figure="results/studies/{study}/{run}/decode/zgrid.png",
    log:
        "logs/studies/{study}/{run}/decode_grid.log",
    benchmark:
        "benchmarks/studies/{study}/{run}/decode_grid.tsv"
    params:
        decode=run_section("decode"),
        geometry=run_section("geometry"),
        simulation=run_section("simulation"),


rule summarize_study:
    input:
        unpack(study_run_files),
    output:
        csv="results/studies/{study}/summary.csv",
        html=report(
            "results/studies/{study}/summary.html",
            caption="../report/study_summary.rst",
            category="Study {study}",
        ),
        metrics=report(
            "results/studies/{study}/metrics_vs_keys.png",
            caption="../report/study_metrics.rst",
            category="Study {study}",
        ),
        seeds=report(
            "results/studies/{study}/seed_spread.png",
            caption="../report/study_seeds.rst",
            category="Study {study}",
        ),
    log:
        "logs/studies/{study}/summarize_study.log",
    conda:
        "../envs/plotting.yaml"
    threads: 1
    resources:
        mem_mb=small_mem_mb,
        runtime=10,
    params:
        varied=study_keys,
        runs=study_run_overrides,
    script:
        "../scripts/summarize_study.py"


rule studies:
    input:
        expand("results/studies/{study}/summary.csv", study=STUDIES),


for _study in STUDIES:

    rule:
        name:
            f"study_{_study}"
        input:
            f"results/studies/{_study}/summary.csv",


use rule compare_generated as study_compare_generated with:
    input:
        store=run_store,
        model="results/studies/{study}/{run}/model/vae.keras",
        latent="results/studies/{study}/{run}/encode/latent.csv",
        calibration="results/studies/{study}/{run}/encode/calibration.json",
    output:
        json="results/studies/{study}/{run}/generated/generated_vs_real.json",
        figure="results/studies/{study}/{run}/generated/generated_vs_real.png",
    log:
        "logs/studies/{study}/{run}/compare_generated.log",
    benchmark:
        "benchmarks/studies/{study}/{run}/compare_generated.tsv"
    params:
        geometry=run_section("geometry"),
        dataset=run_section("dataset"),


# The robustness studies (studies named robustness_*: one systematic effect each, docs/
# systematics.md) in one figure and one table against the ideal data (the default run). Target
# `robustness`. The same from whatever runs have finished: python -m youngvae.analysis.robustness.
ROBUSTNESS = [study for study in STUDIES if study.startswith("robustness_")]

if ROBUSTNESS:

    rule robustness_curves:
        input:
            runs=[
                f"results/studies/{study}/{run.name}/encode/metrics.json"
                for study in ROBUSTNESS
                for run in STUDIES[study]
            ],
            baseline="results/encode/metrics.json",
        output:
            figure=report(
                "results/studies/robustness_curves.png",
                caption="../report/robustness_curves.rst",
                category="Robustness",
            ),
            table="results/studies/robustness_curves.md",
            csv="results/studies/robustness_runs.csv",
        log:
            "logs/studies/robustness_curves.log",
        # the env of the stages that read study configs (youngvae.checks pulls in the physics)
        conda:
            "../envs/training.yaml"
        threads: 1
        resources:
            mem_mb=small_mem_mb,
            runtime=10,
        params:
            studies={study: config["studies"][study] for study in ROBUSTNESS},
            train=config["train"],
        script:
            "../scripts/robustness_curves.py"

    rule robustness:
        input:
            "results/studies/robustness_curves.png",
