from youngvae.runlog import log_to

log = log_to(snakemake.log[0])

from youngvae.dataset_figures import plot_dataset

plot_dataset(
    snakemake.input.store,
    snakemake.params.wavelength,
    histogram_path=snakemake.output.histogram,
    examples_path=snakemake.output.examples,
)
log.info("wrote %s", list(snakemake.output))
