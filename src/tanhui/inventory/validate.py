"""Turn a :class:`~tanhui.inventory.readers.RawTable` into the canonical table, checking every row.

All checks are vectorized (pyarrow.compute / NumPy); Python loops run only over the distinct
values of a categorical column and over the rows that have a problem. Every problem names the
row users see (see :mod:`tanhui.inventory.readers`), the header as written in the file, the value
as found, and says in Chinese and English what to do. At most :data:`MAX_PROBLEMS` problems are
kept; when there are more, the last one (code ``more_problems``) says how many were left out.

Decisions:

* Species group: taken from the 树种组 column when there is one (a cell left empty there is derived
  from 优势树种), else derived from 优势树种 through ``species_aliases.csv``; either way it must be
  one of ``known_groups``. The raw 优势树种 is kept in ``species``.
* Two headers feeding one column must agree (see :func:`_tolerance`); the one in the canonical
  unit (hectares, m³/ha) is kept, else the first in the file.
* Numbers: empty cells are NaN; in CSV and spreadsheets ``nan``, ``null``, ``none``, ``<null>``
  and ``n/a`` also count as empty. Full-width digits and ``1,234.5`` are read; a share may be
  written ``30%``.
* Areas from polygons (no area column, a GIS layer): polygon area / 10,000 in the layer's CRS when
  projected; for a geographic CRS each polygon is first projected to the CGCS2000 3-degree
  Gauss–Krüger zone (EPSG:4534–4554) of the layer's centre longitude (midpoint of its bounds).

Problem codes:

=================  ==============================================================================
missing_column     a required column is absent (小班号; 面积 unless polygons give it; 树种组 or
                   优势树种), or a column named in ``id_columns`` is absent
ambiguous_column   two headers feed the same column (面积(亩) and 面积(公顷)) and their values
                   disagree beyond rounding; see :func:`_tolerance`
missing_value      a required cell is empty
not_a_number       a numeric cell is not a number
nonpositive_area   an area is zero or negative
out_of_range       a number is outside the schema's range (after unit conversion)
duplicate_id       a sub-compartment id already used by an earlier row (which is named)
unknown_species    a species or species group that maps to none of the known groups
unknown_category   龄组, 起源 or 森林类别 not recognized (other categories are kept as written;
                   林种 and 权属 spellings are normalized when recognized)
malformed_row      (CSV) a row with more cells than the header
empty_geometry /   when the area comes from polygons: a feature without geometry, one that is
invalid_geometry / not a (multi)polygon, or an invalid polygon
not_a_polygon
missing_crs /      when the area comes from polygons: the layer has no CRS, or a geographic CRS
unsupported_crs    outside the CGCS2000 3-degree zones (75°E–135°E) or an unusable one
=================  ==============================================================================
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tanhui.errors import Problem
from tanhui.inventory import schema
from tanhui.inventory.aliases import (
    CANONICAL_UNIT,
    STANDARD_LABELS,
    STRICT_CATEGORIES,
    ColumnPlan,
    Source,
    accepted_headers,
    category_table,
    normalize_value,
    species_group_of,
)
from tanhui.inventory.readers import NULL_MARKERS, RawTable, single_array

MAX_PROBLEMS = 10_000
ID_JOIN = "-"
_NUMBER = r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$"
_THOUSANDS = r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?$"
_UNIT_ZH = {"ha": "公顷", "mu": "亩", "m2": "平方米", "m3/ha": "立方米/公顷", "m3/mu": "立方米/亩",
            "m3": "立方米", "a": "年", "1": "", "%": "%"}  # fmt: skip
_UNIT_EN = {"ha": "ha", "m3/ha": "m³/ha", "m3": "m³", "a": "years", "1": ""}


# --- problem collection -------------------------------------------------------------------------


class Issues:
    """Problems found so far: whole-file/column ones, and row batches built only when kept."""

    def __init__(self, raw: RawTable) -> None:
        self.raw = raw
        self.general: list[Problem] = list(raw.problems)
        self._batches: list[tuple[np.ndarray, int, Callable[[int, int], Problem]]] = []

    def add(self, problem: Problem) -> None:
        self.general.append(problem)

    def rows(self, rows: np.ndarray, order: int, make: Callable[[int, int], Problem]) -> None:
        """Rows (0-based data indices) with one kind of problem; ``make(k, row)`` builds the
        Problem for ``rows[k]`` shown as spreadsheet row ``row``. ``order`` sorts within a row."""
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size:
            self._batches.append((rows, order, make))

    def count(self) -> int:
        return len(self.general) + sum(len(b[0]) for b in self._batches)

    def first_since(
        self, general: int, batches: int, later_general: int, later_batches: int
    ) -> None:
        """Order the problems added after (``later_general``, ``later_batches``) before those
        added since (``general``, ``batches``), as if they had been found first."""
        g, b = self.general, self._batches
        g[general:] = g[later_general:] + g[general:later_general]
        b[batches:] = b[later_batches:] + b[batches:later_batches]

    def finish(self, limit: int = MAX_PROBLEMS) -> list[Problem]:
        total = self.count()
        room = limit if total <= limit else limit - 1
        general = self.general[:room]
        room -= len(general)
        row_problems: list[tuple[int, int, int, Problem]] = []
        if self._batches and room > 0:
            rows = np.concatenate([b[0] for b in self._batches])
            order = np.concatenate([np.full(len(b[0]), b[1]) for b in self._batches])
            batch = np.concatenate([np.full(len(b[0]), i) for i, b in enumerate(self._batches)])
            pos = np.concatenate([np.arange(len(b[0])) for b in self._batches])
            chosen = np.lexsort((pos, batch, order, rows))[:room]
            for j in chosen:
                rows_j, _, make = self._batches[int(batch[j])]
                i = int(rows_j[pos[j]])
                row_problems.append(
                    (i, int(order[j]), int(batch[j]), make(int(pos[j]), self.raw.row_of(i)))
                )
        row_problems.sort(key=lambda t: t[:3])
        out = general + [p for *_, p in row_problems]
        # Whole-file and column problems first, then by row (stable: reader problems lead a row).
        out.sort(key=lambda p: (p.row is not None, p.row or 0))
        if total > len(out):
            more = total - len(out)
            out.append(
                Problem(
                    "more_problems",
                    f"另有 {more} 个问题未列出（共 {total} 个）。请先修改上面的问题，再重新检查。",
                    f"{more} more problem(s) not listed ({total} in all). Fix the ones above "
                    "and check the file again.",
                    value=more,
                )
            )
        return out


def _cell(array: pa.Array, i: int) -> object:
    value = array[i].as_py()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value


def _fmt(x: float) -> str:
    if math.isnan(x):
        return "NaN"
    return f"{x:.6g}"


# --- text, numbers and categories out of any Arrow column ---------------------------------------


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _number_text(array: pa.Array) -> pa.Array:
    """Numbers as text the way users wrote them: 12.0 → "12", 12.5 → "12.5"."""
    if pa.types.is_integer(array.type):
        return pc.cast(array, pa.string())
    values = pc.cast(array, pa.float64())
    v = values.to_numpy(zero_copy_only=False)
    with np.errstate(invalid="ignore"):
        integral = np.isfinite(v) & (np.floor(v) == v) & (np.abs(v) < 2.0**53)
    as_int = pc.cast(pa.array(np.where(integral, v, 0.0)).cast(pa.int64()), pa.string())
    as_float = pc.cast(values, pa.string())
    text = pc.if_else(pa.array(integral), as_int, as_float)
    nan = pa.array(np.isnan(v))
    return pc.if_else(pc.or_kleene(pc.is_null(values), nan), pa.scalar(None, pa.string()), text)


def _as_text(array: pa.Array) -> pa.Array:
    """Any column as a (possibly dictionary) text column, not yet trimmed."""
    t = array.type
    if pa.types.is_dictionary(t):
        if _is_text(t.value_type):
            return array
        return _as_text(array.dictionary_decode())
    if _is_text(t):
        return array
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return _number_text(array)
    if pa.types.is_null(t):
        return pa.nulls(len(array), pa.string())
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return pc.cast(array, pa.string(), safe=False)
    return pc.cast(array, pa.string())


_MARKER_SPELLINGS = pa.array(
    sorted(
        {f(m) for m in NULL_MARKERS for f in (str.lower, str.upper, str.title)} | {"NaN", "<Null>"}
    )
)


def _clean_text(array: pa.Array, text_cells: bool) -> tuple[pa.Array, np.ndarray]:
    """Trimmed text and the mask of empty cells (null, blank, or a null marker in text files)."""
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    trimmed = pc.utf8_trim_whitespace(array)
    missing = pc.or_kleene(pc.is_null(trimmed), pc.equal(pc.binary_length(trimmed), 0))
    if text_cells:
        marker = pc.is_in(trimmed, value_set=_MARKER_SPELLINGS)
        missing = pc.or_kleene(missing, marker)
    return trimmed, missing.to_numpy(zero_copy_only=False).astype(bool, copy=False)


def _string_buffers(chunk: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, data bytes) of a string array, as NumPy views."""
    offset_type = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
    offsets = np.frombuffer(chunk.buffers()[1], dtype=offset_type)[
        chunk.offset : chunk.offset + len(chunk) + 1
    ]
    data_buffer = chunk.buffers()[2]
    data = (
        np.frombuffer(data_buffer, dtype=np.uint8)
        if data_buffer is not None
        else np.empty(0, np.uint8)
    )
    return offsets, data


