"""Eligibility rule sets: one TOML file per scheme, versioned, every rule with its source.

The shipped sets live in ``rules/<scheme>.toml`` beside this module (package data):
``smcer``, ``ccer-afforestation``, ``forest-management``, ``stop-logging``, ``guizhou-ticket``.
:func:`load_scheme` reads one; :func:`load_rule_file` reads a user's file that **replaces** a set
(no ``extends`` key) or **extends** one (``extends = "<scheme>"``). Every problem of a file is
collected and raised at once as :class:`RuleError` (a :class:`~tanhui.errors.ParameterError`).

File format (TOML)::

    scheme = "ccer-afforestation"        # id, lower-case kebab
    version = "2026.1"
    title_zh = "…"                        # and title_en
    methodology = "ccer-afforestation"   # the `tanhui measure` method it pairs with
    source = "CCER-14-001-V01 … [V]"
    notes = [{ zh = "…", en = "…" }]     # optional: conditions no inventory column can show, …

    [example]                            # a sub-compartment that passes every rule
    area_ha = 2.0
    tenure = "集体"

    [[rules]]                            # order = bit order (bit i = rule i failed), ≤ 64 rules
    id = "parcel_too_small"              # snake_case reason code
    zh = "…"                             # the reason shown when a row FAILS, and en
    source = "…"
    status = "verified"                  # "verified" | "to confirm" | "inference"
    [rules.check]                        # or inline: check = { op = "missing", column = … }
    op = "lt"
    column = "area_ha"
    value = 400
    unit = "m2"
    by_start_year = [{ until = 2019, value = 667 }]
    when_missing = "pass"
    [rules.examples]                     # fragments laid over [example]; a table or a list
    pass = { area_ha = 0.04 }
    fail = [{ area_ha = 0.039 }, { area_ha = 0.06, start_year = 2019 }]

Example rows hold canonical columns (a category ``""`` or a number ``nan`` is missing) and two
extra keys: ``registered`` (true: the id is registered elsewhere) and ``start_year``.

An extending file has ``extends``, optionally ``version``, titles, ``source``, ``methodology``,
``notes`` (appended) and ``example`` (merged), ``remove = ["rule_id", …]``, and ``[[rules]]``:
a rule with an existing id replaces it in place, a new id is appended.

Check vocabulary — a check says when a row **fails** the rule:

==========================  ======================================================================
``missing`` / ``present``   the column's value is missing (NaN; a category code −1 or a blank
                            label) / is not
``in`` / ``not_in``         category label (stripped) equals / equals none of ``values``
``contains_any``            category label contains one of ``values`` (substrings)
``contains_none``           category label contains none of ``values``
``lt`` ``le`` ``gt`` ``ge`` number column compared with ``value``, in ``unit``; area accepts
                            ``ha``, ``m2`` (m², 平方米) and ``mu`` (亩), others their schema unit.
                            ``by_start_year = [{until = Y, value = v}, …]``: for a project starting
                            in or before Y use v (the first entry, by ``until``, that applies); an
                            unknown start year uses ``value``. Area comparisons allow
                            :data:`TOLERANCE` ha (as ccer_afforestation does), so a parcel typed
                            as exactly 0.04 ha is not "< 400 m²"; other numbers compare exactly
``registered_elsewhere``    the sub-compartment id is in the set the caller supplied: ids already
                            registered or issued under another scheme for an overlapping period
``all`` / ``any``           ``checks = [ … ]``: every / at least one sub-check fails
==========================  ======================================================================

``values_from = "ccer_afforestation.FOREST_LAND"`` takes a value list from the code instead of the
file (see :data:`VALUE_LISTS`), so the rules agree with the measurement methods by construction.

Missing data. Every value check (``in`` … ``ge``) must state ``when_missing``: ``"fail"`` (the
row fails this rule when the value is missing) or ``"pass"`` (it does not). For
``registered_elsewhere`` ``when_missing`` applies when the caller supplied no id set at all; the
result then lists the rule as not checked. The shipped sets use ``"pass"`` and give each
missing value a reason of its own (``land_history_unknown``, ``tenure_unknown`` …, a ``missing``
check), so a row is never passed silently for lack of data; the tests enforce this by blanking
each column in turn on the scheme's ``example``.

The content hash (:attr:`RuleSet.hash`) covers everything that decides or explains a result —
scheme, version, rules in order with their texts, sources and resolved checks — but not the
examples.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib.resources import files
from pathlib import Path
from typing import Any

from tanhui.errors import ParameterError, Problem
from tanhui.measure.methods import METHODS
from tanhui.measure.methods import ccer_afforestation as ccer

STATUSES = ("verified", "to confirm", "inference")
WHEN_MISSING = ("pass", "fail")
MAX_RULES = 64  # one bit each in a uint64
TOLERANCE = 1e-9  # ha, area comparisons only; equals ccer_afforestation.AREA_TOLERANCE_HA

CATEGORY_OPS = ("in", "not_in", "contains_any", "contains_none")
NUMBER_OPS = ("lt", "le", "gt", "ge")
PRESENCE_OPS = ("missing", "present")
GROUP_OPS = ("all", "any")
REGISTERED = "registered_elsewhere"
OPS = (*PRESENCE_OPS, *CATEGORY_OPS, *NUMBER_OPS, REGISTERED, *GROUP_OPS)

# Canonical columns a rule may read: name → unit (numbers) or None (categories). Mirrors
# tanhui.inventory.schema (a test checks it); not imported from there because importing the
# tanhui.inventory package pulls in pyarrow, and screening is pure NumPy.
NUMBER_COLUMNS: dict[str, str] = {
    "area_ha": "ha",
    "age_years": "a",
    "volume_m3_per_ha": "m3/ha",
    "nonforest_years": "a",
    "planting_year": "a",
    "survey_year": "a",
    "harvest_m3": "m3",
    "planned_harvest_m3": "m3",
    "disturbance_share": "1",
}
CATEGORY_COLUMNS: tuple[str, ...] = (
    "species_group",
    "species",
    "age_class",
    "origin",
    "forest_category",
    "forest_type",
    "land_type",
    "prior_land_type",
    "tenure",
    "owner",
    "county",
    "township",
    "village",
    "compartment",
)
# Units a threshold may be written in, per number column: unit → factor to the column's unit
# (applied as value / divisor, the same arithmetic ccer_afforestation uses for m² → ha).
AREA_UNITS: dict[str, float] = {"ha": 1.0, "公顷": 1.0, "m2": 10_000.0, "m²": 10_000.0}
AREA_UNITS.update({"平方米": 10_000.0, "mu": 15.0, "亩": 15.0})

# Value lists rules may take from the code (``values_from``).
VALUE_LISTS: dict[str, tuple[str, ...]] = {
    "ccer_afforestation.FOREST_LAND": tuple(sorted(ccer.FOREST_LAND)),
    "ccer_afforestation.ECONOMIC_WORDS": tuple(ccer.ECONOMIC_WORDS),
    "ccer_afforestation.URBAN_WORDS": tuple(ccer.URBAN_WORDS),
    "ccer_afforestation.TENURE_UNCLEAR_WORDS": tuple(ccer.TENURE_UNCLEAR_WORDS),
    "ccer_afforestation.WETLAND_WORDS": tuple(ccer.WETLAND_WORDS),
}
# Keys an example row may hold besides canonical columns.
EXAMPLE_KEYS = ("registered", "start_year")

_RULE_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_SCHEME_ID = re.compile(r"^[a-z][a-z0-9-]*$")
_TOP_KEYS = ("scheme", "version", "title_zh", "title_en", "methodology", "source", "notes")
_RULE_KEYS = ("id", "zh", "en", "source", "status", "check", "examples")


class RuleError(ParameterError):
    """A rule file is invalid; ``problems`` lists every problem (``column`` holds the path in the
    file, e.g. ``rules[3].check.op``)."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        n = len(problems)
        lines_zh = "\n".join(f"- {p.column or ''}: {p.reason_zh}" for p in problems)
        lines_en = "\n".join(f"- {p.column or ''}: {p.reason_en}" for p in problems)
        super().__init__(
            f"规则文件 {source} 有 {n} 个问题：\n{lines_zh}",
            f"Rule file {source} has {n} problem(s):\n{lines_en}",
            hint_zh="规则文件格式见 tanhui.develop.rules 的说明，或以内置规则文件为模板。",
            hint_en="See tanhui.develop.rules for the format, or start from a shipped rule file.",
        )
        self.source = source
        self.problems = problems


