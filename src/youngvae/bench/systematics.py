"""Cost of each systematic effect in the dataset stage (youngvae.physics.systematics).

Usage: python -m youngvae.bench.systematics [--engines fresnel lightpipes] [--pixels 256]
       [--patterns N] [--repeats R] [--json out.json]

The requirement measured: "bandwidth costs spectral_samples simulations per pattern, nothing
else should cost more than a few % of one simulation". For each engine, at the paper's geometry
(``optics.Geometry()`` defaults, ``--pixels`` changes only the pixel count) and the engine's
default oversample, the cases are

* ``plain``: ``optics.simulate`` over the batch of N wavelengths, ``normalize="per_image"`` (the
  ideal dataset's path), timed per pattern;
* ``ideal_sample``: the per-sample chain with every effect off (``sample_rng``,
  ``draw_nuisances``, ``simulate_sample`` per pattern), so that the per-sample path's own
  overhead is visible;
* one effect at a time at a realistic value (:data:`CASES`), then all of them together.

Every case runs the same N wavelengths per repeat (drawn from the paper config's wavelength
distribution, seeded with [seed, repeat]) and the same sample indices. Method: every case is
warmed up once (one pattern: imports, caches), then the cases are interleaved round-robin over R
repeats; before each timed run an untimed one-pattern call of the same case restores the caches
a running dataset job holds (without it the jitter cases' new geometries evict the nominal one
from the engines' 8-entry caches, and the next plain run would pay a rebuild). Quoted: median
ms per pattern and its min-max over the repeats, patterns/s, the ratio of medians to ``plain``
of the same run with the min-max of the per-repeat (paired) ratios, for cases with a spectrum
that ratio divided by ``spectral_samples``, and the extra time over ``ideal_sample`` in % of one
plain simulation. Under each table, measured one-liners on the structural costs: a new geometry
(cache miss) against the cached one, and the Fourier screen shift. Single process; the machine
(CPU model, cores) and the load average at start and end are printed: on a shared machine
compare ratios, not absolute rates, and mind the spreads.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from youngvae.physics import optics
from youngvae.physics import systematics as S
from youngvae.physics.plan import WavelengthDistribution

__all__ = ["CASES", "case_sections", "format_report", "machine", "main", "run"]

#: The paper config's wavelength distribution (config.yaml: dataset.wavelength), in nm.
PAPER_WAVELENGTHS = WavelengthDistribution(mean_nm=650.0, std_nm=100.0, min_nm=380.0, max_nm=1000.0)
BANDWIDTH_NM = 20.0
SPECTRAL_SAMPLES = 9
JITTER = 0.01  # relative std of the geometry jitters (1 % of nominal)

#: (case, what is on); the sections come from :func:`case_sections` (they depend on the geometry).
CASES = (
    ("plain", "optics.simulate, whole batch, per_image"),
    ("ideal_sample", "simulate_sample, every effect off"),
    ("label_error", "label error 1 nm"),
    ("separation_jitter", "separation jitter 1 %"),
    ("radius_jitter", "radius jitter 1 %"),
    ("distance_jitter", "distance jitter 1 %"),
    ("screen_shift", "screen shift 0.1 mm"),
    ("blur", "PSF sigma 1 px"),
    ("shot_noise", "1e5 photons"),
    ("shot_read_noise", "1e5 photons + 2 e- read"),
    ("gain_jitter", "gain jitter 1 %"),
    ("adc", "ADC 12 bit"),
    ("bandwidth", f"bandwidth {BANDWIDTH_NM:g} nm, {SPECTRAL_SAMPLES} nodes"),
    ("all", "all of the above"),
)


def case_sections(geometry: optics.Geometry) -> dict:
    """Each case's ``systematics`` config section (None: the plain path); jitters are 1 % of nominal."""
    mm = 1e3
    single = {
        "ideal_sample": {},
        "label_error": {"source": {"label_error_nm": 1.0}},
        "separation_jitter": {"geometry": {"separation_jitter_mm": JITTER * geometry.aperture_separation_m * mm}},
        "radius_jitter": {"geometry": {"radius_jitter_mm": JITTER * geometry.aperture_radius_m * mm}},
        "distance_jitter": {"geometry": {"distance_jitter_m": JITTER * geometry.distance_m}},
        "screen_shift": {"geometry": {"screen_shift_mm": 0.1}},
        "blur": {"detector": {"psf_sigma_px": 1.0}},
        "shot_noise": {"detector": {"photons_per_pattern": 1e5}},
        "shot_read_noise": {"detector": {"photons_per_pattern": 1e5, "read_noise_e": 2.0}},
        "gain_jitter": {"detector": {"gain_jitter": JITTER}},
        "adc": {"detector": {"bit_depth": 12}},
        "bandwidth": {"source": {"bandwidth_nm": BANDWIDTH_NM, "spectral_samples": SPECTRAL_SAMPLES}},
    }
    every = {}
    for section in single.values():
        for part, values in section.items():
            every.setdefault(part, {}).update(values)
    return {"plain": None, **single, "all": every}


