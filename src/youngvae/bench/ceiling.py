"""The CPU's arithmetic ceiling, measured: vector FMA / bf16 dot-product loops and, where the
CPU has them, AMX tile dot products (``ceiling.c``).

The benchmark's throughput probe (``bench.throughput_probe``) tells what the framework's own
matmul and convolution reach; this tells what the vector units can do at all, with nothing but
independent multiply-add chains in the loop. Epoch FLOPs over this figure is a floor no
implementation of the same arithmetic can beat on this machine, which is what a speed goal
should be checked against.

The C source is compiled on first use with the system's C compiler (``$CC``, else ``cc`` or
``gcc``) into a temporary directory. Where there is no compiler, the CPU is not x86-64, or it
lacks the instructions, :func:`measure` says so (``status``) instead of inventing a figure.

Command line: ``python -m youngvae.bench.ceiling [--threads 1 2] [--repeats 5]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
from importlib import resources
from pathlib import Path

from youngvae.threads import cpu_flags

__all__ = ["KERNELS", "cpu_flags", "available_kernels", "build", "run_kernel", "measure", "peak_for",
           "ceiling_for", "check_fraction", "epoch_floor_s"]

# kernel -> (the /proc/cpuinfo flags it needs, FLOP per instruction, instructions per loop
# iteration and thread); see ceiling.c. bf16_amx: AMX tiles (tdpbf16ps), where the CPU has them
# (Intel Sapphire Rapids and later); the process asks Linux for the tile state first.
KERNELS = {
    "fp32_avx512": (("avx512f",), 32, 24),
    "bf16_avx512": (("avx512f", "avx512_bf16"), 64, 24),
    "fp32_avx2": (("avx2", "fma"), 16, 12),
    "bf16_amx": (("amx_tile", "amx_bf16"), 16384, 4),
}
#: The units a precision's arithmetic may run on; its ceiling is the highest measured of them.
UNITS_FOR = {
    "bfloat16": ("bf16_amx", "bf16_avx512", "fp32_avx512", "fp32_avx2"),
    "float32": ("fp32_avx512", "fp32_avx2"),
}


class IsaPeakUnavailable(RuntimeError):
    """No measurement possible here (no compiler, not x86-64, build failed)."""


def available_kernels(flags: set[str] | None = None) -> list[str]:
    """Kernels this CPU can run (all of their flags present), in KERNELS order."""
    flags = cpu_flags() if flags is None else set(flags)
    return [k for k, (need, *_) in KERNELS.items() if all(f in flags for f in need)]


def _compiler() -> str | None:
    for candidate in (os.environ.get("CC"), "cc", "gcc"):
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    return None


def build(workdir: str | os.PathLike) -> Path:
    """Compile ceiling.c into ``workdir``; raises IsaPeakUnavailable with the reason."""
    if platform.machine() not in ("x86_64", "AMD64"):
        raise IsaPeakUnavailable(f"the kernels are x86-64 only (this CPU: {platform.machine()})")
    cc = _compiler()
    if cc is None:
        raise IsaPeakUnavailable("no C compiler ($CC, cc or gcc) on PATH")
    source = Path(workdir) / "ceiling.c"
    source.write_bytes(resources.files("youngvae.bench").joinpath("ceiling.c").read_bytes())
    binary = Path(workdir) / "isa_peak"
    proc = subprocess.run([cc, "-O2", "-pthread", str(source), "-o", str(binary)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise IsaPeakUnavailable(f"{cc} failed: {proc.stderr.strip()[-500:]}")
    return binary


def run_kernel(binary, kernel: str, threads: int, iterations: int) -> tuple[float, float]:
    """One run: (seconds of the slowest thread, FLOP of all threads)."""
    out = subprocess.run([str(binary), kernel, str(threads), str(iterations)],
                         capture_output=True, text=True, check=True).stdout.split()
    name, n, seconds, flop = out
    if name != kernel or int(n) != threads:
        raise RuntimeError(f"isa_peak answered {out} for {kernel} on {threads} threads")
    return float(seconds), float(flop)


def _calibrate(binary, kernel: str, target_s: float) -> int:
    """Iterations that make one single-thread run last about ``target_s``."""
    iterations = 100_000
    while True:
        seconds, _ = run_kernel(binary, kernel, 1, iterations)
        if seconds >= target_s / 4 or iterations >= 10**10:
            return max(1, int(iterations * target_s / max(seconds, 1e-9)))
        iterations *= 8


def measure(threads=(1,), repeats: int = 5, target_s: float = 0.2, flags: set[str] | None = None,
            log=None) -> dict:
    """Peak GFLOP/s per kernel and thread count (median of ``repeats``, interleaved).

    Returns ``{"status": "ok", "gflops": {kernel: {threads: median}}, "min_max": {...},
    "compiler": ..., "seconds": ...}``, or ``{"status": "not measured: <why>"}``.
    """
    kernels = available_kernels(flags)
    allowed = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    threads = sorted({int(t) for t in threads if 0 < int(t) <= (allowed or 1)})
    if not kernels:
        return {"status": "not measured: the CPU has none of the kernels' instruction sets "
                          "(AVX2+FMA, AVX-512, AVX512_BF16, AMX-BF16)"}
    if not threads:
        return {"status": "not measured: no valid thread count"}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="youngvae-isa-peak-") as tmp:
        try:
            binary = build(tmp)
        except IsaPeakUnavailable as exc:
            return {"status": f"not measured: {exc}"}
        iterations, failed = {}, {}
        for k in kernels:  # a kernel the OS refuses (AMX tile state) is reported, not fatal
            try:
                iterations[k] = _calibrate(binary, k, target_s)
            except subprocess.CalledProcessError as exc:
                failed[k] = (exc.stderr or "").strip() or f"exit status {exc.returncode}"
        kernels = [k for k in kernels if k in iterations]
        if not kernels:
            return {"status": f"not measured: every kernel failed ({failed})"}
        samples: dict[str, dict[int, list[float]]] = {k: {t: [] for t in threads} for k in kernels}
        for _ in range(repeats):  # interleaved: every (kernel, threads) once per round
            for k in kernels:
                for t in threads:
                    seconds, flop = run_kernel(binary, k, t, iterations[k])
                    samples[k][t].append(flop / seconds / 1e9)
    result = {
        "status": "ok",
        "compiler": _compiler(),
        "repeats": repeats,
        "gflops": {k: {t: round(statistics.median(v), 1) for t, v in by_t.items()}
                   for k, by_t in samples.items()},
        "min_max": {k: {t: [round(min(v), 1), round(max(v), 1)] for t, v in by_t.items()}
                    for k, by_t in samples.items()},
        "seconds": round(time.perf_counter() - start, 1),
    }
    if failed:
        result["failed"] = failed
    if log:
        for k, by_t in result["gflops"].items():
            log(f"ISA peak {k}: " + ", ".join(f"{t} thread(s) {g:.0f} GFLOP/s" for t, g in by_t.items()))
    return result


def ceiling_for(isa: dict | None, precision: str, threads: int) -> tuple[float, str] | None:
    """(GFLOP/s, unit) of the ceiling for a training setting: the HIGHEST measured of the units
    its arithmetic may use (AMX tiles, AVX-512 bf16 dot products, float32 FMA for
    mixed_bfloat16; float32 FMA for float32), at ``threads``; None where nothing was measured.
    A ceiling that leaves out a unit the framework uses is no ceiling: a step could beat it."""
    if not isa or isa.get("status") != "ok":
        return None
    units = UNITS_FOR["bfloat16" if "bfloat16" in precision else "float32"]
    best = None
    for kernel in units:
        by_threads = isa["gflops"].get(kernel, {})
        value = by_threads.get(threads, by_threads.get(str(threads)))
        if value and (best is None or float(value) > best[0]):
            best = (float(value), kernel)
    return best


def peak_for(isa: dict | None, precision: str, threads: int) -> float | None:
    """The ceiling's GFLOP/s of :func:`ceiling_for` (None where nothing was measured)."""
    found = ceiling_for(isa, precision, threads)
    return found[0] if found else None


