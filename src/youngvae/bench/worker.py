"""One benchmark setting, timed in a fresh process of its own (``python -m youngvae.bench --worker``)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from youngvae.bench.flops import forward_flops_per_sample, train_flops_per_sample
from youngvae.bench.machine import throughput_probe
from youngvae.threads import configure_threads

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
TRAINERS = ("keras", "youngvae")
RESULT_TAG = "YOUNGVAE_BENCH_RESULT "


@dataclass(frozen=True)
class Setting:
    backend: str = "tensorflow"
    trainer: str = "youngvae"
    precision: str = "mixed_bfloat16"
    batch_size: int = 32
    intra_threads: int = 2
    inter_threads: int = 1
    xla: bool = False

    def label(self) -> str:
        xla = "+xla" if self.xla else ""
        return f"{self.backend}/{self.trainer}/{self.precision}{xla}/bs{self.batch_size}"


def bench_images(n: int, size: int, seed: int = 0) -> np.ndarray:
    """Fringe-like images in [0, 1] (the data's statistics matter little to timing)."""
    rng = np.random.default_rng(seed)
    x = np.linspace(-1.0, 1.0, size, dtype=np.float32)
    period = rng.uniform(0.2, 0.6, n).astype(np.float32)
    rows = np.exp(-(x**2)) * np.cos(np.pi * x[None, :] / period[:, None]) ** 2
    return np.ascontiguousarray(np.broadcast_to(rows[:, :, None], (n, size, size)), np.float32)


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def make_steps(trainer: str, precision: str, x: np.ndarray, batch: int, xla: bool = False,
               train: dict | None = None):
    """(vae, train_one(i), val_one(i)): one train / validation step on the i-th batch of ``x``.

    ``trainer`` 'youngvae' = :class:`youngvae.vae.training.Trainer` (the ``train`` rule's path),
    with the :class:`~youngvae.vae.training.TrainConfig` settings ``train`` on top (e.g.
    ``{"output_conv": "compute"}``); 'keras' = plain Keras ``train_on_batch`` on the stock-layer
    model (the baseline).
    """
    import keras

    from youngvae.vae.model import build_vae
    from youngvae.vae.training import TrainConfig, Trainer

    image_size = x.shape[1]
    n_batches = max(1, len(x) // batch)
    if trainer == "youngvae":
        cfg = TrainConfig(batch_size=batch, precision=precision, **(train or {}))
        t = Trainer(image_size, cfg, len(x), jit_compile=xla)
        data, idx = t.to_device(x), np.arange(len(x))

        def train_one(i):
            t.train_batches(data, idx[(i % n_batches) * batch :][:batch])

        def val_one(i):
            t.evaluate(data, idx[(i % n_batches) * batch :][:batch])

        return t.vae, train_one, val_one
    if train:
        raise ValueError(f"train settings {train} apply to the youngvae trainer, not to plain Keras")
    vae = build_vae(image_size, 1, precision=precision, plain_keras=True)
    vae.compile(optimizer=keras.optimizers.RMSprop(1e-3), jit_compile=xla)
    batches = [x[i * batch : (i + 1) * batch] for i in range(n_batches)]

    def train_one(i):
        vae.train_on_batch(batches[i % n_batches], return_dict=True)

    def val_one(i):
        vae.test_on_batch(batches[i % n_batches], return_dict=True)

    return vae, train_one, val_one


def run_setting(setting: Setting, image_size: int, steps: int, warmup_steps: int,
                val_steps: int = 2, probe: bool = True, probe_kw: dict | None = None) -> dict:
    """Time one setting IN THIS PROCESS (call through a fresh process: see run_benchmark)."""
    configure_threads(setting.intra_threads, setting.inter_threads, setting.backend)
    import keras

    if keras.backend.backend() != setting.backend:
        raise RuntimeError(
            f"this process runs Keras backend {keras.backend.backend()!r}, the setting wants "
            f"{setting.backend!r}: set KERAS_BACKEND before Keras is imported"
        )
    result = {"pid": os.getpid(), "backend": keras.backend.backend()}
    if hasattr(os, "sched_getaffinity"):
        result["cpus"] = len(os.sched_getaffinity(0))
    if setting.backend == "tensorflow":
        import tensorflow as tf

        result["tf_intra_threads"] = tf.config.threading.get_intra_op_parallelism_threads()
        result["tf_inter_threads"] = tf.config.threading.get_inter_op_parallelism_threads()
    result["probe"] = throughput_probe(**(probe_kw or {})) if probe else {}
    batch = setting.batch_size
    n = batch * max(steps, warmup_steps, val_steps)
    x = bench_images(n, image_size)
    keras.utils.set_random_seed(0)
    step_times, val_times = [], []
    vae, train_one, val_one = make_steps(setting.trainer, setting.precision, x, batch, setting.xla)

    for i in range(warmup_steps):
        train_one(i)
    for i in range(steps):
        t = time.perf_counter()
        train_one(i)
        step_times.append(time.perf_counter() - t)
    val_one(0)  # warm-up (tracing)
    for i in range(val_steps):
        t = time.perf_counter()
        val_one(i)
        val_times.append(time.perf_counter() - t)
    result.update(
        step_times=step_times,
        val_step_times=val_times,
        train_flops_per_sample=train_flops_per_sample(vae),
        forward_flops_per_sample=forward_flops_per_sample(vae),
        n_params=int(vae.count_params()),
        peak_rss_mb=peak_rss_mb(),
    )
    return result


def worker_main(argv) -> int:
    spec = json.loads(argv)
    setting = Setting(**spec["setting"])
    result = run_setting(setting, **spec["args"])
    print(RESULT_TAG + json.dumps(result), flush=True)
    return 0


def worker_cpus(threads: int) -> set[int] | None:
    """The first ``threads`` CPUs this process may use, or None when that is all of them.
    A worker is pinned to them, so that every backend (JAX and PyTorch size their pools from
    the CPUs they may run on) really runs on ``threads`` cores."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    return set(allowed[:threads]) if 0 < threads < len(allowed) else None


def run_in_fresh_process(setting: Setting, args: dict, timeout_s: float) -> dict:
    env = {
        **os.environ,
        "KERAS_BACKEND": setting.backend,
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "OMP_NUM_THREADS": str(setting.intra_threads),
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH")) if p
        ),
    }
    if setting.backend == "jax" and setting.intra_threads == 1:
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false").strip()
    cpus = worker_cpus(setting.intra_threads)
    spec = json.dumps({"setting": dataclasses.asdict(setting), "args": args})
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "youngvae.bench", "--worker", spec],
            env=env, capture_output=True, text=True, timeout=timeout_s,
            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout_s:.0f} s"}
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_TAG):
            return json.loads(line[len(RESULT_TAG):])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    return {"error": f"worker exited {proc.returncode}: {' | '.join(tail)}"}
