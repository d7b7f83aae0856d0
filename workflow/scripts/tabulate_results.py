from youngvae.runtime import log_to

log = log_to(snakemake.log[0])

from youngvae.stages.report import job_label, write_report_tables

inp, out = snakemake.input, snakemake.output
write_report_tables(
    encode_metrics_path=inp.encode_metrics,
    decode_metrics_path=inp.decode_metrics,
    history_path=inp.history,
    benchmarks={
        job_label(path): path for path in [*inp.chunk_benchmarks, *inp.model_benchmarks]
    },
    history_html=out.history,
    encode_html=out.encode,
    decode_html=out.decode,
    benchmarks_html=out.timings,
    benchmarks_csv=out.timings_csv,
)
log.info("wrote %s", list(out))
