"""``smcer`` — Sanming forestry carbon ticket (三明林业碳票, SMCER), increment over the period (v1).

Source: 三明林业碳票(SMCER)碳减排量计量方法 — [V] it measures the increment of the forest carbon
sink from tree growth and is not restricted by forest type or owner; default rates 杉木/马尾松
0.4 and bamboo 0.33 t/亩·a [V] (unit t vs tCO2e not stated; shipped as tCO2e, "to confirm").
The formula below is [R]/[I] (measurement.md): the volume chain over the period's increment,
harvest and disturbance losses, and a configurable reserve (default 0, "to confirm").

Per row (current inventory t2, optional baseline t1, aligned by id):

1. Volume route — MATCHED rows whose stock is computable in both inventories (area, volume,
   species group with volume parameters)::

       ΔC = A2·V2·f2 − A1·V1·f1

   Harvest and disturbance during the period already show in the lower V2 and are NOT deducted
   again.
2. Default-rate route — MATCHED rows where the volume route is not possible (volume missing in
   either inventory, a group without volume parameters such as 竹类 …), and every row when there
   is no baseline::

       ΔC = rate_g2 · (A2 · 15) · years · (1 − d) − H · f2

   rate_g2 = ``default_rate_tco2e_per_mu_yr`` of the current species group (tCO2e per 亩 per year),
   d = ``disturbance_share`` (0 if missing), H = ``harvest_m3`` (0 if missing). The harvest term
   is dropped when H = 0; when H > 0 and the group has no factor f2 the row gets 0
   (``harvested_no_factor``). A group without a rate gets 0 (``no_default_rate``); on a MATCHED row the
   volume-route reasons are added too, so the row says both why volumes and why the rate failed.
3. ONLY_CURRENT (new id, baseline given): not credited, ``not_in_baseline``.
   ONLY_BASELINE (disappeared): −C1 when computable (a loss), ``not_in_current``.

Project level: ``deductions["reserve"] = reserve_share · max(gross, 0)``.

``years`` (the monitoring period) must be known and positive when any row uses a default rate,
else MethodError. Without a baseline all rows use the default rate.

Columns (float64, NaN where not applicable):

- ``factor``, ``factor_t1``: tCO2e/m³ of the current / baseline species group.
- ``stock_t1``, ``stock_t2``: C1, C2 (tCO2e); ``stock_t2`` is shown for every current row.
- ``delta``: C2 − C1 on volume-route rows.
- ``default_rate``: the rate used (tCO2e/亩·a) on default-rate rows.
- ``default_increment``: rate · area_mu · years · (1 − d) on default-rate rows (gross of harvest).
- ``harvest_loss``: H · f2 deducted on default-rate rows (0 when no harvest).
- ``unmatched_effect``: −C1 on ONLY_BASELINE rows.

Reasons: ``missing_area``, ``missing_species_group``, ``unknown_species_group``,
``no_volume_parameters``, ``missing_volume``, ``no_default_rate``, ``harvested_no_factor``,
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
RATE = "default_rate_tco2e_per_mu_yr"
COLUMNS = (
    "factor",
    "factor_t1",
    "stock_t1",
    "stock_t2",
    "delta",
    "default_rate",
    "default_increment",
    "harvest_loss",
    "unmatched_effect",
)


class SmcerMethod:
    name = "smcer"
    version = "1"
    title_zh = "三明林业碳票（SMCER）碳汇增量"
    title_en = "Sanming forestry carbon ticket (SMCER) increment"
    baseline = "optional"
    ex_post = True
    needs_growth = False
    applicability_zh = (
        "不限林种和权属；计量监测期内林木生长的碳汇增量。有两期蓄积时用蓄积差，否则按树种组缺省"
        "碳汇率（吨/亩·年）× 面积 × 年数，扣除受灾比例和采伐。已在 CCER、VCS 等其他机制登记的"
        "同一期间不得重复签发。"
    )
    applicability_en = (
        "Any forest type and owner; the increment of the carbon sink from growth over the "
        "monitoring period. Volume difference when both inventories have volumes, else the "
        "group's default rate (t/mu·yr) × area × years less disturbance and harvest. Land "
        "registered under CCER, VCS or another scheme for the same period is not eligible."
    )
    reasons = k.reason_table(
        "missing_area",
        "missing_species_group",
        "unknown_species_group",
        "no_volume_parameters",
        "missing_volume",
        "no_default_rate",
        "harvested_no_factor",
        "not_in_baseline",
        "not_in_current",
    )

    def _reserve_share(self, inputs: MethodInputs) -> float:
        return k.check_share("reserve_share", inputs.options.reserve_share)

    def _years(self, inputs: MethodInputs) -> float:
        return k.period_years(
            inputs,
            self.name,
            why_zh="部分小班按缺省碳汇率计量",
            why_en="some rows use the default annual rate",
        )

    def project_deductions(self, inputs: MethodInputs, gross: float) -> dict[str, float]:
        """Deductions on the project total (the edge may compute rows in chunks)."""
        return {"reserve": self._reserve_share(inputs) * max(gross, 0.0)}

    def _finish(
        self,
        inputs: MethodInputs,
        tco2e: np.ndarray,
        columns: dict[str, np.ndarray],
        reasons: np.ndarray,
        share: float,
        gross: float,
        no_baseline: bool,
    ) -> MethodOutput:
        notes = []
        if no_baseline:
            notes.append(
                "未提供前期清查：全部小班按缺省碳汇率计量。/ No baseline inventory: every row uses "
                "the default rate."
            )
        return MethodOutput(
            tco2e=tco2e,
            columns=columns,
            reasons=reasons,
            reason_table=self.reasons,
            deductions=self.project_deductions(inputs, gross),
            notes=tuple(notes),
        )

    def compute(self, inputs: MethodInputs) -> MethodOutput:
        share = self._reserve_share(inputs)
        baseline, match = k.pair(inputs, self.name, required=False)
        params = inputs.params
        cur = k.StockColumns(inputs.current, params)
        n = len(match)
        if baseline is not None and not inputs.columns and not match.any():  # MATCHED == 0
            return self._all_matched(inputs, cur, k.StockColumns(baseline, params), share)
        if baseline is None:
            matched = np.zeros(n, dtype=bool)
            only_cur = only_base = matched
            default = np.ones(n, dtype=bool)
            base_bits, base_stock, base_factor = np.zeros(n, np.uint32), np.full(n, NAN), None
        else:
            base = k.StockColumns(baseline, params)
            base_bits, base_stock, base_factor = base.bits, base.stock, base.factor
            matched = match == MATCHED
            only_cur, only_base = match == ONLY_CURRENT, match == ONLY_BASELINE
            default = matched & ((cur.bits | base.bits) != 0)
        volume = matched & ~default
        has_cur = ~only_base

        # Default-rate route. What depends on the species group alone is worked out per label.
        label_rate = k.per_group(params.values[RATE], cur.label_group)
        rate = cur.by_label(label_rate)
        harvest = k.number_or_zero(inputs.current, "harvest_m3")  # 0.0 without the column
        disturbed = k.number_or_zero(inputs.current, "disturbance_share")
        no_factor = np.isnan(cur.factor)
        label_fail = k.group_bits(cur.label_group)
        label_fail |= k.bit_where((cur.label_group >= 0) & np.isnan(label_rate), "no_default_rate")
        fail = cur.by_label(label_fail)
        fail |= k.bit_where(np.isnan(cur.area), "missing_area")
        if np.ndim(harvest):
            fail |= k.bit_where((cur.group >= 0) & (harvest > 0) & no_factor, "harvested_no_factor")
        uses_rate = default & (fail == 0)
        years = self._years(inputs) if uses_rate.any() else NAN
        gross_increment = rate * k.area_mu(cur.area) * years * (1.0 - disturbed)
        harvest_loss = np.where(harvest > 0, harvest * cur.factor, 0.0)
        increment = gross_increment - harvest_loss

        delta = np.where(volume, cur.stock - base_stock, NAN)
        unmatched = np.where(only_base, -base_stock, NAN)
        tco2e = np.where(volume, delta, 0.0)
        tco2e = np.where(uses_rate, increment, tco2e)
        tco2e = np.where(only_base & ~np.isnan(unmatched), unmatched, tco2e)

        volume_bits = np.where(matched, cur.bits | base_bits, 0)  # why the volume route failed
        reasons = np.where(default & (fail != 0), fail | volume_bits, 0).astype(np.uint32)
        reasons |= k.bit_where(only_cur, "not_in_baseline")
        reasons |= np.where(only_base, base_bits | k.BIT["not_in_current"], 0).astype(np.uint32)

        gross = float(np.sum(tco2e, dtype=np.float64))
        if not inputs.columns:
            return self._finish(inputs, tco2e, {}, reasons, share, gross, baseline is None)
        columns = {
            "factor": np.where(has_cur, cur.factor, NAN),
            "factor_t1": (
                np.full(n, NAN) if base_factor is None else np.where(~only_cur, base_factor, NAN)
            ),
            "stock_t1": np.where(matched | only_base, base_stock, NAN),
            "stock_t2": np.where(has_cur, cur.stock, NAN),
            "delta": delta,
            "default_rate": np.where(uses_rate, rate, NAN),
            "default_increment": np.where(uses_rate, gross_increment, NAN),
            "harvest_loss": np.where(uses_rate, harvest_loss, NAN),
            "unmatched_effect": unmatched,
        }
        return self._finish(inputs, tco2e, columns, reasons, share, gross, baseline is None)

    def _all_matched(
        self, inputs: MethodInputs, cur: k.StockColumns, base: k.StockColumns, share: float
    ) -> MethodOutput:
        """``compute`` without intermediate columns when every row is MATCHED (both surveys
        list the same ids: the usual case). The same values as the general path, in fewer
        passes: no route masks for unmatched rows, arithmetic in place."""
        params = inputs.params
        both = cur.bits | base.bits  # why the volume route fails (0: it does not)
        default = both != 0
        label_rate = k.per_group(params.values[RATE], cur.label_group)
        harvest = k.number_or_zero(inputs.current, "harvest_m3")  # 0.0 without the column
        disturbed = k.number_or_zero(inputs.current, "disturbance_share")
        label_fail = k.group_bits(cur.label_group)
        label_fail |= k.bit_where((cur.label_group >= 0) & np.isnan(label_rate), "no_default_rate")
        fail = cur.by_label(label_fail)
        fail |= np.isnan(cur.area).view(np.uint8) * np.uint32(k.BIT["missing_area"])
        if np.ndim(harvest):
            no_factor = np.isnan(cur.factor)
            fail |= k.bit_where((cur.group >= 0) & (harvest > 0) & no_factor, "harvested_no_factor")
        failed = fail != 0
        uses_rate = default & ~failed
        years = self._years(inputs) if uses_rate.any() else NAN
        # rate · area_mu · years · (1 − d) − H · f2, the operations in the general path's order
        increment = np.multiply(cur.area, k.MU_PER_HA)
        np.multiply(cur.by_label(label_rate), increment, out=increment)
        increment *= years
        increment *= 1.0 - disturbed
        if np.ndim(harvest):  # without the column H = 0 and x − 0 = x
            increment -= np.where(harvest > 0, harvest * cur.factor, 0.0)

        tco2e = np.subtract(cur.stock, base.stock)  # the volume route
        np.copyto(tco2e, 0.0, where=default)
        np.copyto(tco2e, increment, where=uses_rate)
        failed &= default
        reasons = np.bitwise_or(fail, both, out=both)
        reasons *= failed  # 0 unless the default route failed too
        gross = float(np.sum(tco2e, dtype=np.float64))
        return self._finish(inputs, tco2e, {}, reasons, share, gross, False)

    def compute_naive(self, inputs: MethodInputs) -> MethodOutput:
        share = self._reserve_share(inputs)
        baseline, match = k.pair(inputs, self.name, required=False)
        params = inputs.params
        cur_stands = inputs.current
        n = len(match)

        # First pass: route every row and check whether the period is needed.
        rows = []
        needs_years = False
        for i in range(n):
            c2 = k.RowStock(cur_stands, params, i)
            c1 = k.RowStock(baseline, params, i) if baseline is not None else None
            state = int(match[i]) if baseline is not None else -1
            rate = k.row_value(params, RATE, c2.group)
            harvest = k.row_number(cur_stands, "harvest_m3", i)
            harvest = 0.0 if math.isnan(harvest) else harvest
            d = k.row_number(cur_stands, "disturbance_share", i)
            d = 0.0 if math.isnan(d) else d
            if baseline is None:
                route = "default"
            elif state == ONLY_CURRENT:
                route = "only_current"
            elif state == ONLY_BASELINE:
                route = "only_baseline"
            elif c1 is not None and c1.bits == 0 and c2.bits == 0:
                route = "volume"
            else:
                route = "default"
            fail = 0
            if route == "default":
                if c2.group == k.MISSING_GROUP:
                    fail |= k.BIT["missing_species_group"]
                if c2.group == k.UNKNOWN_GROUP:
                    fail |= k.BIT["unknown_species_group"]
                if math.isnan(c2.area):
                    fail |= k.BIT["missing_area"]
                if c2.group >= 0 and math.isnan(rate):
                    fail |= k.BIT["no_default_rate"]
                if c2.group >= 0 and harvest > 0 and math.isnan(c2.factor):
                    fail |= k.BIT["harvested_no_factor"]
                if fail == 0:
                    needs_years = True
            rows.append((c1, c2, route, rate, harvest, d, fail))
        years = self._years(inputs) if needs_years else NAN

        cols: dict[str, list[float]] = {c: [] for c in COLUMNS}
        tco2e: list[float] = []
        reasons: list[int] = []
        for c1, c2, route, rate, harvest, d, fail in rows:
            row = dict.fromkeys(COLUMNS, NAN)
            value, bits = 0.0, 0
            if route != "only_baseline":
                row.update(factor=c2.factor, stock_t2=c2.stock)
            if c1 is not None and route != "only_current":
                row.update(factor_t1=c1.factor, stock_t1=c1.stock)
            if route == "volume":
                value = c2.stock - c1.stock
                row["delta"] = value
            elif route == "default":
                if fail == 0:
                    gross = rate * (c2.area * k.MU_PER_HA) * years * (1.0 - d)
                    loss = harvest * c2.factor if harvest > 0 else 0.0
                    value = gross - loss
                    row.update(default_rate=rate, default_increment=gross, harvest_loss=loss)
                else:
                    bits = fail
                    if c1 is not None:  # with a baseline: why the volume route failed
                        bits |= c1.bits | c2.bits
            elif route == "only_current":
                bits = k.BIT["not_in_baseline"]
            else:
                row["unmatched_effect"] = -c1.stock
                if not math.isnan(c1.stock):
                    value = -c1.stock
                bits = c1.bits | k.BIT["not_in_current"]
            for c in COLUMNS:
                cols[c].append(row[c])
            tco2e.append(value)
            reasons.append(bits)
        gross_total = 0.0
        for v in tco2e:
            gross_total += v
        return self._finish(
            inputs,
            np.array(tco2e, dtype=np.float64),
            {c: np.array(v, dtype=np.float64) for c, v in cols.items()},
            np.array(reasons, dtype=np.uint32),
            share,
            gross_total,
            baseline is None,
        )


METHOD = SmcerMethod()
