"""Map what counties write to the canonical schema: column headers, species and category values.

Three tables ship as package data (``data/*.csv``, UTF-8):

* ``column_aliases.csv`` — ``alias → canonical column, unit, fallback``. Units say how to convert:
  ``bare`` (a bare 面积: hectares unless the caller says ``area_unit="mu"``), ``ha``, ``mu``, ``m2``
  for areas; ``m3/ha``, ``m3/mu`` and ``m3`` (whole-stand volume, divided by the area) for volumes;
  ``%`` for shares given in percent. A *fallback* alias is only used when no primary alias of the
  same canonical column is in the file (小班蓄积 when there is no 每公顷蓄积, 林地所有权 when there is
  no 林木所有权); otherwise it is ignored.
* ``species_aliases.csv`` — raw species name → species group (杉 → 杉木, 尾巨桉 → 桉树 …).
* ``category_aliases.csv`` — spellings and codes of categorical values (幼/1 → 幼龄林, 飞播 → 人工).

Besides the file, every canonical column answers to its own name and its Chinese label from the
schema, and every Chinese alias also answers to its Shapefile form: DBF field names hold at most 10
bytes, so 每公顷蓄积量 becomes 每公顷蓄积 in GBK and 每公顷 (plus a broken byte) in UTF-8. Those
truncations are generated here from the full aliases; a truncation that two different meanings
share (小班面积(亩) and 小班面积(公顷) both give 小班面积( in GBK) is dropped, never guessed.

Headers are compared after :func:`normalize_header` (NFKC — full-width （）and ２ become () and 2 —,
all whitespace removed, ASCII lower-cased); a header ``base(unit)`` whose base is a known area or
volume alias takes its unit from the brackets (面积(单位:亩), 每公顷蓄积(m3/hm2) …).
"""

from __future__ import annotations

import csv
import unicodedata
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files

from tanhui.errors import Problem
from tanhui.inventory import schema

DBF_NAME_BYTES = 10
UNITS = frozenset({"", "bare", "ha", "mu", "m2", "m3/ha", "m3/mu", "m3", "%"})
# Canonical unit of each column that has one; aliases without a unit are read in it.
CANONICAL_UNIT = {"area_ha": "ha", "volume_m3_per_ha": "m3/ha"}
_AREA_UNITS = frozenset({"bare", "ha", "mu", "m2"})
_VOLUME_UNITS = frozenset({"m3/ha", "m3/mu", "m3"})

_BRACKETS = str.maketrans({"[": "(", "]": ")", "【": "(", "】": ")", "〔": "(", "〕": ")"})
_INVISIBLE = str.maketrans({"\ufeff": None, "\u200b": None, "\ufffd": None})

# Unit words seen in brackets after a header, normalized, → unit.
_UNIT_WORDS = {
    "亩": "mu",
    "mu": "mu",
    "公顷": "ha",
    "hm2": "ha",
    "ha": "ha",
    "平方米": "m2",
    "m2": "m2",
    "m3/hm2": "m3/ha",
    "m3/ha": "m3/ha",
    "立方米/公顷": "m3/ha",
    "m3/亩": "m3/mu",
    "立方米/亩": "m3/mu",
    "m3": "m3",
    "立方米": "m3",
    "年": "",
    "a": "",
    "岁": "",
    "%": "%",
}


def normalize_header(text: object) -> str:
    """The lookup key of a header: NFKC, unified brackets, no whitespace, lower-case."""
    s = unicodedata.normalize("NFKC", str(text)).translate(_BRACKETS).translate(_INVISIBLE)
    return "".join(s.split()).lower()


def normalize_value(text: str) -> str:
    """The lookup key of a categorical or species value (same rules as headers)."""
    return normalize_header(text)


@dataclass(frozen=True)
class Alias:
    """What a header means: the canonical column, the unit of its values, whether a fallback."""

    canonical: str
    unit: str = ""
    fallback: bool = False


@cache
def _data_rows(name: str) -> tuple[dict[str, str], ...]:
    text = files("tanhui.inventory").joinpath(f"data/{name}").read_text("utf-8")
    return tuple(csv.DictReader(text.splitlines()))


def _truncations(raw: str) -> set[str]:
    """The forms a header takes as a 10-byte DBF field name, in GBK and in UTF-8."""
    variants = {raw, raw.replace("(", "（").replace(")", "）")}
    out: set[str] = set()
    for form in variants:
        for codec in ("gbk", "utf-8"):
            try:
                data = form.encode(codec)
            except UnicodeEncodeError:
                continue
            if len(data) > DBF_NAME_BYTES:
                out.add(data[:DBF_NAME_BYTES].decode(codec, errors="ignore"))
    return out


