"""Array helpers the methodology modules share: species group, expansion factor, stocks, reasons.

Everything here is pure NumPy over the columns of :class:`~tanhui.measure.stands.Stands`; loops run
over category *labels* (a few dozen), never over rows. The second half of the module holds the
scalar helpers of the naive per-row references (``compute_naive``); they read one row at a time and
never call the vectorized helpers, so a kernel and its reference can only agree by both being right.

Volume → carbon chain (measurement.md, [V]/[R])::

    f_j = WD_j · BEF_j · (1 + R_j) · CF_j · 44/12      tCO2e per m³ of growing stock, group j
    C_i = A_i · V_i · f_j                               tCO2e, A in ha, V in m³/ha

Reason bits are global: bit ``b`` means the same thing in every method (``REASON_TEXTS``), and each
method lists the subset it can set in its ``reasons`` tuple.

This module must not import ``tanhui.inventory`` (that package may import pyarrow), nor
``tanhui.measure.methods`` at import time (the method modules import this one while that package
initializes): :func:`reason_table` and :func:`pair` import ``base`` lazily.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import numpy as np

from tanhui.errors import MethodError
from tanhui.measure.params import CO2_PER_C, ParameterSet
from tanhui.measure.stands import Stands

if TYPE_CHECKING:
    from tanhui.measure.methods.base import MethodInputs, Reason

M2_PER_HA = 10_000.0
# 1 亩 = 1/15 ha. Equal to tanhui.inventory.schema.MU_PER_HA (a test checks it); not imported from
# there because importing the tanhui.inventory package may pull in pyarrow, and measure is pure.
MU_PER_HA = 15.0
# Group index of a row whose species group is missing (code -1) or not in the parameter set.
MISSING_GROUP = -1
UNKNOWN_GROUP = -2

# code → (bit, zh, en). The texts say what is wrong and what to do.
REASON_TEXTS: dict[str, tuple[int, str, str]] = {
    "missing_area": (
        0,
        "缺少面积：请补充小班面积。",
        "The area is missing: add the sub-compartment's area.",
    ),
    "missing_species_group": (
        1,
        "缺少树种组（当期或前期清查）：请补充树种组。",
        "The species group is missing (current or earlier inventory): add it.",
    ),
    "unknown_species_group": (
        2,
        "树种组不在参数表中：请在参数文件中补充该树种组，或改用已有树种组名称。",
        "The species group is not in the parameter set: add it to the parameter file or use a known group name.",
    ),
    "no_volume_parameters": (
        3,
        "该树种组没有蓄积→碳换算参数（如竹类）：请在参数文件中补充，或使用缺省碳汇率的方法（smcer）。",
        "The species group has no volume-to-carbon parameters (e.g. bamboo): add them to the parameter file or use a default-rate method (smcer).",
    ),
    "missing_volume": (
        4,
        "缺少每公顷蓄积（当期或前期清查）：请补充蓄积。",
        "The growing stock (m³/ha) is missing (current or earlier inventory): add it.",
    ),
    "not_in_baseline": (
        5,
        "前期清查中没有该小班（新增小班号），不计量：请核对小班号是否变更。",
        "The sub-compartment is not in the earlier inventory (new id) and is not credited: check whether its id changed.",
    ),
    "not_in_current": (
        6,
        "当期清查中没有该小班，其前期碳储量按损失计：如小班号变更，请核对后重新对齐。",
        "The sub-compartment is missing from the current inventory; its earlier stock counts as a loss: if its id changed, fix the ids and align again.",
    ),
    "no_default_rate": (
        7,
        "需要缺省碳汇率但该树种组没有：请补充蓄积，或在参数文件中给出 default_rate_tco2e_per_mu_yr。",
        "A default rate is needed but the species group has none: add volumes, or set default_rate_tco2e_per_mu_yr in the parameter file.",
    ),
    "harvested_no_factor": (
        8,
        "有采伐蓄积但该树种组没有蓄积→碳换算参数，无法扣减：请在参数文件中补充换算参数。",
        "Harvest is recorded but the species group has no volume-to-carbon factor to deduct it: add the parameters.",
    ),
    "economic_forest": (
        9,
        "经济林不符合造林碳汇方法学的适用条件。",
        "Economic forest is not eligible under the afforestation methodology.",
    ),
    "urban_greening": (
        10,
        "城市或道路绿化不符合造林碳汇方法学的适用条件。",
        "Urban or road greening is not eligible under the afforestation methodology.",
    ),
    "land_history_unknown": (
        11,
        "缺少造林前地类：请补充，以证明项目开始前至少 3 年不符合森林定义。",
        "The land type before planting is missing: add it to show the land was not forest for at least 3 years.",
    ),
    "was_forest": (
        12,
        "造林前地类为林地（有林地/乔木林地/竹林地/特殊灌木林地等），不属于造林。",
        "The land was forest before planting (乔木林地/有林地/竹林地/特殊灌木林地 …): not afforestation.",
    ),
    "forest_within_3_years": (
        13,
        "项目开始前无林年限不足 3 年。",
        "The land was forest less than 3 years before the start.",
    ),
    "tenure_unclear": (
        14,
        "权属不清、有争议或未确权：请先完成确权。",
        "Tenure is missing, unclear or disputed: settle the tenure first.",
    ),
    "wetland": (
        15,
        "湿地上的造林不符合适用条件。",
        "Planting on wetland is not eligible.",
    ),
    "parcel_too_small": (
        16,
        "地块面积小于 400 平方米（2019 年及以前开始的项目为 667 平方米）。",
        "The parcel is smaller than 400 m² (667 m² for projects started in or before 2019).",
    ),
    "not_projectable": (
        17,
        "无法用生长曲线预测基线蓄积（缺少年龄，或该树种组没有生长曲线）：请补充年龄或生长曲线。",
        "The baseline volume cannot be projected (age missing or no growth curve for the group): add ages or curves.",
    ),
    "no_planned_harvest": (
        18,
        "缺少计划采伐蓄积（森林经营方案或采伐限额）：请补充。",
        "The planned harvest (management plan or logging quota) is missing: add it.",
    ),
}

BIT: dict[str, int] = {code: 1 << bit for code, (bit, _, _) in REASON_TEXTS.items()}


def reason_table(*codes: str) -> tuple[Reason, ...]:
    """The :class:`Reason` objects of ``codes``, in the order given."""
    from tanhui.measure.methods.base import Reason

    return tuple(
        Reason(REASON_TEXTS[c][0], c, REASON_TEXTS[c][1], REASON_TEXTS[c][2]) for c in codes
    )


# --------------------------------------------------------------------------- inputs and options


def pair(inputs: MethodInputs, method: str, *, required: bool) -> tuple[Stands | None, np.ndarray]:
    """The baseline inventory and the ``match`` array (all MATCHED when the edge gave none).

    Raises MethodError when ``required`` and there is no baseline, or when the shapes disagree.
    Without a baseline returns ``(None, all ONLY_CURRENT)``.
    """
    from tanhui.measure.methods.base import MATCHED, ONLY_CURRENT

    n = len(inputs.current)
    if inputs.baseline is None:
        if required:
            raise MethodError(
                f"方法 {method} 需要前期清查数据（基线），但没有提供。",
                f"Method {method} needs the earlier (baseline) inventory, but none was given.",
                hint_zh="请用 --baseline 指定前期清查文件。",
                hint_en="Pass the earlier inventory with --baseline.",
            )
        return None, np.full(n, ONLY_CURRENT, dtype=np.int8)
    if len(inputs.baseline) != n:
        raise MethodError(
            f"前期清查有 {len(inputs.baseline)} 行，当期有 {n} 行：两期数据未按小班对齐。",
            f"The earlier inventory has {len(inputs.baseline)} rows and the current {n}: they are not aligned.",
            hint_zh="请通过计量服务（按小班号对齐）调用方法。",
            hint_en="Call the method through the measure service, which aligns rows by id.",
        )
    if inputs.match is None:
        return inputs.baseline, np.full(n, MATCHED, dtype=np.int8)
    match = np.asarray(inputs.match)
    if match.shape != (n,) or not _valid_match(match):
        raise MethodError(
            "对齐结果（match）无效：长度须等于行数，取值只能是 0、1、2。",
            "The match array is invalid: it must have one value per row, each 0, 1 or 2.",
            hint_zh="请通过计量服务（按小班号对齐）调用方法。",
            hint_en="Call the method through the measure service, which aligns rows by id.",
        )
    return inputs.baseline, match


def _valid_match(match: np.ndarray) -> bool:
    """Every value is MATCHED, ONLY_CURRENT or ONLY_BASELINE (0, 1, 2)."""
    from tanhui.measure.methods.base import MATCHED, ONLY_BASELINE, ONLY_CURRENT

    if match.dtype.kind in "iu" and (MATCHED, ONLY_CURRENT, ONLY_BASELINE) == (0, 1, 2):
        return match.size == 0 or (int(match.min()) >= 0 and int(match.max()) <= 2)
    return bool(np.isin(match, (MATCHED, ONLY_CURRENT, ONLY_BASELINE)).all())


def period_years(inputs: MethodInputs, method: str, *, why_zh: str, why_en: str) -> float:
    """The monitoring period in years; MethodError when unknown or not positive."""
    years = inputs.years
    if years is None or not math.isfinite(years) or years <= 0:
        shown = "未知" if years is None else f"{years:g}"
        shown_en = "unknown" if years is None else f"{years:g}"
        raise MethodError(
            f"方法 {method} 需要监测期长度（{why_zh}），当前为 {shown}。",
            f"Method {method} needs the length of the monitoring period ({why_en}); it is {shown_en}.",
            hint_zh="请用 --year-from 和 --year-to 给出监测期（结束年份须晚于开始年份），或在清查数据中填写调查年度。",
            hint_en="Give the period with --year-from and --year-to (the end after the start), or fill in the survey years.",
        )
    return float(years)


def check_share(name: str, value: float, *, low: float = 0.0, high: float = 1.0) -> float:
    """A share option must lie in [low, high]; MethodError otherwise."""
    if not (isinstance(value, int | float) and math.isfinite(value) and low <= value <= high):
        raise MethodError(
            f"选项 {name}={value!r} 无效：应在 {low:g} 到 {high:g} 之间。",
            f"Option {name}={value!r} is invalid: it must lie between {low:g} and {high:g}.",
            hint_zh=f"请把 {name} 设为 {low:g}–{high:g} 之间的数（如 0.1 表示 10%）。",
            hint_en=f"Set {name} to a number between {low:g} and {high:g} (e.g. 0.1 for 10 %).",
        )
    return float(value)


def refuse_baseline(inputs: MethodInputs, method: str) -> None:
    """Methods that use one inventory reject a baseline instead of silently ignoring it."""
    if inputs.baseline is not None or inputs.match is not None:
        raise MethodError(
            f"方法 {method} 只用一期清查数据，不接受前期清查（基线）。",
            f"Method {method} uses one inventory; an earlier (baseline) inventory does not apply.",
            hint_zh="去掉 --baseline，或改用 stock-difference 计算两期之差。",
            hint_en="Drop --baseline, or use stock-difference for the change between two inventories.",
        )


# --------------------------------------------------------------------------- vectorized kernels


def group_index(stands: Stands, params: ParameterSet) -> np.ndarray:
    """Index into ``params.groups`` per row (int64): -1 missing group, -2 not in the parameter set."""
    codes, labels = stands.category("species_group")
    where = {g: i for i, g in enumerate(params.groups)}
    per_label = np.array(
        [where.get(label.strip(), UNKNOWN_GROUP) for label in labels] + [MISSING_GROUP],
        dtype=np.int64,
    )
    return per_label[codes]  # code -1 indexes the trailing MISSING_GROUP


def per_group(table: np.ndarray, group: np.ndarray) -> np.ndarray:
    """``table[group]`` as float64, NaN where the group is missing or unknown (index < 0)."""
    padded = np.append(np.asarray(table, dtype=np.float64), np.nan)
    return padded[np.where(group >= 0, group, len(padded) - 1)]


def factor_per_row(stands: Stands, params: ParameterSet) -> tuple[np.ndarray, np.ndarray]:
    """``(group index, tCO2e per m³)`` per row; the factor is NaN without usable parameters."""
    group = group_index(stands, params)
    return group, per_group(params.tco2e_per_m3(), group)


def stock_tco2e(
    area_ha: np.ndarray, volume_m3_per_ha: np.ndarray, factor: np.ndarray
) -> np.ndarray:
    """C = A · V · f (tCO2e); NaN wherever an input is NaN."""
    return area_ha * volume_m3_per_ha * factor


def group_bits(group: np.ndarray) -> np.ndarray:
    """Reason bits of the species group alone (missing / unknown)."""
    return np.where(group == MISSING_GROUP, BIT["missing_species_group"], 0).astype(
        np.uint32
    ) | np.where(group == UNKNOWN_GROUP, BIT["unknown_species_group"], 0).astype(np.uint32)


def stock_bits(
    area_ha: np.ndarray, volume_m3_per_ha: np.ndarray, group: np.ndarray, factor: np.ndarray
) -> np.ndarray:
    """Why ``stock_tco2e`` is NaN for a row (0 exactly where the stock is computable)."""
    bits = group_bits(group)
    bits |= np.where(np.isnan(area_ha), BIT["missing_area"], 0).astype(np.uint32)
    bits |= np.where(np.isnan(volume_m3_per_ha), BIT["missing_volume"], 0).astype(np.uint32)
    bits |= np.where((group >= 0) & np.isnan(factor), BIT["no_volume_parameters"], 0).astype(
        np.uint32
    )
    return bits


class StockColumns:
    """Group, factor, stock and its reason bits of one inventory, computed once.

    Equal to ``factor_per_row``, ``stock_tco2e`` and ``stock_bits`` on the rows; what depends on
    the species group alone (index, factor, group and parameter bits) is worked out once per
    *label* and then looked up per row, so a row costs three gathers and a few in-place passes.
    """

    def __init__(self, stands: Stands, params: ParameterSet) -> None:
        self.area = stands.number("area_ha")
        self.volume = stands.number("volume_m3_per_ha")
        codes, labels = stands.category("species_group")
        where = {g: i for i, g in enumerate(params.groups)}
        label_group = np.array(
            [where.get(label.strip(), UNKNOWN_GROUP) for label in labels] + [MISSING_GROUP],
            dtype=np.int64,
        )
        label_factor = per_group(params.tco2e_per_m3(), label_group)
        no_values = np.zeros(len(label_group))  # area and volume present: bits of the group alone
        label_bits = stock_bits(no_values, no_values, label_group, label_factor)
        rows = np.asarray(codes, dtype=np.intp)  # widened once for the lookups
        self._label_group, self._rows = label_group, rows
        self._group: np.ndarray | None = None
        self.factor = label_factor[rows]
        stock = np.multiply(self.area, self.volume)
        stock *= self.factor
        self.stock = stock
        bits = label_bits[rows]
        bits |= np.isnan(self.area).view(np.uint8) * np.uint32(BIT["missing_area"])
        bits |= np.isnan(self.volume).view(np.uint8) * np.uint32(BIT["missing_volume"])
        self.bits = bits

    @property
    def label_group(self) -> np.ndarray:
        """Group index per species-group label, plus a last entry (``MISSING_GROUP``) for code -1."""
        return self._label_group

    def by_label(self, table: np.ndarray) -> np.ndarray:
        """``table[label]`` per row: one entry per label, and a last one for a missing group."""
        return table[self._rows]

    @property
    def group(self) -> np.ndarray:
        """Index into ``params.groups`` per row (int64): -1 missing group, -2 not in the set."""
        if self._group is None:
            self._group = self._label_group[self._rows]  # code -1: the trailing MISSING_GROUP
        return self._group


def bit_where(mask: np.ndarray, code: str) -> np.ndarray:
    """``BIT[code]`` where ``mask`` is true, else 0, as uint32."""
    return np.where(mask, BIT[code], 0).astype(np.uint32)


def label_mask(stands: Stands, name: str, predicate: Callable[[str], bool]) -> np.ndarray:
    """Rows whose category label satisfies ``predicate`` (missing labels never do)."""
    codes, labels = stands.category(name)
    hits = np.array([bool(predicate(label)) for label in labels] + [False], dtype=bool)
    return hits[codes]


def missing_label(stands: Stands, name: str) -> np.ndarray:
    """Rows whose category is missing (code -1) or a blank label."""
    codes, labels = stands.category(name)
    blank = np.array([label.strip() == "" for label in labels] + [True], dtype=bool)
    return blank[codes]


def contains_any(words: Iterable[str]) -> Callable[[str], bool]:
    """A predicate: the label contains one of ``words``."""
    words = tuple(words)
    return lambda label: any(w in label for w in words)


def zero_if_nan(values: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(values), 0.0, values)


def number_or_zero(stands: Stands, name: str) -> np.ndarray | np.float64:
    """``zero_if_nan`` of a column; the scalar 0.0 when the inventory lacks the column (it
    broadcasts like a column of zeros, without one)."""
    values = stands.numbers.get(name)
    return np.float64(0.0) if values is None else zero_if_nan(values)


def area_mu(area_ha: np.ndarray) -> np.ndarray:
    return area_ha * MU_PER_HA


# --------------------------------------------------------------------------- naive (per-row) helpers
# Scalar code for the reference loops: one row at a time, Python floats, no array kernels.


def row_label(stands: Stands, name: str, i: int) -> str | None:
    """The category label of row ``i`` (None when missing or blank)."""
    codes = stands.codes.get(name)
    if codes is None:
        return None
    code = int(codes[i])
    if code < 0:
        return None
    label = stands.labels[name][code].strip()
    return label or None


def row_number(stands: Stands, name: str, i: int) -> float:
    """The float value of row ``i`` (NaN when the column is absent)."""
    values = stands.numbers.get(name)
    return math.nan if values is None else float(values[i])


def row_group(stands: Stands, params: ParameterSet, i: int) -> int:
    """Index of row ``i``'s species group in ``params.groups`` (-1 missing, -2 unknown)."""
    codes = stands.codes.get("species_group")
    if codes is None or int(codes[i]) < 0:
        return MISSING_GROUP
    label = stands.labels["species_group"][int(codes[i])].strip()
    for j, group in enumerate(params.groups):
        if group == label:
            return j
    return UNKNOWN_GROUP


