"""The cost table of a carbon project: items, their unit kind, default amounts and sources.

The defaults ship in ``data/costs.toml``. They are **illustrative placeholders**: no published
schedule of development costs was found, so every item is tagged "to confirm" and users are
expected to replace the amounts with their own quotations. A user file (TOML with ``[[item]]``
tables, or CSV with a ``key`` column, UTF-8 or GBK) changes the fields it gives and may add items;
an amount of 0 switches an item off. Every problem of a file is reported at once
(:class:`CostTableError`), and a table carries a hash for provenance.

Unit kinds (``unit``) and when the feasibility model books them:

* ``per_project`` — yuan, once, in the first year;
* ``per_period`` — yuan at each verification;
* ``per_mu_per_period`` — yuan per 亩 of project area at each verification;
* ``per_mu_per_year`` — yuan per 亩 in every crediting year;
* ``share_of_revenue`` — a share in [0, 1) of each year's sales revenue;
* ``per_tonne`` — yuan per issued tonne in the year of issuance.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib.resources import files
from pathlib import Path
from typing import Any

from tanhui.errors import InventoryError, ParameterError, Problem
from tanhui.i18n import Lang, pick

UNIT_KINDS = (
    "per_project",
    "per_period",
    "per_mu_per_period",
    "per_mu_per_year",
    "share_of_revenue",
    "per_tonne",
)
UNIT_LABELS = {
    "per_project": ("元/项目", "yuan per project"),
    "per_period": ("元/监测期", "yuan per monitoring period"),
    "per_mu_per_period": ("元/亩·监测期", "yuan per 亩 per period"),
    "per_mu_per_year": ("元/亩·年", "yuan per 亩 per year"),
    "share_of_revenue": ("占收入比例", "share of revenue"),
    "per_tonne": ("元/吨", "yuan per tonne"),
}
ITEM_FIELDS = ("key", "name_zh", "name_en", "unit", "amount", "status", "source")
TABLE_FIELDS = ("name", "version", "currency", "status", "note_zh", "note_en")
CURRENCY = "yuan"


class CostTableError(ParameterError):
    """A cost table file was rejected; ``problems`` lists every reason (nothing was applied)."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        n = len(problems)
        super().__init__(
            f"成本表 {source} 有 {n} 个问题，未使用。",
            f"Cost table {source} has {n} problem(s); it was not used.",
            hint_zh="请按下列问题逐条修改后重试。默认成本表可用 `to_toml()` 导出作为模板。",
            hint_en="Fix each problem listed below and try again. Export the default table with "
            "`tanhui develop costs --export FILE` to start from a template.",
        )
        self.source = source
        self.problems = problems


@dataclass(frozen=True)
class CostItem:
    """One line of the cost table. ``amount`` is yuan, or a share in [0, 1) for
    ``share_of_revenue``."""

    key: str
    name_zh: str
    name_en: str
    unit: str
    amount: float
    status: str = "to confirm"
    source: str = ""

    def name(self, lang: Lang | None = None) -> str:
        return pick(self.name_zh, self.name_en, lang)

    def to_dict(self, lang: Lang | None = None) -> dict[str, Any]:
        zh, en = UNIT_LABELS[self.unit]
        return {
            "key": self.key,
            "name": self.name(lang),
            "name_zh": self.name_zh,
            "name_en": self.name_en,
            "unit": self.unit,
            "unit_label": pick(zh, en, lang),
            "amount": self.amount,
            "status": self.status,
            "source": self.source,
        }


