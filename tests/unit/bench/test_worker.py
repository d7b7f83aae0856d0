"""youngvae.bench.worker: each setting runs in a fresh process with its threads."""

from __future__ import annotations

import os

import pytest

from youngvae.bench import worker as bench
from youngvae.bench.worker import Setting

TINY = dict(image_size=16, steps=1, warmup_steps=1, val_steps=1,
            probe_kw={"matmul_n": 64, "conv_size": 8, "repeats": 1})



@pytest.mark.slow  # trains a model or starts fresh processes (seconds)
def test_each_setting_runs_in_its_own_fresh_process_with_its_threads():
    results = [
        bench.run_in_fresh_process(Setting(trainer="keras", precision="float32", intra_threads=t,
                                            inter_threads=1), TINY, timeout_s=300)
        for t in (1, 2)
    ]
    for result, threads in zip(results, (1, 2)):
        assert "error" not in result, result
        assert result["pid"] != os.getpid()
        assert result["backend"] == "tensorflow"
        assert result["tf_intra_threads"] == threads and result["tf_inter_threads"] == 1
        # pinned to `threads` CPUs (this machine has 2: the 2-thread worker keeps both)
        assert result["cpus"] == min(threads, len(os.sched_getaffinity(0)))
        assert len(result["step_times"]) == 1 and result["peak_rss_mb"] > 0
        assert {"matmul_float32", "matmul_bfloat16", "conv_float32", "conv_bfloat16"} <= set(result["probe"])
    assert results[0]["pid"] != results[1]["pid"]
