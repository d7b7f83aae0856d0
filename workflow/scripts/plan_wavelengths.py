from youngvae.runtime import log_to

log = log_to(snakemake.log[0])

from youngvae.stages.dataset import write_plan

table = write_plan(dataset=snakemake.params.dataset, path=snakemake.output[0])
log.info("planned %d samples in %d chunks", len(table), table["chunk"].nunique())
