# Report tables: the training history, the metrics JSON files and Snakemake's per-job benchmark
# TSVs rendered as HTML tables, which `snakemake --report` shows inline beside the figures (it
# offers JSON and CSV files only as downloads). The timings are the `benchmark:` files of the
# rules that have one.


rule tabulate_results:
    input:
        history="results/train/history.csv",
        encode_metrics="results/encode/metrics.json",
        decode_metrics="results/decode/metrics.json",
        chunk_benchmarks=expand(rules.simulate_chunk.benchmark, chunk=PLAN.chunk_ids()),
        model_benchmarks=[
            rules.train.benchmark,
            rules.encode.benchmark,
            rules.decode_grid.benchmark,
        ],
    output:
        history=report(
            "results/report/training_history.html",
            caption="../report/training_history.rst",
            category="2. Training",
            subcategory="Metrics",
        ),
        encode=report(
            "results/report/encode_metrics.html",
            caption="../report/encode_metrics.rst",
            category="3. Latent space",
            subcategory="Metrics",
        ),
        decode=report(
            "results/report/decode_metrics.html",
            caption="../report/decode_metrics.rst",
            category="4. Decoded z-grid",
            subcategory="Metrics",
        ),
        timings=report(
            "results/report/job_benchmarks.html",
            caption="../report/job_benchmarks.rst",
            category="5. Benchmark",
            subcategory="Per-job timings",
        ),
        timings_csv=report(
            "results/report/job_benchmarks.csv",
            caption="../report/job_benchmarks.rst",
            category="5. Benchmark",
            subcategory="Per-job timings",
        ),
    log:
        "logs/tabulate_results.log",
    conda:
        "../envs/plotting.yaml"
    threads: 1
    resources:
        mem_mb=small_mem_mb,
        runtime=10,
    script:
        "../scripts/tabulate_results.py"