# ------------------------------------------------------------------------------------ the model


@dataclass(frozen=True)
class Check:
    """One node of a rule's check (see the module notes for the vocabulary).

    ``thresholds`` is the normalized form of ``value``/``unit``/``by_start_year``: ``(until,
    value in the column's unit)`` pairs sorted by ``until``, the default last with ``until`` =
    +inf. ``values`` are stripped labels (resolved from ``values_from`` when given).
    """

    op: str
    column: str | None = None
    values: tuple[str, ...] = ()
    values_from: str | None = None
    value: float | None = None
    unit: str | None = None
    by_start_year: tuple[tuple[float, float], ...] = ()
    thresholds: tuple[tuple[float, float], ...] = ()
    when_missing: str | None = None
    checks: tuple[Check, ...] = ()

    def threshold(self, start_year: float | None) -> float:
        """The threshold in the column's unit for a project starting in ``start_year``."""
        for until, value in self.thresholds:
            if start_year is not None and start_year <= until:
                return value
        return self.thresholds[-1][1]

    def columns(self) -> tuple[str, ...]:
        """Canonical columns this check reads, in order of first use."""
        out: list[str] = []
        if self.column is not None:
            out.append(self.column)
        for c in self.checks:
            out.extend(x for x in c.columns() if x not in out)
        return tuple(out)

    def text(self) -> str:
        """A one-line readable form, e.g. ``area_ha < 400 m2 (start ≤ 2019: 667)``."""
        op = self.op
        if op in GROUP_OPS:
            joiner = " and " if op == "all" else " or "
            return "(" + joiner.join(c.text() for c in self.checks) + ")"
        if op == REGISTERED:
            return f"id registered elsewhere [no id set: {self.when_missing}]"
        if op in PRESENCE_OPS:
            return f"{self.column} {op}"
        missing = f" [missing: {self.when_missing}]"
        if op in CATEGORY_OPS:
            shown = self.values_from or "[" + ", ".join(self.values) + "]"
            return f"{self.column} {op} {shown}{missing}"
        sign = {"lt": "<", "le": "≤", "gt": ">", "ge": "≥"}[op]
        steps = "".join(f" (start ≤ {u:g}: {v:g})" for u, v in self.by_start_year)
        return f"{self.column} {sign} {self.value:g} {self.unit}{steps}{missing}"

    def definition(self) -> dict[str, Any]:
        """The canonical (hashed) form."""
        out: dict[str, Any] = {"op": self.op}
        if self.column is not None:
            out["column"] = self.column
        if self.op in CATEGORY_OPS:
            out["values"] = list(self.values)
            if self.values_from:
                out["values_from"] = self.values_from
        if self.op in NUMBER_OPS:
            out["value"] = self.value
            out["unit"] = self.unit
            if self.by_start_year:
                out["by_start_year"] = [{"until": u, "value": v} for u, v in self.by_start_year]
        if self.when_missing is not None:
            out["when_missing"] = self.when_missing
        if self.checks:
            out["checks"] = [c.definition() for c in self.checks]
        return out


