"""Speed and accuracy of the two pattern engines at the default geometry.

Usage: python -m youngvae.bench.engines [--n N] [--repeats R]

For each engine at its default oversample: patterns/s (median over interleaved
repeats after a warm-up, single process), seconds per pattern, and the relative L2
error against the independent direct Fresnel integral (youngvae.physics.reference) at 380,
650 and 1000 nm, both per-image normalized and in absolute units. The fresnel engine
is also timed in 2 processes running side by side (the 2-core rate).
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time

import numpy as np

from youngvae.physics import optics
from youngvae.physics.reference import direct_intensity

ACCURACY_WAVELENGTHS_M = (380e-9, 650e-9, 1000e-9)


def _wavelengths(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(380e-9, 1000e-9, n)


def _timed(engine: str, n: int, seed: int) -> float:
    lam = _wavelengths(n, seed)
    start = time.perf_counter()
    optics.simulate(lam, optics.Geometry(), engine=engine)
    return time.perf_counter() - start


def _worker_warmup(engine: str) -> None:
    optics.simulate(_wavelengths(2, 0), optics.Geometry(), engine=engine)


def _worker_run(args) -> float:
    engine, n, seed = args
    return _timed(engine, n, seed)


def single_process_rates(n: int, repeats: int) -> dict:
    seconds = {engine: [] for engine in optics.ENGINES}
    for engine in optics.ENGINES:
        _timed(engine, 2, 0)  # warm-up: imports, masks, interpolation plans
    for r in range(repeats):
        for engine in optics.ENGINES:  # interleaved so drifts hit both alike
            seconds[engine].append(_timed(engine, n, r + 1))
    return {engine: n / statistics.median(s) for engine, s in seconds.items()}


def two_process_rate(engine: str, n: int, repeats: int) -> float:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2, initializer=_worker_warmup, initargs=(engine,)) as pool:
        pool.map(_worker_run, [(engine, 2, 0)] * 2)  # make sure both workers are warm
        walls = []
        for r in range(repeats):
            start = time.perf_counter()
            pool.map(_worker_run, [(engine, n, 2 * r + 1), (engine, n, 2 * r + 2)], chunksize=1)
            walls.append(time.perf_counter() - start)
    return 2 * n / statistics.median(walls)


def accuracy(geometry: optics.Geometry) -> dict:
    out = {}
    for lam in ACCURACY_WAVELENGTHS_M:
        ref = direct_intensity(lam, geometry, subpixel=6)
        for engine in optics.ENGINES:
            img = optics.simulate([lam], geometry, engine=engine, normalize="none")[0].astype(np.float64)
            absolute = np.linalg.norm(img - ref) / np.linalg.norm(ref)
            normed = np.linalg.norm(img / img.max() - ref / ref.max()) / np.linalg.norm(ref / ref.max())
            out[(engine, lam)] = (float(normed), float(absolute))
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m youngvae.bench.engines", description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=32, help="patterns per timed run (default 32)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per engine (default 3)")
    args = parser.parse_args(argv)
    geometry = optics.Geometry()
    print(f"geometry: {geometry.as_attrs()}")
    print(f"default oversample: {optics.DEFAULT_OVERSAMPLE}")
    rates = single_process_rates(args.n, args.repeats)
    print(f"\nspeed at {geometry.pixels}² ({args.n} patterns/run, median of {args.repeats}, 1 process):")
    for engine, rate in rates.items():
        print(f"  {engine:10s} {rate:9.1f} patterns/s  {1.0 / rate:.4f} s/pattern")
    rate2 = two_process_rate("fresnel", args.n, args.repeats)
    print(f"  {'fresnel':10s} {rate2:9.1f} patterns/s  with 2 processes side by side")
    print("\naccuracy: relative L2 vs direct 2-D Fresnel integral (full image, 6x6 Gauss points/pixel)")
    print(f"  {'engine':10s} {'λ [nm]':>7s} {'per_image':>10s} {'absolute':>10s}")
    for (engine, lam), (normed, absolute) in accuracy(geometry).items():
        print(f"  {engine:10s} {lam * 1e9:7.0f} {normed:10.2e} {absolute:10.2e}")


if __name__ == "__main__":
    main()
