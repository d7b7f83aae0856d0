"""Training benchmark (the paper's Table IV, done properly), FLOP accounting and profiling.

What it measures
----------------
* One **setting** = (backend, precision, batch size, intra-op threads, inter-op threads, XLA,
  trainer). Each setting runs in a FRESH Python process (``python -m youngvae.bench --worker``):
  the Keras backend and the thread pools must be fixed before the framework starts, so two
  settings never share a process. Settings are repeated and interleaved (A B C A B C ...), so
  a load that comes and goes on the machine hits every setting alike.
* In that process: a throughput probe (float32 and bfloat16 matmul and a 64→64 3×3
  convolution, through ``keras.ops``, so the same backend and threads), then the VAE is built
  at ``image_size`` and ``warmup_steps`` train steps are run and discarded (tracing, first-step
  allocations), then ``steps`` steady-state steps are timed one by one, then a few validation
  (forward-only) steps. Peak RSS is the process' ``ru_maxrss``.
* ``trainer``: ``keras`` = a plain Keras 3 loop (``train_on_batch`` on float32 numpy batches,
  ``jit_compile`` = the setting's ``xla``) on the model with stock Keras layers
  (``build_vae(plain_keras=True)``), the baseline; ``youngvae`` = the training path of
  :func:`youngvae.training.train_vae` (its compiled step on pre-converted input tensors).
* s per epoch = median steady-state s/step × ceil(n_train / batch_size) (training steps only,
  as in the paper's epoch without validation); ``s_per_epoch_incl_val`` adds
  ceil(n_val / batch_size) validation steps.
* GFLOP/s = (train FLOPs per sample, :func:`train_flops_per_sample`) × batch / s per step.
  FLOPs are 2 × multiply-adds of the convolutions and dense layers (biases, activations, the
  loss and the optimizer update are not counted, < 1 %). A train step = forward + backward
  (input and weight gradients: 2 × forward), minus the input gradient of the first layer,
  which nobody needs. ``fraction_of_probe`` = GFLOP/s over the probe's convolution GFLOP/s in
  the setting's compute dtype (bfloat16 for mixed_bfloat16).
* ``isa_peak_gflops`` = the vector units' own ceiling at the setting's thread count, measured
  once per run before the workers start (:mod:`youngvae.isa_peak`: independent FMA / bf16
  dot-product chains; the bf16 one for mixed_bfloat16), and ``fraction_of_isa_peak`` = GFLOP/s
  over it. Epoch FLOPs / this peak is the floor no implementation of the same arithmetic beats.

A backend that is not installed is not run: its rows say ``status = skipped`` and why.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import itertools
import json
import math
import os
import platform
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from youngvae import isa_peak

__all__ = [
    "Setting",
    "CSV_COLUMNS",
    "MACHINE_KEYS",
    "PAPER_TABLE_IV",
    "settings_from_config",
    "layer_flops",
    "forward_flops_per_sample",
    "train_flops_per_sample",
    "machine_info",
    "backend_available",
    "run_setting",
    "run_benchmark",
    "table_iv_markdown",
    "plot_benchmark",
    "layer_time_table",
    "input_pipeline_rates",
]

BACKENDS = ("tensorflow", "jax", "torch")
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
TRAINERS = ("keras", "youngvae")
RESULT_TAG = "YOUNGVAE_BENCH_RESULT "

CSV_COLUMNS = [
    "backend",
    "trainer",
    "precision",
    "batch_size",
    "threads",
    "intra_threads",
    "inter_threads",
    "xla",
    "image_size",
    "n_train",
    "n_val",
    "steps",
    "n_repeats",
    "s_per_step_median",
    "s_per_step_min",
    "s_per_step_max",
    "spread_pct",
    "s_per_epoch",
    "s_per_10_epochs",
    "s_per_epoch_incl_val",
    "samples_per_s",
    "gflop_per_sample",
    "gflops",
    "probe_gflops",
    "fraction_of_probe",
    "isa_peak_gflops",
    "fraction_of_isa_peak",
    "peak_rss_mb",
    "status",
    "note",
]

MACHINE_KEYS = [
    "cpu_model",
    "cores",
    "flags",
    "avx512",
    "avx512_bf16",
    "amx",
    "ram_gib",
    "gpu",
    "python",
    "platform",
    "versions",
    "onednn",
    "backends_available",
    "probe",
    "isa_peak",
    "load_average",
]

# The paper's Table IV (training time on three Intel Xeon machines, 2048 samples of 256²).
# Only the range 257-300 s per epoch is known to us here; the exact rows could not be
# recovered, so the table states the range instead of inventing three rows.
PAPER_TABLE_IV = {
    "rows": [],
    "s_per_epoch_range": (257.0, 300.0),
    "note": (
        "paper: 257-300 s per epoch on three Intel Xeon machines (16-48 cores); the exact "
        "three rows were not available to us, so only the range is given"
    ),
}


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


# ---- FLOP accounting --------------------------------------------------------------------


def layer_flops(model) -> list[dict]:
    """Per-sample forward FLOPs (2 × multiply-adds) of every Conv2D/Conv2DTranspose/Dense
    layer of a built Keras model (nested models are walked), in call order."""
    import keras

    rows = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            rows.extend(
                {**r, "layer": f"{layer.name}/{r['layer']}"} for r in layer_flops(layer)
            )
            continue
        if isinstance(layer, keras.layers.Conv2DTranspose):
            kind = "Conv2DTranspose"
        elif isinstance(layer, keras.layers.Conv2D):
            kind = "Conv2D"
        elif isinstance(layer, keras.layers.Dense):
            kind = "Dense"
        else:
            continue
        kernel = tuple(layer.kernel.shape)
        if kind == "Dense":
            flops = 2 * kernel[0] * kernel[1]
        elif kind == "Conv2D":  # kernel (kh, kw, cin, cout); one MAC per output pixel per tap
            out_h, out_w = layer.output.shape[1:3]
            flops = 2 * out_h * out_w * kernel[0] * kernel[1] * kernel[2] * kernel[3]
        else:  # Conv2DTranspose kernel (kh, kw, cout, cin); one MAC per INPUT pixel per tap
            in_h, in_w = layer.input.shape[1:3]
            flops = 2 * in_h * in_w * kernel[0] * kernel[1] * kernel[2] * kernel[3]
        rows.append({"layer": layer.name, "kind": kind, "flops": int(flops)})
    return rows


def forward_flops_per_sample(vae) -> int:
    return sum(r["flops"] for r in layer_flops(vae))


def train_flops_per_sample(vae) -> int:
    """Forward + backward (input and weight gradients) minus the first layer's input gradient."""
    rows = layer_flops(vae)
    return 3 * sum(r["flops"] for r in rows) - rows[0]["flops"]


