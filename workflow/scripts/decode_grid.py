from youngvae.runlog import log_to

log = log_to(snakemake.log[0])

from youngvae.chain import decode_grid

p, out = snakemake.params, snakemake.output
decode_grid(
    model_path=snakemake.input.model,
    calibration_path=snakemake.input.calibration,
    decode_cfg=p.decode,
    geometry_cfg=p.geometry,
    simulation_cfg=p.simulation,
    zarr_path=out.zgrid,
    metrics_path=out.metrics,
    figure_path=out.figure,
    threads=snakemake.threads,
    log=log.info,
)
