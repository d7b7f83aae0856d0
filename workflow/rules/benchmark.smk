# Training benchmark (paper Table IV, done properly): the model at geometry.pixels, timed over
# the config's `benchmark` matrix, each setting in a fresh process, repeated and interleaved.
# Not part of the data chain: it times synthetic batches of the right shape.


rule benchmark:
    output:
        csv="results/benchmark/benchmark.csv",
        machine="results/benchmark/machine.json",
        table=report(
            "results/benchmark/table_iv.md",
            caption="../report/benchmark_table.rst",
            category="5. Benchmark",
        ),
        figure=report(
            "results/benchmark/epoch_time_vs_threads.png",
            caption="../report/benchmark_figure.rst",
            category="5. Benchmark",
        ),
    log:
        "logs/benchmark.log",
    benchmark:
        "benchmarks/benchmark.tsv"
    conda:
        "../envs/training.yaml"
    threads: tf_threads
    resources:
        mem_mb=8000,
        runtime=120,
    params:
        # in_default_target only picks the target: toggling it must not rerun the matrix.
        benchmark={
            k: v for k, v in config["benchmark"].items() if k != "in_default_target"
        },
        image_size=config["geometry"]["pixels"],
        n_train=config["train"]["n_train"],
        n_val=config["train"]["n_val"],
    script:
        "../scripts/benchmark.py"