# Bytes that can begin, and bytes that can end, a character ``utf8_trim_whitespace`` removes: ASCII
# whitespace and separators (09–0D, 1C–20), U+0085, U+00A0, U+1680, U+2000–U+200A, U+2028,
# U+2029, U+202F, U+205F and U+3000. A test checks these against Arrow for every code point.
_TRIM_FIRST = np.zeros(256, dtype=bool)
_TRIM_FIRST[[*range(0x09, 0x0E), *range(0x1C, 0x21), 0xC2, 0xE1, 0xE2, 0xE3]] = True
_TRIM_LAST = np.zeros(256, dtype=bool)
_TRIM_LAST[
    [*range(0x09, 0x0E), *range(0x1C, 0x21), *range(0x80, 0x8B), 0x9F, 0xA0, 0xA8, 0xA9, 0xAF]
] = True
_BLOCK = 1 << 16  # rows per block of the whole-column checks: temporaries stay in cache


def _blocks(n: int, size: int = _BLOCK) -> range:
    return range(0, n, size)


def _fixed_width(offsets: np.ndarray) -> int | None:
    """The byte length every string has, when they all have the same one."""
    n = len(offsets) - 1
    total = int(offsets[-1]) - int(offsets[0]) if n > 0 else 0
    if n <= 0 or total % n:
        return None
    width = total // n
    for start in _blocks(n):
        block = offsets[start : start + _BLOCK + 1]
        if not (block[1:] - block[:-1] == width).all():
            return None
    return width


def _any_in(table: np.ndarray, values: np.ndarray) -> bool:
    """Whether any byte of ``values`` is flagged in the 256-entry ``table``."""
    if not len(values):
        return False
    if table[int(values.min()) : int(values.max()) + 1].sum() == 0:
        return False  # no flagged byte in the range of the values: no per-byte lookup
    return any(bool(table[values[i : i + _BLOCK]].any()) for i in _blocks(len(values)))


def _may_need_trim(offsets: np.ndarray, data: np.ndarray) -> bool:
    """False when no string can start or end with whitespace (checked on its first and last
    byte), so that trimming would change nothing."""
    n = len(offsets) - 1
    width = _fixed_width(offsets)
    if width == 0 or n <= 0:
        return False
    if width is not None:  # ids of one length (the usual case): the ends of each, no gather
        begin = int(offsets[0])
        rows = data[begin : begin + n * width].reshape(n, width)
        low, high = np.full(2, 255, dtype=np.uint8), np.zeros(2, dtype=np.uint8)
        for start in _blocks(n):
            ends = rows[start : start + _BLOCK, [0, width - 1]]  # first and last byte, in cache
            np.minimum(low, ends.min(axis=0), out=low)
            np.maximum(high, ends.max(axis=0), out=high)
        if not (
            _TRIM_FIRST[low[0] : int(high[0]) + 1].any()
            or _TRIM_LAST[low[1] : int(high[1]) + 1].any()
        ):
            return False  # no flagged byte in the range of first or last bytes
        firsts = data[begin : begin + n * width : width]
        lasts = data[begin + width - 1 : begin + n * width : width]
        return _any_in(_TRIM_FIRST, firsts) or _any_in(_TRIM_LAST, lasts)
    for start in _blocks(n):
        block = offsets[start : start + _BLOCK + 1]
        starts, ends = block[:-1], block[1:]
        filled = ends > starts
        if _TRIM_FIRST[data[starts[filled]]].any() or _TRIM_LAST[data[ends[filled] - 1]].any():
            return True
    return False


def _clean_ids(array: pa.Array | pa.ChunkedArray, text_cells: bool) -> tuple[pa.Array, np.ndarray]:
    """Like :func:`_clean_text`; plain string ids are trimmed chunk by chunk and a chunk that
    needs no trimming is kept as it is (no copy of millions of ids)."""
    if text_cells or not _is_text(array.type):
        return _clean_text(_as_text(array), text_cells)
    chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
    kept, parts = [], []
    for chunk in chunks:
        if len(chunk) == 0:
            continue
        before, data = _string_buffers(chunk)
        offsets = before
        if _may_need_trim(before, data):
            trimmed = pc.utf8_trim_whitespace(chunk)
            offsets, _ = _string_buffers(trimmed)
            if offsets[-1] - offsets[0] == before[-1] - before[0]:  # trimming only removes
                offsets = before
            else:
                chunk = trimmed
        kept.append(chunk)
        empty = offsets[1:] == offsets[:-1]
        if chunk.null_count:
            empty |= pc.is_null(chunk).to_numpy(zero_copy_only=False)
        parts.append(empty)
    if not kept:
        return array, np.zeros(0, dtype=bool)
    result = kept[0] if len(kept) == 1 else pa.chunked_array(kept, type=array.type)
    return result, parts[0] if len(parts) == 1 else np.concatenate(parts)


class Numbers:
    """A numeric source column: float64 values (NaN = empty or bad) and masks.

    ``missing`` and ``bad`` are built only when asked for: a column of native numbers has no bad
    cell and its empty cells are exactly its NaNs, which a whole-column reduction can rule out
    without a per-row mask (the common case of a valid file).
    """

    def __init__(
        self,
        values: np.ndarray,
        missing: np.ndarray | None,
        bad: np.ndarray | None,
        source: Source,
        array: pa.Array | pa.ChunkedArray,
    ) -> None:
        self.values = values  # may be converted to canonical units later
        self.read = values  # as read: NaN here is an empty cell when ``missing`` is None
        self._missing = missing
        self._bad = bad
        self.source = source
        self.array = array  # as read, for the value shown in problems

    @property
    def missing(self) -> np.ndarray:
        if self._missing is None:
            self._missing = np.isnan(self.read)
        return self._missing

    @property
    def bad(self) -> np.ndarray:
        if self._bad is None:
            self._bad = np.zeros(len(self.read), dtype=bool)
        return self._bad

    def any_missing(self) -> bool:
        if self._missing is None:
            return _any_nan(self.read)
        return bool(self._missing.any())

    def any_bad(self) -> bool:
        return self._bad is not None and bool(self._bad.any())


def _any_nan(values: np.ndarray) -> bool:
    """Whether ``values`` holds a NaN: one reduction, no temporary mask (``minimum`` propagates
    NaN)."""
    return bool(len(values)) and bool(np.isnan(np.minimum.reduce(values)))