# ---- machine ------------------------------------------------------------------------------


def _cpuinfo() -> dict:
    info = {"cpu_model": platform.processor() or platform.machine(), "flags": []}
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return info
    model = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
    if model:
        info["cpu_model"] = model.group(1).strip()
    info["flags"] = sorted(isa_peak.cpu_flags())
    return info


def _gpu() -> str | None:
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def backend_available(backend: str) -> bool:
    module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}[backend]
    return importlib.util.find_spec(module) is not None


def _version(module: str) -> str | None:
    from importlib import metadata

    for dist in {
        "tensorflow": ("tensorflow-cpu", "tensorflow"),
        "torch": ("torch",),
        "jax": ("jax",),
        "jaxlib": ("jaxlib",),
        "keras": ("keras",),
        "numpy": ("numpy",),
    }[module]:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return None


def machine_info() -> dict:
    """CPU model, cores, SIMD flags, RAM, GPU, framework versions, oneDNN (no framework import)."""
    cpu = _cpuinfo()
    flags = set(cpu["flags"])
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        ram = None
    wanted = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16",
              "amx_tile", "amx_bf16", "amx_int8")
    onednn_env = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    return {
        "cpu_model": cpu["cpu_model"],
        "cores": os.cpu_count(),
        "flags": [f for f in wanted if f in flags],
        "avx512": "avx512f" in flags,
        "avx512_bf16": "avx512_bf16" in flags,
        "amx": "amx_tile" in flags,
        "ram_gib": round(ram, 1) if ram else None,
        "gpu": _gpu(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {m: _version(m) for m in ("tensorflow", "keras", "numpy", "torch", "jax", "jaxlib")},
        "onednn": {
            "TF_ENABLE_ONEDNN_OPTS": onednn_env,
            # TF >= 2.9 enables oneDNN by default on x86 Linux unless the variable says 0.
            "tensorflow_onednn_on": onednn_env not in ("0", "false", "False"),
        },
        "backends_available": {b: backend_available(b) for b in BACKENDS},
        "probe": {},
        "isa_peak": None,
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


# ---- the worker (runs in its own process) ---------------------------------------------------


def _configure(setting: Setting) -> None:
    """Threads for the backend, before its first op."""
    if setting.backend == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(setting.intra_threads)
        tf.config.threading.set_inter_op_parallelism_threads(setting.inter_threads)
    elif setting.backend == "torch":
        import torch

        torch.set_num_threads(setting.intra_threads)
        torch.set_num_interop_threads(setting.inter_threads)


def _sync(value) -> float:
    from keras import ops

    return float(ops.convert_to_numpy(ops.sum(ops.cast(value, "float32"))))


def throughput_probe(repeats: int = 3, matmul_n: int = 2048, conv_size: int = 128) -> dict:
    """GFLOP/s of a matmul (n²) and a 64→64 3×3 'same' convolution (batch 8, size²), float32
    and bfloat16, through keras.ops (this process' backend and threads); best of ``repeats``."""
    from keras import ops

    rng = np.random.default_rng(0)
    out = {}
    for dtype in ("float32", "bfloat16"):
        a = ops.cast(ops.convert_to_tensor(rng.standard_normal((matmul_n, matmul_n), "float32")), dtype)
        best = math.inf
        for _ in range(repeats + 1):
            t = time.perf_counter()
            _sync(ops.matmul(a, a))
            best = min(best, time.perf_counter() - t)
        out[f"matmul_{dtype}"] = 2 * matmul_n**3 / best / 1e9
        x = ops.cast(ops.convert_to_tensor(rng.standard_normal((8, conv_size, conv_size, 64), "float32")), dtype)
        k = ops.cast(ops.convert_to_tensor(rng.standard_normal((3, 3, 64, 64), "float32")), dtype)
        best = math.inf
        for _ in range(repeats + 1):
            t = time.perf_counter()
            _sync(ops.conv(x, k, padding="same"))
            best = min(best, time.perf_counter() - t)
        out[f"conv_{dtype}"] = 2 * 8 * conv_size**2 * 9 * 64 * 64 / best / 1e9
    return {k: round(v, 1) for k, v in out.items()}


def _bench_images(n: int, size: int, seed: int = 0) -> np.ndarray:
    """Fringe-like images in [0, 1] (the data's statistics matter little to timing)."""
    rng = np.random.default_rng(seed)
    x = np.linspace(-1.0, 1.0, size, dtype=np.float32)
    period = rng.uniform(0.2, 0.6, n).astype(np.float32)
    rows = np.exp(-(x**2)) * np.cos(np.pi * x[None, :] / period[:, None]) ** 2
    return np.ascontiguousarray(np.broadcast_to(rows[:, :, None], (n, size, size)), np.float32)


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run_setting(setting: Setting, image_size: int, steps: int, warmup_steps: int,
                val_steps: int = 2, probe: bool = True, probe_kw: dict | None = None) -> dict:
    """Time one setting IN THIS PROCESS (call through a fresh process: see run_benchmark)."""
    _configure(setting)
    import keras

    if keras.backend.backend() != setting.backend:
        raise RuntimeError(
            f"this process runs Keras backend {keras.backend.backend()!r}, the setting wants "
            f"{setting.backend!r}: set KERAS_BACKEND before Keras is imported"
        )
    from youngvae.model import build_vae
    from youngvae.training import TrainConfig, _Trainer

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
    x = _bench_images(n, image_size)
    keras.utils.set_random_seed(0)
    batches = [x[i * batch : (i + 1) * batch] for i in range(n // batch)]
    step_times, val_times = [], []
    if setting.trainer == "youngvae":
        cfg = TrainConfig(batch_size=batch, precision=setting.precision)
        trainer = _Trainer(image_size, cfg, jit_compile=setting.xla)
        vae = trainer.vae
        data = trainer.to_device(x)
        idx = np.arange(n)

        def train_one(i):
            trainer.train_batches(data, idx[(i % len(batches)) * batch :][:batch])

        def val_one(i):
            trainer.evaluate(data, idx[(i % len(batches)) * batch :][:batch])
    else:
        previous = keras.mixed_precision.global_policy()
        keras.mixed_precision.set_global_policy(setting.precision)
        try:
            vae = build_vae(image_size, 1, plain_keras=True)
        finally:
            keras.mixed_precision.set_global_policy(previous)
        vae.compile(optimizer=keras.optimizers.RMSprop(1e-3), jit_compile=setting.xla)

        def train_one(i):
            vae.train_on_batch(batches[i % len(batches)], return_dict=True)

        def val_one(i):
            vae.test_on_batch(batches[i % len(batches)], return_dict=True)

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
        peak_rss_mb=_peak_rss_mb(),
    )
    return result


def _worker_main(argv) -> int:
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


def _run_in_fresh_process(setting: Setting, args: dict, timeout_s: float) -> dict:
    env = {
        **os.environ,
        "KERAS_BACKEND": setting.backend,
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "OMP_NUM_THREADS": str(setting.intra_threads),
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH")) if p
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


# ---- the matrix ---------------------------------------------------------------------------


def settings_from_config(bench_cfg: dict, cores: int | None = None) -> list[Setting]:
    """Expand the config's ``benchmark`` section into settings (threads 0 = all cores)."""
    cores = cores or os.cpu_count() or 1
    threads = sorted({(t if t > 0 else cores) for t in bench_cfg["threads"]})
    settings = []
    for backend, trainer, precision, batch, intra, xla in itertools.product(
        bench_cfg["backends"], bench_cfg["trainers"], bench_cfg["precisions"],
        bench_cfg["batch_sizes"], threads, bench_cfg["xla"],
    ):
        if backend != "tensorflow":
            trainer = "keras"  # the youngvae trainer is TensorFlow-specific
        inter = bench_cfg.get("inter_threads", 1)
        setting = Setting(backend, trainer, precision, int(batch), int(intra),
                          int(inter if inter > 0 else intra), bool(xla))
        if setting not in settings and not excluded(setting, bench_cfg.get("exclude", []), cores):
            settings.append(setting)
    return settings


def excluded(setting: Setting, rules: list[dict], cores: int) -> bool:
    """True when every key of one of the ``exclude`` rules matches the setting (rule keys:
    backend, trainer, precision, batch_size, threads (0 = all cores), xla)."""
    values = {
        "backend": setting.backend, "trainer": setting.trainer, "precision": setting.precision,
        "batch_size": setting.batch_size, "threads": setting.intra_threads, "xla": setting.xla,
    }
    for rule in rules:
        unknown = set(rule) - set(values)
        if unknown:
            raise ValueError(f"benchmark.exclude: unknown key(s) {sorted(unknown)}; allowed: {sorted(values)}")
        want = {k: ((cores if v == 0 else v) if k == "threads" else v) for k, v in rule.items()}
        if all(values[k] == v for k, v in want.items()):
            return True
    return False


def _skip_reason(setting: Setting, machine: dict) -> str | None:
    if not machine["backends_available"].get(setting.backend, False):
        return (f"skipped: Keras backend {setting.backend!r} is not installed "
                "(pip install -r requirements-backends.txt)")
    if setting.precision == "mixed_float16" and not machine["gpu"]:
        return "skipped: mixed_float16 is for GPUs only (no GPU on this machine)"
    if setting.xla and setting.backend == "torch":
        return "skipped: jit_compile is not supported on the torch backend"
    return None


def _row(setting: Setting, runs: list[dict], image_size: int, n_train: int, n_val: int,
         steps: int, note: str = "", isa: dict | None = None) -> dict:
    row = {c: None for c in CSV_COLUMNS}
    row.update(
        backend=setting.backend, trainer=setting.trainer, precision=setting.precision,
        batch_size=setting.batch_size, threads=setting.intra_threads,
        intra_threads=setting.intra_threads, inter_threads=setting.inter_threads,
        xla=setting.xla, image_size=image_size, n_train=n_train, n_val=n_val, steps=steps,
    )
    ok = [r for r in runs if "error" not in r]
    errors = [r["error"] for r in runs if "error" in r]
    row["n_repeats"] = len(ok)
    if not ok:
        row.update(status="failed" if errors else "skipped", note=note or "; ".join(errors))
        return row
    medians = [float(np.median(r["step_times"])) for r in ok]
    all_steps = [t for r in ok for t in r["step_times"]]
    median = float(np.median(medians))
    val = float(np.median([np.median(r["val_step_times"]) for r in ok]))
    steps_per_epoch = math.ceil(n_train / setting.batch_size)
    flops = ok[0]["train_flops_per_sample"]
    probe_key = "conv_bfloat16" if "bfloat16" in setting.precision else "conv_float32"
    probes = [r["probe"].get(probe_key) for r in ok if r.get("probe")]
    probe = float(np.median(probes)) if probes else None
    gflops = flops * setting.batch_size / median / 1e9
    ceiling = isa_peak.peak_for(isa, setting.precision, setting.intra_threads)
    row.update(
        s_per_step_median=median,
        s_per_step_min=float(min(all_steps)),
        s_per_step_max=float(max(all_steps)),
        spread_pct=100 * (max(medians) - min(medians)) / median,
        s_per_epoch=median * steps_per_epoch,
        s_per_10_epochs=10 * median * steps_per_epoch,
        s_per_epoch_incl_val=median * steps_per_epoch + val * math.ceil(n_val / setting.batch_size),
        samples_per_s=setting.batch_size / median,
        gflop_per_sample=flops / 1e9,
        gflops=gflops,
        probe_gflops=probe,
        fraction_of_probe=gflops / probe if probe else None,
        isa_peak_gflops=ceiling,
        fraction_of_isa_peak=gflops / ceiling if ceiling else None,
        peak_rss_mb=float(max(r["peak_rss_mb"] for r in ok)),
        status="ok" if not errors else "partial",
        note="; ".join([note] + errors if note else errors),
    )
    return row


def run_benchmark(bench_cfg: dict, image_size: int, n_train: int, n_val: int,
                  csv_path, machine_path, table_path, figure_path=None, log=print):
    """Run the matrix (fresh process per setting and repeat, interleaved); write the outputs.

    Returns (rows DataFrame, machine dict). ``bench_cfg`` is the config's ``benchmark``
    section (see config.yaml).
    """
    import pandas as pd

    machine = machine_info()
    settings = settings_from_config(bench_cfg, machine["cores"])
    skip = {s: _skip_reason(s, machine) for s in settings}
    runnable = [s for s in settings if not skip[s]]
    # the vector units' ceiling, while nothing else of ours runs (a few seconds)
    machine["isa_peak"] = isa_peak.measure(
        sorted({s.intra_threads for s in runnable}) or [machine["cores"]],
        repeats=5, log=log)
    if machine["isa_peak"]["status"] != "ok":
        log(f"ISA peak: {machine['isa_peak']['status']}")
    args = {"image_size": int(image_size), "steps": int(bench_cfg["steps"]),
            "warmup_steps": int(bench_cfg["warmup_steps"]), "val_steps": int(bench_cfg["val_steps"]),
            "probe_kw": {"matmul_n": int(bench_cfg["probe_matmul_n"]),
                         "conv_size": int(bench_cfg["probe_conv_size"])}}
    runs: dict[Setting, list[dict]] = {s: [] for s in runnable}
    for s in settings:
        if skip[s]:
            log(f"{s.label()} threads {s.intra_threads}: {skip[s]}")
    for repeat in range(int(bench_cfg["repeats"])):
        # interleave: every setting once per round; the order rotates between rounds
        order = runnable[repeat % max(1, len(runnable)):] + runnable[: repeat % max(1, len(runnable))]
        for s in order:
            t = time.perf_counter()
            result = _run_in_fresh_process(s, args, float(bench_cfg["timeout_s"]))
            runs[s].append(result)
            what = result.get("error") or (
                f"median {np.median(result['step_times']):.3f} s/step, "
                f"peak RSS {result['peak_rss_mb']:.0f} MB")
            log(f"round {repeat + 1}: {s.label()} threads {s.intra_threads}/{s.inter_threads}: "
                f"{what} ({time.perf_counter() - t:.0f} s wall)")
    rows = [
        _row(s, runs.get(s, []), image_size, n_train, n_val, int(bench_cfg["steps"]), skip[s] or "",
             isa=machine["isa_peak"])
        for s in settings
    ]
    table = pd.DataFrame(rows, columns=CSV_COLUMNS)
    probes: dict[str, list[dict]] = {}
    for s, rs in runs.items():
        for r in rs:
            if r.get("probe"):
                probes.setdefault(f"{s.backend}/threads={s.intra_threads}", []).append(r["probe"])
    machine["probe"] = {
        key: {k: float(np.median([p[k] for p in ps])) for k in ps[0]} for key, ps in probes.items()
    }
    machine["benchmark"] = {"image_size": image_size, "n_train": n_train, "n_val": n_val,
                            "config": bench_cfg}
    for path in (csv_path, machine_path, table_path, figure_path):
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(csv_path, index=False, float_format="%.6g")
    Path(machine_path).write_text(json.dumps(machine, indent=2) + "\n")
    Path(table_path).write_text(table_iv_markdown(table, machine))
    if figure_path:
        plot_benchmark(table, figure_path)
    return table, machine


# ---- reports ------------------------------------------------------------------------------


def _fmt(value, digits=1):
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:.{digits}f}"


def _status(row: dict) -> str:
    note = row.get("note")
    if not isinstance(note, str) or not note or row["status"] == "ok":
        return str(row["status"])
    return note if note.startswith(str(row["status"])) else f"{row['status']}: {note}"


def speedup_vs_float32_keras(row: dict, records: list[dict]) -> float | None:
    """Baseline step time / this row's: the baseline is plain Keras on TensorFlow, float32, no
    XLA, same batch size and threads, from the same benchmark run (None where it is absent)."""
    for base in records:
        if (base["backend"], base["trainer"], base["precision"], bool(base["xla"])) == (
            "tensorflow", "keras", "float32", False
        ) and (base["batch_size"], base["intra_threads"]) == (row["batch_size"], row["intra_threads"]):
            num, den = base.get("s_per_step_median"), row.get("s_per_step_median")
            if num is not None and den is not None and math.isfinite(num) and math.isfinite(den) and den > 0:
                return num / den
    return None


def table_iv_markdown(table, machine: dict) -> str:
    """The paper's Table IV form: s per epoch and per 10 epochs, ours beside the paper's."""
    lo, hi = PAPER_TABLE_IV["s_per_epoch_range"]
    lines = [
        "# Table IV: training time",
        "",
        f"This machine: {machine['cpu_model']}, {machine['cores']} cores "
        f"({', '.join(machine['flags']) or 'no AVX-512'}), {machine['ram_gib']} GiB RAM, "
        f"GPU: {machine['gpu'] or 'none'}; TensorFlow {machine['versions'].get('tensorflow')}, "
        f"Keras {machine['versions'].get('keras')}.",
        "",
        "| machine | backend | trainer | precision | XLA | batch | threads (intra/inter) "
        "| s / epoch | s / 10 epochs | s / epoch incl. validation | × TF Keras float32 | GFLOP/s "
        "| of probe | of ISA peak | peak RSS MB | status |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        f"| paper: three Intel Xeon machines, 16–48 cores | TensorFlow 1 / Keras 2 | keras | float32 "
        f"| – | – | – | {lo:.0f}–{hi:.0f} | {10 * lo:.0f}–{10 * hi:.0f} | – | – | – | – | – | – | paper |",
    ]
    records = table.to_dict("records")
    for r in records:
        lines.append(
            f"| this machine | {r['backend']} | {r['trainer']} | {r['precision']} "
            f"| {'on' if r['xla'] else 'off'} | {r['batch_size']} | {r['intra_threads']}/{r['inter_threads']} "
            f"| {_fmt(r['s_per_epoch'])} | {_fmt(r['s_per_10_epochs'], 0)} | {_fmt(r['s_per_epoch_incl_val'])} "
            f"| {_fmt(speedup_vs_float32_keras(r, records), 2)} "
            f"| {_fmt(r['gflops'], 0)} | {_fmt(r['fraction_of_probe'], 2)} "
            f"| {_fmt(r.get('fraction_of_isa_peak'), 2)} | {_fmt(r['peak_rss_mb'], 0)} "
            f"| {_status(r)} |"
        )
    lines += [
        "",
        f"Paper rows: {PAPER_TABLE_IV['note']}.",
        "",
        "s / epoch = median steady-state seconds per training step × ceil(n_train / batch) "
        f"(n_train = {table['n_train'].iloc[0] if len(table) else '–'}, images "
        f"{table['image_size'].iloc[0] if len(table) else '–'}²), each setting in a fresh process, "
        "repeated and interleaved; GFLOP/s from the hand-counted train FLOPs per sample; "
        "'of probe' = that over the convolution probe in the same compute dtype; "
        "'× TF Keras float32' = that setting's step time over this row's (same batch and threads); "
        "'of ISA peak' = GFLOP/s over the vector units' measured ceiling (below).",
        "",
    ] + _isa_floor_lines(table, machine.get("isa_peak"))
    return "\n".join(lines)


def _isa_floor_lines(table, isa: dict | None) -> list[str]:
    """The measured ISA ceiling and the epoch time it implies (the floor for this arithmetic)."""
    if not isa or isa.get("status") != "ok":
        status = (isa or {}).get("status", "not measured")
        return [f"ISA peak: {status}.", ""]
    ok = table[table["status"].isin(["ok", "partial"])] if len(table) else table
    lines = ["ISA peak (independent multiply-add chains in C, `youngvae.isa_peak`, median of "
             f"{isa['repeats']}), GFLOP/s: "
             + "; ".join(f"{k} " + ", ".join(f"{g:.0f} on {t} thread(s)" for t, g in by_t.items())
                         for k, by_t in isa["gflops"].items()) + "."]
    if len(ok):
        flop = float(ok["gflop_per_sample"].iloc[0]) * 1e9
        n_train = int(ok["n_train"].iloc[0])
        floors = []
        for precision in sorted(set(ok["precision"])):
            for threads in sorted(set(ok["intra_threads"])):
                peak = isa_peak.peak_for(isa, precision, int(threads))
                if peak:
                    floors.append(f"{precision} on {threads} thread(s): "
                                  f"{isa_peak.epoch_floor_s(flop, n_train, peak):.3g} s")
        if floors:
            lines.append(f"So one epoch ({n_train} samples × {flop / 1e9:.2f} GFLOP) cannot take less "
                         "than, at 100 % of that peak: " + "; ".join(floors) + ".")
    return lines + [""]


def plot_benchmark(table, path) -> None:
    """s per epoch against intra-op threads, one line per backend/trainer/precision/XLA/batch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8.5, 4.6))
    ok = table[table["status"].isin(["ok", "partial"])]
    groups = list(ok.groupby(["backend", "trainer", "precision", "xla", "batch_size"]))
    colors = plt.get_cmap("tab20")
    markers = {"tensorflow": "o", "torch": "s", "jax": "^"}
    for i, (key, group) in enumerate(groups):
        backend, trainer, precision, xla, batch = key
        group = group.sort_values("intra_threads")
        label = f"{backend} {trainer} {precision}{' XLA' if xla else ''} bs{batch}"
        ax.plot(group["intra_threads"], group["s_per_epoch"], marker=markers.get(backend, "o"),
                linestyle="--" if xla else "-", color=colors(i % 20), label=label)
    lo, hi = PAPER_TABLE_IV["s_per_epoch_range"]
    ax.axhspan(lo, hi, color="0.85", label="paper (16–48-core Xeons)")
    threads = sorted(ok["intra_threads"].unique()) if len(ok) else [1]
    ax.set_xticks([int(t) for t in threads])
    if len(threads) == 1:
        ax.set_xlim(threads[0] - 1, threads[0] + 1)
    ax.set_xlabel("intra-op threads")
    ax.set_ylabel(f"s per epoch ({int(table['n_train'].iloc[0]) if len(table) else '?'} samples)")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---- same-process A/B ----------------------------------------------------------------------


def _step_fn(trainer: str, precision: str, image_size: int, batch: int, xla: bool = False):
    """A zero-argument callable running one train step of the given trainer (TensorFlow)."""
    import keras

    from youngvae.model import build_vae
    from youngvae.training import TrainConfig, _Trainer

    x = _bench_images(batch, image_size)
    if trainer == "youngvae":
        t = _Trainer(image_size, TrainConfig(batch_size=batch, precision=precision), jit_compile=xla)
        data, idx = t.to_device(x), np.arange(batch)
        return lambda: t.train_batches(data, idx)
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(precision)
    try:
        vae = build_vae(image_size, 1, plain_keras=True)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    vae.compile(optimizer=keras.optimizers.RMSprop(1e-3), jit_compile=xla)
    return lambda: vae.train_on_batch(x, return_dict=True)


def ab_compare(variants: dict, image_size: int = 256, batch: int = 32, rounds: int = 6,
               warmup: int = 2) -> dict:
    """Interleaved A/B/... steps in ONE process (same threads, same moment's machine load).

    ``variants``: name -> (trainer, precision). Each round runs one step of every variant, in a
    rotating order, so a load that comes and goes hits all of them alike. Returns per variant the
    step times, median, min and the ratio of medians against the first variant (the baseline),
    plus the median of the per-round ratios (robust to slow load changes).
    """
    fns = {name: _step_fn(tr, prec, image_size, batch) for name, (tr, prec) in variants.items()}
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in fns}
    names = list(fns)
    for r in range(rounds):
        for name in names[r % len(names):] + names[: r % len(names)]:
            t = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - t)
    base = names[0]
    out = {}
    for name in names:
        per_round = [b / t for b, t in zip(times[base], times[name])]
        out[name] = {
            "step_times": times[name],
            "median": float(np.median(times[name])),
            "min": float(np.min(times[name])),
            "speedup_vs_" + base: float(np.median(times[base]) / np.median(times[name])),
            "median_round_speedup": float(np.median(per_round)),
        }
    return out


# ---- profiling ----------------------------------------------------------------------------


def layer_time_table(image_size: int = 256, batch_size: int = 32, precision: str = "mixed_bfloat16",
                     repeats: int = 3, step_time_s: float | None = None, plain_keras: bool = False) -> str:
    """Per-layer forward and forward+backward time (TensorFlow, this process' threads), Markdown.

    Each Conv2D/Conv2DTranspose/Dense layer of the VAE is run alone, in a tf.function, on an
    input of its real shape and dtype; forward+backward takes the gradient with respect to the
    weights and (except the first layer) the input, as in training. Best of ``repeats``.
    """
    import keras
    import tensorflow as tf

    from youngvae.model import build_vae

    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(precision)
    try:
        vae = build_vae(image_size, 1, plain_keras=plain_keras)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    flops = {r["layer"]: r["flops"] for r in layer_flops(vae)}
    rng = np.random.default_rng(0)
    rows, total_fwd, total_train = [], 0.0, 0.0
    first = True
    for model in (vae.encoder, vae.decoder):
        for layer in model.layers:
            name = f"{model.name}/{layer.name}"
            if name not in flops:
                continue
            shape = (batch_size, *layer.input.shape[1:])
            x = tf.cast(tf.constant(rng.uniform(0, 1, shape).astype("float32")), layer.compute_dtype)
            need_input_grad = not first
            first = False

            @tf.function
            def fwd(x, layer=layer):
                return tf.reduce_sum(tf.cast(layer(x), "float32"))

            @tf.function
            def train(x, layer=layer, need_input_grad=need_input_grad):
                with tf.GradientTape() as tape:
                    tape.watch(x)
                    y = tf.reduce_sum(tf.cast(layer(x), "float32"))
                sources = list(layer.trainable_weights) + ([x] if need_input_grad else [])
                return [tf.reduce_sum(tf.cast(g, "float32")) for g in tape.gradient(y, sources)]

            times = {}
            for key, fn in (("fwd", fwd), ("train", train)):
                best = math.inf
                for _ in range(repeats + 1):
                    t = time.perf_counter()
                    [float(v) for v in tf.nest.flatten(fn(x))]
                    best = min(best, time.perf_counter() - t)
                times[key] = best
            total_fwd += times["fwd"]
            total_train += times["train"]
            rows.append((name, type(layer).__name__, shape, flops[name], times))
    train_flops = 3 * sum(flops.values()) - next(iter(flops.values()))
    lines = [
        f"Per-layer time, {precision}, batch {batch_size}, {image_size}², best of {repeats}"
        f" (each layer alone in a tf.function; train = forward + weight and input gradients)",
        "",
        "| layer | kind | input | GFLOP fwd (batch) | fwd ms | fwd+bwd ms | fwd+bwd GFLOP/s | share of fwd+bwd |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for i, (name, kind, shape, f, times) in enumerate(rows):
        batch_flops = f * batch_size * (3 if i else 2)
        lines.append(
            f"| {name} | {kind} | {'×'.join(map(str, shape[1:]))} | {f * batch_size / 1e9:.2f} "
            f"| {1e3 * times['fwd']:.1f} | {1e3 * times['train']:.1f} "
            f"| {batch_flops / times['train'] / 1e9:.0f} | {100 * times['train'] / total_train:.0f} % |"
        )
    lines.append(
        f"| **sum** | | | {sum(flops.values()) * batch_size / 1e9:.2f} | {1e3 * total_fwd:.1f} "
        f"| {1e3 * total_train:.1f} | {train_flops * batch_size / total_train / 1e9:.0f} | 100 % |"
    )
    if step_time_s:
        lines += ["", f"Whole train step (measured separately): {1e3 * step_time_s:.0f} ms; "
                  f"the layers' fwd+bwd sum is {100 * total_train / step_time_s:.0f} % of it."]
    return "\n".join(lines) + "\n"


def input_pipeline_rates(store_path, indices=None, batch_size: int = 32,
                         s_per_step: float | None = None, repeats: int = 2) -> dict:
    """Samples/s read from the Zarr store (as training reads it) vs samples/s training consumes.

    ``s_per_step`` is the training step time at ``batch_size`` (measure it with the benchmark);
    the ratio read/consume must be >= 10 for the input not to matter.
    """
    from youngvae import chain, store

    n = len(store.read_wavelengths(store_path))
    indices = np.arange(n) if indices is None else np.asarray(indices)
    best = math.inf
    nbytes = 0
    for _ in range(repeats):
        t = time.perf_counter()
        images = chain.read_complete_images(store_path, indices)
        best = min(best, time.perf_counter() - t)
        nbytes = images.nbytes
    read_rate = len(indices) / best
    out = {"samples": int(len(indices)), "read_s": best, "read_samples_per_s": read_rate,
           "read_mb_per_s": nbytes / best / 2**20}
    if s_per_step:
        consume = batch_size / s_per_step
        out.update(train_samples_per_s=consume, ratio=read_rate / consume)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", help="(internal) run one setting given as JSON")
    parser.add_argument("--layers", action="store_true", help="print the per-layer time table")
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--precision", default="mixed_bfloat16")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--plain-keras", action="store_true", help="stock Conv2D output layer")
    args = parser.parse_args(argv)
    if args.worker:
        return _worker_main(args.worker)
    if args.layers:
        threads = args.threads or os.cpu_count() or 1
        _configure(Setting(intra_threads=threads, inter_threads=1))
        print(layer_time_table(args.image_size, args.batch_size, args.precision,
                               plain_keras=args.plain_keras))
        return 0
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
