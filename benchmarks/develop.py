"""Benchmark of development: screening of a province-sized inventory, and the Monte Carlo.

    python benchmarks/develop.py                # 1 million sub-compartments, then the Monte Carlo
    python benchmarks/develop.py --rows 1e5     # quicker
    python benchmarks/develop.py --no-risk      # screening only

Part 2 runs ``benchmarks/develop_risk.py`` in its own process (10,000 paths of a 5,000
sub-compartment project over 30 years; target ≤ 10 s), so each part's peak memory is its own.

What it measures, in one process (screening is pure NumPy over arrays already in memory):

1. the baseline: a plain NumPy pass over the same columns — ``np.isnan(area).sum()`` plus one
   boolean gather by category codes per category column the schemes read — the least any
   screening must touch;
2. ``screen()`` of every shipped scheme (rules, eligibility, expected tonnes; best of
   ``--repeat``), and ``totals_by`` village / owner / species group / township;
3. the naive per-row reference on a sample, for the speed-up;
4. the peak memory a screening adds (tracemalloc over NumPy's allocations, in a separate run so
   tracing does not slow the timed runs) and the process's peak resident memory.

It prints rows/s, the time as a multiple of the baseline, and the issue's target
(≥ 2,000,000 rows/s on this 2-core machine): met/missed. A missed target does not change the
exit status.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

from tanhui._memory import tune_for_arrays
from tanhui.develop.rules import load_scheme, scheme_names
from tanhui.develop.screening import screen, screen_naive
from tanhui.measure.params import default_parameters
from tanhui.measure.stands import Stands

GIB = 1024**3
TARGET = 2_000_000  # rows/s

# Labels as counties write them, a few of each kind that every scheme meets.
POOLS: dict[str, tuple[tuple[str, ...], tuple[float, ...]]] = {
    "species_group": (
        ("杉木", "马尾松", "桉树", "竹类", "其他硬阔类", "其他软阔类", "栎类", "木荷", "阔叶混"),
        (0.40, 0.20, 0.06, 0.10, 0.06, 0.04, 0.04, 0.04, 0.06),
    ),
    "land_type": (
        ("乔木林地", "竹林地", "未成林造林地", "宜林地", "特殊灌木林地", "城市绿化用地"),
        (0.80, 0.10, 0.05, 0.02, 0.02, 0.01),
    ),
    "prior_land_type": (
        ("宜林地", "无立木林地", "耕地", "乔木林地", "沿海湿地"),
        (0.3, 0.2, 0.2, 0.25, 0.05),
    ),
    "forest_type": (("防护林", "特用林", "用材林", "经济林"), (0.3, 0.05, 0.55, 0.10)),
    "forest_category": (("公益林", "商品林"), (0.35, 0.65)),
    "origin": (("人工", "天然"), (0.6, 0.4)),
    "age_class": (("幼龄林", "中龄林", "近熟林", "成熟林", "过熟林"), (0.3, 0.3, 0.2, 0.15, 0.05)),
    "tenure": (("集体", "国有", "个人", "权属不清", "有争议"), (0.40, 0.07, 0.50, 0.02, 0.01)),
}
MISSING_SHARE = {"prior_land_type": 0.9, "age_class": 0.1, "origin": 0.05}


def synthetic_stands(rows: int, seed: int = 1) -> Stands:
    """A vectorized synthetic inventory: category codes (with missing), numbers with NaN."""
    rng = np.random.default_rng(seed)
    codes: dict[str, np.ndarray] = {}
    labels: dict[str, tuple[str, ...]] = {}
    for name, (pool, shares) in POOLS.items():
        c = rng.choice(len(pool), size=rows, p=shares).astype(np.int32)
        missing = rng.random(rows) < MISSING_SHARE.get(name, 0.01)
        codes[name] = np.where(missing, -1, c).astype(np.int32)
        labels[name] = pool
    villages = tuple(f"第{k}村" for k in range(2000))
    codes["village"] = ((np.arange(rows) // 500) % len(villages)).astype(np.int32)
    labels["village"] = villages
    codes["township"] = (codes["village"] // 15).astype(np.int32)
    labels["township"] = tuple(f"第{k}乡镇" for k in range(len(villages) // 15 + 1))
    owners = tuple(f"户主{k}" for k in range(50_000))
    codes["owner"] = rng.integers(-1, len(owners), rows).astype(np.int32)
    labels["owner"] = owners

    def with_nan(values: np.ndarray, share: float) -> np.ndarray:
        return np.where(rng.random(rows) < share, np.nan, values)

    age = rng.uniform(1, 60, rows)
    numbers = {
        "area_ha": np.round(rng.lognormal(1.2, 0.9, rows) + 0.01, 2),
        "age_years": with_nan(age, 0.05),
        "volume_m3_per_ha": with_nan(300 * (1 - np.exp(-0.05 * age)) ** 2, 0.1),
        "nonforest_years": with_nan(rng.choice([1.0, 2.0, 3.0, 5.0, 10.0], rows), 0.9),
        "planned_harvest_m3": with_nan(rng.uniform(0, 2000, rows), 0.7),
    }
    return Stands(numbers, codes, labels, survey_year=2021.0)


def best_of(repeat: int, fn, *args, **kwargs) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn(*args, **kwargs)
        best = min(best, time.perf_counter() - t0)
    return best, result


def baseline(stands: Stands, columns: list[str]) -> int:
    """A plain NumPy pass: NaN count of the area plus one boolean gather per category column."""
    total = int(np.isnan(stands.number("area_ha")).sum())
    for name in columns:
        codes, labels = stands.category(name)
        table = np.zeros(len(labels) + 1, dtype=bool)
        table[0] = True
        total += int(table[codes].sum())
    return total


def peak_added_bytes(fn, *args, **kwargs) -> int:
    """Peak bytes allocated (NumPy arrays included) while ``fn`` runs, above what was live."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
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
    parser.add_argument("--rows", type=float, default=1e6, help="sub-compartments (default 1 M)")
    parser.add_argument("--repeat", type=int, default=7, help="timed runs per step; best kept")
    parser.add_argument("--sample", type=int, default=20_000, help="rows for the naive loop")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--no-risk", action="store_true", help="skip part 2 (the Monte Carlo benchmark)"
    )
    args = parser.parse_args()
    tune_for_arrays()
    rows = int(args.rows)
    t0 = time.perf_counter()
    stands = synthetic_stands(rows)
    build_seconds = time.perf_counter() - t0
    params = default_parameters()
    sets = {name: load_scheme(name) for name in scheme_names()}
    read = sorted({c for rs in sets.values() for c in rs.columns() if c in stands.codes})
    registered = np.zeros(rows, dtype=bool)
    registered[:: max(rows // 1000, 1)] = True  # 0.1 % already registered elsewhere

    print(
        f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
        f"NumPy {np.__version__}, {rows:,} sub-compartments (built in {build_seconds:.2f} s)",
        file=sys.stderr,
    )
    figures: dict[str, dict] = {}
    base_seconds, _ = best_of(args.repeat, baseline, stands, read)
    figures["baseline"] = {"seconds": base_seconds, "columns": len(read)}
    for name, rule_set in sets.items():
        seconds, result = best_of(
            args.repeat,
            screen,
            stands,
            rule_set,
            params,
            registered=registered,
            start_year=2021,
            crediting_years=20,
        )
        t_totals = time.perf_counter()
        for key in ("village", "owner", "species_group", "township"):
            result.totals_by(key)  # type: ignore[attr-defined]
        totals_seconds = time.perf_counter() - t_totals
        sample = stands.take(np.arange(min(args.sample, rows)))
        t_naive = time.perf_counter()
        screen_naive(sample, rule_set, params, registered=registered[: len(sample)])
        naive_seconds = time.perf_counter() - t_naive
        fast_sample_seconds, _ = best_of(
            args.repeat, screen, sample, rule_set, params, registered=registered[: len(sample)]
        )
        figures[name] = {
            "seconds": seconds,
            "rules": len(rule_set),
            "eligible": int(result.eligible.sum()),  # type: ignore[attr-defined]
            "totals_seconds": totals_seconds,
            "naive_speedup": naive_seconds / max(fast_sample_seconds, 1e-9),
            "peak_added_bytes": peak_added_bytes(
                screen, stands, rule_set, params, registered=registered, crediting_years=20
            ),
        }
    figures["process"] = {
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    }

    if args.json:
        print(json.dumps(figures, indent=1))
        return
    print(
        f"\n{'step':<28}{'rules':>6}{'seconds':>10}{'rows/s':>14}{'× baseline':>12}"
        f"{'peak +MiB':>11}{'eligible':>10}{'naive ×':>9}"
    )
    print(
        f"{'baseline (NumPy pass)':<28}{'':>6}{base_seconds:>10.4f}"
        f"{rows / base_seconds:>14,.0f}{1.0:>12.2f}"
    )
    slowest = 0.0
    for name in sets:
        f = figures[name]
        slowest = max(slowest, f["seconds"])
        print(
            f"{'screen ' + name:<28}{f['rules']:>6}{f['seconds']:>10.4f}"
            f"{rows / f['seconds']:>14,.0f}{f['seconds'] / base_seconds:>12.2f}"
            f"{f['peak_added_bytes'] / 2**20:>11.0f}{f['eligible']:>10,}{f['naive_speedup']:>9,.0f}"
        )
    totals = max(figures[name]["totals_seconds"] for name in sets)
    print(f"\ntotals_by village/owner/species_group/township: ≤ {totals:.3f} s per scheme")
    print(f"process peak resident memory: {figures['process']['peak_rss_bytes'] / GIB:.2f} GiB")
    rate = rows / slowest
    verdict = "met" if rate >= TARGET else "missed"
    print(
        f"slowest scheme: {rate:,.0f} rows/s — target ≥ 2,000,000 rows/s: {verdict} "
        f"(best of {args.repeat}; naive × = vectorized speed-up on {min(args.sample, rows):,} rows)"
    )
    if not args.no_risk:
        print("\n--- part 2: Monte Carlo (benchmarks/develop_risk.py) ---", flush=True)
        risk = Path(__file__).with_name("develop_risk.py")
        sys.exit(subprocess.call([sys.executable, str(risk)]))


if __name__ == "__main__":
    main()
