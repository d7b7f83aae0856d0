from youngvae.runtime import log_to

log = log_to(snakemake.log[0])

from youngvae.stages.dataset import validate_dataset

report = validate_dataset(
    geometry=snakemake.params.geometry,
    store_path=snakemake.input.store,
    plan_path=snakemake.input.plan,
    out_path=snakemake.output[0],
)
log.info("dataset valid: %s", report)
