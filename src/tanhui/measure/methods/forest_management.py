"""``forest-management`` — improved forest management, AR-CM-003 style (version 1).

Source: AR-CM-003-V01 (2014) exists and takes the unmanaged growth of the same stands as the
baseline [V] existence, [R] details; the arithmetic below is a design inference [I]
(measurement.md). Every parameter is configurable.

Per MATCHED row (baseline inventory t1, current t2, period ``years`` = t2 − t1)::

    ΔC_project  = A2·V2·f2 − A1·V1·f1                                  (measured, ex-post)
    Vb          = growth.project(g1, age1, V1, age1 + years)           (unmanaged growth curve)
    increment   = baseline_growth_factor · (Vb − V1)                   m³/ha
    ΔC_baseline = A1 · increment · f1
    credit      = ΔC_project − ΔC_baseline

``options.growth`` is any object with ``project(group_index, age0, volume0, age1) -> volume1``
(NaN where not projectable), e.g. :mod:`tanhui.measure.growth` curves. It is called once, on the
rows that can be projected (known group, age > 0, volume); other rows get Vb = NaN.

Alignment: ONLY_CURRENT rows are not credited (``not_in_baseline``); ONLY_BASELINE rows count −C1
as a loss when computable (``not_in_current``), as in ``stock-difference`` (no baseline growth is
added for them).

MethodError when there is no baseline inventory, no growth curves, no positive period, or a
negative ``baseline_growth_factor``.

Columns (float64, NaN where not applicable):

- ``factor``, ``factor_t1``: tCO2e/m³ of the current / baseline species group.
- ``stock_t1``, ``stock_t2``: C1, C2 (tCO2e).
- ``project_delta``: C2 − C1 (MATCHED).
- ``baseline_volume``: Vb (m³/ha), the projected volume at age1 + years.
- ``baseline_increment``: baseline_growth_factor · (Vb − V1) (m³/ha).
- ``baseline_delta``: A1 · baseline_increment · f1 (tCO2e).
- ``unmatched_effect``: −C1 on ONLY_BASELINE rows.

Reasons: the stock reasons of either inventory (``missing_area``, ``missing_species_group``,
``unknown_species_group``, ``no_volume_parameters``, ``missing_volume``), ``not_projectable``,
``not_in_baseline``, ``not_in_current``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tanhui.errors import MethodError
from tanhui.measure import kernels as k
from tanhui.measure.methods.base import (
    MATCHED,
    ONLY_BASELINE,
    ONLY_CURRENT,
    MethodInputs,
    MethodOutput,
)
from tanhui.measure.stands import Stands

NAN = math.nan
COLUMNS = (
    "factor",
    "factor_t1",
    "stock_t1",
    "stock_t2",
    "project_delta",
    "baseline_volume",
    "baseline_increment",
    "baseline_delta",
    "unmatched_effect",
)


class ForestManagementMethod:
    name = "forest-management"
    version = "1"
    title_zh = "森林经营碳汇（改进森林经营）"
    title_en = "Improved forest management"
    baseline = "required"
    ex_post = True
    needs_growth = True
    applicability_zh = (
        "已有林分的经营（抚育、补植、延长轮伐期等）：项目碳储量变化（两期清查）减去同一林分不经营"
        "时的基线增长（生长曲线预测）。需要两期清查、监测期长度和生长曲线。"
    )
    applicability_en = (
        "Management of existing stands (tending, enrichment planting, longer rotations): the "
        "measured stock change (two inventories) minus the unmanaged baseline growth of the same "
        "stands (growth curves). Needs both inventories, the period length and growth curves."
    )
    reasons = k.reason_table(
        "missing_area",
        "missing_species_group",
        "unknown_species_group",
        "no_volume_parameters",
        "missing_volume",
        "not_projectable",
        "not_in_baseline",
        "not_in_current",
    )

    def _setup(self, inputs: MethodInputs) -> tuple[Stands, np.ndarray, Any, float, float]:
        baseline, match = k.pair(inputs, self.name, required=True)
        growth = inputs.options.growth
        if growth is None or not callable(getattr(growth, "project", None)):
            raise MethodError(
                f"方法 {self.name} 需要生长曲线来预测基线（不经营时的生长）。",
                f"Method {self.name} needs growth curves to project the baseline (unmanaged growth).",
                hint_zh="请用 --growth 指定曲线族（按清查数据拟合），或用 --yield-table 提供收获表。",
                hint_en="Choose a curve family with --growth (fitted to the inventory) or give a yield table with --yield-table.",
            )
        years = k.period_years(
            inputs, self.name, why_zh="预测基线生长", why_en="to project the baseline growth"
        )
        factor = inputs.options.baseline_growth_factor
        if not (isinstance(factor, int | float) and math.isfinite(factor) and factor >= 0):
            raise MethodError(
                f"选项 baseline_growth_factor={factor!r} 无效：应为不小于 0 的数。",
                f"Option baseline_growth_factor={factor!r} is invalid: it must be a number ≥ 0.",
                hint_zh="1 表示基线按生长曲线生长；0.8 表示按曲线的 80%。",
                hint_en="1 means the baseline grows along the curve; 0.8 means 80 % of it.",
            )
        assert baseline is not None  # required=True
        return baseline, match, growth, years, float(factor)

    def compute(self, inputs: MethodInputs) -> MethodOutput:
        baseline, match, growth, years, bgf = self._setup(inputs)
        cur = k.StockColumns(inputs.current, inputs.params)
        base = k.StockColumns(baseline, inputs.params)
        n = len(match)
        matched = match == MATCHED
        only_cur, only_base = match == ONLY_CURRENT, match == ONLY_BASELINE
        has_cur, has_base = matched | only_cur, matched | only_base

        age1 = baseline.number("age_years")
        v1 = base.volume
        candidate = matched & (base.group >= 0) & ~np.isnan(age1) & (age1 > 0) & ~np.isnan(v1)
        projected = np.full(n, NAN)
        if candidate.any():
            rows = np.flatnonzero(candidate)
            out = growth.project(base.group[rows], age1[rows], v1[rows], age1[rows] + years)
            projected[rows] = np.asarray(out, dtype=np.float64)

        project_delta = np.where(matched, cur.stock - base.stock, NAN)
        increment = bgf * (projected - v1)
        baseline_delta = base.area * increment * base.factor
        credit = project_delta - baseline_delta
        unmatched = np.where(only_base, -base.stock, NAN)

        reasons = np.where(matched, cur.bits | base.bits, 0).astype(np.uint32)
        reasons |= k.bit_where(matched & (base.bits == 0) & np.isnan(projected), "not_projectable")
        reasons |= k.bit_where(only_cur, "not_in_baseline")
        reasons |= np.where(only_base, base.bits | k.BIT["not_in_current"], 0).astype(np.uint32)
        tco2e = np.where(matched & (reasons == 0), credit, 0.0)
        tco2e = np.where(only_base & ~np.isnan(unmatched), unmatched, tco2e)

        columns = {
            "factor": np.where(has_cur, cur.factor, NAN),
            "factor_t1": np.where(has_base, base.factor, NAN),
            "stock_t1": np.where(has_base, base.stock, NAN),
            "stock_t2": np.where(has_cur, cur.stock, NAN),
            "project_delta": project_delta,
            "baseline_volume": projected,
            "baseline_increment": np.where(matched, increment, NAN),
            "baseline_delta": np.where(matched, baseline_delta, NAN),
            "unmatched_effect": unmatched,
        }
        return MethodOutput(
            tco2e=tco2e, columns=columns, reasons=reasons, reason_table=self.reasons
        )

    def compute_naive(self, inputs: MethodInputs) -> MethodOutput:
        baseline, match, growth, years, bgf = self._setup(inputs)
        cols: dict[str, list[float]] = {c: [] for c in COLUMNS}
        tco2e: list[float] = []
        reasons: list[int] = []
        for i in range(len(match)):
            state = int(match[i])
            c2 = k.RowStock(inputs.current, inputs.params, i)
            c1 = k.RowStock(baseline, inputs.params, i)
            row = dict.fromkeys(COLUMNS, NAN)
            value, bits = 0.0, 0
            if state == MATCHED:
                row.update(factor=c2.factor, factor_t1=c1.factor)
                row.update(stock_t1=c1.stock, stock_t2=c2.stock)
                row["project_delta"] = c2.stock - c1.stock
                age = k.row_number(baseline, "age_years", i)
                vb = NAN
                if c1.group >= 0 and not math.isnan(age) and age > 0 and not math.isnan(c1.volume):
                    vb = float(
                        growth.project(
                            np.array([c1.group], dtype=np.int64),
                            np.array([age]),
                            np.array([c1.volume]),
                            np.array([age + years]),
                        )[0]
                    )
                increment = bgf * (vb - c1.volume)
                delta_b = c1.area * increment * c1.factor
                row.update(baseline_volume=vb, baseline_increment=increment)
                row["baseline_delta"] = delta_b
                bits = c1.bits | c2.bits
                if c1.bits == 0 and math.isnan(vb):
                    bits |= k.BIT["not_projectable"]
                if bits == 0:
                    value = row["project_delta"] - delta_b
            elif state == ONLY_CURRENT:
                row.update(factor=c2.factor, stock_t2=c2.stock)
                bits = k.BIT["not_in_baseline"]
            else:
                row.update(factor_t1=c1.factor, stock_t1=c1.stock, unmatched_effect=-c1.stock)
                bits = c1.bits | k.BIT["not_in_current"]
                if not math.isnan(c1.stock):
                    value = -c1.stock
            for c in COLUMNS:
                cols[c].append(row[c])
            tco2e.append(value)
            reasons.append(bits)
        return MethodOutput(
            tco2e=np.array(tco2e, dtype=np.float64),
            columns={c: np.array(v, dtype=np.float64) for c, v in cols.items()},
            reasons=np.array(reasons, dtype=np.uint32),
            reason_table=self.reasons,
        )


METHOD = ForestManagementMethod()
