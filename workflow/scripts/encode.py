from youngvae.runtime import log_to

log = log_to(snakemake.log[0])

from youngvae.stages.model import encode

out = snakemake.output
encode(
    store_path=snakemake.input.store,
    model_path=snakemake.input.model,
    split_path=snakemake.input.split,
    latent_path=out.latent,
    metrics_path=out.metrics,
    calibration_path=out.calibration,
    histogram_path=out.histogram,
    scatter_path=out.scatter,
    threads=snakemake.threads,
    log=log.info,
)
