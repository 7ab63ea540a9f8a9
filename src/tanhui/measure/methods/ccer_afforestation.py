"""``ccer-afforestation`` — CCER-14-001-V01 造林碳汇 (2023), tree pool (version 1).

Source: CCER-14-001-V01 造林碳汇 — applicability [V] (measurement.md); accounting [R]::

    net removals = ΔC_project − ΔC_baseline − leakage
    ΔC_project   = C2 − C1 = A2·V2·f2 − A1·V1·f1     with a baseline (start) inventory, MATCHED rows
                 = C2 − 0                          without one: afforestation on land that was not
                                                     forest, so the tree stock at the start is
                                                     taken as zero ([I]; ``stock_t1`` = 0)
    ΔC_baseline  = 0,  leakage = 0                 under the applicability conditions [R]

Applicability, checked per sub-compartment on the current inventory; each failing condition sets
its own reason bit and the row gets 0:

- ``economic_forest``: 林种 (forest_type) contains 经济林.
- ``urban_greening``: 地类 (land_type) contains 城市, 道路 or 绿化.
- ``land_history_unknown``: 造林前地类 (prior_land_type) missing.
- ``was_forest``: prior_land_type is forest land — exactly one of :data:`FOREST_LAND`
  (有林地, 乔木林地, 乔木林, 竹林地, 竹林, 红树林地, 红树林, 纯林, 混交林, 特殊灌木林地,
  国家特别规定灌木林地, 国家特别规定的灌木林地, 特灌林地, 特灌林, 森林). Decision: 疏林地
  (canopy 0.10–0.19, below the 0.20 of the forest definition), 一般灌木林地, 未成林造林地, 宜林地,
  无立木林地, 耕地, 草地, 荒山荒地, 其他宜林地, 未利用地 … are non-forest land and pass.
  特殊灌木林地 counts as forest (it counts in China's forest cover) — the conservative choice.
- ``forest_within_3_years``: 无林年限 (nonforest_years) present and < 3.
- ``tenure_unclear``: 权属 (tenure) missing, or contains 不清, 争议, 纠纷 or 未确权.
- ``wetland``: land_type or prior_land_type contains 湿地.
- ``parcel_too_small``: area < 400 m², or < 667 m² when ``options.year_from`` ≤ 2019 (an
  unknown start year applies the current 400 m² rule).

Not checked (no inventory column; the developer attests): existing trees and bamboo not removed,
shrub removal ≤ 20 % of the area, crediting period 20–40 years.

Alignment with a baseline: ONLY_CURRENT rows are not credited (``not_in_baseline``);
ONLY_BASELINE rows (parcel disappeared) are judged on the baseline's attributes: a parcel that was
eligible — part of the project — counts −C1 as a loss when computable; any other vanished
sub-compartment is outside the project and counts 0. Both carry ``not_in_current``.

Columns (float64, NaN where not applicable):

- ``factor``, ``factor_t1``: tCO2e/m³ of the current / baseline species group.
- ``stock_t1``: C1, or 0 on every current row when there is no baseline (the assumption above).
- ``stock_t2``: C2.
- ``project_removals``: ΔC_project (computed for ineligible rows too, for information).
- ``baseline_removals``, ``leakage``: 0 on every row (applicability conditions).
- ``unmatched_effect``: −C1 on ONLY_BASELINE rows.

Reasons: the stock reasons of either inventory (``missing_area``, ``missing_species_group``,
``unknown_species_group``, ``no_volume_parameters``, ``missing_volume``), the eligibility reasons
above, ``not_in_baseline``, ``not_in_current``.
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
from tanhui.measure.stands import Stands

NAN = math.nan

FOREST_LAND = frozenset(
    {
        "有林地",
        "乔木林地",
        "乔木林",
        "竹林地",
        "竹林",
        "红树林地",
        "红树林",
        "纯林",
        "混交林",
        "特殊灌木林地",
        "国家特别规定灌木林地",
        "国家特别规定的灌木林地",
        "特灌林地",
        "特灌林",
        "森林",
    }
)
ECONOMIC_WORDS = ("经济林",)
URBAN_WORDS = ("城市", "道路", "绿化")
TENURE_UNCLEAR_WORDS = ("不清", "争议", "纠纷", "未确权")
WETLAND_WORDS = ("湿地",)
MIN_NONFOREST_YEARS = 3.0
MIN_AREA_M2 = 400.0
MIN_AREA_M2_UNTIL_2019 = 667.0
AREA_TOLERANCE_HA = 1e-9  # a parcel entered as exactly 0.04 ha passes despite rounding

COLUMNS = (
    "factor",
    "factor_t1",
    "stock_t1",
    "stock_t2",
    "project_removals",
    "baseline_removals",
    "leakage",
    "unmatched_effect",
)


def _has_any(label: str, words: tuple[str, ...]) -> bool:
    return any(w in label for w in words)


def min_area_ha(year_from: float | None) -> float:
    """Smallest eligible parcel (ha) for a project starting in ``year_from``."""
    m2 = MIN_AREA_M2_UNTIL_2019 if year_from is not None and year_from <= 2019 else MIN_AREA_M2
    return m2 / k.M2_PER_HA


class CcerAfforestationMethod:
    name = "ccer-afforestation"
    version = "1"
    title_zh = "CCER-14-001-V01 造林碳汇"
    title_en = "CCER-14-001-V01 afforestation"
    baseline = "optional"
    ex_post = True
    needs_growth = False
    applicability_zh = (
        "乔木、竹子或灌木造林（防护林、特用林、用材林；不含经济林、城市和道路绿化）；"
        "项目开始前至少 3 年不符合森林定义；权属清晰；地块不小于 400 平方米（2019 年及以前开始的"
        "项目为 667 平方米）；非湿地。无前期清查时造林前碳储量按 0 计。"
    )
    applicability_en = (
        "Afforestation with trees, bamboo or shrubs (protection, special-use, timber; not economic "
        "forest, not urban or road greening); land not forest for at least 3 years before the "
        "start; clear tenure; parcels ≥ 400 m² (≥ 667 m² for projects started in or before 2019); "
        "not wetland. Without an earlier inventory the stock at the start is taken as zero."
    )
    reasons = k.reason_table(
        "missing_area",
        "missing_species_group",
        "unknown_species_group",
        "no_volume_parameters",
        "missing_volume",
        "economic_forest",
        "urban_greening",
        "land_history_unknown",
        "was_forest",
        "forest_within_3_years",
        "tenure_unclear",
        "wetland",
        "parcel_too_small",
        "not_in_baseline",
        "not_in_current",
    )

    def _notes(self, baseline: Stands | None) -> tuple[str, ...]:
        if baseline is not None:
            return ()
        return (
            "未提供前期清查：项目开始时的林木碳储量按 0 计（非林地造林）。/ No baseline "
            "inventory: the tree stock at the project start is taken as zero (afforestation of "
            "non-forest land).",
        )

    def eligibility_bits(self, stands: Stands, year_from: float | None) -> np.ndarray:
        """Vectorized applicability checks of the current inventory (uint32 reason bits)."""
        economic = k.label_mask(stands, "forest_type", k.contains_any(ECONOMIC_WORDS))
        urban = k.label_mask(stands, "land_type", k.contains_any(URBAN_WORDS))
        history_unknown = k.missing_label(stands, "prior_land_type")
        was_forest = k.label_mask(stands, "prior_land_type", lambda s: s.strip() in FOREST_LAND)
        nonforest = stands.number("nonforest_years")
        recent = ~np.isnan(nonforest) & (nonforest < MIN_NONFOREST_YEARS)
        tenure = k.missing_label(stands, "tenure") | k.label_mask(
            stands, "tenure", k.contains_any(TENURE_UNCLEAR_WORDS)
        )
        wet = k.label_mask(stands, "land_type", k.contains_any(WETLAND_WORDS)) | k.label_mask(
            stands, "prior_land_type", k.contains_any(WETLAND_WORDS)
        )
        area = stands.number("area_ha")
        small = area < min_area_ha(year_from) - AREA_TOLERANCE_HA
        bits = k.bit_where(economic, "economic_forest")
        bits |= k.bit_where(urban, "urban_greening")
        bits |= k.bit_where(history_unknown, "land_history_unknown")
        bits |= k.bit_where(was_forest, "was_forest")
        bits |= k.bit_where(recent, "forest_within_3_years")
        bits |= k.bit_where(tenure, "tenure_unclear")
        bits |= k.bit_where(wet, "wetland")
        bits |= k.bit_where(small, "parcel_too_small")
        return bits

    def compute(self, inputs: MethodInputs) -> MethodOutput:
        baseline, match = k.pair(inputs, self.name, required=False)
        cur = k.StockColumns(inputs.current, inputs.params)
        n = len(match)
        eligibility = self.eligibility_bits(inputs.current, inputs.options.year_from)
        if baseline is None:
            credited_rows = np.ones(n, dtype=bool)
            only_cur = only_base = np.zeros(n, dtype=bool)
            stock_t1 = np.zeros(n)
            factor_t1 = np.full(n, NAN)
            removals = cur.stock - stock_t1
            stock_bits = cur.bits
        else:
            base = k.StockColumns(baseline, inputs.params)
            credited_rows = match == MATCHED
            only_cur, only_base = match == ONLY_CURRENT, match == ONLY_BASELINE
            has_base = credited_rows | only_base
            stock_t1 = np.where(has_base, base.stock, NAN)
            factor_t1 = np.where(has_base, base.factor, NAN)
            removals = np.where(credited_rows, cur.stock - base.stock, NAN)
            stock_bits = np.where(credited_rows, cur.bits | base.bits, 0).astype(np.uint32)
            base_eligibility = self.eligibility_bits(baseline, inputs.options.year_from)
            stock_bits |= np.where(only_base, base.bits | base_eligibility, 0).astype(np.uint32)
        has_cur = ~only_base
        unmatched = np.where(only_base, -stock_t1, NAN)

        reasons = stock_bits | np.where(has_cur, eligibility, 0).astype(np.uint32)
        reasons |= k.bit_where(only_cur, "not_in_baseline")
        reasons |= k.bit_where(only_base, "not_in_current")
        tco2e = np.where(credited_rows & (reasons == 0), removals, 0.0)
        lost = only_base & ~np.isnan(unmatched) & (reasons == k.BIT["not_in_current"])
        tco2e = np.where(lost, unmatched, tco2e)

        columns = {
            "factor": np.where(has_cur, cur.factor, NAN),
            "factor_t1": factor_t1,
            "stock_t1": stock_t1,
            "stock_t2": np.where(has_cur, cur.stock, NAN),
            "project_removals": removals,
            "baseline_removals": np.zeros(n),
            "leakage": np.zeros(n),
            "unmatched_effect": unmatched,
        }
        return MethodOutput(
            tco2e=tco2e,
            columns=columns,
            reasons=reasons,
            reason_table=self.reasons,
            notes=self._notes(baseline),
        )

    # ----------------------------------------------------------------------------- naive

    def _row_eligibility(self, stands: Stands, i: int, year_from: float | None) -> int:
        forest_type = k.row_label(stands, "forest_type", i)
        land = k.row_label(stands, "land_type", i)
        prior = k.row_label(stands, "prior_land_type", i)
        tenure = k.row_label(stands, "tenure", i)
        nonforest = k.row_number(stands, "nonforest_years", i)
        area_ha = k.row_number(stands, "area_ha", i)
        bits = 0
        if forest_type is not None and "经济林" in forest_type:
            bits |= k.BIT["economic_forest"]
        if land is not None and _has_any(land, URBAN_WORDS):
            bits |= k.BIT["urban_greening"]
        if prior is None:
            bits |= k.BIT["land_history_unknown"]
        elif prior in FOREST_LAND:
            bits |= k.BIT["was_forest"]
        if not math.isnan(nonforest) and nonforest < MIN_NONFOREST_YEARS:
            bits |= k.BIT["forest_within_3_years"]
        if tenure is None or _has_any(tenure, TENURE_UNCLEAR_WORDS):
            bits |= k.BIT["tenure_unclear"]
        if (land is not None and "湿地" in land) or (prior is not None and "湿地" in prior):
            bits |= k.BIT["wetland"]
        limit_m2 = MIN_AREA_M2
        if year_from is not None and year_from <= 2019:
            limit_m2 = MIN_AREA_M2_UNTIL_2019
        if area_ha < limit_m2 / k.M2_PER_HA - AREA_TOLERANCE_HA:
            bits |= k.BIT["parcel_too_small"]
        return bits

    def compute_naive(self, inputs: MethodInputs) -> MethodOutput:
        baseline, match = k.pair(inputs, self.name, required=False)
        year_from = inputs.options.year_from
        cols: dict[str, list[float]] = {c: [] for c in COLUMNS}
        tco2e: list[float] = []
        reasons: list[int] = []
        for i in range(len(match)):
            row = dict.fromkeys(COLUMNS, NAN)
            row.update(baseline_removals=0.0, leakage=0.0)
            c2 = k.RowStock(inputs.current, inputs.params, i)
            value, bits = 0.0, 0
            if baseline is None:
                row.update(factor=c2.factor, stock_t1=0.0, stock_t2=c2.stock)
                row["project_removals"] = c2.stock - 0.0
                bits = c2.bits | self._row_eligibility(inputs.current, i, year_from)
                if bits == 0:
                    value = row["project_removals"]
            else:
                c1 = k.RowStock(baseline, inputs.params, i)
                state = int(match[i])
                if state == ONLY_BASELINE:
                    row.update(factor_t1=c1.factor, stock_t1=c1.stock)
                    row["unmatched_effect"] = -c1.stock
                    bits = c1.bits | self._row_eligibility(baseline, i, year_from)
                    if bits == 0 and not math.isnan(c1.stock):
                        value = -c1.stock  # a project parcel was lost
                    bits |= k.BIT["not_in_current"]
                else:
                    row.update(factor=c2.factor, stock_t2=c2.stock)
                    bits = self._row_eligibility(inputs.current, i, year_from)
                    if state == MATCHED:
                        row.update(factor_t1=c1.factor, stock_t1=c1.stock)
                        row["project_removals"] = c2.stock - c1.stock
                        bits |= c1.bits | c2.bits
                        if bits == 0:
                            value = row["project_removals"]
                    else:
                        bits |= k.BIT["not_in_baseline"]
            for c in COLUMNS:
                cols[c].append(row[c])
            tco2e.append(value)
            reasons.append(bits)
        return MethodOutput(
            tco2e=np.array(tco2e, dtype=np.float64),
            columns={c: np.array(v, dtype=np.float64) for c, v in cols.items()},
            reasons=np.array(reasons, dtype=np.uint32),
            reason_table=self.reasons,
            notes=self._notes(baseline),
        )


METHOD = CcerAfforestationMethod()
