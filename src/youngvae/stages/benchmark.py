"""What the rule of workflow/rules/benchmark.smk calls: the training benchmark matrix.

The benchmark lab itself lives in :mod:`youngvae.bench`; this stage is its entry for Snakemake.
"""

from youngvae.bench.matrix import run_benchmark

__all__ = ["run_benchmark"]