@dataclass(frozen=True)
class Rule:
    """One eligibility rule: its reason code, texts, source, status, check and examples."""

    id: str
    zh: str
    en: str
    source: str
    status: str
    check: Check
    examples: Mapping[str, tuple[Mapping[str, Any], ...]] = field(default_factory=dict)

    def definition(self) -> dict[str, Any]:
        """The canonical (hashed) form: everything but the examples."""
        return {
            "id": self.id,
            "zh": self.zh,
            "en": self.en,
            "source": self.source,
            "status": self.status,
            "check": self.check.definition(),
        }


@dataclass(frozen=True)
class RuleSet:
    """The rules of one scheme, in bit order, with the scheme's metadata and provenance.

    ``origin`` names where the set came from (``shipped smcer.toml``, a user file, or both for an
    extension); ``example`` is a sub-compartment that passes every rule.
    """

    scheme: str
    version: str
    title_zh: str
    title_en: str
    methodology: str
    source: str
    rules: tuple[Rule, ...]
    example: Mapping[str, Any] = field(default_factory=dict)
    notes: tuple[tuple[str, str], ...] = ()
    origin: str = ""

    def __len__(self) -> int:
        return len(self.rules)

    @property
    def ids(self) -> tuple[str, ...]:
        """The rule ids (reason codes) in bit order."""
        return tuple(r.id for r in self.rules)

    def index_of(self, rule_id: str) -> int:
        """The bit of ``rule_id``; KeyError when the set has no such rule."""
        try:
            return self.ids.index(rule_id)
        except ValueError:
            raise KeyError(rule_id) from None

    def columns(self) -> tuple[str, ...]:
        """Canonical columns read by any rule, in order of first use."""
        out: list[str] = []
        for r in self.rules:
            out.extend(c for c in r.check.columns() if c not in out)
        return tuple(out)

    def definition(self) -> dict[str, Any]:
        """The canonical form the hash is computed on (no examples)."""
        return {
            "scheme": self.scheme,
            "version": self.version,
            "title_zh": self.title_zh,
            "title_en": self.title_en,
            "methodology": self.methodology,
            "source": self.source,
            "notes": [{"zh": zh, "en": en} for zh, en in self.notes],
            "rules": [r.definition() for r in self.rules],
        }

    @property
    def hash(self) -> str:
        """sha256 of the canonical JSON of :meth:`definition` (sorted keys, UTF-8)."""
        text = json.dumps(
            self.definition(), sort_keys=True, ensure_ascii=False, separators=(",", ":")
        )
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def describe(self) -> dict[str, Any]:
        """What provenance records about this set."""
        return {
            "scheme": self.scheme,
            "version": self.version,
            "methodology": self.methodology,
            "origin": self.origin,
            "hash": self.hash,
        }


