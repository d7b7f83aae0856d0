from youngvae.runtime import log_to

log = log_to(snakemake.log[0])

from youngvae.stages.dataset import init_store

p = snakemake.params
init_store(
    dataset=p.dataset,
    geometry=p.geometry,
    simulation=p.simulation,
    path=snakemake.output[0],
)
log.info("created %s", snakemake.output[0])