def _bounds(values: np.ndarray) -> tuple[float, float]:
    """(smallest, largest) value ignoring NaN; (NaN, NaN) when there is none."""
    if not len(values):
        return math.nan, math.nan
    return float(np.fmin.reduce(values)), float(np.fmax.reduce(values))


def _numbers(
    array: pa.Array, text_cells: bool, percent_ok: bool
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """(values, missing, bad) of a column that should hold numbers; ``missing`` None means
    "the NaN values", ``bad`` None means "no bad cell"."""
    if isinstance(array, pa.ChunkedArray) and not _is_text(array.type):
        array = single_array(array)
    t = array.type
    n = len(array)
    if pa.types.is_dictionary(t):
        values, missing, bad = _numbers(array.dictionary, text_cells, percent_ok)
        missing = np.isnan(values) if missing is None else missing
        bad = np.zeros(len(values), dtype=bool) if bad is None else bad
        idx = pc.fill_null(array.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
        none = idx < 0
        idx = np.where(none, 0, idx)
        if len(values) == 0:
            return np.full(n, np.nan), np.ones(n, bool), np.zeros(n, bool)
        return (
            np.where(none, np.nan, values[idx]),
            none | missing[idx],
            ~none & bad[idx],
        )
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        if t != pa.float64():
            array = array.cast(pa.float64())
        values = array.to_numpy(zero_copy_only=False)  # no copy without nulls; null → NaN
        return values, None, None
    if pa.types.is_null(t):
        return np.full(n, np.nan), np.ones(n, dtype=bool), np.zeros(n, dtype=bool)
    if pa.types.is_boolean(t):
        missing = pc.is_null(array).to_numpy(zero_copy_only=False)
        return np.full(n, np.nan), missing, ~missing
    text, missing = _clean_text(_as_text(array), text_cells)
    try:
        # Fast path: Arrow parses every cell (it also reads nan/inf, which the range checks or
        # the empty-cell rules then handle).
        parsed = pc.cast(text, pa.float64())
    except pa.ArrowInvalid:
        parsed = None
    if parsed is not None:
        values = parsed.to_numpy(zero_copy_only=False).copy()
        values[missing] = np.nan
        return values, missing | np.isnan(values), np.zeros(n, dtype=bool)
    if not pc.all(pc.string_is_ascii(text)).as_py():
        text = pc.utf8_normalize(text, "NFKC")  # full-width digits １２．５ → 12.5
    percent = np.zeros(n, dtype=bool)
    if percent_ok:
        is_pct = pc.ends_with(text, "%")
        percent = pc.fill_null(is_pct, False).to_numpy(zero_copy_only=False)
        text = pc.if_else(
            is_pct, pc.utf8_rtrim_whitespace(pc.utf8_slice_codeunits(text, 0, -1)), text
        )
    thousands = pc.match_substring_regex(text, _THOUSANDS)
    text = pc.if_else(thousands, pc.replace_substring(text, ",", ""), text)
    ok = pc.fill_null(pc.match_substring_regex(text, _NUMBER), False)
    values = pc.cast(pc.if_else(ok, text, pa.scalar(None, text.type)), pa.float64())
    values = values.to_numpy(zero_copy_only=False).copy()
    values[percent] /= 100.0
    ok_np = ok.to_numpy(zero_copy_only=False)
    bad = ~ok_np & ~missing
    values[missing | bad] = np.nan
    return values, missing, bad


class Categories:
    """A categorical source column: per-row codes (-1 = empty) into ``values`` (trimmed text).

    The rows are kept as they were read — the dictionary indices of each chunk of the file
    column — with one small table from that dictionary to ``values``. :meth:`through` maps them
    to any other coding in one pass over the rows; :attr:`codes`, the plain per-row array, is
    built only when a check needs it (a file with problems, or two columns to compare).
    """

    def __init__(
        self,
        parts: list[np.ndarray],
        remap: np.ndarray,
        values: list[str],
        source: Source,
        array: pa.Array | pa.ChunkedArray,
    ) -> None:
        self.parts = parts  # per chunk: dictionary index of each row (len(remap) - 1 = null)
        self.remap = remap  # dictionary index → index into ``values``; -1 for an empty value
        self.values = values
        self.source = source
        self.array = array
        self._codes: np.ndarray | None = None
        self._present: np.ndarray | None = None

    @property
    def codes(self) -> np.ndarray:
        if self._codes is None:
            identity = np.append(np.arange(len(self.values), dtype=np.int32), np.int32(-1))
            self._codes = self.through(identity)
        return self._codes

    def through(self, table: np.ndarray) -> np.ndarray:
        """``table[code]`` of every row as int32; ``table`` has one entry per value plus a last
        one for empty cells (code -1)."""
        composed = np.asarray(table, dtype=np.int32)[self.remap]  # -1 picks the last entry
        out = np.empty(sum(len(p) for p in self.parts), dtype=np.int32)
        row = 0
        for indices in self.parts:
            for start in _blocks(len(indices)):  # small blocks: the widened indices stay in cache
                part = indices[start : start + _BLOCK]
                np.take(composed, part, out=out[row + start : row + start + len(part)])
            row += len(indices)
        return out

    def present(self) -> np.ndarray:
        """Which values occur; the extra last slot says whether an empty cell (-1) occurs."""
        if self._present is None:
            used = np.zeros(len(self.remap), dtype=bool)
            for indices in self.parts:
                _mark_used(used, indices)
            present = np.zeros(len(self.values) + 1, dtype=bool)
            present[self.remap[used]] = True  # -1 marks the last slot
            self._present = present
        return self._present


def _mark_used(used: np.ndarray, indices: np.ndarray) -> None:
    """Set ``used[i]`` for every index ``i`` in ``indices`` (non-negative, < len(used))."""
    size = len(used)
    for start in _blocks(len(indices)):
        block = indices[start : start + _BLOCK]
        if size <= 4096:  # a count per block is cheaper than a scatter of every row
            used |= np.bincount(block, minlength=size).astype(bool)
        else:
            used[block] = True


def _categories(
    array: pa.Array | pa.ChunkedArray, text_cells: bool
) -> tuple[list[np.ndarray], np.ndarray, list[str]]:
    """(dictionary indices per chunk, dictionary → value table, distinct values): trimmed
    text, empty cells → -1; the work is done on the distinct values, never a copy of the rows
    (chunks arriving with different dictionaries are first put on one)."""
    chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
    texts = []
    for chunk in chunks:
        if len(chunk) == 0:
            continue
        text = _as_text(chunk)
        if not pa.types.is_dictionary(text.type):
            text = pc.dictionary_encode(text)
        texts.append(text)
    if len(texts) > 1:
        texts = pa.chunked_array(texts).unify_dictionaries().chunks
    raw_values = texts[0].dictionary.to_pylist() if texts else []
    cleaned: dict[str, int] = {}
    remap = np.full(len(raw_values) + 1, -1, dtype=np.int32)  # last slot: an empty cell
    for k, value in enumerate(raw_values):
        v = (value or "").strip()
        if not v or (text_cells and v.lower() in NULL_MARKERS):
            continue
        remap[k] = cleaned.setdefault(v, len(cleaned))
    parts = []
    for text in texts:
        indices = text.indices
        if indices.null_count:
            indices = pc.fill_null(indices.cast(pa.int32()), len(raw_values))
        parts.append(indices.to_numpy(zero_copy_only=False))
    return parts, remap, list(cleaned)


def _relabel_table(labels: Sequence[str | None]) -> tuple[np.ndarray, list[str]]:
    """Per-value table into the sorted distinct labels (None → -1), with a last -1 entry."""
    final = sorted({lab for lab in labels if lab is not None})
    where = {lab: i for i, lab in enumerate(final)}
    table = np.array([where[lab] if lab is not None else -1 for lab in labels] + [-1], np.int32)
    return table, final


def _relabel(codes: np.ndarray, labels: Sequence[str | None]) -> tuple[np.ndarray, list[str]]:
    """Map codes through per-value labels (None → -1) into sorted distinct labels."""
    table, final = _relabel_table(labels)
    return table[codes], final


def _compact(codes: np.ndarray, labels: list[str]) -> tuple[np.ndarray, list[str]]:
    """Drop unused labels; keep them sorted (the canonical dictionary order)."""
    used = _present(codes, len(labels))[:-1]
    if used.all() and labels == sorted(labels):
        return codes, labels
    kept = [lab if u else None for lab, u in zip(labels, used, strict=True)]
    return _relabel(codes, kept)


def _present(codes: np.ndarray, size: int) -> np.ndarray:
    """Which of ``size`` codes occur; the extra last slot says whether -1 (empty) occurs."""
    present = np.zeros(size + 1, dtype=bool)
    present[codes] = True
    return present


def _mapped(item: Categories, table: np.ndarray, labels: list[str]) -> pa.DictionaryArray:
    """The rows of ``item`` through ``table`` (one entry per value plus one for empty cells,
    -1 = none) as a dictionary column over ``labels``, unused labels dropped."""
    hit = table[np.flatnonzero(item.present())]  # the codes that occur; -1 when any is empty
    used = np.zeros(len(labels) + 1, dtype=bool)
    used[hit] = True
    if not used[:-1].all():
        compact, labels = _relabel_table(
            [lab if u else None for lab, u in zip(labels, used[:-1], strict=True)]
        )
        table = compact[table]  # -1 stays -1 (the last entry of ``compact``)
    return _dictionary(item.through(table), labels, has_empty=bool(used[-1]))


def _dictionary(
    codes: np.ndarray, labels: list[str], *, has_empty: bool | None = None
) -> pa.DictionaryArray:
    """A dictionary column; ``has_empty=False`` promises that every code is a valid index
    (then the codes are not scanned again)."""
    mask = codes < 0 if has_empty is None or has_empty else None
    if mask is not None and not mask.any():
        mask = None
    indices = pa.array(codes, type=pa.int32(), mask=mask)
    dictionary = pa.array(labels, type=pa.string())
    return pa.DictionaryArray.from_arrays(indices, dictionary, safe=has_empty is not False)


# --- messages -----------------------------------------------------------------------------------


def _p(code: str, zh: str, en: str, row: int | None, column: str | None, value: object) -> Problem:
    return Problem(code, zh, en, row=row, column=column, value=value)


def _range_text(column: schema.Column) -> tuple[str, str]:
    low = "" if column.low is None else _fmt(column.low)
    high = "" if column.high is None else _fmt(column.high)
    left = "(" if column.low_exclusive else "["
    unit_zh = _UNIT_ZH.get(column.unit, column.unit)
    unit_en = _UNIT_EN.get(column.unit, column.unit)
    return f"{left}{low}, {high}] {unit_zh}".strip(), f"{left}{low}, {high}] {unit_en}".strip()


# --- the build ----------------------------------------------------------------------------------


@dataclass
class Built:
    """The canonical table (``None`` when there are problems) and what was learned on the way."""

    table: pa.Table | None
    problems: list[Problem]
    column_map: dict[str, str] = field(default_factory=dict)
    area_unit: str | None = None
    area_from_geometry: bool = False
    ignored: list[str] = field(default_factory=list)


class UniqueIds:
    """The checked ids of one inventory, handed to another read at the same time.

    The file that publishes (``build_table(publish_ids=…)``) offers its ids once they are known
    to be all present and distinct; the other (``build_table(unique_ids=…)``) waits for them, and
    when its own ids are equal (the same values in the same order: both surveys exported
    alike) it knows they are distinct too and skips its duplicate check, whose result could only
    be "none". Otherwise it checks as usual. The result is the same either way.
    """

    def __init__(self) -> None:
        self._ready = threading.Event()
        self._ids: pa.Array | pa.ChunkedArray | None = None

    def publish(self, ids: pa.Array | pa.ChunkedArray | None) -> None:
        """Offer ``ids`` (all present, no duplicates), or None: nothing to offer. Once only."""
        if not self._ready.is_set():
            self._ids = ids
            self._ready.set()

    def close(self) -> None:
        """Nothing (more) to offer: the publishing file failed before its ids were checked."""
        self.publish(None)

    def known_distinct(self, ids: pa.Array | pa.ChunkedArray) -> bool:
        """True when ``ids`` equal the published ids (waits for the publisher to decide)."""
        self._ready.wait()
        known = self._ids
        return known is not None and len(known) == len(ids) and known.equals(ids)


def build_table(
    raw: RawTable,
    plan: ColumnPlan,
    *,
    known_groups: Collection[str],
    on_column: Callable[[str, pa.Array | pa.ChunkedArray], None] | None = None,
    publish_ids: UniqueIds | None = None,
    unique_ids: UniqueIds | None = None,
) -> Built:
    """Validate every row of ``raw`` and build the canonical Arrow table.

    ``on_column(name, array)`` is called with each canonical column as soon as it is final,
    while no problem has been found yet (the caller may start hashing it); the table holds
    exactly these arrays when the file turns out valid. ``publish_ids`` / ``unique_ids``: see
    :class:`UniqueIds` (two files read at the same time; the results do not change).
    """
    issues = Issues(raw)
    for problem in plan.problems:
        issues.add(problem)
    builder = _Builder(raw, plan, issues, frozenset(known_groups))
    builder.publish_ids, builder.unique_ids = publish_ids, unique_ids
    try:
        arrays = builder.run(_Finished(issues, on_column))
    finally:
        if publish_ids is not None:
            publish_ids.close()  # no-op when the ids were published
    for i in list(raw.pending):
        raw.column(i)  # a column no check needed still has to be readable
    problems = issues.finish()
    built = Built(
        None,
        problems,
        builder.column_map,
        builder.area_unit,
        builder.area_from_geometry,
        list(plan.ignored) + list(raw.unread),
    )
    if not problems:
        ordered = [(c.name, arrays[c.name]) for c in schema.COLUMNS if c.name in arrays]
        built.table = pa.table(dict(ordered))
    return built


class _Finished(dict[str, pa.Array]):
    """The canonical columns built so far; each is handed to ``on_column`` as it arrives, as
    long as the file has no problem."""

    def __init__(
        self,
        issues: Issues,
        on_column: Callable[[str, pa.Array | pa.ChunkedArray], None] | None,
    ) -> None:
        super().__init__()
        self.issues = issues
        self.on_column = on_column

    def __setitem__(self, name: str, array: pa.Array) -> None:
        super().__setitem__(name, array)
        if self.on_column is not None and not self.issues.count():
            self.on_column(name, array)


class _Builder:
    def __init__(
        self, raw: RawTable, plan: ColumnPlan, issues: Issues, known: frozenset[str]
    ) -> None:
        self.raw, self.plan, self.issues, self.known = raw, plan, issues, known
        self.n = len(raw)
        self.column_map: dict[str, str] = {}
        self.area_unit: str | None = None
        self.area_from_geometry = False
        self.order = {h: i for i, h in enumerate(raw.headers)}
        self.publish_ids: UniqueIds | None = None
        self.unique_ids: UniqueIds | None = None

    def run(self, arrays: dict[str, pa.Array]) -> dict[str, pa.Array]:
        # The ids are checked last: a large Parquet file may still be decoding them (see
        # ``RawTable.pending``). Their problems are listed as if found first, as before.
        general, batches = len(self.issues.general), len(self.issues._batches)
        self._columns(arrays)
        found = len(self.issues.general), len(self.issues._batches)
        mapped = dict(self.column_map)
        self.column_map.clear()
        ids = self._ids()
        self.column_map.update(mapped)
        self.issues.first_since(general, batches, *found)
        if ids is not None:
            arrays["subcompartment_id"] = ids
        return arrays

    def _columns(self, arrays: dict[str, pa.Array]) -> None:
        area = self._area()
        if area is not None:
            arrays["area_ha"] = pa.array(area)
        self._species(arrays)
        for column in schema.COLUMNS:
            if column.name in arrays or column.name in ("species", "species_group"):
                continue
            sources = self.plan.sources.get(column.name)
            if not sources:
                continue
            if column.kind == "float":
                values = self._float(column, sources, area)
                arrays[column.name] = pa.array(values)
            elif column.kind == "category":
                arrays[column.name] = self._category(column, sources)

    # -- helpers --

    def _col(self, source: Source) -> pa.Array:
        return self.raw.column(source.index)

    def _missing_column(self, canonical: str) -> None:
        column = schema.BY_NAME[canonical]
        names = "、".join(accepted_headers(canonical))
        extra_zh = extra_en = ""
        if canonical == "area_ha":
            extra_zh = "；矢量文件也可以不给面积列，由小班多边形计算"
            extra_en = "; a GIS layer may instead give polygons to compute areas from"
        if canonical == "species_group":
            extra_zh = "；或给出优势树种列，由树种对应到树种组"
            extra_en = "; or give a dominant-species column (优势树种) to derive the group"
        self.issues.add(
            _p(
                "missing_column",
                f"缺少必需的列“{column.zh}”。可用的列名：{names}{extra_zh}。请在表头中加入该列。",
                f"The required column '{column.zh}' ({column.en}) is missing. Accepted headers: "
                f"{', '.join(accepted_headers(canonical))}{extra_en}. Add the column to the header.",
                None,
                column.zh,
                None,
            )
        )

    def _missing_values(self, mask: np.ndarray, header: str, column: schema.Column) -> None:
        rows = np.flatnonzero(mask)
        self.issues.rows(
            rows,
            self.order.get(header, 0),
            lambda k, row: _p(
                "missing_value",
                f"必填项“{header}”为空（{column.zh}）。请为该小班填写。",
                f"The required cell '{header}' ({column.en}) is empty. Fill it in for this "
                "sub-compartment.",
                row,
                header,
                None,
            ),
        )

    def _not_numbers(self, bad: np.ndarray, source: Source, column: schema.Column) -> None:
        array = self._col(source)
        rows = np.flatnonzero(bad)
        self.issues.rows(
            rows,
            source.index,
            lambda k, row: _p(
                "not_a_number",
                f"“{source.header}”应为数字，但填的是“{_cell(array, int(rows[k]))}”。"
                "请只填数字（不带单位和文字），小数点用“.”。",
                f"'{source.header}' ({column.en}) must be a number, but the cell holds "
                f"'{_cell(array, int(rows[k]))}'. Enter a plain number (no unit or text), with "
                "'.' as the decimal point.",
                row,
                source.header,
                _cell(array, int(rows[k])),
            ),
        )

    def _ambiguous(self, canonical: str, kept: Source, other: Source, differ: np.ndarray) -> None:
        column = schema.BY_NAME[canonical]
        rows = np.flatnonzero(differ)
        first = self.raw.row_of(int(rows[0]))
        self.issues.add(
            _p(
                "ambiguous_column",
                f"“{kept.header}”和“{other.header}”都表示{column.zh}，但有 {len(rows)} 行的值不一致"
                f"（第一处在第 {first} 行）。请删除其中一列，或改正不一致的值。",
                f"'{kept.header}' and '{other.header}' both give the {column.en}, but they "
                f"disagree in {len(rows)} row(s) (first at row {first}). Delete one of the two "
                "columns or correct the values.",
                None,
                other.header,
                kept.header,
            )
        )

    # -- sub-compartment id --

    def _ids(self) -> pa.Array | None:
        parts = self.plan.id_parts
        sources = self.plan.sources.get("subcompartment_id", [])
        column = schema.BY_NAME["subcompartment_id"]
        if parts is not None and not parts:
            return None  # id_columns named a column the file lacks: already reported
        if parts:
            texts = []
            valid = np.ones(self.n, dtype=bool)
            for part in parts:
                column_part = self._col(part)
                if isinstance(column_part, pa.ChunkedArray):
                    column_part = single_array(column_part)
                text, missing = _clean_text(_as_text(column_part), self.raw.text_cells)
                self._missing_values(missing, part.header, column)
                texts.append(pc.cast(text, pa.string()))
                valid &= ~missing
            ids = pc.binary_join_element_wise(*texts, ID_JOIN)
            header = "+".join(p.header for p in parts)
            self.order[header] = parts[-1].index
        elif sources:
            kept = sources[0]
            ids, missing = _clean_ids(self._col(kept), self.raw.text_cells)
            if pa.types.is_dictionary(ids.type):
                ids = ids.dictionary_decode()
            for other in sources[1:]:
                text, other_missing = _clean_text(_as_text(self._col(other)), self.raw.text_cells)
                same = pc.fill_null(
                    pc.equal(pc.cast(ids, pa.string()), pc.cast(text, pa.string())), False
                )
                differ = ~same.to_numpy(zero_copy_only=False) & ~(missing & other_missing)
                if differ.any():
                    self._ambiguous("subcompartment_id", kept, other, differ)
            self._missing_values(missing, kept.header, column)
            header = kept.header
            valid = ~missing
        else:
            self._missing_column("subcompartment_id")
            return None
        self.column_map["subcompartment_id"] = header
        if self.unique_ids is not None and valid.all() and self.unique_ids.known_distinct(ids):
            dup_rows = first_rows = np.empty(0, np.int64)  # equal to ids known to be distinct
        else:
            dup_rows, first_rows = find_duplicates(ids, valid)
        if self.publish_ids is not None:
            self.publish_ids.publish(ids if dup_rows.size == 0 and valid.all() else None)
        if dup_rows.size:
            self.issues.rows(
                dup_rows,
                self.order.get(header, 0),
                lambda k, row: _p(
                    "duplicate_id",
                    f"小班号“{_cell(ids, int(dup_rows[k]))}”重复：第 "
                    f"{self.raw.row_of(int(first_rows[k]))} 行已使用。每个小班号只能出现一次；"
                    "如果小班号只在林班内唯一，请用 id_columns 组合村、林班号和小班号。",
                    f"Sub-compartment id '{_cell(ids, int(dup_rows[k]))}' is a duplicate: row "
                    f"{self.raw.row_of(int(first_rows[k]))} already uses it. Each id must appear "
                    "once; if ids are only unique within a compartment, combine village, "
                    "compartment and sub-compartment with id_columns.",
                    row,
                    header,
                    _cell(ids, int(dup_rows[k])),
                ),
            )
        if ids.type != pa.string() and ids.type != pa.large_string():
            ids = pc.cast(ids, pa.string())
        return ids

    # -- area --

    def _area(self) -> np.ndarray | None:
        column = schema.BY_NAME["area_ha"]
        sources = self.plan.sources.get("area_ha")
        if sources:
            numbers = [self._read_numbers(s, column) for s in sources]
            for item in numbers:
                item.values = _to_ha(item.values, item.source.unit)
            kept = _prefer(numbers, "ha")
            self._check_agreement("area_ha", kept, numbers, None)
            self.column_map["area_ha"] = kept.source.header
            self.area_unit = kept.source.unit
            if kept.any_missing():
                self._missing_values(kept.missing, kept.source.header, column)
            self._area_checks(kept.values, kept.source, kept.array)
            return kept.values
        if self.raw.geometry is not None:
            self.area_from_geometry = True
            area = polygon_areas(self.raw, self.issues)
            if area is not None:
                self._area_checks(area, None, None)
            return area
        self._missing_column("area_ha")
        return None

    def _area_checks(self, area: np.ndarray, source: Source | None, array: pa.Array | None) -> None:
        column = schema.BY_NAME["area_ha"]
        header = source.header if source else (self.raw.geometry_column or "geometry")
        order = source.index if source else len(self.raw.headers)
        unit = source.unit if source else "ha"
        low, high = _bounds(area)
        if not (low <= 0 or high > (column.high or np.inf)):
            return  # every area is positive and in range (or empty): no per-row masks
        nonpositive = area <= 0
        too_big = area > (column.high or np.inf)  # +inf too; NaN never

        def shown(i: int) -> object:
            return _cell(array, i) if array is not None else float(area[i])

        rows = np.flatnonzero(nonpositive)
        self.issues.rows(
            rows,
            order,
            lambda k, row: _p(
                "nonpositive_area",
                f"面积“{shown(int(rows[k]))}”不大于 0。每个小班的面积必须为正数，请填写实测面积。",
                f"The area '{shown(int(rows[k]))}' is zero or negative. Every sub-compartment "
                "needs a positive area; enter the surveyed area.",
                row,
                header,
                shown(int(rows[k])),
            ),
        )
        big = np.flatnonzero(too_big)
        unit_note_zh = "" if unit == "ha" else f"（{_UNIT_ZH[unit]}，已换算为公顷）"
        unit_note_en = "" if unit == "ha" else f" (given in {unit}, converted to ha)"
        self.issues.rows(
            big,
            order,
            lambda k, row: _p(
                "out_of_range",
                f"面积 {_fmt(float(area[big[k]]))} 公顷{unit_note_zh}超过单个小班的上限 "
                f"{_fmt(column.high or 0)} 公顷。请检查单位（亩/公顷）和小数点。",
                f"An area of {_fmt(float(area[big[k]]))} ha{unit_note_en} exceeds the "
                f"{_fmt(column.high or 0)} ha a single sub-compartment can have. Check the unit "
                "(mu or ha) and the decimal point.",
                row,
                header,
                shown(int(big[k])),
            ),
        )

    # -- numbers --

    def _read_numbers(self, source: Source, column: schema.Column) -> Numbers:
        array = self._col(source)
        percent_ok = column.unit == "1" and source.unit != "%"  # a share may be written 30%
        values, missing, bad = _numbers(array, self.raw.text_cells, percent_ok)
        if bad is not None:
            self._not_numbers(bad, source, column)
        return Numbers(values, missing, bad, source, array)

    def _check_agreement(
        self, canonical: str, kept: Numbers, items: list[Numbers], area: np.ndarray | None
    ) -> None:
        for other in items:
            if other is kept:
                continue
            a, b = kept.values, other.values
            tol = 0.01 * np.fmax(np.abs(a), np.abs(b))
            tol = tol + _tolerance(kept.source.unit, area) + _tolerance(other.source.unit, area)
            with np.errstate(invalid="ignore"):
                close = np.abs(a - b) <= tol
            both_empty = np.isnan(a) & np.isnan(b)
            differ = ~close & ~both_empty & ~kept.bad & ~other.bad
            if differ.any():
                self._ambiguous(canonical, kept.source, other.source, differ)

    def _float(
        self, column: schema.Column, sources: list[Source], area: np.ndarray | None
    ) -> np.ndarray:
        numbers = [self._read_numbers(s, column) for s in sources]
        for item in numbers:
            item.values = _convert(item.values, item.source.unit, area)
        kept = _prefer(numbers, CANONICAL_UNIT.get(column.name, ""))
        self._check_agreement(column.name, kept, numbers, area)
        self.column_map[column.name] = kept.source.header
        self._range_checks(kept, column)
        return kept.values

    def _range_checks(self, item: Numbers, column: schema.Column) -> None:
        v = item.values
        low, high = _bounds(v)
        below = column.low is not None and (
            low <= column.low if column.low_exclusive else low < column.low
        )
        if not below and not (column.high is not None and high > column.high):
            return  # all in range (or empty): no per-row masks
        bad = np.zeros(len(v), dtype=bool)  # NaN compares False: empty cells are never bad
        if column.low is not None:
            bad |= (v <= column.low) if column.low_exclusive else (v < column.low)
        if column.high is not None:
            bad |= v > column.high
        rows = np.flatnonzero(bad)
        source, array = item.source, item.array
        rng_zh, rng_en = _range_text(column)
        converted = source.unit not in ("", column.unit)

        def note(i: int, lang: str) -> str:
            if not converted:
                return ""
            if lang == "zh":
                return f"（换算为 {_fmt(float(v[i]))} {_UNIT_ZH.get(column.unit, column.unit)}）"
            return f" (= {_fmt(float(v[i]))} {_UNIT_EN.get(column.unit, column.unit)})"

        self.issues.rows(
            rows,
            source.index,
            lambda k, row: _p(
                "out_of_range",
                f"“{source.header}”的值 {_cell(array, int(rows[k]))}{note(int(rows[k]), 'zh')} "
                f"超出{column.zh}的合理范围 {rng_zh}。请检查单位和小数点。",
                f"'{source.header}' = {_cell(array, int(rows[k]))}{note(int(rows[k]), 'en')} is "
                f"outside the plausible range of the {column.en}, {rng_en}. Check the unit and "
                "the decimal point.",
                row,
                source.header,
                _cell(array, int(rows[k])),
            ),
        )

    # -- categories --

    def _read_categories(self, source: Source) -> Categories:
        array = self._col(source)
        parts, remap, values = _categories(array, self.raw.text_cells)
        return Categories(parts, remap, values, source, array)

    def _category(self, column: schema.Column, sources: list[Source]) -> pa.DictionaryArray:
        results = []
        for source in sources:
            item = self._read_categories(source)
            table = category_table(column.name)
            labels: list[str | None] = []
            unknown: list[int] = []
            for k, value in enumerate(item.values):
                label = table.get(normalize_value(value))
                if label is None:
                    if column.name in STRICT_CATEGORIES:
                        unknown.append(k)
                    else:
                        label = value
                labels.append(label)
            if unknown:
                self._unknown_category(item, column, np.array(unknown, dtype=np.int32))
            # unknown values become -1 here; they are already reported
            results.append((item, *_relabel_table(labels)))
        kept_item, table, final = results[0]
        for other_item, other_table, other_final in results[1:]:
            a = np.array([*final, ""], dtype=object)[kept_item.through(table)]
            b = np.array([*other_final, ""], dtype=object)[other_item.through(other_table)]
            differ = a != b
            if differ.any():
                self._ambiguous(column.name, kept_item.source, other_item.source, differ)
        self.column_map[column.name] = kept_item.source.header
        return _mapped(kept_item, table, final)

    def _unknown_category(
        self, item: Categories, column: schema.Column, unknown: np.ndarray
    ) -> None:
        rows = np.flatnonzero(np.isin(item.codes, unknown))
        standard = "、".join(STANDARD_LABELS.get(column.name, ()))
        array, source = item.array, item.source
        self.issues.rows(
            rows,
            source.index,
            lambda k, row: _p(
                "unknown_category",
                f"“{source.header}”的值“{_cell(array, int(rows[k]))}”无法识别。"
                f"{column.zh}应为：{standard}（或其常用简称、代码）。",
                f"'{source.header}' = '{_cell(array, int(rows[k]))}' is not a recognized "
                f"{column.en}. Use one of: {standard} (or a common short form or code).",
                row,
                source.header,
                _cell(array, int(rows[k])),
            ),
        )

    # -- species and species group --

    def _species(self, arrays: dict[str, pa.Array]) -> None:
        group_sources = self.plan.sources.get("species_group", [])
        species_sources = self.plan.sources.get("species", [])
        if not group_sources and not species_sources:
            self._missing_column("species_group")
            return
        species = group = None
        if species_sources:
            species = self._read_categories(species_sources[0])
            for other in species_sources[1:]:
                self._same_text("species", species, self._read_categories(other))
            arrays["species"] = _mapped(species, *_relabel_table(species.values))
            self.column_map["species"] = species.source.header
        if group_sources:
            group = self._read_categories(group_sources[0])
            for other in group_sources[1:]:
                self._same_text("species_group", group, self._read_categories(other))
            self.column_map["species_group"] = group.source.header

        known = self.known
        groups: list[str] = sorted(known)
        where = {g: i for i, g in enumerate(groups)}
        items = [item for item in (group, species) if item is not None]
        tables = []
        for item in items:
            mapped = [species_group_of(v, known) for v in item.values]
            tables.append(
                np.array([where[g] if g is not None else -1 for g in mapped] + [-1], np.int32)
            )
        first, table = items[0], tables[0]
        present = first.present()
        if not present[-1] or len(items) == 1:
            # One column decides every row: one pass to find the values used, one to map them.
            unknown = np.flatnonzero(present[:-1] & (table[:-1] < 0))
            if unknown.size:
                self._unknown_species(first, np.flatnonzero(np.isin(first.codes, unknown)))
            if present[-1]:
                self._missing_values(
                    first.codes < 0, first.source.header, schema.BY_NAME["species_group"]
                )
            used = sorted({groups[t] for t in table[:-1][present[:-1]] if t >= 0})
            final_where = {g: i for i, g in enumerate(used)}
            final = np.array(
                [final_where[groups[t]] if t >= 0 else -1 for t in table[:-1]] + [-1], np.int32
            )
            arrays["species_group"] = _mapped(first, final, used)
            return
        # The group column has empty cells: fill them from the species column.
        result = table[first.codes]
        fill = first.codes >= 0
        if (table[:-1] < 0).any():
            self._unknown_species(first, np.flatnonzero(fill & (result < 0)))
        second, second_table = items[1], tables[1]
        looked_up = second_table[second.codes]
        fill = (first.codes < 0) & (second.codes >= 0)
        if (second_table[:-1] < 0).any():
            self._unknown_species(second, np.flatnonzero(fill & (looked_up < 0)))
        result = np.where(fill, looked_up, result)
        need = (first.codes < 0) & (second.codes < 0)
        self._missing_values(need, first.source.header, schema.BY_NAME["species_group"])
        codes, labels = _compact(result, groups)
        arrays["species_group"] = _dictionary(codes, labels)

    def _same_text(self, canonical: str, kept: Categories, other: Categories) -> None:
        a = np.array([*kept.values, ""], dtype=object)[kept.codes]
        b = np.array([*other.values, ""], dtype=object)[other.codes]
        differ = a != b
        if differ.any():
            self._ambiguous(canonical, kept.source, other.source, differ)

    def _unknown_species(self, item: Categories, rows: np.ndarray) -> None:
        array, source = item.array, item.source
        known = "、".join(sorted(self.known))
        self.issues.rows(
            rows,
            source.index,
            lambda k, row: _p(
                "unknown_species",
                f"树种“{_cell(array, int(rows[k]))}”不在树种组对照表中。请改为已知的树种组（{known}），"
                "或在参数文件中增加该树种组。",
                f"Species '{_cell(array, int(rows[k]))}' maps to no known species group. Use "
                f"one of the known groups ({known}), or add the group to your parameter file.",
                row,
                source.header,
                _cell(array, int(rows[k])),
            ),
        )


def _prefer(items: list[Numbers], unit: str) -> Numbers:
    for item in items:
        if item.source.unit == unit:
            return item
    return items[0]


def _to_ha(values: np.ndarray, unit: str) -> np.ndarray:
    if unit == "mu":
        return values / schema.MU_PER_HA
    if unit == "m2":
        return values / 10_000.0
    return values


def _convert(values: np.ndarray, unit: str, area: np.ndarray | None) -> np.ndarray:
    if unit == "m3/mu":
        return values * schema.MU_PER_HA
    if unit == "m3":
        if area is None:
            return np.full(len(values), np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            per_ha = values / area
        per_ha[~(area > 0)] = np.nan  # no usable area: reported on the area column
        return per_ha
    if unit == "%":
        return values / 100.0
    return values


def _tolerance(unit: str, area: np.ndarray | None) -> np.ndarray | float:
    """Half a unit of the usual rounding, in canonical units, when two columns are compared.

    ha: 0.005 ha (2 decimals); 亩: 0.05 亩 (1 decimal); m²: 0.5 m²; m³/ha: 0.5; m³/亩: 0.05 m³/亩;
    whole-stand m³: 0.5 m³ spread over the area; anything else 0.5 of its unit. Two columns agree
    when they differ by at most 1 % of the larger value plus both half-units.
    """
    if unit == "ha":
        return 0.005
    if unit == "mu":
        return 0.05 / schema.MU_PER_HA
    if unit == "m2":
        return 0.5 / 10_000.0
    if unit == "m3/mu":
        return 0.05 * schema.MU_PER_HA
    if unit == "m3" and area is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            return 0.5 / area
    if unit == "%":
        return 0.005
    return 0.5


# --- duplicates ---------------------------------------------------------------------------------

_MIX = np.array(
    [0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93],
    dtype=np.uint64,
)
_FAST_WIDTH = 32  # bytes: longer ids use Arrow's hash table


def find_duplicates(
    ids: pa.Array | pa.ChunkedArray, valid: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose id appeared in an earlier row, and that earlier (first) row; 0-based indices.

    Rows where ``valid`` is False (empty ids) are not compared. For short ids (≤ 32 bytes, the
    usual case) each id is folded into a 32-bit key (equal ids, equal keys) and the keys are
    sorted: when no two are equal there is no duplicate. Otherwise only the rows whose key is
    shared (for 10 M distinct ids, some 20,000 by chance) are compared exactly.
    """
    n = len(ids)
    if n < 2:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    candidates: np.ndarray | None = None
    if valid.all() and n >= 10_000 and _is_text(ids.type):
        keys = _fold_keys(ids)
        if keys is not None:
            candidates = _sharing_a_key(ids, keys)
            if candidates.size == 0:
                return np.empty(0, np.int64), np.empty(0, np.int64)
    if candidates is None:
        candidates = np.flatnonzero(valid)
    subset = ids.take(pa.array(candidates)) if len(candidates) != n else ids
    if isinstance(subset, pa.ChunkedArray):
        subset = single_array(subset)
    if pa.types.is_dictionary(subset.type):
        subset = subset.dictionary_decode()
    codes = pc.dictionary_encode(subset).indices.to_numpy(zero_copy_only=False)
    if len(codes) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    _, first = np.unique(codes, return_index=True)
    first_of_code = np.empty(int(codes.max()) + 1, dtype=np.int64)
    first_of_code[codes[first]] = first
    firsts = first_of_code[codes]
    dup = firsts != np.arange(len(codes))
    return candidates[dup].astype(np.int64), candidates[firsts[dup]].astype(np.int64)


_BUCKET_BITS = 20  # a table of 2^20 flags (1 MB) over the top bits of a key
# Rows per block while folding: a block of ids (8,192 × 20 bytes) stays in the core's own cache
# while its words are read one after another; 64k-row blocks made the fold 5× slower.
_FOLD_BLOCK = 1 << 13


def _sharing_a_key(ids: pa.Array | pa.ChunkedArray, keys: np.ndarray) -> np.ndarray:
    """The rows (ascending) whose uint32 key (``_fold_keys(ids)``, sorted here in place) some
    other row has too."""
    keys.sort()  # in place: a sorted copy would be fresh memory, which costs more than a refold
    same = keys[1:] == keys[:-1]
    if not same.any():
        return np.empty(0, np.int64)
    shared = np.unique(keys[1:][same])
    del same
    _fold_keys(ids, out=keys)  # the keys again, in row order
    # Rows to test: those whose key falls in a bucket of a shared key (1 row in ~100 here).
    shift = np.uint32(32 - _BUCKET_BITS)
    flagged = np.zeros(1 << _BUCKET_BITS, dtype=bool)
    flagged[shared >> shift] = True
    rows = []
    for start in _blocks(len(keys)):
        block = keys[start : start + _BLOCK]
        hits = np.flatnonzero(flagged[block >> shift])
        if hits.size:
            values = block[hits]
            at = np.minimum(np.searchsorted(shared, values), len(shared) - 1)
            rows.append(hits[shared[at] == values] + start)
    return np.concatenate(rows).astype(np.int64)


def _fold_keys(ids: pa.Array | pa.ChunkedArray, out: np.ndarray | None = None) -> np.ndarray | None:
    """One uint32 key per id (equal ids → equal keys), or None when ids are too long to fold.

    Each id's 8-byte words are multiplied by odd constants and added (mod 2^64); the key is the
    top half of the sum. When every id has the same byte length ``w`` ≥ 8 (the usual case) the
    words at offsets 0, 8, 16 … and ``w - 8`` are read in place through strided views.
    Otherwise every id is padded with spaces to a multiple of 8 bytes (a copy). One rule serves
    every id of the call, so equal ids get equal keys.
    """
    chunks = [c for c in (ids.chunks if isinstance(ids, pa.ChunkedArray) else [ids]) if len(c)]
    buffers = [_string_buffers(chunk) for chunk in chunks]
    widths = {_fixed_width(offsets) for offsets, _ in buffers}
    keys = np.empty(len(ids), dtype=np.uint32) if out is None else out
    mixed = np.empty(_FOLD_BLOCK, dtype=np.uint64)
    scratch = np.empty(_FOLD_BLOCK, dtype=np.uint64)
    half = np.uint64(32)
    if len(widths) == 1 and (width := widths.pop()) is not None and 8 <= width <= _FAST_WIDTH:
        starts = [*range(0, width - 7, 8)]
        if starts[-1] != width - 8:
            starts.append(width - 8)  # overlaps the previous word: still every byte once at least
        row = 0
        for offsets, data in buffers:
            count = len(offsets) - 1
            for start in _blocks(count, _FOLD_BLOCK):
                m = min(_FOLD_BLOCK, count - start)
                out = mixed[:m]
                base = int(offsets[start])
                for k, at in enumerate(starts):
                    words = np.ndarray(
                        (m,), dtype="<u8", buffer=data, offset=base + at, strides=(width,)
                    )
                    if k == 0:
                        np.multiply(words, _MIX[0], out=out)
                    else:
                        np.multiply(words, _MIX[k], out=scratch[:m])
                        out += scratch[:m]
                np.right_shift(out, half, out=out)
                keys[row + start : row + start + m] = out
            row += count
        return keys
    longest = 0
    for offsets, _ in buffers:
        longest = max(longest, int(np.diff(offsets).max()))
    width = max(8, -(-longest // 8) * 8)
    if width > _FAST_WIDTH:
        return None
    row = 0
    for chunk in chunks:
        for start in _blocks(len(chunk), _FOLD_BLOCK):
            block = chunk.slice(start, _FOLD_BLOCK)
            m = len(block)
            padded = pc.ascii_rpad(block, width, padding=" ")
            offsets, data = _string_buffers(padded)
            if offsets[-1] - offsets[0] != m * width or not (np.diff(offsets) == width).all():
                return None
            words = data[offsets[0] : offsets[-1]].view(np.uint64).reshape(m, width // 8)
            out = mixed[:m]
            np.multiply(words[:, 0], _MIX[0], out=out)
            for k in range(1, width // 8):
                np.multiply(words[:, k], _MIX[k], out=scratch[:m])
                out += scratch[:m]
            np.right_shift(out, half, out=out)
            keys[row + start : row + start + m] = out
        row += len(chunk)
    return keys


# --- area from polygons -------------------------------------------------------------------------


def gauss_kruger_epsg(longitude: float) -> int | None:
    """EPSG code of the CGCS2000 3-degree Gauss–Krüger zone (CM = 3·round(lon/3)), 75°E–135°E."""
    cm = 3 * math.floor(longitude / 3 + 0.5)
    if 75 <= cm <= 135:
        return 4534 + (cm - 75) // 3
    return None


def polygon_areas(raw: RawTable, issues: Issues) -> np.ndarray | None:
    """Area (ha) of each feature's polygon, projected to a Gauss–Krüger zone when geographic."""
    import shapely
    from pyproj import CRS, Transformer

    header = raw.geometry_column or "geometry"
    order = len(raw.headers)
    geoms = shapely.from_wkb(raw.geometry, on_invalid="ignore")
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    type_id = shapely.get_type_id(geoms)
    polygonal = np.isin(type_id, (3, 6))
    wrong_type = ~empty & ~polygonal
    valid = np.zeros(len(geoms), dtype=bool)
    ok = ~empty & polygonal
    valid[ok] = shapely.is_valid(geoms[ok])
    invalid = ok & ~valid

    rows = np.flatnonzero(empty)
    issues.rows(
        rows,
        order,
        lambda k, row: _p(
            "empty_geometry",
            "该小班没有多边形（几何为空），无法计算面积。请补画小班边界或在属性表中给出面积列。",
            "This feature has no polygon (empty geometry), so its area cannot be computed. Draw "
            "the sub-compartment boundary or add an area column.",
            row,
            header,
            None,
        ),
    )
    wrong = np.flatnonzero(wrong_type)
    issues.rows(
        wrong,
        order,
        lambda k, row: _p(
            "not_a_polygon",
            f"该要素是 {geoms[wrong[k]].geom_type} 类几何（不是面），无法计算面积。"
            "请使用面（多边形）图层。",
            f"This feature is a {geoms[wrong[k]].geom_type}, not a polygon, so it has no area. "
            "Use a polygon layer.",
            row,
            header,
            geoms[wrong[k]].geom_type,
        ),
    )
    bad = np.flatnonzero(invalid)
    issues.rows(
        bad,
        order,
        lambda k, row: _p(
            "invalid_geometry",
            f"小班多边形无效（{shapely.is_valid_reason(geoms[bad[k]])}），面积不可信。"
            "请在 GIS 软件中修复几何（如“修复几何”工具）后重新导出。",
            f"The polygon is invalid ({shapely.is_valid_reason(geoms[bad[k]])}), so its area "
            "cannot be trusted. Repair the geometry in your GIS (e.g. 'Repair Geometry') and "
            "export again.",
            row,
            header,
            shapely.is_valid_reason(geoms[bad[k]]),
        ),
    )
    if raw.crs is None:
        issues.add(
            _p(
                "missing_crs",
                "图层没有坐标系（缺少 .prj 或 CRS），无法由多边形计算面积。请为图层定义坐标系，"
                "或在属性表中给出面积列。",
                "The layer has no coordinate reference system (no .prj or CRS), so areas cannot "
                "be computed from the polygons. Define the layer's CRS or add an area column.",
                None,
                header,
                None,
            )
        )
        return None
    try:
        crs = CRS.from_user_input(raw.crs)
    except Exception:
        crs = None
    good = geoms[valid]
    area = np.full(len(geoms), np.nan)
    if crs is not None and crs.is_geographic and len(good):
        minx, _, maxx, _ = shapely.total_bounds(good)
        epsg = gauss_kruger_epsg((minx + maxx) / 2)
        if epsg is None:
            issues.add(
                _crs_problem(header, raw.crs, "经度超出 75°E–135°E", "longitude outside 75°E–135°E")
            )
            return None
        transformer = Transformer.from_crs(crs, CRS.from_epsg(epsg), always_xy=True)

        def project(xy: np.ndarray) -> np.ndarray:
            x, y = transformer.transform(xy[:, 0], xy[:, 1])
            return np.column_stack([x, y])

        area[valid] = shapely.area(shapely.transform(good, project)) / 10_000.0
    elif crs is not None and crs.is_projected:
        factor = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
        area[valid] = shapely.area(good) * factor * factor / 10_000.0
    elif len(good):
        issues.add(
            _crs_problem(
                header, raw.crs, "既非地理坐标系也非投影坐标系", "neither geographic nor projected"
            )
        )
        return None
    return area


def _crs_problem(header: str, crs: str, why_zh: str, why_en: str) -> Problem:
    return _p(
        "unsupported_crs",
        f"无法用图层坐标系 {crs[:80]} 计算面积（{why_zh}）。请将图层投影到 CGCS2000 高斯-克吕格"
        "投影坐标系，或在属性表中给出面积列。",
        f"Areas cannot be computed in the layer's CRS {crs[:80]} ({why_en}). Project the layer "
        "to a CGCS2000 Gauss-Kruger CRS or add an area column.",
        None,
        header,
        crs[:200],
    )