# ------------------------------------------------------------------------------------ loading


def scheme_names() -> tuple[str, ...]:
    """The shipped schemes, sorted."""
    folder = files("tanhui.develop").joinpath("rules")
    return tuple(
        sorted(p.name[: -len(".toml")] for p in folder.iterdir() if p.name.endswith(".toml"))
    )


def load_scheme(name: str) -> RuleSet:
    """The shipped rule set of scheme ``name``; RuleError listing the schemes otherwise."""
    names = scheme_names()
    if name not in names:
        raise RuleError(
            name,
            [
                _problem(
                    "unknown_scheme",
                    f"没有名为“{name}”的规则集。可用：{', '.join(names)}。",
                    f"There is no rule set named '{name}'. Available: {', '.join(names)}.",
                    "scheme",
                    name,
                )
            ],
        )
    text = files("tanhui.develop").joinpath("rules", f"{name}.toml").read_text("utf-8")
    rule_set = parse_rules(text, origin=f"shipped {name}.toml")
    if rule_set.scheme != name:  # a packaging mistake, not a user error
        raise RuleError(
            f"{name}.toml",
            [
                _problem(
                    "scheme_mismatch",
                    f"文件名 {name}.toml 与 scheme = “{rule_set.scheme}” 不一致。",
                    f"File {name}.toml declares scheme = '{rule_set.scheme}'.",
                    "scheme",
                    rule_set.scheme,
                )
            ],
        )
    return rule_set


def load_rule_file(path: str | Path, *, scheme: str | None = None) -> RuleSet:
    """A user's rule file: a full set (replaces a scheme's) or ``extends = "<scheme>"``.

    ``scheme``: the scheme the caller asked for; an extending file must extend it and a full set
    must declare it (when given). Raises RuleError listing every problem.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RuleError(
            str(path),
            [
                _problem(
                    "unreadable",
                    f"无法读取规则文件：{exc.strerror or exc}。",
                    f"Cannot read the rule file: {exc.strerror or exc}.",
                    None,
                    str(path),
                )
            ],
        ) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RuleError(
            str(path),
            [
                _problem(
                    "encoding",
                    "规则文件必须是 UTF-8 编码（TOML 规定）。",
                    "A rule file must be UTF-8 (TOML requires it).",
                    None,
                    None,
                )
            ],
        ) from None
    return parse_rules(text, origin=f"file {path.name}", scheme=scheme)


def parse_rules(text: str, *, origin: str = "", scheme: str | None = None) -> RuleSet:
    """Parse and validate a rule file's text (see :func:`load_rule_file`)."""
    source = origin or "rules"
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(
            source,
            [
                _problem(
                    "toml_syntax",
                    f"TOML 语法错误：{exc}。",
                    f"TOML syntax error: {exc}.",
                    None,
                    None,
                )
            ],
        ) from None
    return build_rule_set(doc, origin=source, scheme=scheme)


