"""``stock`` — carbon stock of the tree pool in one inventory (version 1).

Formula (IPCC 2006 stock form, the tree pool of the Chinese methodologies; measurement.md [V],
parameters [R] "to confirm")::

    f_j = WD_j · BEF_j · (1 + R_j) · CF_j · 44/12        tCO2e per m³
    C_i = A_i · V_i · f_j                                 tCO2e;   tco2e_i = C_i

Applicability: any sub-compartment with an area, a growing stock volume and a species group whose
volume parameters are known. Bamboo (竹类) has no volume parameters and is not counted (reason
``no_volume_parameters``). One inventory only: a baseline is refused (use ``stock-difference``).

Columns (float64, NaN where not computable):

- ``factor``: tCO2e per m³ of growing stock of the row's species group.
- ``stock``: C = area_ha × volume_m3_per_ha × factor (tCO2e).

Reasons: ``missing_area``, ``missing_species_group``, ``unknown_species_group``,
``no_volume_parameters``, ``missing_volume``.
"""

from __future__ import annotations

import math

import numpy as np

from tanhui.measure import kernels as k
from tanhui.measure.methods.base import MethodInputs, MethodOutput


class StockMethod:
    name = "stock"
    version = "1"
    title_zh = "林木碳储量"
    title_en = "Carbon stock (tree pool)"
    baseline = "none"
    ex_post = True
    needs_growth = False
    applicability_zh = (
        "任一期清查的乔木林小班：面积 × 每公顷蓄积 × 换算因子。竹类等无蓄积参数的树种组不计。"
    )
    applicability_en = (
        "Any inventory's tree stands: area × growing stock × factor. Groups without volume "
        "parameters (bamboo) are not counted."
    )
    reasons = k.reason_table(
        "missing_area",
        "missing_species_group",
        "unknown_species_group",
        "no_volume_parameters",
        "missing_volume",
    )

    def compute(self, inputs: MethodInputs) -> MethodOutput:
        k.refuse_baseline(inputs, self.name)
        cur = k.StockColumns(inputs.current, inputs.params)
        tco2e = np.where(cur.bits == 0, cur.stock, 0.0)
        return MethodOutput(
            tco2e=tco2e,
            columns={"factor": cur.factor, "stock": cur.stock},
            reasons=cur.bits,
            reason_table=self.reasons,
        )

    def compute_naive(self, inputs: MethodInputs) -> MethodOutput:
        k.refuse_baseline(inputs, self.name)
        n = len(inputs.current)
        tco2e, factor, stock, reasons = [], [], [], []
        for i in range(n):
            row = k.RowStock(inputs.current, inputs.params, i)
            factor.append(row.factor)
            stock.append(row.stock)
            reasons.append(row.bits)
            tco2e.append(row.stock if row.bits == 0 and not math.isnan(row.stock) else 0.0)
        return MethodOutput(
            tco2e=np.array(tco2e, dtype=np.float64),
            columns={
                "factor": np.array(factor, dtype=np.float64),
                "stock": np.array(stock, dtype=np.float64),
            },
            reasons=np.array(reasons, dtype=np.uint32),
            reason_table=self.reasons,
        )


METHOD = StockMethod()
