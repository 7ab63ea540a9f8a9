"""Benchmark: measurement end to end on a province-sized inventory.

    python benchmarks/measure.py              # 10 million sub-compartments (≈ 1 GB of Parquet)
    python benchmarks/measure.py --rows 1e6   # quicker

What it measures, each in a fresh subprocess so peak memory (ru_maxrss) belongs to that step only:

1. a plain Arrow scan of the same Parquet columns (the baseline: the fastest the file can be read);
2. ``stock`` end to end: read + map + validate + hash + compute + totals by group;
3. ``smcer`` end to end over two inventories (2016 and 2021, same ids) with their alignment;
4. the vectorized kernels against their naive per-row loops on a sample;
5. growth projection of 1 million sub-compartments over 40 years.

It prints rows/s, peak memory and the ratios against the targets of the issue: ≥ 5 M rows/s end to
end, ≥ 0.5 of the scan rate, < 3 GiB peak, projection ≤ 3 s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GIB = 1024**3
GROUPS = [
    "杉木",
    "马尾松",
    "桉树",
    "竹类",
    "其他硬阔类",
    "其他软阔类",
    "栎类",
    "木荷",
    "阔叶混",
    "针阔混",
]
SHARES = [0.40, 0.20, 0.06, 0.10, 0.06, 0.04, 0.03, 0.03, 0.03, 0.05]


def make_inventory(path: Path, rows: int, year: int, seed: int) -> None:
    """Write a synthetic Parquet inventory with the Chinese headers counties use."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    chunk = 2_000_000
    writer = None
    for start in range(0, rows, chunk):
        n = min(chunk, rows - start)
        idx = np.arange(start, start + n)
        village = (idx // 500) % 2000
        # ids like "350499-0012-00001234": both years share them, in the same order
        ids = pc.binary_join_element_wise(
            "350499",
            pc.utf8_lpad(pc.cast(pa.array(village), pa.string()), 4, "0"),
            pc.utf8_lpad(pc.cast(pa.array(idx), pa.string()), 8, "0"),
            "-",
        )
        group = rng.choice(len(GROUPS), size=n, p=SHARES)
        age = rng.integers(1, 60, n).astype(np.float64) + (year - 2016)
        volume = np.where(
            np.array(GROUPS)[group] == "竹类",
            np.nan,
            300 * (1 - np.exp(-0.05 * age)) ** 2 * rng.lognormal(0, 0.2, n),
        )
        table = pa.table(
            {
                "小班号": ids,
                "面积(公顷)": np.round(rng.lognormal(1.3, 0.8, n) + 0.05, 2),
                "树种组": pa.DictionaryArray.from_arrays(
                    pa.array(group.astype(np.int32)), pa.array(GROUPS)
                ),
                "平均年龄": age,
                "每公顷蓄积": np.round(volume, 1),
                "村": pa.DictionaryArray.from_arrays(
                    pa.array((village % 300).astype(np.int32)),
                    pa.array([f"第{k}村" for k in range(300)]),
                ),
                "调查年度": np.full(n, float(year)),
            }
        )
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema, compression="snappy")
        writer.write_table(table, row_group_size=1_000_000)
    assert writer is not None
    writer.close()


# ------------------------------------------------------------------------------------ the steps


def step_scan(paths: list[str]) -> dict:
    import pyarrow.parquet as pq

    columns = ["小班号", "面积(公顷)", "树种组", "平均年龄", "每公顷蓄积", "村", "调查年度"]
    t0, c0 = time.perf_counter(), time.process_time()
    rows = 0
    for path in paths:
        table = pq.read_table(path, columns=columns)
        rows += table.num_rows
    return {
        "seconds": time.perf_counter() - t0,
        "cpu_seconds": time.process_time() - c0,
        "rows": rows,
    }


