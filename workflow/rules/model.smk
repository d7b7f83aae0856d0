# VAE chain: train on the dataset store, encode every pattern, decode the z-grid.


rule train:
    input:
        store=STORE,
        validation="results/dataset/validation.json",
    output:
        model="results/model/vae.keras",
        history="results/train/history.csv",
        split="results/train/split.csv",
        figure=report(
            "results/train/loss_curves.png",
            caption="../report/loss_curves.rst",
            category="2. Training",
            subcategory="Figures",
        ),
    log:
        "logs/train.log",
    benchmark:
        "benchmarks/train.tsv"
    conda:
        "../envs/training.yaml"
    threads: tf_threads
    resources:
        mem_mb=train_mem_mb,
        runtime=train_runtime_min,
    params:
        dataset=config["dataset"],
        train=config["train"],
        # Not an output: Snakemake would delete it before a rerun, and resuming needs it.
        checkpoint_dir="results/train/checkpoint",
    script:
        "../scripts/train.py"


rule encode:
    input:
        store=STORE,
        model="results/model/vae.keras",
        split="results/train/split.csv",
    output:
        latent="results/encode/latent.csv",
        metrics="results/encode/metrics.json",
        calibration="results/encode/calibration.json",
        histogram=report(
            "results/encode/latent_histogram.png",
            caption="../report/latent_histogram.rst",
            category="3. Latent space",
            subcategory="Figures",
        ),
        scatter=report(
            "results/encode/z_vs_wavelength.png",
            caption="../report/z_vs_wavelength.rst",
            category="3. Latent space",
            subcategory="Figures",
        ),
    log:
        "logs/encode.log",
    benchmark:
        "benchmarks/encode.tsv"
    conda:
        "../envs/training.yaml"
    threads: tf_threads
    resources:
        mem_mb=store_mem_mb,
        runtime=store_runtime_min,
    script:
        "../scripts/encode.py"


rule decode_grid:
    input:
        model="results/model/vae.keras",
        calibration="results/encode/calibration.json",
    output:
        zgrid=directory("results/decode/zgrid.zarr"),
        metrics="results/decode/metrics.json",
        figure=report(
            "results/decode/zgrid.png",
            caption="../report/zgrid.rst",
            category="4. Decoded z-grid",
            subcategory="Figures",
        ),
    log:
        "logs/decode_grid.log",
    benchmark:
        "benchmarks/decode_grid.tsv"
    conda:
        "../envs/training.yaml"
    threads: tf_threads
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        decode=config["decode"],
        geometry=config["geometry"],
        simulation=config["simulation"],
    script:
        "../scripts/decode_grid.py"


rule compare_generated:
    input:
        store=STORE,
        model="results/model/vae.keras",
        latent="results/encode/latent.csv",
        calibration="results/encode/calibration.json",
    output:
        json="results/generated/generated_vs_real.json",
        figure=report(
            "results/generated/generated_vs_real.png",
            caption="../report/generated_vs_real.rst",
            category="4. Decoded z-grid",
            subcategory="Generated against real",
        ),
    log:
        "logs/compare_generated.log",
    benchmark:
        "benchmarks/compare_generated.tsv"
    conda:
        "../envs/training.yaml"
    threads: tf_threads
    resources:
        mem_mb=store_mem_mb,
        runtime=store_runtime_min,
    params:
        geometry=config["geometry"],
        dataset=config["dataset"],
    script:
        "../scripts/compare_generated.py"
