from youngvae.runtime import log_to

log = log_to(snakemake.log[0])

from youngvae.stages.studies import summarize_study

out = snakemake.output
table = summarize_study(
    name=snakemake.wildcards.study,
    keys=snakemake.params.varied,
    runs=snakemake.params.runs,
    files=dict(snakemake.input.items()),
    csv_path=out.csv,
    html_path=out.html,
    metrics_figure=out.metrics,
    seeds_figure=out.seeds,
)
log.info("summarized %d runs into %s", len(table), out.csv)
