from youngvae.runtime import log_to

log = log_to(snakemake.log[0])

from youngvae.stages.dataset_figures import plot_dataset

plot_dataset(
    store_path=snakemake.input.store,
    dataset=snakemake.params.dataset,
    histogram_path=snakemake.output.histogram,
    examples_path=snakemake.output.examples,
)
log.info("wrote %s", list(snakemake.output))
