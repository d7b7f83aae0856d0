"""Benchmark: the dataset fan-out's speed-up from `--cores 1` to `--cores 2`, and its wall time.

Runs the dataset rules of this workflow in fresh temporary copies, alternating the core counts
(1, 2, 1, 2, ...) so machine noise hits both alike, and prints each run and the medians.

    python tools/bench_fanout.py --n-samples 400 --chunk-size 50 --repeats 2
    python tools/bench_fanout.py --full          # the paper's 3000 patterns at 256², cores 2 only
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from youngvae.testing import copy_workflow

TARGET = "results/dataset/validation.json"


def run_once(cores: int, overrides: dict | None) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = copy_workflow(Path(tmp))
        exe = Path(sys.executable).with_name("snakemake")
        cmd = [str(exe), TARGET, "--cores", str(cores), "--quiet", "all"]
        if overrides:
            (workdir / "bench.yaml").write_text(yaml.safe_dump(overrides))
            cmd += ["--configfile", "bench.yaml"]
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=workdir, check=True, capture_output=True)
        return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n-samples", type=int, default=400)
    ap.add_argument("--chunk-size", type=int, default=50)
    ap.add_argument("--engine", default="lightpipes")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--full", action="store_true", help="config.yaml as is, --cores 2 once")
    args = ap.parse_args()

    if args.full:
        seconds = run_once(2, None)
        print(f"full dataset (config.yaml), --cores 2: {seconds:.1f} s wall")
        return
    n, chunk = args.n_samples, args.chunk_size
    overrides = {
        "dataset": {"n_samples": n, "chunk_size": chunk},
        "simulation": {"engine": args.engine},
        # keep the (untouched) train section consistent with the smaller dataset
        "train": {"n_train": n // 2, "n_val": n // 4},
    }
    times: dict[int, list[float]] = {1: [], 2: []}
    for rep in range(args.repeats):
        for cores in (1, 2):
            t = run_once(cores, overrides)
            times[cores].append(t)
            print(f"repeat {rep} --cores {cores}: {t:.1f} s", flush=True)
    m1, m2 = statistics.median(times[1]), statistics.median(times[2])
    print(f"{n} patterns at 256², engine {args.engine}, {n // args.chunk_size} jobs")
    print(f"--cores 1: median {m1:.1f} s ({n / m1:.1f} patterns/s)")
    print(f"--cores 2: median {m2:.1f} s ({n / m2:.1f} patterns/s)")
    print(f"speed-up 1 -> 2 cores: {m1 / m2:.2f}x")


if __name__ == "__main__":
    main()