def build_rule_set(
    doc: Mapping[str, Any], *, origin: str = "rules", scheme: str | None = None
) -> RuleSet:
    """Validate a parsed rule document (a dict as TOML gives it) into a :class:`RuleSet`."""
    v = _Validator()
    extends = doc.get("extends")
    base: RuleSet | None = None
    if extends is not None:
        if not isinstance(extends, str) or extends not in scheme_names():
            v.add(
                "unknown_extends",
                f"extends = “{extends}” 不是内置规则集；可用：{', '.join(scheme_names())}。",
                f"extends = '{extends}' is not a shipped rule set; available: "
                f"{', '.join(scheme_names())}.",
                "extends",
                extends,
            )
        else:
            base = load_scheme(extends)
            if scheme is not None and scheme != extends:
                v.add(
                    "scheme_mismatch",
                    f"规则文件扩展的是“{extends}”，但所选方案是“{scheme}”。",
                    f"The file extends '{extends}' but the scheme chosen is '{scheme}'.",
                    "extends",
                    extends,
                )
    allowed = (*_TOP_KEYS, "example", "rules") + (("extends", "remove") if base else ())
    for key in doc:
        if key not in allowed:
            v.add(
                "unknown_field",
                f"未知字段“{key}”。可用：{', '.join(allowed)}。",
                f"Unknown field '{key}'. Known: {', '.join(allowed)}.",
                key,
                key,
            )
    meta: dict[str, str] = {}
    for key in _TOP_KEYS[:-1]:
        value = doc.get(key)
        if value is None:
            if base is None:
                v.missing(key)
            continue
        if not isinstance(value, str) or not value.strip():
            v.bad_type(key, value, "非空文本", "a non-empty string")
            continue
        meta[key] = value.strip()
    if "scheme" in meta and not _SCHEME_ID.match(meta["scheme"]):
        v.add(
            "bad_scheme_id",
            "scheme 只能用小写字母、数字和连字符（如 my-scheme）。",
            "scheme must be lower-case letters, digits and hyphens (e.g. my-scheme).",
            "scheme",
            meta["scheme"],
        )
    if base is None and scheme is not None and meta.get("scheme") not in (None, scheme):
        v.add(
            "scheme_mismatch",
            f"规则文件定义的方案是“{meta['scheme']}”，但所选方案是“{scheme}”。",
            f"The file defines scheme '{meta['scheme']}' but the scheme chosen is '{scheme}'.",
            "scheme",
            meta["scheme"],
        )
    if "methodology" in meta and meta["methodology"] not in METHODS:
        v.add(
            "unknown_methodology",
            f"没有名为“{meta['methodology']}”的计量方法。可用：{', '.join(METHODS)}。",
            f"There is no measurement method '{meta['methodology']}'. Available: "
            f"{', '.join(METHODS)}.",
            "methodology",
            meta["methodology"],
        )
    notes = _notes(v, doc.get("notes", []))
    example = _example(v, doc.get("example"), "example", required=base is None)
    rules = _rules(v, doc.get("rules"), required=base is None)

    if base is not None:
        removed = doc.get("remove", [])
        if not (isinstance(removed, list) and all(isinstance(r, str) for r in removed)):
            v.bad_type("remove", removed, "规则 id 列表", "a list of rule ids")
            removed = []
        for rid in removed:
            if rid not in base.ids:
                v.add(
                    "unknown_rule",
                    f"remove 中的规则“{rid}”不在“{base.scheme}”中。",
                    f"remove names rule '{rid}', which '{base.scheme}' does not have.",
                    "remove",
                    rid,
                )
        merged = [r for r in base.rules if r.id not in removed]
        for rule in rules:
            ids = [r.id for r in merged]
            if rule.id in ids:
                merged[ids.index(rule.id)] = rule
            else:
                merged.append(rule)
        rules = merged
        example = {**base.example, **example}
        notes = base.notes + notes
        meta.setdefault("version", f"{base.version}+{origin.removeprefix('file ')}")
        for key in ("scheme", "title_zh", "title_en", "methodology", "source"):
            meta.setdefault(key, getattr(base, key))
        origin = f"{base.origin} + {origin}"
    elif doc.get("rules") == []:
        v.add("no_rules", "规则集没有规则。", "The rule set has no rules.", "rules", None)
    if len(rules) > MAX_RULES:
        v.add(
            "too_many_rules",
            f"规则集有 {len(rules)} 条规则，最多 {MAX_RULES} 条。",
            f"The rule set has {len(rules)} rules; at most {MAX_RULES} are allowed.",
            "rules",
            len(rules),
        )
    v.raise_if_any(origin)
    return RuleSet(
        scheme=meta["scheme"],
        version=meta["version"],
        title_zh=meta["title_zh"],
        title_en=meta["title_en"],
        methodology=meta["methodology"],
        source=meta["source"],
        rules=tuple(rules),
        example=example,
        notes=notes,
        origin=origin,
    )


def with_rules(rule_set: RuleSet, rules: Sequence[Rule]) -> RuleSet:
    """A copy of ``rule_set`` with other rules (e.g. a subset); the hash changes accordingly."""
    return replace(rule_set, rules=tuple(rules))


# ------------------------------------------------------------------------------------ validation


class _Validator:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, code: str, zh: str, en: str, where: str | None, value: Any) -> None:
        self.problems.append(_problem(code, zh, en, where, value))

    def missing(self, where: str) -> None:
        self.add("missing_field", f"缺少字段 {where}。", f"Field {where} is missing.", where, None)

    def bad_type(self, where: str, value: Any, zh: str, en: str) -> None:
        self.add(
            "bad_value",
            f"{where} 应为{zh}，而不是 {value!r}。",
            f"{where} must be {en}, not {value!r}.",
            where,
            value,
        )

    def raise_if_any(self, origin: str) -> None:
        if self.problems:
            raise RuleError(origin, self.problems)


