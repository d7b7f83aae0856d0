"""The one thread setup of the ML frameworks (TensorFlow, PyTorch) for a job or a benchmark
worker, and the CPU's feature flags (which kernels a layer may prefer).

Lowest layer beside :mod:`youngvae.runtime`; imports the framework only when called.
"""

from __future__ import annotations

import functools
from pathlib import Path


def cpu_flags() -> set[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


@functools.lru_cache(maxsize=1)
def has_amx_bf16() -> bool:
    """Whether this CPU has AMX tiles for bfloat16 (``amx_tile`` and ``amx_bf16``)."""
    return {"amx_tile", "amx_bf16"} <= cpu_flags()


def configure_threads(intra: int, inter: int | None = None, backend: str = "tensorflow") -> None:
    """Give the framework this job's cores, before it runs its first op.

    ``inter`` defaults to min(2, intra). TensorFlow already running in this process keeps its
    setting (it cannot be changed then); PyTorch is set the same way; JAX sizes its pool from
    the CPUs the process may use (pin the process instead).
    """
    intra = max(1, int(intra))
    inter = max(1, int(inter)) if inter else max(1, min(2, intra))
    if backend == "tensorflow":
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(intra)
            tf.config.threading.set_inter_op_parallelism_threads(inter)
        except RuntimeError:  # TensorFlow already running in this process
            pass
    elif backend == "torch":
        import torch

        torch.set_num_threads(intra)
        torch.set_num_interop_threads(inter)
