# Dataset stage: plan the wavelengths, create ONE Zarr store, fan out one job per chunk that
# writes only its own chunk-aligned region, then validate and plot.
#
# The store is written in place: `init_store` owns it as a directory() output; each
# `simulate_chunk` job takes it as input and declares only its small marker file, which it
# writes after its region. Snakemake tracks the markers; a re-init (changed params) wipes the
# store and reruns every chunk.
#
# A study that varies a dataset-side key gets a store per value from the same rules (the
# `study_*` rules at the end): results/datasets/<ds>/dataset.zarr and results/datasets/<ds>/dataset/,
# <ds> naming the keys where its config differs from the main one (youngvae.checks.studies).


rule plan_wavelengths:
    output:
        "results/dataset/plan.csv",
    log:
        "logs/plan_wavelengths.log",
    conda:
        "../envs/simulation.yaml"
    threads: 1
    resources:
        mem_mb=small_mem_mb,
        runtime=10,
    params:
        dataset=config["dataset"],
    script:
        "../scripts/plan_wavelengths.py"


rule init_store:
    output:
        directory(STORE),
    log:
        "logs/init_store.log",
    conda:
        "../envs/simulation.yaml"
    threads: 1
    resources:
        mem_mb=small_mem_mb,
        runtime=10,
    params:
        dataset=config["dataset"],
        geometry=config["geometry"],
        simulation=store_simulation,
    script:
        "../scripts/init_store.py"


rule simulate_chunk:
    input:
        store=STORE,
    output:
        "results/dataset/chunks/{chunk}.json",
    log:
        "logs/simulate_chunk/{chunk}.log",
    benchmark:
        "benchmarks/simulate_chunk/{chunk}.tsv"
    conda:
        "../envs/simulation.yaml"
    threads: 1
    resources:
        mem_mb=simulate_mem_mb,
        runtime=simulate_runtime_min,
    params:
        index=chunk_index,
        chunk_size=chunk_size,
        wavelengths_m=chunk_wavelengths_m,
        geometry=config["geometry"],
        simulation=config["simulation"],
    script:
        "../scripts/simulate_chunk.py"


rule validate_dataset:
    input:
        store=STORE,
        markers=chunk_markers(),
        plan="results/dataset/plan.csv",
    output:
        "results/dataset/validation.json",
    log:
        "logs/validate_dataset.log",
    conda:
        "../envs/simulation.yaml"
    threads: 1
    resources:
        mem_mb=store_mem_mb,
        runtime=store_runtime_min,
    params:
        geometry=config["geometry"],
    script:
        "../scripts/validate_dataset.py"


rule plot_dataset:
    input:
        store=STORE,
        validation="results/dataset/validation.json",
    output:
        histogram=report(
            "results/dataset/wavelength_histogram.png",
            caption="../report/wavelength_histogram.rst",
            category="1. Dataset",
            subcategory="Figures",
        ),
        examples=report(
            "results/dataset/example_patterns.png",
            caption="../report/example_patterns.rst",
            category="1. Dataset",
            subcategory="Figures",
        ),
    log:
        "logs/plot_dataset.log",
    conda:
        "../envs/plotting.yaml"
    threads: 1
    resources:
        mem_mb=store_mem_mb,
        runtime=store_runtime_min,
    params:
        dataset=config["dataset"],
    script:
        "../scripts/plot_dataset.py"


use rule plan_wavelengths as study_plan_wavelengths with:
    output:
        "results/datasets/{ds}/dataset/plan.csv",
    log:
        "logs/datasets/{ds}/plan_wavelengths.log",
    params:
        dataset=ds_section("dataset"),


use rule init_store as study_init_store with:
    output:
        directory("results/datasets/{ds}/dataset.zarr"),
    log:
        "logs/datasets/{ds}/init_store.log",
    params:
        dataset=ds_section("dataset"),
        geometry=ds_section("geometry"),
        simulation=store_simulation,


use rule simulate_chunk as study_simulate_chunk with:
    input:
        store="results/datasets/{ds}/dataset.zarr",
    output:
        "results/datasets/{ds}/dataset/chunks/{chunk}.json",
    log:
        "logs/datasets/{ds}/simulate_chunk/{chunk}.log",
    benchmark:
        "benchmarks/datasets/{ds}/simulate_chunk/{chunk}.tsv"
    params:
        index=chunk_index,
        chunk_size=chunk_size,
        wavelengths_m=chunk_wavelengths_m,
        geometry=ds_section("geometry"),
        simulation=ds_section("simulation"),


use rule validate_dataset as study_validate_dataset with:
    input:
        store="results/datasets/{ds}/dataset.zarr",
        markers=ds_chunk_markers,
        plan="results/datasets/{ds}/dataset/plan.csv",
    output:
        "results/datasets/{ds}/dataset/validation.json",
    log:
        "logs/datasets/{ds}/validate_dataset.log",
    params:
        geometry=ds_section("geometry"),
