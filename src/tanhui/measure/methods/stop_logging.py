"""``stop-logging`` — 停止商业性采伐 (Sanming "stop commercial logging"), version 1.

Source: 森林停止商业性采伐碳汇项目方法学 (Sanming) — no text found; the model is a design inference
[I] (measurement.md): the baseline is the harvest the forest management plan or logging quota
allowed; the project keeps growing without harvest; the credit is the emissions avoided::

    credit = (P − H) · f · (1 − hwp_share)

P = ``planned_harvest_m3`` (m³, whole sub-compartment), H = ``harvest_m3`` actually cut during the
period (0 if missing), f = tCO2e/m³ of the current species group, ``hwp_share`` = share of the
harvested carbon that would have stayed in long-lived wood products (``options.hwp_share``,
default 0). The credit is negative when the actual harvest exceeds the plan.

Baseline inventory (optional): P is read from the current inventory, and for MATCHED rows where it
is missing there, from the baseline inventory (the plan in force at the start). With a baseline,
ONLY_CURRENT rows are not credited (``not_in_baseline``) and ONLY_BASELINE rows count −C1 as a loss
when computable (``not_in_current``), as in ``stock-difference``.

Columns (float64, NaN where not applicable):

- ``factor``: tCO2e/m³ of the current species group.
- ``planned_harvest_m3``: P used.
- ``harvest_m3``: H used (0 when missing).
- ``avoided_harvest_m3``: P − H.
- ``stock_t1``: C1 on ONLY_BASELINE rows; ``unmatched_effect``: −C1 there.

Reasons: ``missing_species_group``, ``unknown_species_group``, ``no_volume_parameters``,
``no_planned_harvest``, ``missing_area``, ``missing_volume`` (only for the ONLY_BASELINE loss),
``not_in_baseline``, ``not_in_current``.
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
COLUMNS = (
    "factor",
    "planned_harvest_m3",
    "harvest_m3",
    "avoided_harvest_m3",
    "stock_t1",
    "unmatched_effect",
)


class StopLoggingMethod:
    name = "stop-logging"
    version = "1"
    title_zh = "森林停止商业性采伐碳汇"
    title_en = "Stopping commercial logging"
    baseline = "optional"
    ex_post = True
    needs_growth = False
    applicability_zh = (
        "按森林经营方案或采伐限额本可采伐、而在监测期内停止商业性采伐的小班：(计划采伐蓄积 − "
        "实际采伐蓄积) × 换算因子 × (1 − 木质林产品留存比例)。需要计划采伐蓄积。"
    )
    applicability_en = (
        "Sub-compartments whose management plan or logging quota allowed harvest that was not cut "
        "during the period: (planned − actual harvest) × factor × (1 − wood-products share). "
        "Needs the planned harvest."
    )
    reasons = k.reason_table(
        "missing_area",
        "missing_species_group",
        "unknown_species_group",
        "no_volume_parameters",
        "missing_volume",
        "no_planned_harvest",
        "not_in_baseline",
        "not_in_current",
    )

    def compute(self, inputs: MethodInputs) -> MethodOutput:
        hwp = k.check_share("hwp_share", inputs.options.hwp_share)
        baseline, match = k.pair(inputs, self.name, required=False)
        params = inputs.params
        n = len(match)
        group, factor = k.factor_per_row(inputs.current, params)
        planned = inputs.current.number("planned_harvest_m3")
        if baseline is None:
            matched = np.ones(n, dtype=bool)
            only_cur = only_base = np.zeros(n, dtype=bool)
            base_stock, base_bits = np.full(n, NAN), np.zeros(n, dtype=np.uint32)
        else:
            base = k.StockColumns(baseline, params)
            base_stock, base_bits = base.stock, base.bits
            matched = match == MATCHED
            only_cur, only_base = match == ONLY_CURRENT, match == ONLY_BASELINE
            earlier = baseline.number("planned_harvest_m3")
            planned = np.where(matched & np.isnan(planned), earlier, planned)
        harvest = k.zero_if_nan(inputs.current.number("harvest_m3"))
        avoided = planned - harvest
        credit = avoided * factor * (1.0 - hwp)
        unmatched = np.where(only_base, -base_stock, NAN)

        reasons = k.group_bits(group)
        reasons |= k.bit_where((group >= 0) & np.isnan(factor), "no_volume_parameters")
        reasons |= k.bit_where(np.isnan(planned), "no_planned_harvest")
        reasons = np.where(matched, reasons, 0).astype(np.uint32)
        reasons |= k.bit_where(only_cur, "not_in_baseline")
        reasons |= np.where(only_base, base_bits | k.BIT["not_in_current"], 0).astype(np.uint32)
        tco2e = np.where(matched & (reasons == 0), credit, 0.0)
        tco2e = np.where(only_base & ~np.isnan(unmatched), unmatched, tco2e)

        has_cur = ~only_base
        columns = {
            "factor": np.where(has_cur, factor, NAN),
            "planned_harvest_m3": np.where(has_cur, planned, NAN),
            "harvest_m3": np.where(has_cur, harvest, NAN),
            "avoided_harvest_m3": np.where(has_cur, avoided, NAN),
            "stock_t1": np.where(only_base, base_stock, NAN),
            "unmatched_effect": unmatched,
        }
        return MethodOutput(
            tco2e=tco2e, columns=columns, reasons=reasons, reason_table=self.reasons
        )

    def compute_naive(self, inputs: MethodInputs) -> MethodOutput:
        hwp = k.check_share("hwp_share", inputs.options.hwp_share)
        baseline, match = k.pair(inputs, self.name, required=False)
        params = inputs.params
        cur = inputs.current
        cols: dict[str, list[float]] = {c: [] for c in COLUMNS}
        tco2e: list[float] = []
        reasons: list[int] = []
        for i in range(len(match)):
            state = MATCHED if baseline is None else int(match[i])
            row = dict.fromkeys(COLUMNS, NAN)
            value, bits = 0.0, 0
            if state == ONLY_BASELINE:
                c1 = k.RowStock(baseline, params, i)
                row.update(stock_t1=c1.stock, unmatched_effect=-c1.stock)
                bits = c1.bits | k.BIT["not_in_current"]
                if not math.isnan(c1.stock):
                    value = -c1.stock
            else:
                g = k.row_group(cur, params, i)
                f = k.row_factor(params, g)
                p = k.row_number(cur, "planned_harvest_m3", i)
                if state == MATCHED and baseline is not None and math.isnan(p):
                    p = k.row_number(baseline, "planned_harvest_m3", i)
                h = k.row_number(cur, "harvest_m3", i)
                if math.isnan(h):
                    h = 0.0
                row.update(factor=f, planned_harvest_m3=p, harvest_m3=h, avoided_harvest_m3=p - h)
                if state == ONLY_CURRENT:
                    bits = k.BIT["not_in_baseline"]
                else:
                    if g == k.MISSING_GROUP:
                        bits |= k.BIT["missing_species_group"]
                    if g == k.UNKNOWN_GROUP:
                        bits |= k.BIT["unknown_species_group"]
                    if g >= 0 and math.isnan(f):
                        bits |= k.BIT["no_volume_parameters"]
                    if math.isnan(p):
                        bits |= k.BIT["no_planned_harvest"]
                    if bits == 0:
                        value = (p - h) * f * (1.0 - hwp)
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


METHOD = StopLoggingMethod()
