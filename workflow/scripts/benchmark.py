from youngvae.runtime import log_to

log = log_to(snakemake.log[0])

from youngvae.stages.benchmark import run_benchmark

run_benchmark(
    bench_cfg=snakemake.params.benchmark,
    image_size=snakemake.params.image_size,
    n_train=snakemake.params.n_train,
    n_val=snakemake.params.n_val,
    csv_path=snakemake.output.csv,
    machine_path=snakemake.output.machine,
    table_path=snakemake.output.table,
    figure_path=snakemake.output.figure,
    log=log.info,
)
log.info("wrote %s", list(snakemake.output))
