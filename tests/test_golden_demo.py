"""Golden outputs for the default demo county (20,000 sub-compartments, seed 2026).

The demo is generated from Python's `random.Random`, whose stream is stable across versions, so
these numbers must not move unless the generator, a parameter or a method changes on purpose.
Regenerate deliberately with `TANHUI_UPDATE_GOLDEN=1 pytest tests/test_golden_demo.py` and review
the diff like code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tanhui.inventory import read_inventory
from tanhui.measure.methods import METHODS
from tanhui.measure.methods.base import MethodOptions
from tanhui.measure.params import default_parameters
from tanhui.measure.service import measure_inventories

GOLDEN = Path(__file__).parent / "golden" / "demo_2026.json"
RUNS = {
    "stock": (False, MethodOptions()),
    "stock-difference": (True, MethodOptions()),
    "smcer": (True, MethodOptions()),
    "ccer-afforestation": (False, MethodOptions(year_from=2016, year_to=2021)),
    "forest-management": (True, MethodOptions()),
    "stop-logging": (False, MethodOptions()),
}


def compute(demo) -> dict:
    params = default_parameters()
    later = read_inventory(demo.parquet_2021)
    earlier = read_inventory(demo.csv_2016)
    out: dict = {
        "content_hash": {"2016": earlier.content_hash, "2021": later.content_hash},
        "parameters_hash": params.hash,
        "methods": {},
    }
    for name, (two, options) in RUNS.items():
        result = measure_inventories(
            later,
            method=METHODS[name],
            params=params,
            baseline=earlier if two else None,
            options=options,
        )
        summary = result.summary()
        out["methods"][name] = {
            "total_tco2e": summary["total_tco2e"],
            "rows_credited": summary["rows_credited"],
            "by_group": summary["by_group"],
            "excluded": summary["excluded"],
            "rows_hash": result.provenance["result"]["rows_hash"],
        }
    return out


@pytest.mark.slow
def test_demo_county_golden(demo_full):
    got = compute(demo_full)
    if os.environ.get("TANHUI_UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(got, ensure_ascii=False, indent=1) + "\n", "utf-8")
    want = json.loads(GOLDEN.read_text("utf-8"))
    assert got["content_hash"] == want["content_hash"], "the demo generator or the row hash changed"
    assert got["parameters_hash"] == want["parameters_hash"]
    for name, expected in want["methods"].items():
        actual = got["methods"][name]
        # forest-management's baseline grows stands on curves fitted to the inventory by an
        # iterative least-squares solver, whose last digits follow the NumPy/BLAS build (seen:
        # 2e-8 relative on two groups); every other method is closed-form arithmetic.
        rel = 1e-6 if name == "forest-management" else 1e-9
        assert actual["total_tco2e"] == pytest.approx(expected["total_tco2e"], rel=rel), name
        assert actual["rows_credited"] == expected["rows_credited"], name
        assert actual["excluded"] == expected["excluded"], name
        assert actual["by_group"] == pytest.approx(expected["by_group"], rel=rel), name
