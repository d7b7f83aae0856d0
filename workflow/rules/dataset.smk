# Dataset stage: plan the wavelengths, create ONE Zarr store, fan out one job per chunk that
# writes only its own chunk-aligned region, then validate and plot.
#
# The store is written in place: `init_store` owns it as a directory() output; each
# `simulate_chunk` job takes it as input and declares only its small marker file, which it
# writes after its region. Snakemake tracks the markers; a re-init (changed params) wipes the
# store and reruns every chunk.


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
        simulation=config["simulation"],
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
        chunk_size=PLAN.chunk_size,
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
