"""The performance lab: not needed to reproduce the paper, used to measure and speed it up.

    matrix    the benchmark rule's settings, fresh-process runs and rows (Table IV)
    worker    one setting timed in its own process;  machine  CPU/GPU facts and a probe
    flops     FLOP accounting;  report  Table IV markdown and figure
    profile   per-layer times, same-process A/B, input-pipeline rate
    ceiling   the vector units' measured arithmetic ceiling (C, compiled at run time)
    engines   optics engine speed and accuracy;  compare  quality of a faster setting

Command lines: ``python -m youngvae.bench --layers``, ``python -m youngvae.bench.ceiling``,
``python -m youngvae.bench.engines``, ``python -m youngvae.bench.compare``.
"""
