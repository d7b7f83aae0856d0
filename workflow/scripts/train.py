from youngvae.runlog import log_to

log = log_to(snakemake.log[0])

from youngvae.chain import train

out = snakemake.output
train(
    store_path=snakemake.input.store,
    train_cfg=snakemake.params.train,
    seed=snakemake.params.seed,
    model_path=out.model,
    history_path=out.history,
    split_path=out.split,
    figure_path=out.figure,
    checkpoint_dir=snakemake.params.checkpoint_dir,
    threads=snakemake.threads,
    log=log.info,
)