def step_measure(paths: list[str], method: str) -> dict:
    from tanhui.measure.methods import get_method
    from tanhui.measure.params import default_parameters
    from tanhui.measure.service import measure_inventories, read_pair_for_params

    params = default_parameters()
    t0, c0 = time.perf_counter(), time.process_time()
    # as `tanhui measure` reads them (measure_files): two Parquet files at the same time
    later, earlier = read_pair_for_params(paths[-1], paths[0] if len(paths) > 1 else None, params)
    t_read = time.perf_counter()
    # the path of `tanhui measure … --summary`: totals and per-row tCO2e, no intermediate columns
    result = measure_inventories(
        later, method=get_method(method), params=params, baseline=earlier, keep_columns=False
    )
    by_group = result.totals_by("by_group")
    t1 = time.perf_counter()
    return {
        "seconds": t1 - t0,
        "cpu_seconds": time.process_time() - c0,
        "read_seconds": t_read - t0,
        "rows": len(later),
        "total_tco2e": result.total_tco2e,
        "groups": len(by_group),
    }


def step_naive(path: str, method: str, sample: int) -> dict:
    import pyarrow.parquet as pq

    from tanhui.inventory import read_inventory
    from tanhui.measure.methods import get_method
    from tanhui.measure.methods.base import MethodInputs, MethodOptions
    from tanhui.measure.params import default_parameters

    small = Path(tempfile.mkdtemp()) / "sample.parquet"
    pq.write_table(pq.read_table(path).slice(0, sample), small)
    inventory = read_inventory(small)
    stands = inventory.stands()
    m = get_method(method)
    baseline, match = None, None
    if m.baseline == "required":
        baseline, match = stands, __import__("numpy").zeros(len(stands), "int8")
    inputs = MethodInputs(
        current=stands,
        params=default_parameters(),
        options=MethodOptions(year_from=2016, year_to=2021),
        baseline=baseline,
        match=match,
    )
    t0 = time.perf_counter()
    fast = m.compute(inputs)
    t1 = time.perf_counter()
    slow = m.compute_naive(inputs)
    t2 = time.perf_counter()
    import numpy as np

    assert np.allclose(fast.tco2e, slow.tco2e, rtol=1e-12, equal_nan=True)
    return {"rows": sample, "vectorized_seconds": t1 - t0, "naive_seconds": t2 - t1}


def step_projection(rows: int, years: int) -> dict:
    import numpy as np

    from tanhui.measure.growth import fit_curves
    from tanhui.measure.params import default_parameters

    params = default_parameters()
    rng = np.random.default_rng(1)
    group = rng.integers(0, 3, rows).astype(np.int64)
    age = rng.uniform(1, 50, rows)
    volume = 320 * (1 - np.exp(-0.06 * age)) ** 2.2 * rng.lognormal(0, 0.15, rows)
    curves, _ = fit_curves(
        group[:50_000], age[:50_000], volume[:50_000], params.groups, family="richards"
    )
    t0 = time.perf_counter()
    projected = curves.project_years(group, age, volume, np.arange(1, years + 1, dtype=np.float64))
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "rows": rows,
        "years": years,
        "finite_share": float(np.isfinite(projected).mean()),
    }


STEPS = {
    "scan": step_scan,
    "measure": step_measure,
    "naive": step_naive,
    "projection": step_projection,
}