@dataclass(frozen=True)
class CostTable:
    """The cost items of a project, in booking order, with the table's name and version."""

    name: str
    version: str
    items: tuple[CostItem, ...]
    currency: str = CURRENCY
    status: str = ""
    note_zh: str = ""
    note_en: str = ""
    overrides: tuple[str, ...] = field(default=())  # "key.field=value" applied on the defaults

    @property
    def hash(self) -> str:
        """sha256 of what changes a result: currency and each item's key, unit and amount."""
        body = [self.currency] + [
            [i.key, i.unit, _canonical(i.amount)] for i in self.items
        ]  # names and sources do not change a number
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def item(self, key: str) -> CostItem:
        for it in self.items:
            if it.key == key:
                return it
        raise ParameterError(
            f"成本表中没有“{key}”项。",
            f"The cost table has no item '{key}'.",
            hint_zh=f"现有项目：{', '.join(i.key for i in self.items)}。",
            hint_en=f"Items: {', '.join(i.key for i in self.items)}.",
        )

    def of_unit(self, unit: str) -> tuple[CostItem, ...]:
        return tuple(i for i in self.items if i.unit == unit)

    @property
    def revenue_share(self) -> float:
        """Sum of the ``share_of_revenue`` items."""
        return math.fsum(i.amount for i in self.of_unit("share_of_revenue"))

    def scaled(self, factor: float) -> CostTable:
        """Every amount (shares included) × ``factor``: the "cost" axis of a sensitivity table."""
        return replace(
            self,
            items=tuple(replace(i, amount=i.amount * factor) for i in self.items),
            overrides=(*self.overrides, f"*={factor!r}"),
        )

    def describe(self) -> dict[str, Any]:
        """What provenance records about this table."""
        return {
            "name": self.name,
            "version": self.version,
            "hash": self.hash,
            "overrides": list(self.overrides),
        }

    def to_dict(self, lang: Lang | None = None) -> dict[str, Any]:
        return {
            **self.describe(),
            "currency": self.currency,
            "status": self.status,
            "note": pick(self.note_zh, self.note_en, lang),
            "items": [i.to_dict(lang) for i in self.items],
        }

    def to_toml(self) -> str:
        """The table as TOML, in the format :func:`load_costs` reads (a template to edit)."""
        lines = ["[table]"]
        for name in TABLE_FIELDS:
            lines.append(f"{name} = {_toml_str(getattr(self, name))}")
        for it in self.items:
            lines += ["", "[[item]]"]
            for name in ITEM_FIELDS:
                value = getattr(it, name)
                text = repr(float(value)) if name == "amount" else _toml_str(value)
                lines.append(f"{name} = {text}")
        return "\n".join(lines) + "\n"

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(ITEM_FIELDS)
        for it in self.items:
            writer.writerow([_canonical(v) if k == "amount" else v for k, v in _fields(it)])
        return out.getvalue()


def _fields(item: CostItem) -> list[tuple[str, Any]]:
    return [(k, getattr(item, k)) for k in ITEM_FIELDS]


def _canonical(x: float) -> str:
    return repr(round(float(x), 12))


def _toml_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string


# --------------------------------------------------------------------------------------------
# Reading and validation
# --------------------------------------------------------------------------------------------


def _problem(code: str, zh: str, en: str, *, row: int | None, column: str, value: Any) -> Problem:
    return Problem(code, zh, en, row=row, column=column, value=value)


def _check_item_fields(
    raw: Mapping[str, Any], where: str, row: int | None, problems: list[Problem]
) -> dict[str, Any]:
    """The fields of one item as typed values; appends a problem for each bad field."""
    out: dict[str, Any] = {}
    for name, value in raw.items():
        column = f"{where}.{name}" if row is None else name
        if name not in ITEM_FIELDS:
            problems.append(
                _problem(
                    "unknown_field",
                    f"未知字段“{name}”（可用：{', '.join(ITEM_FIELDS)}）。",
                    f"Unknown field '{name}' (known: {', '.join(ITEM_FIELDS)}).",
                    row=row,
                    column=column,
                    value=value,
                )
            )
            continue
        if name == "amount":
            if isinstance(value, str):
                text = value.strip()
                if text == "":
                    continue  # an empty CSV cell keeps the default
                try:
                    value = float(text)
                except ValueError:
                    value = None
            if isinstance(value, bool) or not isinstance(value, int | float):
                problems.append(
                    _problem(
                        "not_a_number",
                        f"金额“{value}”不是数字。",
                        f"The amount '{value}' is not a number.",
                        row=row,
                        column=column,
                        value=value,
                    )
                )
                continue
            value = float(value)
            if not math.isfinite(value) or value < 0:
                problems.append(
                    _problem(
                        "negative_or_not_finite",
                        "金额必须是非负的有限数。",
                        "The amount must be a finite number ≥ 0.",
                        row=row,
                        column=column,
                        value=value,
                    )
                )
                continue
            out[name] = value
        else:
            if not isinstance(value, str):
                problems.append(
                    _problem(
                        "not_text",
                        f"字段“{name}”应为文本。",
                        f"The field '{name}' must be text.",
                        row=row,
                        column=column,
                        value=value,
                    )
                )
                continue
            value = value.strip()
            if name == "unit" and value and value not in UNIT_KINDS:
                problems.append(
                    _problem(
                        "unknown_unit",
                        f"未知的计费方式“{value}”（可用：{', '.join(UNIT_KINDS)}）。",
                        f"Unknown unit kind '{value}' (known: {', '.join(UNIT_KINDS)}).",
                        row=row,
                        column=column,
                        value=value,
                    )
                )
                continue
            if value or name == "key":
                out[name] = value
    return out


