"""Serial numbers and serial blocks: format, parse, split, merge, allocate, search. Pure, stdlib only.

One serial is one tonne of CO2e. A serial block (序号段) is an inclusive range of serials that share
one prefix. The format is chosen so that a serial alone tells where the tonne came from::

    SCHEME-REGION-PROJECT-PERIOD-START-END

    SMCER-350421-000123-20162020-000000001-000012723   block of 12,723 t (serials 1..12723)
    SMCER-350421-000123-20162020-000000042-000000042   block of 1 t (serial 42)
    SMCER-350421-000123-20162020-000000042             serial 42 alone (one-number form)
    GZCT-520000-000007-20212023-000000101-000000400    Guizhou provincial ticket, 300 t

=======  =========================  ===============================================================
field    example                    rule
=======  =========================  ===============================================================
SCHEME   ``SMCER``                  2–8 upper-case ASCII letters/digits, first a letter; must be one
                                    of the configured schemes (:data:`SCHEMES` by default: SMCER
                                    Sanming ticket, GZCT Guizhou provincial ticket, CCER, FFCER,
                                    VCS, GS)
REGION   ``350421``                 6-digit administrative division code (GB/T 2260) of the project;
                                    the first two digits must be a province-level code
PROJECT  ``000123``                 6-digit project number, unique in this registry, 000001–999999
PERIOD   ``20162020``               first and last year of the monitoring period (YYYYYYYY),
                                    :data:`MIN_YEAR` ≤ first ≤ last ≤ :data:`MAX_YEAR`
START    ``000000001``              9-digit serial number, 1-based, 1 ≤ START ≤ :data:`MAX_SERIAL`
END      ``000012723``              9-digit serial number, START ≤ END (inclusive)
=======  =========================  ===============================================================

Decisions:

* Serial numbers are allocated per **project** (:func:`allocate`), across all its issuances and
  monitoring periods: the numbers of one project never repeat, so ``PROJECT + number`` alone
  identifies a tonne and the other fields only describe it. The ledger keeps one "next serial"
  counter per project and persists ``allocated.end + 1`` in the issuance's transaction.
* Every field has a fixed width, so within one prefix the string order is the numeric order, and a
  block's text never changes length when it is split.
* The canonical text of a block always has six fields, even for one tonne
  (:meth:`SerialRange.format`); the five-field one-number form is accepted by :func:`parse` and
  written by ``format(compact=True)`` for a single serial. ``parse(s).format() == s`` for every
  canonical ``s``, and ``parse(s).format(compact=True) == s`` for every one-number ``s``.
* :func:`parse` is strict: ASCII only, no surrounding spaces, no lower case, exact widths. Callers
  that take user input strip whitespace first. Errors are :class:`~tanhui.errors.SerialError`
  whose ``field`` names the first wrong part.
* Partial operations split a block; :meth:`SerialRange.split` moves the **last** k serials by
  default, like UNDP NCR: block ``1–100`` minus 30 keeps ``1–70`` and moves ``71–100``.
* Credits issued by another registry (CCER, VCS, …) keep their own serials there; this format is
  for blocks this registry issues. A scheme code here says under which rules the tonnes were
  issued.

Searching: :func:`covers` and :func:`overlapping` bisect a list of ranges sorted by
``(prefix, start)`` (the dataclass order) with no two overlapping.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from tanhui.errors import SerialError

__all__ = [
    "MAX_SERIAL",
    "MAX_YEAR",
    "MIN_YEAR",
    "PROVINCE_CODES",
    "SCHEMES",
    "SerialPrefix",
    "SerialRange",
    "allocate",
    "coalesce",
    "covers",
    "overlapping",
    "parse",
    "parse_prefix",
]

#: Schemes accepted by default. Configurable: pass ``schemes=`` to :func:`parse`.
SCHEMES: frozenset[str] = frozenset({"SMCER", "GZCT", "CCER", "FFCER", "VCS", "GS"})

# fmt: off
#: Province-level codes of GB/T 2260 (the first two digits of a region code).
PROVINCE_CODES: frozenset[str] = frozenset({
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
    "65", "71", "81", "82",
})
# fmt: on

MAX_SERIAL = 999_999_999
MAX_PROJECT = 999_999
MIN_YEAR = 1950
MAX_YEAR = 2100

SEP = "-"
EXAMPLE = "SMCER-350421-000123-20162020-000000001-000012723"

_SCHEME = re.compile(r"[A-Z][A-Z0-9]{1,7}")
_DIGITS = {n: re.compile(rf"[0-9]{{{n}}}") for n in (6, 8, 9)}

_FIELD_ZH = {
    "scheme": "方案代码",
    "region": "行政区划代码",
    "project": "项目编号",
    "period": "监测期",
    "start": "起始序号",
    "end": "终止序号",
    "format": "格式",
    "prefix": "序号前缀",
    "quantity": "数量",
    "serial": "序号",
}
_HINT_ZH = f"序号段格式：方案-行政区划-项目-监测期-起始序号[-终止序号]，如 {EXAMPLE}。"
_HINT_EN = f"Serial format: SCHEME-REGION-PROJECT-PERIOD-START[-END], e.g. {EXAMPLE}."


def _fail(field: str, value: object, zh: str, en: str, *, text: str | None = None) -> SerialError:
    where_zh = f"序号 {text!r} 的" if text is not None else ""
    where_en = f" in serial {text!r}" if text is not None else ""
    return SerialError(
        f"{where_zh}{_FIELD_ZH.get(field, field)}（{field}）错误：{zh}",
        f"Wrong {field}{where_en}: {en}",
        field=field,
        value=value,
        hint_zh=_HINT_ZH,
        hint_en=_HINT_EN,
    )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True, order=True)
class SerialPrefix:
    """Everything a serial says besides its number: scheme, region, project, monitoring period.

    Constructing one validates the shape of every field (not scheme membership, which depends on
    configuration; :func:`parse` checks that).
    """

    scheme: str
    region: str
    project: int
    period_start: int
    period_end: int

    def __post_init__(self) -> None:
        _check_scheme_shape(self.scheme)
        _check_region(self.region)
        if not _is_int(self.project) or not 1 <= self.project <= MAX_PROJECT:
            raise _fail(
                "project",
                self.project,
                f"应为 1–{MAX_PROJECT} 的整数，实为 {self.project!r}",
                f"must be an integer 1–{MAX_PROJECT}, got {self.project!r}",
            )
        _check_period(self.period_start, self.period_end)

    def format(self) -> str:
        """``SCHEME-REGION-PROJECT-PERIOD``, e.g. ``SMCER-350421-000123-20162020``."""
        return SEP.join(
            (
                self.scheme,
                self.region,
                f"{self.project:06d}",
                f"{self.period_start:04d}{self.period_end:04d}",
            )
        )

    def __str__(self) -> str:
        return self.format()


@dataclass(frozen=True, order=True)
class SerialRange:
    """An inclusive block of serials ``start..end`` under one prefix; ``count = end - start + 1``.

    The dataclass order (prefix, then start, then end) is the order :func:`covers` expects.
    """

    prefix: SerialPrefix
    start: int
    end: int

    def __post_init__(self) -> None:
        if not isinstance(self.prefix, SerialPrefix):
            raise TypeError(f"prefix must be a SerialPrefix, got {type(self.prefix).__name__}")
        if not _is_int(self.start) or not 1 <= self.start <= MAX_SERIAL:
            raise _fail(
                "start",
                self.start,
                f"应为 1–{MAX_SERIAL} 的整数，实为 {self.start!r}",
                f"must be an integer 1–{MAX_SERIAL}, got {self.start!r}",
            )
        if not _is_int(self.end) or not self.start <= self.end <= MAX_SERIAL:
            raise _fail(
                "end",
                self.end,
                f"应为 {self.start}–{MAX_SERIAL} 的整数（不小于起始序号），实为 {self.end!r}",
                f"must be an integer {self.start}–{MAX_SERIAL} (not below start), got {self.end!r}",
            )

    @property
    def count(self) -> int:
        """Number of serials (tonnes) in the block."""
        return self.end - self.start + 1

    def format(self, *, compact: bool = False) -> str:
        """The canonical text (six fields). ``compact=True`` writes a one-tonne block as one serial."""
        head = f"{self.prefix.format()}{SEP}{self.start:09d}"
        if compact and self.start == self.end:
            return head
        return f"{head}{SEP}{self.end:09d}"

    def __str__(self) -> str:
        return self.format()

    def contains(self, serial: int | SerialRange) -> bool:
        """Whether a serial number (of this prefix) or a whole range (same prefix) lies inside."""
        if isinstance(serial, SerialRange):
            return (
                serial.prefix == self.prefix
                and self.start <= serial.start
                and serial.end <= self.end
            )
        return _is_int(serial) and self.start <= serial <= self.end

    def overlaps(self, other: SerialRange) -> bool:
        """Whether the two blocks share at least one serial (same prefix, intersecting numbers)."""
        return other.prefix == self.prefix and self.start <= other.end and other.start <= self.end

    def split(
        self, k: int, take: Literal["last", "first"] = "last"
    ) -> tuple[SerialRange | None, SerialRange]:
        """Split off ``k`` serials for a partial operation; returns ``(kept, moved)``.

        ``take="last"`` (default, as UNDP NCR) moves ``end-k+1..end`` and keeps ``start..end-k``;
        ``take="first"`` moves ``start..start+k-1`` and keeps the rest. ``k == count`` moves the
        whole block: ``(None, self)``. ``k`` outside ``1..count`` raises :class:`SerialError`.
        """
        if not _is_int(k) or not 1 <= k <= self.count:
            raise _fail(
                "quantity",
                k,
                f"从 {self.count} 吨的序号段 {self} 中只能移动 1–{self.count} 吨，请求 {k!r}",
                f"can move 1–{self.count} t from the {self.count} t block {self}, asked {k!r}",
            )
        if take not in ("last", "first"):
            raise ValueError(f"take must be 'last' or 'first', got {take!r}")
        if k == self.count:
            return None, self
        if take == "last":
            cut = self.end - k + 1
            return self._piece(self.start, cut - 1), self._piece(cut, self.end)
        cut = self.start + k
        return self._piece(cut, self.end), self._piece(self.start, cut - 1)

    def split_at(self, serial: int) -> tuple[SerialRange, SerialRange]:
        """Split into ``start..serial-1`` and ``serial..end``; needs ``start < serial <= end``."""
        if not _is_int(serial) or not self.start < serial <= self.end:
            raise _fail(
                "serial",
                serial,
                f"拆分点应在 {self.start + 1}–{self.end} 之间（两段均非空），实为 {serial!r}",
                f"the split point must be in {self.start + 1}–{self.end} so that both pieces "
                f"are non-empty, got {serial!r}",
            )
        return self._piece(self.start, serial - 1), self._piece(serial, self.end)

    def carve(self, sub: SerialRange) -> tuple[SerialRange | None, SerialRange, SerialRange | None]:
        """Cut ``sub`` out of this block: ``(before, sub, after)``, ``None`` for an empty side.

        For operations on named serials (a court freezing serials 100–199 of a block).
        """
        if not self.contains(sub):
            raise _fail(
                "serial",
                str(sub),
                f"{sub} 不在序号段 {self} 之内",
                f"{sub} is not inside the block {self}",
            )
        before = self._piece(self.start, sub.start - 1) if sub.start > self.start else None
        after = self._piece(sub.end + 1, self.end) if sub.end < self.end else None
        return before, sub, after

    def merge(self, other: SerialRange) -> SerialRange:
        """Join two adjacent blocks of the same prefix (in either order) into one."""
        if other.prefix != self.prefix:
            raise _fail(
                "prefix",
                str(other.prefix),
                f"只能合并前缀相同的序号段：{self.prefix} 与 {other.prefix}",
                f"only blocks with the same prefix merge: {self.prefix} and {other.prefix}",
            )
        if self.end + 1 == other.start:
            return self._piece(self.start, other.end)
        if other.end + 1 == self.start:
            return self._piece(other.start, self.end)
        raise _fail(
            "serial",
            str(other),
            f"序号段 {self} 与 {other} 不相邻，不能合并",
            f"blocks {self} and {other} are not adjacent and cannot merge",
        )

    def _piece(self, start: int, end: int) -> SerialRange:
        return SerialRange(self.prefix, start, end)


def _check_scheme_shape(scheme: object, text: str | None = None) -> None:
    if not isinstance(scheme, str) or not _SCHEME.fullmatch(scheme):
        raise _fail(
            "scheme",
            scheme,
            f"应为 2–8 位大写英文字母或数字且以字母开头，实为 {scheme!r}",
            f"must be 2–8 upper-case letters or digits starting with a letter, got {scheme!r}",
            text=text,
        )


def _check_region(region: object, text: str | None = None) -> None:
    if not isinstance(region, str) or not _DIGITS[6].fullmatch(region):
        raise _fail(
            "region",
            region,
            f"应为 6 位数字的行政区划代码，实为 {region!r}",
            f"must be a 6-digit administrative division code, got {region!r}",
            text=text,
        )
    if region[:2] not in PROVINCE_CODES:
        raise _fail(
            "region",
            region,
            f"前两位 {region[:2]} 不是省级行政区划代码（GB/T 2260）",
            f"its first two digits {region[:2]} are not a province-level code (GB/T 2260)",
            text=text,
        )


def _check_period(first: int, last: int, text: str | None = None) -> None:
    value = f"{first}{last}"
    if not _is_int(first) or not MIN_YEAR <= first <= MAX_YEAR:
        raise _fail(
            "period",
            value,
            f"起始年应为 {MIN_YEAR}–{MAX_YEAR} 之间的年份，实为 {first!r}",
            f"the first year must be in {MIN_YEAR}–{MAX_YEAR}, got {first!r}",
            text=text,
        )
    if not _is_int(last) or not first <= last <= MAX_YEAR:
        raise _fail(
            "period",
            value,
            f"结束年应在 {first}–{MAX_YEAR} 之间（不早于起始年），实为 {last!r}",
            f"the last year must be in {first}–{MAX_YEAR} (not before the first), got {last!r}",
            text=text,
        )


def _digits(text: str, field: str, raw: str, width: int) -> int:
    if not _DIGITS[width].fullmatch(raw):
        raise _fail(
            field,
            raw,
            f"应为 {width} 位数字（不足补零），实为 {raw!r}",
            f"must be exactly {width} ASCII digits (zero-padded), got {raw!r}",
            text=text,
        )
    return int(raw)


def parse_prefix(text: str, *, schemes: Collection[str] = SCHEMES) -> SerialPrefix:
    """Parse ``SCHEME-REGION-PROJECT-PERIOD`` (a project's serial prefix)."""
    if not isinstance(text, str):
        raise _fail("format", text, "应为文本", f"must be text, got {type(text).__name__}")
    fields = text.split(SEP)
    if len(fields) != 4:
        raise _fail(
            "format",
            text,
            f"前缀应有 4 段（以 - 分隔），实有 {len(fields)} 段",
            f"a prefix has 4 fields separated by '-', found {len(fields)}",
            text=text,
        )
    return _prefix(text, fields, schemes)


def _prefix(text: str, fields: list[str], schemes: Collection[str]) -> SerialPrefix:
    scheme, region, project_raw, period_raw = fields[:4]
    _check_scheme_shape(scheme, text)
    if scheme not in schemes:
        known = "、".join(sorted(schemes))
        raise _fail(
            "scheme",
            scheme,
            f"未知方案 {scheme}，可用：{known}",
            f"unknown scheme {scheme}; known: {', '.join(sorted(schemes))}",
            text=text,
        )
    _check_region(region, text)
    project = _digits(text, "project", project_raw, 6)
    if project == 0:
        raise _fail("project", project_raw, "不能为 000000", "must not be 000000", text=text)
    period = _digits(text, "period", period_raw, 8)
    first, last = divmod(period, 10_000)
    _check_period(first, last, text)
    return SerialPrefix(scheme, region, project, first, last)


def parse(text: str, *, schemes: Collection[str] = SCHEMES) -> SerialRange:
    """Parse a serial block (six fields) or a single serial (five fields) into a :class:`SerialRange`.

    >>> parse("SMCER-350421-000123-20162020-000000001-000012723").count
    12723
    >>> parse("SMCER-350421-000123-20162020-000000042").format()
    'SMCER-350421-000123-20162020-000000042-000000042'

    Raises :class:`~tanhui.errors.SerialError` naming the first wrong field.
    """
    if not isinstance(text, str):
        raise _fail("format", text, "应为文本", f"must be text, got {type(text).__name__}")
    fields = text.split(SEP)
    if len(fields) not in (5, 6):
        more = len(fields) > 6
        raise _fail(
            "format",
            text,
            f"应有 5 或 6 段（以 - 分隔），实有 {len(fields)} 段"
            + ("（多余字段）" if more else "（缺少字段）"),
            f"expected 5 or 6 fields separated by '-', found {len(fields)} "
            + ("(extra fields)" if more else "(missing fields)"),
            text=text,
        )
    prefix = _prefix(text, fields, schemes)
    start = _digits(text, "start", fields[4], 9)
    if start == 0:
        raise _fail("start", fields[4], "序号从 1 开始", "serials start at 1", text=text)
    end = start if len(fields) == 5 else _digits(text, "end", fields[5], 9)
    if end < start:
        raise _fail(
            "end",
            fields[5],
            f"终止序号 {end} 小于起始序号 {start}",
            f"end {end} is below start {start}",
            text=text,
        )
    return SerialRange(prefix, start, end)


def allocate(prefix: SerialPrefix, next_start: int, quantity: int) -> SerialRange:
    """The block for a new issuance of ``quantity`` tonnes: ``next_start..next_start+quantity-1``.

    ``next_start`` is the project's next unused serial (1 for its first issuance); the caller
    persists ``result.end + 1`` in the same transaction. A quantity below 1 (for example a
    measurement that rounds down to 0 t) is refused.
    """
    if not _is_int(quantity) or quantity < 1:
        raise _fail(
            "quantity",
            quantity,
            f"签发数量应为不小于 1 的整数吨，实为 {quantity!r}（取整为 0 的数量不能签发）",
            f"an issuance must be a whole number of tonnes ≥ 1, got {quantity!r} "
            "(a quantity that rounds to 0 cannot be issued)",
        )
    if not _is_int(next_start) or next_start < 1:
        raise _fail(
            "start",
            next_start,
            f"下一个可用序号应为不小于 1 的整数，实为 {next_start!r}",
            f"the next free serial must be an integer ≥ 1, got {next_start!r}",
        )
    end = next_start + quantity - 1
    if end > MAX_SERIAL:
        raise _fail(
            "quantity",
            quantity,
            f"项目 {prefix.project:06d} 的序号将超过上限 {MAX_SERIAL}",
            f"project {prefix.project:06d} would exceed the last serial {MAX_SERIAL}",
        )
    return SerialRange(prefix, next_start, end)


def coalesce(ranges: Iterable[SerialRange]) -> list[SerialRange]:
    """Sort and join adjacent blocks of equal prefix; overlapping blocks raise :class:`SerialError`."""
    out: list[SerialRange] = []
    for r in sorted(ranges):
        if out and out[-1].prefix == r.prefix:
            last = out[-1]
            if r.start <= last.end:
                raise _fail(
                    "serial",
                    str(r),
                    f"序号段 {last} 与 {r} 重叠",
                    f"blocks {last} and {r} overlap",
                )
            if last.end + 1 == r.start:
                out[-1] = last.merge(r)
                continue
        out.append(r)
    return out


def _start_key(r: SerialRange) -> tuple[SerialPrefix, int]:
    return (r.prefix, r.start)


def _end_key(r: SerialRange) -> tuple[SerialPrefix, int]:
    return (r.prefix, r.end)


def covers(ranges: Sequence[SerialRange], serial: SerialRange) -> int | None:
    """Index of the block in ``ranges`` that contains ``serial`` (a one-tonne range or a sub-range).

    ``ranges`` must be sorted by ``(prefix, start)`` with no two overlapping (as :func:`sorted`
    leaves disjoint blocks). ``None`` when no single block contains all of ``serial``.
    O(log n) by bisection.
    """
    i = bisect_right(ranges, (serial.prefix, serial.start), key=_start_key) - 1
    if i >= 0 and ranges[i].contains(serial):
        return i
    return None


def overlapping(ranges: Sequence[SerialRange], query: SerialRange) -> range:
    """Indices of the blocks in ``ranges`` that share a serial with ``query`` (contiguous).

    Same precondition as :func:`covers`. Used to look up a range that spans several blocks.
    """
    lo = bisect_left(ranges, (query.prefix, query.start), key=_end_key)
    hi = bisect_right(ranges, (query.prefix, query.end), key=_start_key)
    return range(lo, max(lo, hi))
