"""The machine a benchmark ran on (CPU, flags, RAM, GPU, versions) and an in-framework
throughput probe (matmul and convolution GFLOP/s through keras.ops)."""

from __future__ import annotations

import importlib.util
import math
import os
import platform
import re
import subprocess
import time
from pathlib import Path

import numpy as np

from youngvae.bench import ceiling

BACKENDS = ("tensorflow", "jax", "torch")

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


def _cpuinfo() -> dict:
    info = {"cpu_model": platform.processor() or platform.machine(), "flags": []}
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return info
    model = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
    if model:
        info["cpu_model"] = model.group(1).strip()
    info["flags"] = sorted(ceiling.cpu_flags())
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
