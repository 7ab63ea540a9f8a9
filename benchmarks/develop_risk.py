"""Benchmark: the Monte Carlo risk model at the issue's size.

    python benchmarks/develop_risk.py                       # 10,000 paths × 5,000 stands × 30 years
    python benchmarks/develop_risk.py --paths 1000 --repeat 1   # quicker

What it measures, in one process:

1. the baseline: drawing as many uniform random numbers as one Bernoulli pass over every
   path × sub-compartment × year would need (paths × stands × years float64 from PCG64, in
   blocks of 4 Mi) — what a naive vectorization would pay for a single hazard before doing
   anything with them;
2. ``simulate()`` with the default settings (fire and pests, growth and price uncertainty), best
   of ``--repeat``, and with ``--growth-year-sigma`` > 0 if given;
3. the naive per path/year/stand loop on a few paths, for the speed-up;
4. the peak memory ``simulate()`` adds (tracemalloc over NumPy's allocations, in a separate run
   so tracing does not slow the timed runs) and the process's peak resident memory.

It prints seconds, the time as a multiple of the baseline, and the issue's target (≤ 10 s on this
2-core machine): met/missed. A missed target does not change the exit status.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
import tracemalloc
from dataclasses import replace

import numpy as np

from tanhui._memory import tune_for_arrays
from tanhui.develop.feasibility import CCER_PRICES, FeasibilityInputs, Timeline
from tanhui.develop.risk import RiskSettings, simulate, simulate_naive

GIB = 1024**3
TARGET_SECONDS = 10.0
BLOCK = 1 << 22


def synthetic_project(stands: int, years: int, seed: int = 2026) -> np.ndarray:
    """Expected tCO2e per stand and year: areas like a county's, 杉木-like rates, and a growth
    curve shape (rising then slowing) for a third of the stands."""
    rng = np.random.default_rng(seed)
    area_mu = (rng.lognormal(1.3, 0.8, stands) + 0.05) * 15.0
    rate = rng.lognormal(np.log(0.4), 0.3, stands)  # tCO2e per 亩 and year
    shape = np.ones((stands, years))
    curved = rng.random(stands) < 1 / 3
    t = np.arange(years, dtype=np.float64)
    peak = rng.uniform(5, 25, curved.sum())
    shape[curved] = np.exp(-0.5 * ((t[None, :] - peak[:, None]) / 12.0) ** 2) * 1.4
    return (area_mu * rate)[:, None] * shape


def baseline(paths: int, stands: int, years: int) -> float:
    """Seconds to draw paths × stands × years uniforms (one Bernoulli pass of one hazard)."""
    rng = np.random.Generator(np.random.PCG64(0))
    buf = np.empty(BLOCK)
    total = paths * stands * years
    t0 = time.perf_counter()
    for start in range(0, total, BLOCK):
        rng.random(out=buf[: min(BLOCK, total - start)])
    return time.perf_counter() - t0


def best_of(repeat: int, fn, *args, **kwargs):
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn(*args, **kwargs)
        best = min(best, time.perf_counter() - t0)
    return best, result


def peak_added_bytes(fn, *args, **kwargs) -> int:
    tracemalloc.start()
    try:
        start, _ = tracemalloc.get_traced_memory()
        fn(*args, **kwargs)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--paths", type=int, default=10_000)
    parser.add_argument("--stands", type=int, default=5_000)
    parser.add_argument("--years", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs; best kept")
    parser.add_argument(
        "--growth-year-sigma",
        type=float,
        default=0.0,
        help="also time a run with yearly growth noise of this log-sd",
    )
    parser.add_argument("--naive-paths", type=int, default=2, help="paths for the naive loop")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    tune_for_arrays()
    paths, stands, years = args.paths, args.stands, args.years

    increments = synthetic_project(stands, years)
    inputs = FeasibilityInputs(
        tonnes=increments.sum(axis=0),
        area_mu=float(stands * 60),
        timeline=Timeline(2026, years),
        price=CCER_PRICES[1],
        buffer_share=0.05,
    )
    settings = RiskSettings()
    print(
        f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, NumPy {np.__version__};"
        f" {paths:,} paths × {stands:,} sub-compartments × {years} years",
        file=sys.stderr,
    )

    figures: dict[str, dict] = {}
    base = min(baseline(paths, stands, years) for _ in range(max(1, min(args.repeat, 2))))
    figures["baseline"] = {"seconds": base, "uniforms": paths * stands * years}
    seconds, result = best_of(args.repeat, simulate, increments, inputs, settings, paths=paths)
    summary = result.summary("en")
    figures["simulate"] = {
        "seconds": seconds,
        "strikes": result.events,
        "peak_added_bytes": peak_added_bytes(simulate, increments, inputs, settings, paths=paths),
        "npv": summary["npv"],
        "credited_tonnes": summary["credited_tonnes"],
        "probability_of_loss": summary["probability_of_loss"],
        "expected_reversal_tonnes": summary["expected_reversal_tonnes"],
        "recommended_buffer_share": summary["recommended_buffer_share"],
    }
    if args.growth_year_sigma > 0:
        noisy = replace(settings, growth_year_sigma=args.growth_year_sigma)
        s2, _ = best_of(args.repeat, simulate, increments, inputs, noisy, paths=paths)
        figures["simulate_year_noise"] = {
            "seconds": s2,
            "growth_year_sigma": args.growth_year_sigma,
        }
    t0 = time.perf_counter()
    simulate_naive(increments, inputs, settings, paths=args.naive_paths)
    naive_per_path = (time.perf_counter() - t0) / args.naive_paths
    figures["naive"] = {
        "seconds_per_path": naive_per_path,
        "projected_seconds": naive_per_path * paths,
    }
    figures["process"] = {
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    }

    if args.json:
        print(json.dumps(figures, indent=1))
        return
    f = figures["simulate"]
    print(f"\n{'step':<40}{'seconds':>10}{'× baseline':>12}")
    label = f"baseline: {paths * stands * years:,} uniforms"
    print(f"{label:<40}{base:>10.3f}{1.0:>12.2f}")
    print(f"{'simulate (fire, pests, growth, price)':<40}{seconds:>10.3f}{seconds / base:>12.2f}")
    if "simulate_year_noise" in figures:
        s2 = figures["simulate_year_noise"]["seconds"]
        print(f"{'simulate + yearly growth noise':<40}{s2:>10.3f}{s2 / base:>12.2f}")
    print(
        f"{'naive loop (projected)':<40}{figures['naive']['projected_seconds']:>10.0f}"
        f"{figures['naive']['projected_seconds'] / base:>12.0f}"
    )
    print(f"\nstrikes simulated: {f['strikes']:,}")
    print(
        f"memory added by simulate: {f['peak_added_bytes'] / 2**20:.0f} MiB; "
        f"process peak resident memory: {figures['process']['peak_rss_bytes'] / GIB:.2f} GiB"
    )
    print(
        f"NPV P10/P50/P90: {f['npv']['p10']:,.0f} / {f['npv']['p50']:,.0f} / {f['npv']['p90']:,.0f}"
        f" yuan; P(loss) {f['probability_of_loss']:.3f}; recommended buffer "
        f"{f['recommended_buffer_share']:.0%}"
    )
    verdict = "met" if seconds <= TARGET_SECONDS else "missed"
    print(f"Monte Carlo {seconds:.2f} s — target ≤ 10 s: {verdict} (best of {args.repeat})")


if __name__ == "__main__":
    main()