def run_median(repeat: int, name: str, *args: object) -> dict:
    """Run a step ``repeat`` times (each in a fresh process); keep the run with the median time.

    Fresh-process timings on a shared 2-core VM swing by ±40 % (page faults); the median of a few
    runs is what a user sees typically. Every run's seconds are kept in ``runs``.
    """
    results = sorted((run_step(name, *args) for _ in range(repeat)), key=lambda r: r["seconds"])
    middle = dict(results[len(results) // 2])
    middle["runs"] = [round(r["seconds"], 3) for r in results]
    middle["peak_bytes"] = max(r["peak_bytes"] for r in results)
    cpu = sorted(r["cpu_seconds"] for r in results)
    middle["cpu_seconds"] = cpu[len(cpu) // 2]  # the median CPU time (user + system, all threads)
    return middle


def run_step(name: str, *args: object) -> dict:
    """Run one step in a fresh interpreter; return its figures and its peak resident memory."""
    here = str(Path(__file__).parent)
    code = (
        # every step runs with the allocator setting the `tanhui` command uses (see tanhui._memory)
        f"import json, resource, sys; sys.path.insert(0, {here!r}); import measure as b; "
        "from tanhui._memory import tune_for_arrays; tune_for_arrays(); "
        f"r = b.STEPS[{name!r}](*json.loads(sys.argv[1])); "
        "r['peak_bytes'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024; print(json.dumps(r))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(list(args))], capture_output=True, text=True
    )
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"step {name} failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rows", type=float, default=10e6, help="sub-compartments (default 10 million)"
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(tempfile.gettempdir()) / "tanhui-bench",
        help="where the synthetic Parquet files are kept between runs",
    )
    parser.add_argument(
        "--sample", type=int, default=20_000, help="rows for the naive-loop comparison"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per step; the median is reported"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    rows = int(args.rows)
    args.data.mkdir(parents=True, exist_ok=True)
    paths = []
    for year, seed in ((2016, 1), (2021, 2)):
        path = args.data / f"inventory_{rows}_{year}.parquet"
        if not path.exists():
            print(f"writing {path} …", file=sys.stderr)
            make_inventory(path, rows, year, seed)
        paths.append(str(path))

    print(
        f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, {rows:,} sub-compartments",
        file=sys.stderr,
    )
    figures: dict[str, dict] = {}
    figures["scan_one"] = run_median(args.repeat, "scan", [paths[1]])
    figures["scan_two"] = run_median(args.repeat, "scan", paths)
    figures["stock"] = run_median(args.repeat, "measure", [paths[1]], "stock")
    figures["smcer"] = run_median(args.repeat, "measure", paths, "smcer")
    figures["naive_stock"] = run_step("naive", paths[1], "stock", args.sample)
    figures["naive_smcer"] = run_step("naive", paths[1], "smcer", args.sample)
    figures["projection"] = run_step("projection", 1_000_000, 40)

    if args.json:
        print(json.dumps(figures, indent=1))
        return
    scan1, scan2 = figures["scan_one"], figures["scan_two"]
    print(
        f"\n{'step':<34}{'seconds':>9}{'rows/s':>14}{'vs scan':>9}{'peak GiB':>10}"
        f"{'CPU s':>8}{'vs scan':>9}   target"
    )
    print(
        f"{'Arrow scan, 1 file':<34}{scan1['seconds']:>9.2f}{rows / scan1['seconds']:>14,.0f}{'1.00':>9}{scan1['peak_bytes'] / GIB:>10.2f}"
        f"{scan1['cpu_seconds']:>8.2f}{'1.00':>9}"
    )
    print(
        f"{'Arrow scan, 2 files':<34}{scan2['seconds']:>9.2f}{rows / scan2['seconds']:>14,.0f}{'1.00':>9}{scan2['peak_bytes'] / GIB:>10.2f}"
        f"{scan2['cpu_seconds']:>8.2f}{'1.00':>9}"
    )
    for name, scan in (("stock", scan1), ("smcer", scan2)):
        f = figures[name]
        rate = rows / f["seconds"]
        ratio = scan["seconds"] / f["seconds"]
        ok = rate >= 5e6 and ratio >= 0.5 and f["peak_bytes"] < 3 * GIB
        print(
            f"{name + ' end to end':<34}{f['seconds']:>9.2f}{rate:>14,.0f}{ratio:>9.2f}{f['peak_bytes'] / GIB:>10.2f}"
            f"{f['cpu_seconds']:>8.2f}{scan['cpu_seconds'] / f['cpu_seconds']:>9.2f}   "
            f"≥5 M/s, ≥0.5, <3 GiB: {'met' if ok else 'MISSED'}"
        )
    print(
        "(CPU s: user + system time of all threads, median of the runs; on a shared machine the "
        "ratio of CPU times moves less than that of wall times)"
    )
    for name in ("naive_stock", "naive_smcer"):
        f = figures[name]
        print(
            f"{name.replace('_', ' ') + ' (sample)':<34}{'':>9}{'':>14}{'':>9}{'':>10}   "
            f"vectorized is {f['naive_seconds'] / max(f['vectorized_seconds'], 1e-9):,.0f}× the naive loop on {f['rows']:,} rows"
        )
    print(
        f"\n(median of {args.repeat} fresh-process runs per step; all runs in seconds: "
        + "; ".join(f"{k} {v['runs']}" for k, v in figures.items() if "runs" in v)
        + ")"
    )
    p = figures["projection"]
    print(
        f"{'projection 1 M × 40 years':<34}{p['seconds']:>9.2f}{'':>14}{'':>9}{p['peak_bytes'] / GIB:>10.2f}   "
        f"≤3 s: {'met' if p['seconds'] <= 3 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
