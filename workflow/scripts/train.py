from youngvae.runtime import log_to

log = log_to(snakemake.log[0])

from youngvae.stages.model import train

out = snakemake.output
train(
    store_path=snakemake.input.store,
    dataset=snakemake.params.dataset,
    train=snakemake.params.train,
    model_path=out.model,
    history_path=out.history,
    split_path=out.split,
    figure_path=out.figure,
    checkpoint_dir=snakemake.params.checkpoint_dir,
    threads=snakemake.threads,
    log=log.info,
)
