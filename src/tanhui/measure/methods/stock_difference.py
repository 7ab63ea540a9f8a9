"""``stock-difference`` — change of the tree-pool carbon stock between two inventories (version 1).

Formula (IPCC 2006 stock-difference form; measurement.md [V], parameters [R] "to confirm")::

    C_i(t) = A_i(t) · V_i(t) · f_j(t)         each inventory with its own area, volume and group
    ΔC_i   = C_i(t2) − C_i(t1)                 MATCHED rows
    annual = ΔC_i / (t2 − t1)                  when the period is known and positive

Rows are aligned by sub-compartment id (``MethodInputs.match``):

- MATCHED: ΔC = C2 − C1; not credited (0) when either stock is not computable.
- ONLY_BASELINE (the sub-compartment disappeared): conservatively ΔC = −C1, a loss
  (``unmatched_effect``; reason bit ``not_in_current`` flags the row).
- ONLY_CURRENT (new id, no earlier stock): not credited, reason ``not_in_baseline``.

Applicability: two inventories of the same area (二类调查 or re-measurement) with volumes and species
groups; harvest and disturbance during the period already show in the lower later stock.

Columns (float64, NaN where not applicable or not computable):

- ``factor``: tCO2e/m³ of the current inventory's species group (rows present in the current).
- ``factor_t1``: the same for the baseline inventory's group (rows present in the baseline).
- ``stock_t1``, ``stock_t2``: C1 and C2 (tCO2e).
- ``delta``: C2 − C1 for MATCHED rows.
- ``unmatched_effect``: −C1 for ONLY_BASELINE rows.
- ``annual``: (``delta`` or ``unmatched_effect``) / years; all NaN when the period is unknown.

Reasons: the stock reasons of either inventory (``missing_area``, ``missing_species_group``,
``unknown_species_group``, ``no_volume_parameters``, ``missing_volume``), ``not_in_baseline``,
``not_in_current``.
"""

from __future__ import annotations

import math

import numpy as np

from tanhui.measure import kernels as k
from tanhui.measure.methods.base import (
    MATCHED,
    ONLY_BASELINE,
    ONLY_CURRENT,
    MethodInputs,
    MethodOutput,
)

NAN = math.nan


class StockDifferenceMethod:
    name = "stock-difference"
    version = "1"
    title_zh = "碳储量变化（两期清查蓄积差）"
    title_en = "Stock difference between two inventories"
    baseline = "required"
    ex_post = True
    needs_growth = False
    applicability_zh = (
        "同一范围的两期清查（二类调查或复测），按小班号对齐：ΔC = 后期储量 − 前期储量；"
        "消失的小班按前期储量损失计，新增小班不计。"
    )
    applicability_en = (
        "Two inventories of the same area aligned by sub-compartment id: ΔC = later − earlier "
        "stock; a disappeared sub-compartment counts as a loss of its earlier stock, a new one is "
        "not credited."
    )
    reasons = k.reason_table(
        "missing_area",
        "missing_species_group",
        "unknown_species_group",
        "no_volume_parameters",
        "missing_volume",
        "not_in_baseline",
        "not_in_current",
    )

    def _years(self, inputs: MethodInputs) -> float | None:
        years = inputs.years
        return years if years is not None and math.isfinite(years) and years > 0 else None

    def _notes(self, years: float | None) -> tuple[str, ...]:
        if years is not None:
            return ()
        return (
            "监测期长度未知或不为正，未计算年均值（annual）。/ The period is unknown or not "
            "positive: the annual column is empty.",
        )

    def compute(self, inputs: MethodInputs) -> MethodOutput:
        baseline, match = k.pair(inputs, self.name, required=True)
        assert baseline is not None
        years = self._years(inputs)
        cur = k.StockColumns(inputs.current, inputs.params)
        base = k.StockColumns(baseline, inputs.params)
        matched, only_cur, only_base = (
            match == MATCHED,
            match == ONLY_CURRENT,
            match == ONLY_BASELINE,
        )
        has_cur, has_base = matched | only_cur, matched | only_base

        delta = np.where(matched, cur.stock - base.stock, NAN)
        unmatched = np.where(only_base, -base.stock, NAN)
        change = np.where(matched, delta, unmatched)
        tco2e = np.where(np.isnan(change), 0.0, change)

        reasons = np.where(matched, cur.bits | base.bits, 0).astype(np.uint32)
        reasons |= k.bit_where(only_cur, "not_in_baseline")
        reasons |= np.where(only_base, base.bits | k.BIT["not_in_current"], 0).astype(np.uint32)

        annual = change / years if years is not None else np.full(len(match), NAN)
        columns = {
            "factor": np.where(has_cur, cur.factor, NAN),
            "factor_t1": np.where(has_base, base.factor, NAN),
            "stock_t1": np.where(has_base, base.stock, NAN),
            "stock_t2": np.where(has_cur, cur.stock, NAN),
            "delta": delta,
            "unmatched_effect": unmatched,
            "annual": annual,
        }
        return MethodOutput(
            tco2e=tco2e,
            columns=columns,
            reasons=reasons,
            reason_table=self.reasons,
            notes=self._notes(years),
        )

    def compute_naive(self, inputs: MethodInputs) -> MethodOutput:
        baseline, match = k.pair(inputs, self.name, required=True)
        assert baseline is not None
        years = self._years(inputs)
        names = ("factor", "factor_t1", "stock_t1", "stock_t2", "delta", "unmatched_effect")
        cols: dict[str, list[float]] = {c: [] for c in (*names, "annual")}
        tco2e: list[float] = []
        reasons: list[int] = []
        for i in range(len(match)):
            state = int(match[i])
            c2 = k.RowStock(inputs.current, inputs.params, i)
            c1 = k.RowStock(baseline, inputs.params, i)
            row = dict.fromkeys(names, NAN)
            bits = 0
            if state == MATCHED:
                row.update(factor=c2.factor, factor_t1=c1.factor, stock_t1=c1.stock)
                row.update(stock_t2=c2.stock, delta=c2.stock - c1.stock)
                change = row["delta"]
                bits = c1.bits | c2.bits
            elif state == ONLY_CURRENT:
                row.update(factor=c2.factor, stock_t2=c2.stock)
                change = NAN
                bits = k.BIT["not_in_baseline"]
            else:
                row.update(factor_t1=c1.factor, stock_t1=c1.stock, unmatched_effect=-c1.stock)
                change = row["unmatched_effect"]
                bits = c1.bits | k.BIT["not_in_current"]
            for c in names:
                cols[c].append(row[c])
            cols["annual"].append(change / years if years is not None else NAN)
            tco2e.append(0.0 if math.isnan(change) else change)
            reasons.append(bits)
        return MethodOutput(
            tco2e=np.array(tco2e, dtype=np.float64),
            columns={c: np.array(v, dtype=np.float64) for c, v in cols.items()},
            reasons=np.array(reasons, dtype=np.uint32),
            reason_table=self.reasons,
            notes=self._notes(years),
        )


METHOD = StockDifferenceMethod()