def _problem(code: str, zh: str, en: str, where: str | None, value: Any) -> Problem:
    return Problem(code=code, reason_zh=zh, reason_en=en, column=where, value=value)


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _notes(v: _Validator, raw: Any) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    if not isinstance(raw, list):
        v.bad_type("notes", raw, "{zh, en} 列表", "a list of {zh, en} tables")
        return ()
    for i, note in enumerate(raw):
        zh, en = (note.get("zh"), note.get("en")) if isinstance(note, dict) else (None, None)
        if not (isinstance(zh, str) and isinstance(en, str)):
            v.bad_type(f"notes[{i}]", note, "{zh = …, en = …}", "{zh = …, en = …}")
            continue
        out.append((zh.strip(), en.strip()))
    return tuple(out)


def _example(v: _Validator, raw: Any, where: str, *, required: bool) -> dict[str, Any]:
    if raw is None:
        if required:
            v.missing(where)
        return {}
    if not isinstance(raw, dict):
        v.bad_type(where, raw, "表（列名 = 值）", "a table (column = value)")
        return {}
    out: dict[str, Any] = {}
    for key, value in raw.items():
        at = f"{where}.{key}"
        if key in CATEGORY_COLUMNS:
            if not isinstance(value, str):
                v.bad_type(at, value, "文本（空文本表示缺失）", "a string ('' = missing)")
                continue
        elif key in NUMBER_COLUMNS or key == "start_year":
            if not _is_number(value):
                v.bad_type(at, value, "数字（nan 表示缺失）", "a number (nan = missing)")
                continue
            value = float(value)
        elif key == "registered":
            if not isinstance(value, bool):
                v.bad_type(at, value, "true 或 false", "true or false")
                continue
        else:
            known = ", ".join((*CATEGORY_COLUMNS, *NUMBER_COLUMNS, *EXAMPLE_KEYS))
            v.add(
                "unknown_column",
                f"{at}：未知列“{key}”。可用：{known}。",
                f"{at}: unknown column '{key}'. Known: {known}.",
                at,
                key,
            )
            continue
        out[key] = value
    return out


def _rules(v: _Validator, raw: Any, *, required: bool) -> list[Rule]:
    if raw is None:
        if required:
            v.missing("rules")
        return []
    if not isinstance(raw, list):
        v.bad_type("rules", raw, "[[rules]] 表数组", "an array of tables [[rules]]")
        return []
    rules: list[Rule] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            v.bad_type(f"rules[{i}]", item, "表", "a table")
            continue
        rid = item.get("id")
        label = f"rules[{i}]" + (f" ({rid})" if isinstance(rid, str) else "")
        rule = _rule(v, item, label, seen)
        if rule is not None:
            rules.append(rule)
    return rules


def _rule(v: _Validator, item: dict[str, Any], label: str, seen: set[str]) -> Rule | None:
    before = len(v.problems)
    for key in item:
        if key not in _RULE_KEYS:
            v.add(
                "unknown_field",
                f"{label}：未知字段“{key}”。可用：{', '.join(_RULE_KEYS)}。",
                f"{label}: unknown field '{key}'. Known: {', '.join(_RULE_KEYS)}.",
                f"{label}.{key}",
                key,
            )
    texts: dict[str, str] = {}
    for key in ("id", "zh", "en", "source", "status"):
        value = item.get(key)
        if value is None:
            v.missing(f"{label}.{key}")
        elif not isinstance(value, str) or not value.strip():
            v.bad_type(f"{label}.{key}", value, "非空文本", "a non-empty string")
        else:
            texts[key] = value.strip()
    rid = texts.get("id")
    if rid is not None:
        if not _RULE_ID.match(rid):
            v.add(
                "bad_rule_id",
                f"{label}：id 须为 snake_case（小写字母、数字、下划线，字母开头）。",
                f"{label}: the id must be snake_case (lower-case letters, digits, underscores).",
                f"{label}.id",
                rid,
            )
        elif rid in seen:
            v.add(
                "duplicate_rule_id",
                f"{label}：规则 id “{rid}”重复。",
                f"{label}: rule id '{rid}' appears twice.",
                f"{label}.id",
                rid,
            )
        seen.add(rid)
    status = texts.get("status")
    if status is not None and status not in STATUSES:
        v.add(
            "bad_status",
            f"{label}：status 须为 {' | '.join(STATUSES)}。",
            f"{label}: status must be one of {' | '.join(STATUSES)}.",
            f"{label}.status",
            status,
        )
    check = None
    if "check" not in item:
        v.missing(f"{label}.check")
    else:
        check = _check(v, item["check"], f"{label}.check")
    examples = _examples(v, item.get("examples"), f"{label}.examples")
    if len(v.problems) > before or check is None:
        return None
    return Rule(
        id=texts["id"],
        zh=texts["zh"],
        en=texts["en"],
        source=texts["source"],
        status=texts["status"],
        check=check,
        examples=examples,
    )


