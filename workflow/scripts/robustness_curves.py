from youngvae.runtime import log_to

log = log_to(snakemake.log[0])

from youngvae.analysis.robustness import recipe_label, robustness_studies, write_curves

out = snakemake.output
text = write_curves(
    robustness_studies({"studies": snakemake.params.studies}),
    [snakemake.input.baseline],
    figure=out.figure,
    csv=out.csv,
    markdown_path=out.table,
    label=recipe_label(snakemake.params.train),
)
log.info("robustness curves:\n%s", text)
