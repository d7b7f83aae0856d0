"""The training benchmark matrix (the paper's Table IV, done properly): settings, runs, rows.

What it measures
----------------
* One **setting** = (backend, precision, batch size, intra-op threads, inter-op threads, XLA,
  trainer). Each setting runs in a FRESH Python process (``python -m youngvae.bench --worker``, :mod:`youngvae.bench.worker`):
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
  :func:`youngvae.vae.training.train_vae` (its compiled step on pre-converted input tensors).
* s per epoch = median steady-state s/step × ceil(n_train / batch_size) (training steps only,
  as in the paper's epoch without validation); ``s_per_epoch_incl_val`` adds
  ceil(n_val / batch_size) validation steps.
* GFLOP/s = (train FLOPs per sample, :func:`train_flops_per_sample`) × batch / s per step.
  FLOPs are 2 × multiply-adds of the convolutions and dense layers (biases, activations, the
  loss and the optimizer update are not counted, < 1 %). A train step = forward + backward
  (input and weight gradients: 2 × forward), minus the input gradient of the first layer,
  which nobody needs. ``fraction_of_probe`` = GFLOP/s over the probe's convolution GFLOP/s in
  the setting's compute dtype (bfloat16 for mixed_bfloat16).
* ``isa_peak_gflops`` = the arithmetic units' own ceiling at the setting's thread count, measured
  once per run before the workers start (:mod:`youngvae.bench.ceiling`: independent FMA / bf16
  dot-product chains, AMX tile dot products where the CPU has them); for mixed_bfloat16 the
  highest of every unit it may run on, named in ``isa_peak_unit``; ``fraction_of_isa_peak`` =
  GFLOP/s over it. Epoch FLOPs / this peak is the floor no implementation of the same
  arithmetic beats; a fraction above 1 is a bug (a unit the ceiling missed) and the row gets
  status ``ceiling_exceeded``, which the tests fail on.

A backend that is not installed is not run: its rows say ``status = skipped`` and why.
"""

from __future__ import annotations

import itertools
import math
import os
import time
from pathlib import Path

import numpy as np

from youngvae.bench import ceiling
from youngvae.bench.machine import machine_info
from youngvae.bench.report import plot_benchmark, table_iv_markdown
from youngvae.bench.worker import Setting, run_in_fresh_process
from youngvae.runtime import write_json

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
    "isa_peak_unit",
    "fraction_of_isa_peak",
    "peak_rss_mb",
    "status",
    "note",
]


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


def skip_reason(setting: Setting, machine: dict) -> str | None:
    if not machine["backends_available"].get(setting.backend, False):
        return (f"skipped: Keras backend {setting.backend!r} is not installed "
                "(pip install -r requirements-backends.txt)")
    if setting.precision == "mixed_float16" and not machine["gpu"]:
        return "skipped: mixed_float16 is for GPUs only (no GPU on this machine)"
    if setting.xla and setting.backend == "torch":
        return "skipped: jit_compile is not supported on the torch backend"
    return None


def setting_row(setting: Setting, runs: list[dict], image_size: int, n_train: int, n_val: int,
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
    peak, unit = ceiling.ceiling_for(isa, setting.precision, setting.intra_threads) or (None, None)
    fraction_of_peak, exceeded = ceiling.check_fraction(gflops, peak, setting.label())
    if exceeded:  # kept in the table, flagged: the tests fail on this status
        errors = [*errors, exceeded]
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
        isa_peak_gflops=peak,
        isa_peak_unit=unit,
        fraction_of_isa_peak=fraction_of_peak,
        peak_rss_mb=float(max(r["peak_rss_mb"] for r in ok)),
        status="ceiling_exceeded" if exceeded else ("ok" if not errors else "partial"),
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
    skip = {s: skip_reason(s, machine) for s in settings}
    runnable = [s for s in settings if not skip[s]]
    # the vector units' ceiling, while nothing else of ours runs (a few seconds)
    machine["isa_peak"] = ceiling.measure(
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
            result = run_in_fresh_process(s, args, float(bench_cfg["timeout_s"]))
            runs[s].append(result)
            what = result.get("error") or (
                f"median {np.median(result['step_times']):.3f} s/step, "
                f"peak RSS {result['peak_rss_mb']:.0f} MB")
            log(f"round {repeat + 1}: {s.label()} threads {s.intra_threads}/{s.inter_threads}: "
                f"{what} ({time.perf_counter() - t:.0f} s wall)")
    rows = [
        setting_row(s, runs.get(s, []), image_size, n_train, n_val, int(bench_cfg["steps"]), skip[s] or "",
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
    write_json(machine_path, machine)
    Path(table_path).write_text(table_iv_markdown(table, machine))
    if figure_path:
        plot_benchmark(table, figure_path)
    return table, machine