def _examples(v: _Validator, raw: Any, where: str) -> dict[str, tuple[dict[str, Any], ...]]:
    if raw is None:
        v.add(
            "missing_examples",
            f"{where}：每条规则都要有 pass 和 fail 示例（叠加在 [example] 上的小班片段）。",
            f"{where}: every rule needs pass and fail examples (row fragments over [example]).",
            where,
            None,
        )
        return {}
    if not isinstance(raw, dict):
        v.bad_type(where, raw, "{pass = …, fail = …}", "{pass = …, fail = …}")
        return {}
    out: dict[str, tuple[dict[str, Any], ...]] = {}
    for key in raw:
        if key not in ("pass", "fail"):
            v.add(
                "unknown_field",
                f"{where}：未知字段“{key}”（只能是 pass 和 fail）。",
                f"{where}: unknown field '{key}' (only pass and fail).",
                f"{where}.{key}",
                key,
            )
    for key in ("pass", "fail"):
        items = raw.get(key)
        if items is None:
            v.missing(f"{where}.{key}")
            continue
        items = [items] if isinstance(items, dict) else items
        if not isinstance(items, list) or not items:
            v.bad_type(f"{where}.{key}", items, "表或表的列表", "a table or a list of tables")
            continue
        out[key] = tuple(
            _example(v, x, f"{where}.{key}[{i}]", required=True) for i, x in enumerate(items)
        )
    return out


def _check(v: _Validator, raw: Any, where: str) -> Check | None:
    if not isinstance(raw, dict):
        v.bad_type(where, raw, "表（op = …）", "a table (op = …)")
        return None
    op = raw.get("op")
    if op not in OPS:
        v.add(
            "unknown_op",
            f"{where}.op = “{op}” 未知。可用：{', '.join(OPS)}。",
            f"{where}.op = '{op}' is unknown. Known: {', '.join(OPS)}.",
            f"{where}.op",
            op,
        )
        return None
    keys = {"op"}
    if op in GROUP_OPS:
        keys |= {"checks"}
    elif op == REGISTERED:
        keys |= {"when_missing"}
    else:
        keys |= {"column"}
        if op in CATEGORY_OPS:
            keys |= {"values", "values_from", "when_missing"}
        elif op in NUMBER_OPS:
            keys |= {"value", "unit", "by_start_year", "when_missing"}
    for key in raw:
        if key not in keys:
            v.add(
                "unknown_field",
                f"{where}：op = {op} 不接受字段“{key}”。可用：{', '.join(sorted(keys))}。",
                f"{where}: op = {op} takes no field '{key}'. Known: {', '.join(sorted(keys))}.",
                f"{where}.{key}",
                key,
            )
    before = len(v.problems)
    if op in GROUP_OPS:
        subs = raw.get("checks")
        if not isinstance(subs, list) or not subs:
            v.bad_type(f"{where}.checks", subs, "非空的检查列表", "a non-empty list of checks")
            return None
        children = [_check(v, s, f"{where}.checks[{i}]") for i, s in enumerate(subs)]
        if len(v.problems) > before:
            return None
        return Check(op=op, checks=tuple(c for c in children if c is not None))

    when_missing = raw.get("when_missing")
    if op in PRESENCE_OPS:
        pass
    elif when_missing is None:
        v.add(
            "missing_when_missing",
            f'{where}：须写明 when_missing = "pass" 或 "fail"（值缺失时该规则是否判为不合格）。',
            f'{where}: state when_missing = "pass" or "fail" (whether a missing value fails '
            "this rule).",
            f"{where}.when_missing",
            None,
        )
    elif when_missing not in WHEN_MISSING:
        v.add(
            "bad_when_missing",
            f'{where}.when_missing 须为 "pass" 或 "fail"。',
            f'{where}.when_missing must be "pass" or "fail".',
            f"{where}.when_missing",
            when_missing,
        )
    if op == REGISTERED:
        if len(v.problems) > before:
            return None
        return Check(op=op, when_missing=when_missing)

    column = raw.get("column")
    if column is None:
        v.missing(f"{where}.column")
        return None
    is_number = column in NUMBER_COLUMNS
    if not is_number and column not in CATEGORY_COLUMNS:
        known = ", ".join((*CATEGORY_COLUMNS, *NUMBER_COLUMNS))
        v.add(
            "unknown_column",
            f"{where}.column = “{column}” 不是标准列。可用：{known}。",
            f"{where}.column = '{column}' is not a canonical column. Known: {known}.",
            f"{where}.column",
            column,
        )
        return None
    if op in PRESENCE_OPS:
        return Check(op=op, column=column) if len(v.problems) == before else None
    if op in CATEGORY_OPS and is_number:
        v.add(
            "op_not_for_column",
            f"{where}：{op} 只能用于分类列，{column} 是数值列（请用 lt/le/gt/ge）。",
            f"{where}: {op} applies to category columns; {column} is a number (use lt/le/gt/ge).",
            f"{where}.op",
            op,
        )
        return None
    if op in NUMBER_OPS and not is_number:
        v.add(
            "op_not_for_column",
            f"{where}：{op} 只能用于数值列，{column} 是分类列（请用 in/not_in/contains_any）。",
            f"{where}: {op} applies to number columns; {column} is a category (use "
            "in/not_in/contains_any).",
            f"{where}.op",
            op,
        )
        return None
    if op in CATEGORY_OPS:
        values, values_from = _values(v, raw, where)
        if len(v.problems) > before:
            return None
        return Check(
            op=op,
            column=column,
            values=values,
            values_from=values_from,
            when_missing=when_missing,
        )
    return _number_check(v, raw, where, op, column, when_missing, before)