def _merge(
    base: CostTable, entries: list[tuple[int | None, str, Mapping[str, Any]]], source: str
) -> CostTable:
    """Apply user entries (row, where, fields) on ``base``; raise with every problem found."""
    problems: list[Problem] = []
    items = {i.key: i for i in base.items}
    order = [i.key for i in base.items]
    seen: dict[str, str] = {}
    overrides: list[str] = []
    for row, where, raw in entries:
        fields = _check_item_fields(raw, where, row, problems)
        key = fields.get("key", "")
        key_column = f"{where}.key" if row is None else "key"
        if not key:
            problems.append(
                _problem(
                    "missing_key",
                    "缺少项目键名（key）。",
                    "The item has no key.",
                    row=row,
                    column=key_column,
                    value=None,
                )
            )
            continue
        if key in seen:
            problems.append(
                _problem(
                    "duplicate_key",
                    f"项目“{key}”重复（首次出现在 {seen[key]}）。",
                    f"Item '{key}' appears twice (first at {seen[key]}).",
                    row=row,
                    column=key_column,
                    value=key,
                )
            )
            continue
        seen[key] = where
        current = items.get(key)
        if current is None:
            missing = [n for n in ("unit", "amount") if n not in fields]
            for name in missing:
                problems.append(
                    _problem(
                        "missing_field",
                        f"新项目“{key}”必须给出 {name}。",
                        f"The new item '{key}' needs a {name}.",
                        row=row,
                        column=f"{where}.{name}" if row is None else name,
                        value=None,
                    )
                )
            if missing:
                continue
            current = CostItem(
                key=key,
                name_zh=fields.get("name_zh", key),
                name_en=fields.get("name_en", key),
                unit=fields["unit"],
                amount=fields["amount"],
                status=fields.get("status", f"user file {source}"),
                source=fields.get("source", f"user file {source}"),
            )
            order.append(key)
        else:
            changes = {k: v for k, v in fields.items() if k != "key"}
            if "amount" in changes or "unit" in changes:
                changes.setdefault("status", f"user file {source}")
                changes.setdefault("source", f"user file {source}")
            current = replace(current, **changes)
        for name in ("unit", "amount"):
            if name in fields:
                overrides.append(f"{key}.{name}={fields[name]!r}")
        if current.unit == "share_of_revenue" and current.amount >= 1.0:
            problems.append(
                _problem(
                    "share_too_large",
                    f"“{key}”是收入比例，必须小于 1（例如 5% 写作 0.05）。",
                    f"'{key}' is a share of revenue and must be below 1 (write 5% as 0.05).",
                    row=row,
                    column=f"{where}.amount" if row is None else "amount",
                    value=current.amount,
                )
            )
        items[key] = current
    merged = tuple(items[k] for k in order)
    total_share = math.fsum(i.amount for i in merged if i.unit == "share_of_revenue")
    if total_share >= 1.0 and not any(p.code == "share_too_large" for p in problems):
        problems.append(
            _problem(
                "shares_exceed_revenue",
                f"各项收入比例之和为 {total_share:g}，不小于 1：收入将被全部分走。",
                f"The shares of revenue add up to {total_share:g} ≥ 1: nothing would be left.",
                row=None,
                column="amount",
                value=total_share,
            )
        )
    if problems:
        raise CostTableError(source, problems)
    return replace(
        base,
        name=f"{base.name}+{source}",
        items=merged,
        status=f"{base.status}; edited by {source}",
        overrides=tuple(overrides),
    )


