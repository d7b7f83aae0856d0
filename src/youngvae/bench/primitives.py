"""Where one training step's time goes, primitive by primitive: oneDNN's own execution log.

``python -m youngvae.bench --primitives`` runs the ``train`` path's step (warm-up steps first) in
a fresh process with ``ONEDNN_VERBOSE=1``, keeps the log lines of one marked step and sums the
time of every oneDNN primitive by kind (convolution forward / backward_data / backward_weights,
matmul, reorder, ...), implementation (e.g. ``brg_conv_fwd:avx512_core_bf16``, or the older
``jit_bf16`` kernels) and problem shape. The step's wall time minus the oneDNN total is what ran
in TensorFlow's own kernels (element-wise ops, reductions such as bias gradients, casts, the
optimizer's XLA kernel). This answers "which primitive keeps the step from the ceiling" where the
per-layer table (``--layers``) only says which layer.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import defaultdict

MARK_BEGIN = "YOUNGVAE_PRIMITIVES_BEGIN"
MARK_END = "YOUNGVAE_PRIMITIVES_END"

_STEP_SCRIPT = """
import time
from youngvae.threads import configure_threads
configure_threads({threads}, 1)
from youngvae.bench.worker import bench_images, make_steps
_, step, _ = make_steps("youngvae", {precision!r}, bench_images({batch}, {image_size}), {batch})
for _ in range({warmup}):
    step(0)
print({begin!r}, flush=True)
t = time.perf_counter()
step(0)
seconds = time.perf_counter() - t
print({end!r}, seconds, flush=True)
"""


def parse_verbose(lines) -> tuple[list[dict], float | None]:
    """(primitive executions between the markers, the marked step's wall seconds).

    oneDNN v3 lines: ``onednn_verbose,v1,primitive,exec,cpu,KIND,IMPL,PROP,MEMORY,ATTRS,AUX,SHAPE,MS``
    (the memory descriptors hold no commas, so the fields split cleanly from both ends).
    """
    records, inside, seconds = [], False, None
    for line in lines:
        line = line.strip()
        if line.startswith(MARK_BEGIN):
            inside, records = True, []
            continue
        if line.startswith(MARK_END):
            inside = False
            parts = line.split()
            seconds = float(parts[1]) if len(parts) > 1 else None
            continue
        if not inside or not line.startswith("onednn_verbose,") or ",exec," not in line:
            continue
        fields = line.split(",")
        try:
            i = fields.index("exec")
            ms = float(fields[-1])
        except ValueError:
            continue
        records.append({"kind": fields[i + 2], "impl": fields[i + 3], "prop": fields[i + 4],
                        "shape": fields[-2], "ms": ms})
    return records, seconds


def summarize(records: list[dict]) -> list[dict]:
    """Records grouped by (kind, prop, impl, shape): calls and total ms, largest first."""
    groups = defaultdict(lambda: {"calls": 0, "ms": 0.0})
    for r in records:
        g = groups[(r["kind"], r["prop"], r["impl"], r["shape"])]
        g["calls"] += 1
        g["ms"] += r["ms"]
    rows = [{"kind": k[0], "prop": k[1], "impl": k[2], "shape": k[3], **v} for k, v in groups.items()]
    return sorted(rows, key=lambda r: -r["ms"])


def primitive_table(records: list[dict], step_seconds: float | None, min_ms: float = 0.5) -> str:
    rows = summarize(records)
    total = sum(r["ms"] for r in rows)
    step_ms = 1e3 * step_seconds if step_seconds else None
    share = (lambda ms: f"{100 * ms / step_ms:.0f} %") if step_ms else (lambda ms: "")
    lines = ["| primitive | propagation | implementation | shape | calls | ms | share of step |",
             "|---|---|---|---|---|---|---|"]
    small = 0.0
    for r in rows:
        if r["ms"] < min_ms:
            small += r["ms"]
            continue
        lines.append(f"| {r['kind']} | {r['prop']} | {r['impl']} | {r['shape']} | {r['calls']} "
                     f"| {r['ms']:.1f} | {share(r['ms'])} |")
    if small:
        lines.append(f"| (each below {min_ms} ms) | | | | | {small:.1f} | {share(small)} |")
    lines.append(f"| **oneDNN total** | | | | {sum(r['calls'] for r in rows)} | {total:.1f} | {share(total)} |")
    if step_ms:
        lines.append(f"| **outside oneDNN** (TensorFlow kernels: element-wise, reductions, casts, "
                     f"optimizer) | | | | | {step_ms - total:.1f} | {share(step_ms - total)} |")
        lines.append(f"| **the step (wall)** | | | | | {step_ms:.1f} | 100 % |")
    return "\n".join(lines) + "\n"


def profile_train_step(image_size: int = 256, batch: int = 32, precision: str = "mixed_bfloat16",
                       threads: int = 0, warmup: int = 3, timeout: float = 900) -> tuple[list[dict], float]:
    """Run the marked step in a fresh process with ONEDNN_VERBOSE=1; (records, step seconds)."""
    threads = threads or os.cpu_count() or 1
    script = _STEP_SCRIPT.format(threads=threads, batch=batch, precision=precision,
                                 image_size=image_size, warmup=warmup, begin=MARK_BEGIN, end=MARK_END)
    env = {**os.environ, "ONEDNN_VERBOSE": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"the profiled step failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    records, seconds = parse_verbose(proc.stdout.splitlines())
    if seconds is None:
        raise RuntimeError("the profiled step printed no end marker")
    if not records:
        raise RuntimeError("no oneDNN primitive was logged: is TensorFlow built with oneDNN "
                           "(TF_ENABLE_ONEDNN_OPTS) on this machine?")
    return records, seconds
