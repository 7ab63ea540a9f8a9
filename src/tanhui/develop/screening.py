"""Eligibility screening (资源筛查): which sub-compartments qualify under a scheme, and why not.

Pure core: NumPy and the standard library over a :class:`~tanhui.measure.stands.Stands`; no file,
DataFrame or database. :mod:`tanhui.develop.screening_service` reads the inventory file and calls
:func:`screen`. The rules are data (:mod:`tanhui.develop.rules`).

Engine. Each rule of the set is compiled into a boolean "fails" mask and sets its bit of a
``uint64`` per row (bit i = rule i failed). String predicates run once per category *label* and
are gathered by the int32 codes: every single-check rule on a category column is folded into one
``uint64`` bit table per column, so a column costs one integer gather whatever the number of
rules reading it. Number checks are vectorized comparisons; ``all``/``any`` checks combine boolean
masks. No Python loop touches a row. :func:`screen_naive` is the reference: a plain loop over rows
with each row as a dict of values and the rule semantics written out again; the tests require
both to agree exactly on random inventories.

Expected tonnes (tCO2e per year; an indicative sink of tree growth, **not** the methodology's
credit — the feasibility study projects that). On eligible rows, with the current
:class:`~tanhui.measure.params.ParameterSet`::

    growth route   (V(t + H) − V(t)) / H · A · f     when ``growth`` is given and the row has a
                                                    known group with a factor f, age t > 0 and
                                                    volume V(t) > 0, and the curve projects it
    rate route     A · 15 · r_g                     otherwise: the group's default rate r_g
                                                    (``default_rate_tco2e_per_mu_yr``) × area in 亩
    unknown        NaN                              neither is available (e.g. 桉树 has no rate
                                                    and no curve was given)

A in ha, V in m³/ha, f = ``params.tco2e_per_m3()`` of the group, H = ``growth_years`` (default:
the crediting period, else :data:`DEFAULT_GROWTH_YEARS`). ``growth`` is any object with
``project(group_index, age0, volume0, age1)`` whose group index is the index into
``params.groups`` (as :func:`tanhui.measure.service.growth_curves` returns). Ineligible rows get 0.
Tonnes over the crediting period = tCO2e per year × ``crediting_years``.

Totals (:meth:`Screening.totals_by`) are ``np.bincount`` sums over the codes of a category column
(village, owner, species group, township …); labels that differ only by surrounding spaces are
merged, and missing labels are reported as :data:`UNKNOWN_LABEL`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tanhui.errors import InputError, Problem
from tanhui.i18n import Lang, pick
from tanhui.measure import kernels as k
from tanhui.measure.params import ParameterSet
from tanhui.measure.stands import Stands

from .rules import (
    AREA_UNITS,
    CATEGORY_COLUMNS,
    CATEGORY_OPS,
    NUMBER_COLUMNS,
    NUMBER_OPS,
    REGISTERED,
    TOLERANCE,
    Check,
    RuleSet,
)

RATE = "default_rate_tco2e_per_mu_yr"
DEFAULT_GROWTH_YEARS = 20.0
UNKNOWN_LABEL = "(未填)"
BREAKDOWN_KEYS = ("village", "owner", "species_group", "township")
# Estimate routes (``Screening.estimate_source``).
ESTIMATE_NONE, ESTIMATE_RATE, ESTIMATE_GROWTH = 0, 1, 2
ESTIMATE_NAMES = ("none", "default_rate", "growth")
_ONE = np.uint64(1)


@dataclass(frozen=True)
class Screening:
    """One rule set applied to one inventory.

    ``reasons``: uint64 per row, bit i set when ``rules.rules[i]`` failed. ``eligible``: no bit
    set. ``area_ha``: the inventory's areas. ``expected_tco2e_per_yr``: see the module notes (0 on
    ineligible rows, NaN on eligible rows without an estimate). ``estimate_source``: int8,
    :data:`ESTIMATE_NONE` / ``_RATE`` / ``_GROWTH``. ``unchecked``: ids of rules that could not be
    evaluated (``registered_elsewhere`` without an id set). ``stands`` is kept for the breakdowns.
    """

    rules: RuleSet
    stands: Stands
    reasons: np.ndarray
    eligible: np.ndarray
    area_ha: np.ndarray
    expected_tco2e_per_yr: np.ndarray
    estimate_source: np.ndarray
    start_year: float | None = None
    crediting_years: float | None = None
    growth_years: float | None = None
    unchecked: tuple[str, ...] = ()
    params: Mapping[str, Any] | None = None
    growth: Mapping[str, Any] | None = None

    def __len__(self) -> int:
        return len(self.reasons)

    @property
    def area_mu(self) -> np.ndarray:
        """Areas in 亩 (1 ha = 15 亩)."""
        return k.area_mu(self.area_ha)

    def failed(self, rule_id: str) -> np.ndarray:
        """Boolean mask of the rows that fail ``rule_id``."""
        bit = np.uint64(self.rules.index_of(rule_id))
        return (self.reasons & (_ONE << bit)) != 0

    def reason_counts(self) -> dict[str, int]:
        """Rows failing each rule, for every rule in bit order (zeros included)."""
        return {r.id: int(np.count_nonzero(self.failed(r.id))) for r in self.rules.rules}

    def reasons_of(self, rows: np.ndarray | Sequence[int] | None = None) -> list[list[str]]:
        """The failed rule ids of each row (empty list when eligible); all rows by default."""
        bits = self.reasons if rows is None else self.reasons[np.asarray(rows)]
        unique, inverse = np.unique(bits, return_inverse=True)
        ids = self.rules.ids
        lists = [[ids[b] for b in range(len(ids)) if int(u) >> b & 1] for u in unique.tolist()]
        return [list(lists[j]) for j in inverse.tolist()]

    def _weights(self) -> dict[str, np.ndarray]:
        """Per-row addends of the totals (NaN areas and tonnes count as 0)."""
        area = np.where(np.isnan(self.area_ha), 0.0, self.area_ha)
        return {
            "area_ha": area,
            "eligible_rows": self.eligible,
            "eligible_area_ha": np.where(self.eligible, area, 0.0),
            "tco2e_per_yr": np.where(
                np.isnan(self.expected_tco2e_per_yr), 0.0, self.expected_tco2e_per_yr
            ),
            "without_estimate": self.eligible & np.isnan(self.expected_tco2e_per_yr),
        }

    def _entries(self, index: np.ndarray, size: int) -> list[dict[str, Any]]:
        """Totals per bin of ``index`` (one non-negative int per row), ``size`` bins."""
        sums = {
            name: np.bincount(index, weights=w, minlength=size).tolist()
            for name, w in self._weights().items()
        }
        rows = np.bincount(index, minlength=size).tolist()
        period = self.crediting_years
        return [
            {
                "rows": rows[i],
                "area_ha": sums["area_ha"][i],
                "eligible_rows": int(sums["eligible_rows"][i]),
                "eligible_area_ha": sums["eligible_area_ha"][i],
                "eligible_area_mu": sums["eligible_area_ha"][i] * k.MU_PER_HA,
                "tco2e_per_yr": sums["tco2e_per_yr"][i],
                "tco2e_crediting_period": (
                    None if period is None else sums["tco2e_per_yr"][i] * period
                ),
                "eligible_rows_without_estimate": int(sums["without_estimate"][i]),
            }
            for i in range(size)
        ]

    def totals(self) -> dict[str, Any]:
        """Totals over the whole inventory (same fields as each entry of :meth:`totals_by`)."""
        return self._entries(np.zeros(len(self), dtype=np.intp), 1)[0]

    def totals_by(self, key: str) -> dict[str, dict[str, Any]]:
        """Totals per label of category column ``key`` (``village``, ``owner``,
        ``species_group``, ``township`` or any canonical category column).

        Each entry: ``rows``, ``area_ha``, ``eligible_rows``, ``eligible_area_ha``,
        ``eligible_area_mu``, ``tco2e_per_yr`` (expected, eligible rows), ``tco2e_crediting_period``
        (None without a crediting period), ``eligible_rows_without_estimate``. Labels without
        rows are left out; ordered by eligible area, largest first, then label.
        """
        if key not in CATEGORY_COLUMNS:
            raise InputError(
                f"不能按“{key}”汇总。可用：{', '.join(CATEGORY_COLUMNS)}。",
                f"Cannot break totals down by '{key}'. Known: {', '.join(CATEGORY_COLUMNS)}.",
                field="key",
            )
        codes, labels = self.stands.category(key)
        names: dict[str, int] = {}
        remap = np.array(
            [names.setdefault(x.strip() or UNKNOWN_LABEL, len(names)) for x in labels]
            + [names.setdefault(UNKNOWN_LABEL, len(names))],
            dtype=np.intp,
        )
        entries = self._entries(remap[codes], len(names))  # code -1 → the UNKNOWN_LABEL bin
        out = {name: entries[i] for name, i in names.items() if entries[i]["rows"]}
        return dict(sorted(out.items(), key=lambda kv: (-kv[1]["eligible_area_ha"], kv[0])))

    def estimate_counts(self) -> dict[str, int]:
        """Eligible rows per estimate route (``default_rate``, ``growth``, ``none``)."""
        counts = np.bincount(self.estimate_source[self.eligible], minlength=3)
        return {name: int(counts[i]) for i, name in enumerate(ESTIMATE_NAMES)}

    def summary(self, lang: Lang | None = None) -> dict[str, Any]:
        """Everything but the rows, for the CLI, the API and the report."""
        counts = self.reason_counts()
        return {
            "scheme": self.rules.scheme,
            "title": pick(self.rules.title_zh, self.rules.title_en, lang),
            "methodology": self.rules.methodology,
            "rules": self.rules.describe(),
            "start_year": self.start_year,
            "crediting_years": self.crediting_years,
            "growth_years": self.growth_years,
            "totals": self.totals(),
            "reasons": [
                {
                    "id": r.id,
                    "reason": pick(r.zh, r.en, lang),
                    "status": r.status,
                    "source": r.source,
                    "rows": counts[r.id],
                    "checked": r.id not in self.unchecked,
                }
                for r in self.rules.rules
            ],
            "unchecked": list(self.unchecked),
            "estimates": self.estimate_counts(),
            "notes": [pick(zh, en, lang) for zh, en in self.rules.notes],
            "params": dict(self.params or {}),
            "growth": None if self.growth is None else dict(self.growth),
        }


# ------------------------------------------------------------------------------------ inputs


def _positive(name: str, value: float | None) -> float | None:
    if value is None:
        return None
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise InputError(
            f"{name}={value!r} 无效：应为正数（年）。",
            f"{name}={value!r} is invalid: it must be a positive number of years.",
            field=name,
        )
    return float(value)


def _start(value: float | None) -> float | None:
    if value is None:
        return None
    if not (isinstance(value, int | float) and math.isfinite(value)):
        raise InputError(
            f"项目开始年份 {value!r} 无效。",
            f"The project start year {value!r} is invalid.",
            field="start_year",
        )
    return float(value)


def _registered(registered: Any, n: int) -> np.ndarray | None:
    if registered is None:
        return None
    mask = np.asarray(registered)
    if mask.shape != (n,) or mask.dtype != np.bool_:
        raise InputError(
            f"registered 须为每行一个布尔值（{n} 行），而不是形状 {mask.shape}、类型 {mask.dtype}。",
            f"registered must be one boolean per row ({n} rows), not shape {mask.shape} of "
            f"{mask.dtype}.",
            field="registered",
            hint_zh="由服务层把已登记小班号转换为逐行掩码。",
            hint_en="The service turns the registered ids into a per-row mask.",
        )
    return mask


@dataclass(frozen=True)
class _Inputs:
    registered: np.ndarray | None
    start_year: float | None
    crediting_years: float | None
    growth_years: float


def _inputs(
    n: int,
    registered: Any,
    start_year: float | None,
    crediting_years: float | None,
    growth_years: float | None,
) -> _Inputs:
    crediting = _positive("crediting_years", crediting_years)
    horizon = _positive("growth_years", growth_years)
    return _Inputs(
        registered=_registered(registered, n),
        start_year=_start(start_year),
        crediting_years=crediting,
        growth_years=horizon or crediting or DEFAULT_GROWTH_YEARS,
    )


def _unchecked(rules: RuleSet, registered: np.ndarray | None) -> tuple[str, ...]:
    if registered is not None:
        return ()

    def reads_registry(check: Check) -> bool:
        return check.op == REGISTERED or any(reads_registry(c) for c in check.checks)

    return tuple(r.id for r in rules.rules if reads_registry(r.check))


# ------------------------------------------------------------------------------------ vectorized


def _label_hit(check: Check, label: str) -> bool:
    """Whether a check on a category column fails for one (stripped, non-blank) label."""
    op = check.op
    if op == "missing":
        return False
    if op == "present":
        return True
    if op == "in":
        return label in check.values
    if op == "not_in":
        return label not in check.values
    if op == "contains_any":
        return any(w in label for w in check.values)
    return not any(w in label for w in check.values)  # contains_none


def _missing_fails(check: Check) -> bool:
    return check.op == "missing" or check.when_missing == "fail"


def _label_table(check: Check, labels: tuple[str, ...]) -> np.ndarray:
    """Per code (labels, then the missing code −1 last): whether the check fails."""
    missing = _missing_fails(check)
    table = np.empty(len(labels) + 1, dtype=bool)
    for j, label in enumerate(labels):
        s = label.strip()
        table[j] = _label_hit(check, s) if s else missing
    table[-1] = missing
    return table


def _is_constant(values: np.ndarray) -> bool:
    return values.ndim == 1 and len(values) > 0 and values.strides == (0,)


Mask = np.ndarray | bool


def _mask(check: Check, stands: Stands, inputs: _Inputs) -> Mask:
    """Boolean fails-mask of one check (a Python bool when the same for every row)."""
    op = check.op
    if op in ("all", "any"):
        return _combine(op, [_mask(c, stands, inputs) for c in check.checks])
    if op == REGISTERED:
        if inputs.registered is None:
            return check.when_missing == "fail"
        return inputs.registered
    column = check.column
    assert column is not None
    if column in NUMBER_COLUMNS:
        values = stands.number(column)
        if _is_constant(values):
            return bool(_number_mask(check, values[:1], inputs.start_year)[0])
        return _number_mask(check, values, inputs.start_year)
    codes, labels = stands.category(column)
    table = _label_table(check, labels)
    if _is_constant(codes):
        return bool(table[codes[0]])
    return table[codes]


def _number_mask(check: Check, x: np.ndarray, start_year: float | None) -> np.ndarray:
    nan = np.isnan(x)
    if check.op == "missing":
        return nan
    if check.op == "present":
        return ~nan
    t = check.threshold(start_year)
    slack = TOLERANCE if check.column == "area_ha" else 0.0
    with np.errstate(invalid="ignore"):
        if check.op == "lt":
            hit = x < t - slack
        elif check.op == "le":
            hit = x <= t + slack
        elif check.op == "gt":
            hit = x > t + slack
        else:
            hit = x >= t - slack
    if check.when_missing == "fail":
        hit |= nan
    return hit


def _combine(op: str, masks: list[Mask]) -> Mask:
    arrays = [m for m in masks if isinstance(m, np.ndarray)]
    constants = [m for m in masks if not isinstance(m, np.ndarray)]
    if op == "all":
        if not all(constants):
            return False
        if not arrays:
            return True
        return np.logical_and.reduce(arrays) if len(arrays) > 1 else arrays[0]
    if any(constants):
        return True
    if not arrays:
        return False
    return np.logical_or.reduce(arrays) if len(arrays) > 1 else arrays[0]


def rule_bits(
    stands: Stands,
    rules: RuleSet,
    *,
    registered: Any = None,
    start_year: float | None = None,
) -> np.ndarray:
    """The uint64 reason bits alone (bit i = rule i failed), vectorized."""
    inputs = _inputs(len(stands), registered, start_year, None, None)
    return _bits(stands, rules, inputs)


def _bits(stands: Stands, rules: RuleSet, inputs: _Inputs) -> np.ndarray:
    n = len(stands)
    # Single checks on a category column: one uint64 bit table per column, gathered once.
    tables: dict[str, np.ndarray] = {}
    others: list[tuple[int, Check]] = []
    for bit, rule in enumerate(rules.rules):
        check = rule.check
        if check.column in CATEGORY_COLUMNS and (
            check.op in CATEGORY_OPS or check.op in ("missing", "present")
        ):
            _codes, labels = stands.category(check.column)
            table = tables.setdefault(check.column, np.zeros(len(labels) + 1, dtype=np.uint64))
            table[_label_table(check, labels)] |= _ONE << np.uint64(bit)
        else:
            others.append((bit, check))
    reasons: np.ndarray | None = None
    for column, table in tables.items():
        codes, _labels = stands.category(column)
        if _is_constant(codes):
            gathered = np.full(n, table[codes[0]], dtype=np.uint64)
        else:
            gathered = table[codes]
        if reasons is None:
            reasons = gathered
        else:
            reasons |= gathered
    if reasons is None:
        reasons = np.zeros(n, dtype=np.uint64)
    for bit, check in others:
        mask = _mask(check, stands, inputs)
        if isinstance(mask, np.ndarray):
            shifted = mask.astype(np.uint64)
            shifted <<= np.uint64(bit)
            reasons |= shifted
        elif mask:
            reasons |= _ONE << np.uint64(bit)
    return reasons


def _estimates(
    stands: Stands,
    params: ParameterSet,
    eligible: np.ndarray,
    growth: Any,
    horizon: float,
) -> tuple[np.ndarray, np.ndarray]:
    group = k.group_index(stands, params)
    area = stands.number("area_ha")
    by_rate = k.area_mu(area) * k.per_group(params.values[RATE], group)
    source = np.where(np.isfinite(by_rate), ESTIMATE_RATE, ESTIMATE_NONE).astype(np.int8)
    estimate = by_rate
    if growth is not None:
        factor = k.per_group(params.tco2e_per_m3(), group)
        age = stands.number("age_years")
        volume = stands.number("volume_m3_per_ha")
        with np.errstate(invalid="ignore"):
            candidate = eligible & (group >= 0) & (age > 0) & (volume > 0) & np.isfinite(factor)
        rows = np.flatnonzero(candidate)
        if rows.size:
            v0 = volume[rows]
            v1 = np.asarray(
                growth.project(group[rows], age[rows], v0, age[rows] + horizon), dtype=np.float64
            )
            mai = (v1 - v0) / horizon
            by_growth = mai * area[rows] * factor[rows]
            ok = np.isfinite(by_growth)
            estimate = by_rate.copy()
            estimate[rows[ok]] = by_growth[ok]
            source[rows[ok]] = ESTIMATE_GROWTH
    expected = np.where(eligible, estimate, 0.0)
    source = np.where(eligible, source, ESTIMATE_NONE).astype(np.int8)
    return expected, source


def screen(
    stands: Stands,
    rules: RuleSet,
    params: ParameterSet,
    *,
    registered: Any = None,
    start_year: float | None = None,
    crediting_years: float | None = None,
    growth: Any = None,
    growth_years: float | None = None,
) -> Screening:
    """Screen every sub-compartment of ``stands`` against ``rules`` (vectorized).

    ``registered``: boolean per row, True where the sub-compartment is already registered or
    issued under another scheme for an overlapping period (None: not known — such rules are then
    reported in ``unchecked`` and decided by their ``when_missing``). ``start_year``: the project
    start, for thresholds that depend on it (unknown: the current rule). ``crediting_years``: for
    tonnes over the crediting period. ``growth``/``growth_years``: see the module notes.
    InputError when an option is invalid.
    """
    inputs = _inputs(len(stands), registered, start_year, crediting_years, growth_years)
    reasons = _bits(stands, rules, inputs)
    eligible = reasons == 0
    expected, source = _estimates(stands, params, eligible, growth, inputs.growth_years)
    return _result(stands, rules, params, inputs, reasons, eligible, expected, source, growth)


def _result(
    stands: Stands,
    rules: RuleSet,
    params: ParameterSet,
    inputs: _Inputs,
    reasons: np.ndarray,
    eligible: np.ndarray,
    expected: np.ndarray,
    source: np.ndarray,
    growth: Any,
) -> Screening:
    describe = getattr(growth, "describe", None)
    return Screening(
        rules=rules,
        stands=stands,
        reasons=reasons,
        eligible=eligible,
        area_ha=stands.number("area_ha"),
        expected_tco2e_per_yr=expected,
        estimate_source=source,
        start_year=inputs.start_year,
        crediting_years=inputs.crediting_years,
        growth_years=inputs.growth_years if growth is not None else None,
        unchecked=_unchecked(rules, inputs.registered),
        params=params.describe(),
        growth=None if growth is None else (describe() if callable(describe) else {}),
    )


# ------------------------------------------------------------------------------------ naive


def _row(stands: Stands, i: int, columns: Sequence[str]) -> dict[str, Any]:
    """Row ``i`` as a dict: stripped label or None; float or None."""
    row: dict[str, Any] = {}
    for name in columns:
        if name in NUMBER_COLUMNS:
            values = stands.numbers.get(name)
            x = math.nan if values is None else float(values[i])
            row[name] = None if math.isnan(x) else x
        else:
            codes = stands.codes.get(name)
            code = -1 if codes is None else int(codes[i])
            label = "" if code < 0 else stands.labels[name][code].strip()
            row[name] = label or None
    return row


def _naive_threshold(check: Check, start_year: float | None) -> float:
    value = check.value
    if start_year is not None:
        for until, v in sorted(check.by_start_year):
            if start_year <= until:
                value = v
                break
    assert value is not None
    divisor = AREA_UNITS[check.unit or "ha"] if check.column == "area_ha" else 1.0
    return value / divisor


def _naive_fails(
    check: Check, row: dict[str, Any], registered: bool | None, start_year: float | None
) -> bool:
    op = check.op
    if op == "all":
        return all(_naive_fails(c, row, registered, start_year) for c in check.checks)
    if op == "any":
        return any(_naive_fails(c, row, registered, start_year) for c in check.checks)
    if op == REGISTERED:
        return check.when_missing == "fail" if registered is None else registered
    value = row[check.column]  # type: ignore[index]
    if op == "missing":
        return value is None
    if op == "present":
        return value is not None
    if value is None:
        return check.when_missing == "fail"
    if op in NUMBER_OPS:
        t = _naive_threshold(check, start_year)
        eps = TOLERANCE if check.column == "area_ha" else 0.0
        if op == "lt":
            return value < t - eps
        if op == "le":
            return value <= t + eps
        if op == "gt":
            return value > t + eps
        return value >= t - eps
    words = set(check.values)
    if op == "in":
        return value in words
    if op == "not_in":
        return value not in words
    found = any(word in value for word in words)
    return found if op == "contains_any" else not found


def screen_naive(
    stands: Stands,
    rules: RuleSet,
    params: ParameterSet,
    *,
    registered: Any = None,
    start_year: float | None = None,
    crediting_years: float | None = None,
    growth: Any = None,
    growth_years: float | None = None,
) -> Screening:
    """The per-row reference of :func:`screen`: same arguments, same result, a Python loop."""
    n = len(stands)
    inputs = _inputs(n, registered, start_year, crediting_years, growth_years)
    columns = [*rules.columns(), "area_ha", "age_years", "volume_m3_per_ha"]
    reasons = np.zeros(n, dtype=np.uint64)
    expected = np.zeros(n, dtype=np.float64)
    source = np.zeros(n, dtype=np.int8)
    for i in range(n):
        row = _row(stands, i, columns)
        reg = None if inputs.registered is None else bool(inputs.registered[i])
        bits = 0
        for b, rule in enumerate(rules.rules):
            if _naive_fails(rule.check, row, reg, inputs.start_year):
                bits |= 1 << b
        reasons[i] = bits
        if bits:
            continue
        estimate, route = _naive_estimate(stands, params, i, row, growth, inputs.growth_years)
        expected[i] = estimate
        source[i] = route
    eligible = reasons == 0
    return _result(stands, rules, params, inputs, reasons, eligible, expected, source, growth)


def _naive_estimate(
    stands: Stands,
    params: ParameterSet,
    i: int,
    row: dict[str, Any],
    growth: Any,
    horizon: float,
) -> tuple[float, int]:
    group = k.row_group(stands, params, i)
    area = math.nan if row["area_ha"] is None else row["area_ha"]
    rate = k.row_value(params, RATE, group)
    estimate, route = area * k.MU_PER_HA * rate, ESTIMATE_RATE
    if math.isnan(estimate):
        estimate, route = math.nan, ESTIMATE_NONE
    age, volume = row["age_years"], row["volume_m3_per_ha"]
    factor = k.row_factor(params, group)
    if (
        growth is not None
        and group >= 0
        and age is not None
        and age > 0
        and volume is not None
        and volume > 0
        and math.isfinite(factor)
    ):
        v1 = float(
            growth.project(
                np.array([group]), np.array([age]), np.array([volume]), np.array([age + horizon])
            )[0]
        )
        by_growth = (v1 - volume) / horizon * area * factor
        if math.isfinite(by_growth):
            return by_growth, ESTIMATE_GROWTH
    return estimate, route


# ------------------------------------------------------------------------------------ examples


def stands_from_rows(rows: Sequence[Mapping[str, Any]]) -> Stands:
    """A :class:`Stands` from plain dicts of canonical columns (tests, examples, small tables).

    Number columns: numbers, NaN or None for missing. Category columns: labels; ``""`` or None
    is a missing code (−1); any other label, even a blank one, is coded as written. Keys that are
    not canonical columns (``registered``, ``start_year`` …) are ignored.
    """
    names = [c for c in (*NUMBER_COLUMNS, *CATEGORY_COLUMNS) if any(c in r for r in rows)]
    numbers: dict[str, np.ndarray] = {}
    codes: dict[str, np.ndarray] = {}
    labels: dict[str, tuple[str, ...]] = {}
    for name in names:
        values = [r.get(name) for r in rows]
        if name in NUMBER_COLUMNS:
            numbers[name] = np.array(
                [math.nan if v is None else float(v) for v in values], dtype=np.float64
            )
            continue
        seen: dict[str, int] = {}
        for v in values:
            if v not in (None, ""):
                seen.setdefault(str(v), len(seen))
        codes[name] = np.array(
            [-1 if v in (None, "") else seen[str(v)] for v in values], dtype=np.int32
        )
        labels[name] = tuple(seen)
    if "area_ha" not in numbers:
        numbers["area_ha"] = np.full(len(rows), math.nan)
    return Stands(numbers, codes, labels)


def example_problems(rules: RuleSet) -> list[Problem]:
    """Check the rule set's examples: ``[example]`` passes every rule; each rule's ``pass``
    fragments (over the example) do not fail that rule and its ``fail`` fragments do. Returns the
    problems (empty when all behave)."""
    problems: list[Problem] = []

    def bits_of(row: Mapping[str, Any]) -> int:
        stands = stands_from_rows([row])
        registered = np.array([bool(row.get("registered", False))])
        start = row.get("start_year")
        start = None if start is None or math.isnan(start) else start
        return int(rule_bits(stands, rules, registered=registered, start_year=start)[0])

    base = bits_of(rules.example)
    if base:
        failed = [r.id for b, r in enumerate(rules.rules) if base >> b & 1]
        problems.append(
            Problem(
                "example_not_eligible",
                f"[example] 应通过全部规则，但未通过：{', '.join(failed)}。",
                f"[example] must pass every rule but fails: {', '.join(failed)}.",
                column="example",
                value=", ".join(failed),
            )
        )
    for b, rule in enumerate(rules.rules):
        for kind in ("pass", "fail"):
            for j, fragment in enumerate(rule.examples.get(kind, ())):
                fails = bool(bits_of({**rules.example, **fragment}) >> b & 1)
                if fails == (kind == "fail"):
                    continue
                where = f"rules ({rule.id}).examples.{kind}[{j}]"
                problems.append(
                    Problem(
                        f"example_{kind}_misbehaves",
                        f"{where}：示例 {dict(fragment)} 应{'不' if kind == 'pass' else ''}"
                        f"触发规则 {rule.id}，实际{'触发了' if fails else '没有触发'}。",
                        f"{where}: example {dict(fragment)} should {'not ' if kind == 'pass' else ''}"
                        f"fail rule {rule.id}, but it {'does' if fails else 'does not'}.",
                        column=where,
                        value=str(dict(fragment)),
                    )
                )
    return problems


__all__ = [
    "BREAKDOWN_KEYS",
    "DEFAULT_GROWTH_YEARS",
    "ESTIMATE_GROWTH",
    "ESTIMATE_NAMES",
    "ESTIMATE_NONE",
    "ESTIMATE_RATE",
    "UNKNOWN_LABEL",
    "Screening",
    "example_problems",
    "rule_bits",
    "screen",
    "screen_naive",
    "stands_from_rows",
]
