from youngvae.runtime import log_to

log = log_to(snakemake.log[0])

from youngvae.stages.model import compare_generated

compare_generated(
    store_path=snakemake.input.store,
    model_path=snakemake.input.model,
    latent_path=snakemake.input.latent,
    calibration_path=snakemake.input.calibration,
    geometry=snakemake.params.geometry,
    dataset=snakemake.params.dataset,
    json_path=snakemake.output.json,
    figure_path=snakemake.output.figure,
    threads=snakemake.threads,
    log=log.info,
)
