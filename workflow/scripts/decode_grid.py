from youngvae.runtime import log_to

log = log_to(snakemake.log[0])

from youngvae.stages.model import decode_grid

p, out = snakemake.params, snakemake.output
decode_grid(
    model_path=snakemake.input.model,
    calibration_path=snakemake.input.calibration,
    decode=p.decode,
    geometry=p.geometry,
    simulation=p.simulation,
    zarr_path=out.zgrid,
    metrics_path=out.metrics,
    figure_path=out.figure,
    threads=snakemake.threads,
    log=log.info,
)