def check_fraction(gflops: float, peak: float | None, what: str) -> tuple[float | None, str | None]:
    """(gflops / peak, problem): a fraction above 1 means the ceiling missed a unit (or the FLOP
    count is wrong), a bug reported as ``problem`` instead of a figure above 100 % passing."""
    if not peak:
        return None, None
    fraction = gflops / peak
    if fraction <= 1.0:
        return fraction, None
    return fraction, (
        f"{what}: {gflops:.1f} GFLOP/s is {fraction:.2f} of the measured ceiling {peak:.1f} "
        "GFLOP/s; a ceiling must bound every step (a unit missing from youngvae.bench.ceiling?)"
    )


def epoch_floor_s(flop_per_sample: float, n_samples: int, peak_gflops: float) -> float:
    """Seconds an epoch of ``n_samples`` cannot beat at ``peak_gflops`` (same arithmetic)."""
    return flop_per_sample * n_samples / (peak_gflops * 1e9)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m youngvae.bench.ceiling", description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, os.cpu_count() or 1])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--target-s", type=float, default=0.2, help="seconds per single run")
    args = parser.parse_args(argv)
    result = measure(args.threads, args.repeats, args.target_s)
    if result["status"] != "ok":
        print(result["status"])
        return 1
    print(f"{'kernel':<12} {'threads':>7} {'median GFLOP/s':>15} {'min':>8} {'max':>8}")
    for kernel, by_t in result["gflops"].items():
        for t, g in by_t.items():
            lo, hi = result["min_max"][kernel][t]
            print(f"{kernel:<12} {t:>7} {g:>15.1f} {lo:>8.1f} {hi:>8.1f}")
    print(f"({result['repeats']} interleaved repeats each, {result['seconds']} s, {result['compiler']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