def _parse_toml(text: str, source: str) -> list[tuple[int | None, str, Mapping[str, Any]]]:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CostTableError(
            source,
            [
                _problem(
                    "toml_syntax",
                    f"TOML 语法错误：{exc}",
                    f"TOML syntax error: {exc}",
                    row=None,
                    column="",
                    value=None,
                )
            ],
        ) from None
    problems: list[Problem] = []
    table = doc.get("table", {})
    for name in set(doc) - {"table", "item"}:
        problems.append(
            _problem(
                "unknown_section",
                f"未知的节“{name}”（可用：[table]、[[item]]）。",
                f"Unknown section '{name}' (known: [table], [[item]]).",
                row=None,
                column=name,
                value=None,
            )
        )
    if isinstance(table, dict):
        currency = table.get("currency", CURRENCY)
        if currency != CURRENCY:
            problems.append(
                _problem(
                    "currency",
                    f"货币必须为 yuan（元），而不是“{currency}”。",
                    f"The currency must be yuan, not '{currency}'.",
                    row=None,
                    column="table.currency",
                    value=currency,
                )
            )
    raw_items = doc.get("item", [])
    if not isinstance(raw_items, list) or not all(isinstance(i, dict) for i in raw_items):
        problems.append(
            _problem(
                "item_not_table",
                "成本项应写作 [[item]] 表。",
                "Cost items must be [[item]] tables.",
                row=None,
                column="item",
                value=None,
            )
        )
        raw_items = []
    if problems:
        raise CostTableError(source, problems)
    return [(None, f"item[{n}]", raw) for n, raw in enumerate(raw_items, start=1)]


def _parse_csv(text: str, source: str) -> list[tuple[int | None, str, Mapping[str, Any]]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if "key" not in header:
        raise CostTableError(
            source,
            [
                _problem(
                    "missing_column",
                    f"缺少 key 列（第一行应为列名：{', '.join(ITEM_FIELDS)}）。",
                    f"No 'key' column (the first line must name the columns: "
                    f"{', '.join(ITEM_FIELDS)}).",
                    row=1,
                    column="key",
                    value=None,
                )
            ],
        )
    entries: list[tuple[int | None, str, Mapping[str, Any]]] = []
    for line, row in enumerate(reader, start=2):
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue
        fields = {
            (k or "").strip(): (v if isinstance(v, str) else ",".join(v or []))
            for k, v in row.items()
        }
        # Empty text cells keep the default (like an empty amount): only the given fields change.
        fields = {k: v for k, v in fields.items() if k == "key" or k == "amount" or v.strip()}
        entries.append((line, f"line {line}", fields))
    return entries


def default_costs() -> CostTable:
    """The cost table shipped with tanhui (illustrative defaults, every item "to confirm")."""
    text = files("tanhui.develop").joinpath("data/costs.toml").read_text("utf-8")
    doc = tomllib.loads(text)
    meta = doc["table"]
    empty = CostTable(
        name=meta["name"],
        version=meta["version"],
        items=(),
        currency=meta.get("currency", CURRENCY),
        status=meta.get("status", ""),
        note_zh=meta.get("note_zh", ""),
        note_en=meta.get("note_en", ""),
    )
    table = _merge(empty, [(None, f"item[{n}]", r) for n, r in enumerate(doc["item"], 1)], "")
    return replace(table, name=empty.name, status=empty.status, overrides=())


def load_costs(path: str | Path | None = None) -> CostTable:
    """The default table, with a user file (``.toml`` or ``.csv``) applied on top when given."""
    base = default_costs()
    if path is None:
        return base
    path = Path(path)
    source = path.name
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CostTableError(
            str(path),
            [
                _problem(
                    "file_not_found",
                    "找不到文件，请检查路径。",
                    "File not found; check the path.",
                    row=None,
                    column="",
                    value=str(path),
                )
            ],
        ) from None
    from tanhui.inventory.encoding import decode_bytes  # the shared UTF-8 / GBK detection

    try:
        text, _encoding = decode_bytes(data, source)
    except InventoryError as exc:
        raise CostTableError(source, exc.problems) from None
    if path.suffix.lower() == ".csv":
        entries = _parse_csv(text, source)
    elif path.suffix.lower() == ".toml":
        entries = _parse_toml(text, source)
    else:
        raise CostTableError(
            source,
            [
                _problem(
                    "unknown_format",
                    "成本表应为 .toml 或 .csv 文件。",
                    "A cost table must be a .toml or .csv file.",
                    row=None,
                    column="",
                    value=path.suffix,
                )
            ],
        )
    return _merge(base, entries, source)


def costs_from_mapping(
    items: Mapping[str, Mapping[str, Any]], *, source: str = "input"
) -> CostTable:
    """The default table with ``{key: {field: value}}`` applied (for the API and tests)."""
    entries = [(None, f"item[{k}]", {"key": k, **dict(v)}) for k, v in items.items()]
    return _merge(default_costs(), entries, source)