def _values(v: _Validator, raw: dict[str, Any], where: str) -> tuple[tuple[str, ...], str | None]:
    values, ref = raw.get("values"), raw.get("values_from")
    if (values is None) == (ref is None):
        v.add(
            "bad_value",
            f"{where}：须给出 values（列表）或 values_from（二者选一）。",
            f"{where}: give either values (a list) or values_from, exactly one.",
            f"{where}.values",
            values,
        )
        return (), None
    if ref is not None:
        if ref not in VALUE_LISTS:
            v.add(
                "unknown_values_from",
                f"{where}.values_from = “{ref}” 未知。可用：{', '.join(VALUE_LISTS)}。",
                f"{where}.values_from = '{ref}' is unknown. Known: {', '.join(VALUE_LISTS)}.",
                f"{where}.values_from",
                ref,
            )
            return (), None
        return VALUE_LISTS[ref], ref
    if (
        not isinstance(values, list)
        or not values
        or not all(isinstance(x, str) and x.strip() for x in values)
    ):
        v.bad_type(
            f"{where}.values", values, "非空文本列表", "a non-empty list of non-blank strings"
        )
        return (), None
    return tuple(dict.fromkeys(x.strip() for x in values)), None


def _number_check(
    v: _Validator,
    raw: dict[str, Any],
    where: str,
    op: str,
    column: str,
    when_missing: Any,
    before: int,
) -> Check | None:
    native = NUMBER_COLUMNS[column]
    units = AREA_UNITS if column == "area_ha" else {native: 1.0}
    unit = raw.get("unit", native)
    if unit not in units:
        v.add(
            "unknown_unit",
            f"{where}.unit = “{unit}” 不适用于 {column}。可用：{', '.join(units)}。",
            f"{where}.unit = '{unit}' does not apply to {column}. Known: {', '.join(units)}.",
            f"{where}.unit",
            unit,
        )
    value = raw.get("value")
    if not _is_number(value) or not math.isfinite(value):
        v.bad_type(f"{where}.value", value, "有限的数", "a finite number")
    steps: list[tuple[float, float]] = []
    raw_steps = raw.get("by_start_year", [])
    if not isinstance(raw_steps, list):
        v.bad_type(f"{where}.by_start_year", raw_steps, "列表", "a list")
        raw_steps = []
    for i, step in enumerate(raw_steps):
        at = f"{where}.by_start_year[{i}]"
        ok = (
            isinstance(step, dict)
            and set(step) == {"until", "value"}
            and all(_is_number(step[k]) and math.isfinite(step[k]) for k in ("until", "value"))
        )
        if not ok:
            v.bad_type(at, step, "{until = 年份, value = 数}", "{until = year, value = number}")
            continue
        steps.append((float(step["until"]), float(step["value"])))
    if len({u for u, _ in steps}) != len(steps):
        v.add(
            "bad_value",
            f"{where}.by_start_year 中有重复的 until 年份。",
            f"{where}.by_start_year repeats an until year.",
            f"{where}.by_start_year",
            raw_steps,
        )
    if len(v.problems) > before:
        return None
    divisor = units[unit]
    steps.sort()
    thresholds = (*((u, x / divisor) for u, x in steps), (math.inf, float(value) / divisor))
    return Check(
        op=op,
        column=column,
        value=float(value),
        unit=unit,
        by_start_year=tuple(steps),
        thresholds=thresholds,
        when_missing=when_missing,
    )


__all__ = [
    "OPS",
    "STATUSES",
    "TOLERANCE",
    "VALUE_LISTS",
    "Check",
    "Rule",
    "RuleError",
    "RuleSet",
    "build_rule_set",
    "load_rule_file",
    "load_scheme",
    "parse_rules",
    "scheme_names",
    "with_rules",
]
