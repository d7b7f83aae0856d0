"""youngvae.bench.report: speed-up against the plain float32 Keras row of the same run."""

from __future__ import annotations

import pytest

from youngvae.bench import report as bench


def test_speedup_is_against_plain_float32_keras_at_the_same_threads_and_batch():
    def row(trainer, precision, threads, s, backend="tensorflow", xla=False):
        return {"backend": backend, "trainer": trainer, "precision": precision, "xla": xla,
                "batch_size": 32, "intra_threads": threads, "s_per_step_median": s}

    records = [row("keras", "float32", 1, 4.0), row("keras", "float32", 2, 2.0),
               row("youngvae", "mixed_bfloat16", 2, 1.0), row("keras", "float32", 2, 8.0, "jax"),
               row("keras", "float32", 2, 4.0, xla=True), row("keras", "float32", 4, float("nan"))]
    assert bench.speedup_vs_float32_keras(records[2], records) == pytest.approx(2.0)
    assert bench.speedup_vs_float32_keras(records[3], records) == pytest.approx(0.25)
    assert bench.speedup_vs_float32_keras(records[4], records) == pytest.approx(0.5)
    assert bench.speedup_vs_float32_keras(records[0], records) == pytest.approx(1.0)
    assert bench.speedup_vs_float32_keras(row("youngvae", "float32", 8, 1.0), records) is None
    assert bench.speedup_vs_float32_keras(records[5], records) is None