@dataclass(frozen=True)
class AliasTable:
    """All header keys: ``full`` from the data file and the schema, ``truncated`` generated."""

    full: dict[str, Alias]
    truncated: dict[str, Alias]
    dropped_truncations: frozenset[str] = field(default_factory=frozenset)

    def get(self, key: str) -> Alias | None:
        return self.full.get(key) or self.truncated.get(key)


@cache
def alias_table() -> AliasTable:
    """Load ``column_aliases.csv`` and generate the schema and DBF-truncated aliases."""
    full: dict[str, Alias] = {}
    raw_forms: list[tuple[str, Alias]] = []

    def add(raw: str, alias: Alias) -> None:
        if alias.canonical not in schema.BY_NAME:
            raise ValueError(f"column_aliases.csv: unknown canonical column {alias.canonical!r}")
        if alias.unit not in UNITS:
            raise ValueError(f"column_aliases.csv: unknown unit {alias.unit!r} for {raw!r}")
        key = normalize_header(raw)
        if key in full and full[key] != alias:
            raise ValueError(f"column_aliases.csv: {raw!r} means both {full[key]} and {alias}")
        full[key] = alias
        raw_forms.append((raw, alias))

    for column in schema.COLUMNS:
        unit = CANONICAL_UNIT.get(column.name, "")
        add(column.name, Alias(column.name, unit))
        add(column.zh, Alias(column.name, unit))
    for row in _data_rows("column_aliases.csv"):
        unit = row["unit"].strip() or CANONICAL_UNIT.get(row["canonical"].strip(), "")
        add(row["alias"], Alias(row["canonical"].strip(), unit, row["fallback"].strip() != ""))

    candidates: dict[str, set[Alias]] = {}
    for raw, alias in raw_forms:
        if raw.isascii():
            continue
        for short in _truncations(raw):
            key = normalize_header(short)
            if key and key not in full:
                candidates.setdefault(key, set()).add(alias)
    truncated: dict[str, Alias] = {}
    dropped: set[str] = set()
    for key, meanings in candidates.items():
        if len(meanings) == 1:
            truncated[key] = next(iter(meanings))
        elif {m.canonical for m in meanings} == {"species", "species_group"}:
            # 优势树种 and 优势树种组 both become 优势树 in UTF-8. Reading it as the species is safe:
            # a group name is also a species alias of itself.
            truncated[key] = Alias("species")
        else:
            dropped.add(key)
    return AliasTable(full, truncated, frozenset(dropped))


def lookup(header: object) -> Alias | None:
    """What a file header means, or ``None`` for a column tanhui does not use."""
    key = normalize_header(header)
    if not key:
        return None
    table = alias_table()
    found = table.get(key)
    if found is not None:
        return found
    return _lookup_with_unit(key, table)


def _lookup_with_unit(key: str, table: AliasTable) -> Alias | None:
    """``base(unit)``: a known base alias with its unit in brackets (面积(单位:亩) …)."""
    if not key.endswith(")") or "(" not in key:
        return None
    cut = key.rindex("(")
    base, word = key[:cut], key[cut + 1 : -1]
    for prefix in ("单位:", "单位", "unit:"):
        word = word.removeprefix(prefix)
    unit = _UNIT_WORDS.get(word)
    alias = table.get(base)
    if unit is None or alias is None:
        return None
    if alias.unit in _AREA_UNITS and unit in {"ha", "mu", "m2"}:
        return Alias(alias.canonical, unit, alias.fallback)
    if alias.unit in _VOLUME_UNITS and unit in _VOLUME_UNITS:
        if unit == "m3" and alias.unit != "m3":
            return alias  # 每公顷蓄积(m3): the base already says per hectare
        return Alias(alias.canonical, unit, alias.fallback and unit == "m3")
    if unit == "%" and alias.canonical == "disturbance_share":
        return Alias(alias.canonical, "%", alias.fallback)
    if unit == "" and alias.unit == "":
        return alias
    return None


@dataclass(frozen=True)
class Source:
    """One file column that feeds a canonical column: its header, position and unit."""

    header: str
    index: int
    unit: str


@dataclass
class ColumnPlan:
    """Which file columns feed which canonical column, and what is left over."""

    sources: dict[str, list[Source]]
    ignored: list[str]
    id_parts: list[Source] | None  # None: id_columns not given; []: a named column is missing
    problems: list[Problem]

    def headers_needed(self) -> set[int]:
        used = {s.index for group in self.sources.values() for s in group}
        used.update(s.index for s in self.id_parts or ())
        return used