def machine() -> dict:
    """CPU model (/proc/cpuinfo), cores (all and usable by this process), load average."""
    model = None
    try:
        found = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.MULTILINE)
        model = found.group(1).strip() if found else None
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu_model": model, "cores": os.cpu_count(), "usable_cores": usable, "load_average": _load()}


def _load():
    return [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None


# ---------------------------------------------------------------------------------------
# one timed run of a case
# ---------------------------------------------------------------------------------------


def _run_case(section, wavelengths, first_index, geometry, simulation, seed) -> float:
    """Seconds for the case over ``wavelengths`` (the dataset stage's chain), per pattern."""
    start = time.perf_counter()
    if section is None:
        optics.simulate(wavelengths, geometry, engine=simulation["engine"], normalize=simulation["normalize"],
                        oversample=simulation.get("oversample"))
    else:
        syst = S.Systematics.from_config(section)
        for i, lam in enumerate(wavelengths):
            rng = S.sample_rng(seed, first_index + i)
            nuisances = S.draw_nuisances(syst, geometry, float(lam), rng)
            S.simulate_sample(float(lam), nuisances, geometry, simulation, syst, rng)
    return (time.perf_counter() - start) / len(wavelengths)


def _wavelengths_m(n: int, seed: int, repeat: int) -> np.ndarray:
    return PAPER_WAVELENGTHS.sample_nm(n, np.random.default_rng([seed, repeat])) * 1e-9


_FRESH = itertools.count(1)


def _structural(geometry, simulation, repeats: int) -> dict:
    """Measured: one pattern at a new separation (engine cache miss) vs at the cached one, and the
    Fourier screen shift (zero-padded 2N x 2N) of one N x N pattern; medians over ``repeats``."""
    engine = simulation["engine"]
    lam = [650e-9]

    def one(geom):
        start = time.perf_counter()
        optics.simulate(lam, geom, engine=engine, normalize="none", oversample=simulation.get("oversample"))
        return time.perf_counter() - start

    image = optics.simulate(lam, geometry, engine=engine, normalize="none")[0].astype(np.float64)
    cached, fresh, shift, spline = [], [], [], []
    for r in range(repeats + 1):  # the first round is a warm-up
        # a separation never seen before: both engines' caches miss (see the geometry-jitter note)
        new = replace(geometry, aperture_separation_m=geometry.aperture_separation_m * (1.0 + 1e-6 * next(_FRESH)))
        c, f = one(geometry), one(new)
        t0 = time.perf_counter()
        S.shift_pattern(image, 0.37, -0.21)
        t1 = time.perf_counter()
        S.shift_pattern(image, 0.37, -0.21, method="spline")
        t2 = time.perf_counter()
        if r:
            cached.append(c), fresh.append(f), shift.append(t1 - t0), spline.append(t2 - t1)
    med = statistics.median
    return {"cached_geometry_s": med(cached), "new_geometry_s": med(fresh), "cache_miss_s": med(fresh) - med(cached),
            "fourier_shift_s": med(shift), "spline_shift_s": med(spline)}


# ---------------------------------------------------------------------------------------
# the benchmark
# ---------------------------------------------------------------------------------------


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(engines=("fresnel", "lightpipes"), pixels: int = 256, patterns: int = 8, repeats: int = 3, seed: int = 0,
        log=_progress) -> dict:
    """Time every case for each engine (module docstring); returns the JSON-able result."""
    if patterns < 1 or repeats < 1:
        raise ValueError(f"patterns ({patterns}) and repeats ({repeats}) must be >= 1")
    geometry = optics.Geometry(pixels=pixels)
    sections = case_sections(geometry)
    result = {
        "machine": machine(),
        "geometry": geometry.as_attrs(),
        "patterns": patterns,
        "repeats": repeats,
        "seed": seed,
        "wavelength_distribution_nm": vars(PAPER_WAVELENGTHS),
        "engines": {},
    }
    for engine in engines:
        simulation = {"engine": engine, "normalize": "per_image", "oversample": None}
        seconds = {name: [] for name, _ in CASES}
        warm = _wavelengths_m(1, seed, 10**6)
        for name, _ in CASES:  # warm-up: imports, the nominal plan/mask, scipy's first calls
            _run_case(sections[name], warm, 10**9, geometry, simulation, seed)
        for r in range(repeats):
            lam = _wavelengths_m(patterns, seed, r)
            for name, _ in CASES:  # round-robin: a drift of the machine hits every case alike
                _run_case(sections[name], lam[:1], 10**9 + 1 + r, geometry, simulation, seed)  # restore caches
                seconds[name].append(_run_case(sections[name], lam, r * patterns, geometry, simulation, seed))
            log(f"  {engine}: repeat {r + 1}/{repeats} done (load {_load()})")
        result["engines"][engine] = {
            "oversample": optics.DEFAULT_OVERSAMPLE[engine],
            "rows": _rows(seconds, sections),
            "structural": _structural(geometry, simulation, repeats),
        }
    result["load_average_end"] = _load()
    return result


def _rows(seconds: dict, sections: dict) -> list[dict]:
    med = statistics.median
    plain, ideal = seconds["plain"], med(seconds["ideal_sample"])
    rows = []
    for name, setting in CASES:
        s = seconds[name]
        section = sections[name] or {}
        nodes = None
        if section.get("source", {}).get("bandwidth_nm", 0) > 0:
            nodes = section["source"].get("spectral_samples", S.Source().spectral_samples)
        paired = [a / b for a, b in zip(s, plain)]
        ratio = med(s) / med(plain)
        rows.append({
            "case": name,
            "setting": setting,
            "systematics": sections[name],
            "seconds_per_pattern": s,
            "median_ms": 1e3 * med(s),
            "min_ms": 1e3 * min(s),
            "max_ms": 1e3 * max(s),
            "patterns_per_s": 1.0 / med(s),
            "ratio_to_plain": ratio,
            "paired_ratio_min": min(paired),
            "paired_ratio_max": max(paired),
            "spectral_samples": nodes,
            "ratio_per_spectral_sample": ratio / nodes if nodes else None,
            "extra_vs_ideal_sample_pct_of_plain": 100.0 * (med(s) - ideal) / med(plain) if sections[name] is not None else None,
        })
    return rows


def _notes(engine: str, entry: dict, pixels: int) -> list[str]:
    st = entry["structural"]
    plain_s = next(r for r in entry["rows"] if r["case"] == "plain")["median_ms"] / 1e3

    def cost(x):
        return f"{x * 1e3:.1f} ms = {100 * x / plain_s:.0f} % of one plain simulation"

    if engine == "fresnel":
        rebuilt = ("its _FresnelPlan on pixels, screen, separation, sub-pixel nodes and the radial table "
                   "step rounded down to a 2^(1/16) grid: a radius or distance jitter mostly reuses a plan, a "
                   "separation jitter rebuilds it")
    else:
        rebuilt = (f"its anti-aliased two-hole mask on the {pixels * entry['oversample']}² grid without "
                   "the distance: a radius or separation jitter rebuilds it")
    notes = [
        (f"geometry jitter: every pattern has its own Geometry; {engine} caches {rebuilt}. One-pattern calls: "
         f"a new geometry costs {cost(st['cache_miss_s'])} more than the cached one "
         f"({st['new_geometry_s'] * 1e3:.1f} vs {st['cached_geometry_s'] * 1e3:.1f} ms)."),
        (f"screen shift: band-limited interpolation, one 1-D FFT pair per shifted axis on a zero-padded "
         f"{2 * pixels}-point grid: {cost(st['fourier_shift_s'])} (cubic spline: {st['spline_shift_s'] * 1e3:.1f} ms)."),
        f"bandwidth: {SPECTRAL_SAMPLES} simulations per pattern by design (÷ S column).",
        ("ideal_sample vs plain: one optics.simulate call per pattern instead of one per batch"
         + (" (fresnel: batches of 1 instead of 8 wavelengths)" if engine == "fresnel" else "")
         + ", plus the float64 sum, copy and normalization."),
        "label error and gain jitter change no computation: their rows show this run's noise.",
    ]
    return notes


def format_report(result: dict) -> str:
    """The tables and notes as text."""
    m = result["machine"]
    g = result["geometry"]
    out = [
        (f"machine: {m['cpu_model']}, {m['cores']} cores ({m['usable_cores']} usable); "
         f"load average (1/5/15 min) at start {m['load_average']}, at end {result['load_average_end']}"),
        (f"geometry: {g['pixels']}² px, screen {g['screen_size_m'] * 1e3:g} mm, radius {g['aperture_radius_m'] * 1e3:g} mm, "
         f"separation {g['aperture_separation_m'] * 1e3:g} mm, distance {g['distance_m']:g} m; "
         f"{result['patterns']} patterns per run, {result['repeats']} interleaved repeats after a warm-up, 1 process"),
    ]
    head = (f"  {'case':18s} {'setting':40s} {'ms/pattern':>10s} {'(min-max)':>17s} {'pat/s':>8s} "
            f"{'x plain':>8s} {'(paired min-max)':>16s} {'÷ S':>6s} {'+% sim':>7s}")
    for engine, entry in result["engines"].items():
        title = (f"{engine} (oversample {entry['oversample']}): median over repeats; x plain = ratio of medians "
                 "in this run; ÷ S = x plain / spectral_samples; +% sim = (case - ideal_sample) / plain")
        out += ["", title, head]
        for r in entry["rows"]:
            spread = f"({r['min_ms']:.1f}-{r['max_ms']:.1f})"
            paired = f"({r['paired_ratio_min']:.2f}-{r['paired_ratio_max']:.2f})"
            per_s = f"{r['ratio_per_spectral_sample']:.2f}" if r["ratio_per_spectral_sample"] else ""
            extra = r["extra_vs_ideal_sample_pct_of_plain"]
            extra = "" if extra is None else f"{extra:+.0f}"
            out.append(f"  {r['case']:18s} {r['setting']:40s} {r['median_ms']:10.1f} {spread:>17s} "
                       f"{r['patterns_per_s']:8.2f} {r['ratio_to_plain']:8.2f} {paired:>16s} {per_s:>6s} {extra:>7s}")
        out += [f"  note: {n}" for n in _notes(engine, entry, g["pixels"])]
    return "\n".join(out) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m youngvae.bench.systematics", description=__doc__.splitlines()[0])
    parser.add_argument("--engines", nargs="+", choices=optics.ENGINES, default=["fresnel", "lightpipes"])
    parser.add_argument("--pixels", type=int, default=256, help="pixels per side; screen stays 20 mm (default 256)")
    parser.add_argument("--patterns", type=int, default=8, help="patterns per timed run (default 8)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved timed runs per case (default 3)")
    parser.add_argument("--seed", type=int, default=0, help="wavelengths and per-sample streams (default 0)")
    parser.add_argument("--json", type=Path, help="also write the full result (raw times) here")
    args = parser.parse_args(argv)
    if args.patterns < 1 or args.repeats < 1:
        parser.error("--patterns and --repeats must be >= 1")
    result = run(args.engines, args.pixels, args.patterns, args.repeats, args.seed)
    print(format_report(result), end="")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
