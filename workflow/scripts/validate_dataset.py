from youngvae.runlog import log_to

log = log_to(snakemake.log[0])

from youngvae.dataset import validate_dataset

p = snakemake.params
report = validate_dataset(
    {"dataset": p.dataset, "geometry": p.geometry},
    snakemake.input.store,
    snakemake.output[0],
)
log.info("dataset valid: %s", report)
