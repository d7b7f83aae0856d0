from youngvae.runtime import log_to

log = log_to(snakemake.log[0])

from youngvae.stages.dataset import simulate_chunk

p = snakemake.params
simulate_chunk(
    store_path=snakemake.input.store,
    chunk_index=p.index,
    chunk_size=p.chunk_size,
    wavelengths_m=p.wavelengths_m,
    geometry=p.geometry,
    simulation=p.simulation,
    marker_path=snakemake.output[0],
    log=log.info,
)