def plan_columns(
    headers: Sequence[str],
    *,
    area_unit: str | None = None,
    id_columns: Sequence[str] | None = None,
) -> ColumnPlan:
    """Map file headers to canonical columns.

    ``area_unit`` gives the unit of a *bare* area header (面积, 小班面积, MIAN_JI, area).
    ``id_columns`` names the file columns whose values, joined with ``-``, make the
    sub-compartment id (e.g. 村, 林班号, 小班号); each name is matched to a header exactly (after
    normalization), or else through its alias (林班号 finds a 林班 column).
    """
    primary: dict[str, list[Source]] = {}
    fallback: dict[str, list[Source]] = {}
    unknown: list[str] = []
    for index, header in enumerate(headers):
        alias = lookup(header)
        if alias is None:
            if normalize_header(header):
                unknown.append(header)
            continue
        unit = alias.unit
        if unit == "bare":
            unit = area_unit or "ha"
        target = fallback if alias.fallback else primary
        target.setdefault(alias.canonical, []).append(Source(header, index, unit))
    sources = dict(primary)
    ignored = list(unknown)
    for canonical, group in fallback.items():
        if canonical in sources:
            ignored.extend(s.header for s in group)
        else:
            sources[canonical] = group
    problems: list[Problem] = []
    id_parts: list[Source] | None = None
    if id_columns:
        id_parts = []
        for name in id_columns:
            found = _find_id_part(name, headers, sources)
            if found is None:
                problems.append(_missing_id_part(name, headers))
            else:
                id_parts.append(found)
        if len(id_parts) != len(id_columns):
            id_parts = []
    ordered = {c.name: sources[c.name] for c in schema.COLUMNS if c.name in sources}
    return ColumnPlan(ordered, ignored, id_parts, problems)


def _find_id_part(
    name: str, headers: Sequence[str], sources: dict[str, list[Source]]
) -> Source | None:
    key = normalize_header(name)
    for index, header in enumerate(headers):
        if normalize_header(header) == key:
            return Source(header, index, "")
    alias = lookup(name)
    if alias is not None and alias.canonical in sources:
        first = sources[alias.canonical][0]
        return Source(first.header, first.index, "")
    return None


def _missing_id_part(name: str, headers: Sequence[str]) -> Problem:
    shown = "、".join(h for h in headers if normalize_header(h))[:300]
    return Problem(
        "missing_column",
        f"找不到用于组成小班号的列“{name}”。文件中的列：{shown}。请检查 id_columns 中的列名。",
        f"Column '{name}' (named in id_columns to build the sub-compartment id) is not in the "
        f"file. Columns found: {shown}. Check the names given in id_columns.",
        column=name,
    )


def accepted_headers(canonical: str, limit: int = 8) -> list[str]:
    """A few headers users can give a canonical column, for messages."""
    names = [
        row["alias"]
        for row in _data_rows("column_aliases.csv")
        if row["canonical"] == canonical and not row["fallback"]
    ]
    column = schema.BY_NAME[canonical]
    return list(dict.fromkeys([column.zh, *names, column.name]))[:limit]


# --- species and categorical values -------------------------------------------------------------


@cache
def species_table() -> dict[str, str]:
    """Normalized raw species name → species group."""
    table: dict[str, str] = {}
    for row in _data_rows("species_aliases.csv"):
        key = normalize_value(row["alias"])
        group = row["group"].strip()
        if table.get(key, group) != group:
            raise ValueError(f"species_aliases.csv: {row['alias']!r} maps to two groups")
        table[key] = group
    return table


def species_group_of(value: str, known_groups: Collection[str]) -> str | None:
    """The species group of a raw species (or group) name; ``None`` when unknown.

    A value that is itself a known group wins (so a group added by a user parameter file is
    found); then the alias table; then the same without a trailing 林 (杉木林 → 杉木).
    """
    text = value.strip()
    if text in known_groups:
        return text
    table = species_table()
    key = normalize_value(text)
    for candidate in (key, key.removesuffix("林")):
        group = table.get(candidate)
        if group is not None:
            return group if group in known_groups else None
        for known in known_groups:
            if normalize_value(known) == candidate:
                return known
    return None


@cache
def category_table(column: str) -> dict[str, str]:
    """Normalized spelling → standard label, for one categorical column."""
    return {
        normalize_value(row["alias"]): row["label"].strip()
        for row in _data_rows("category_aliases.csv")
        if row["column"] == column
    }


# Categorical columns whose values must be recognized; the others keep unknown values as written.
STRICT_CATEGORIES: tuple[str, ...] = ("age_class", "origin", "forest_category")
STANDARD_LABELS: dict[str, tuple[str, ...]] = {
    "age_class": schema.AGE_CLASSES,
    "origin": schema.ORIGINS,
    "forest_category": schema.FOREST_CATEGORIES,
    "forest_type": schema.FOREST_TYPES,
}


def normalize_category(column: str, values: Iterable[str]) -> list[str | None]:
    """Standard labels for ``values``; for strict columns ``None`` marks an unknown value."""
    table = category_table(column)
    strict = column in STRICT_CATEGORIES
    out: list[str | None] = []
    for value in values:
        label = table.get(normalize_value(value))
        if label is None and not strict:
            label = value.strip()
        out.append(label)
    return out