def row_value(params: ParameterSet, column: str, group: int) -> float:
    """A parameter value of ``group`` (NaN for a missing or unknown group)."""
    return math.nan if group < 0 else float(params.values[column][group])


def row_factor(params: ParameterSet, group: int) -> float:
    """tCO2e per m³ of growing stock for one group, from the raw parameters."""
    if group < 0:
        return math.nan
    wd = row_value(params, "wood_density_t_per_m3", group)
    bef = row_value(params, "bef", group)
    r = row_value(params, "root_shoot_ratio", group)
    cf = row_value(params, "carbon_fraction", group)
    return wd * bef * (1.0 + r) * cf * CO2_PER_C


class RowStock:
    """Area, volume, group, factor, stock and reason bits of one row of one inventory."""

    def __init__(self, stands: Stands, params: ParameterSet, i: int) -> None:
        self.area = row_number(stands, "area_ha", i)
        self.volume = row_number(stands, "volume_m3_per_ha", i)
        self.group = row_group(stands, params, i)
        self.factor = row_factor(params, self.group)
        self.stock = self.area * self.volume * self.factor
        bits = 0
        if self.group == MISSING_GROUP:
            bits |= BIT["missing_species_group"]
        if self.group == UNKNOWN_GROUP:
            bits |= BIT["unknown_species_group"]
        if math.isnan(self.area):
            bits |= BIT["missing_area"]
        if math.isnan(self.volume):
            bits |= BIT["missing_volume"]
        if self.group >= 0 and math.isnan(self.factor):
            bits |= BIT["no_volume_parameters"]
        self.bits = bits
