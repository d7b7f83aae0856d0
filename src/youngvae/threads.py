"""The one thread setup of the ML frameworks (TensorFlow, PyTorch) for a job or a benchmark worker.

Lowest layer beside :mod:`youngvae.runtime`; imports the framework only when called.
"""

from __future__ import annotations


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
