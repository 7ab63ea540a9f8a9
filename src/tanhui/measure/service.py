"""Measurement service: inventory files in, a :class:`MeasureResult` with provenance out.

This is the edge between the files (``tanhui.inventory``, Arrow) and the pure methods
(``tanhui.measure.methods``, NumPy). The CLI, the API and later rooms call :func:`measure_files`
or :func:`measure_inventories`; none of them computes anything itself.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tanhui import __version__
from tanhui.errors import MethodError, ProvenanceMismatch
from tanhui.inventory import Inventory, read_inventory
from tanhui.inventory.validate import UniqueIds
from tanhui.measure import provenance
from tanhui.measure.methods import get_method
from tanhui.measure.methods.base import (
    MATCHED,
    ONLY_BASELINE,
    ONLY_CURRENT,
    Method,
    MethodInputs,
    MethodOptions,
    MethodOutput,
)
from tanhui.measure.params import ParameterSet, load_parameters
from tanhui.measure.stands import Stands

Progress = Callable[[str], None]

# Columns the totals are broken down by (result key → canonical column).
BREAKDOWNS = {
    "by_group": "species_group",
    "by_township": "township",
    "by_village": "village",
    "by_age_class": "age_class",
}
UNKNOWN_LABEL = "(未填)"
CHUNK_ROWS = 1 << 18  # rows per compute call: small enough that temporaries stay in cache/heap


@dataclass(frozen=True)
class MeasureResult:
    """One method applied to one inventory (or a pair), with everything needed to recompute it."""

    method: Method
    ids: pa.Array
    output: MethodOutput
    match: np.ndarray | None
    breakdown_codes: dict[str, tuple[np.ndarray, tuple[str, ...]]]
    provenance: dict[str, Any]
    inventories: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The inventories measured (kept alive with the result), to hash them again with the
    # algorithm of an older record in ``verify``.
    sources: dict[str, Inventory] = field(default_factory=dict, repr=False, compare=False)

    @property
    def total_tco2e(self) -> float:
        return self.output.total

    def totals_by(self, key: str) -> dict[str, float]:
        """Credited tCO2e summed per label of a breakdown (``by_group``, ``by_village`` …)."""
        codes, labels = self.breakdown_codes[key]
        sums = _sums_by_code(codes, self.output.tco2e, len(labels))
        out = {label: float(sums[i + 1]) for i, label in enumerate(labels) if sums[i + 1] != 0}
        if sums[0] != 0:
            out[UNKNOWN_LABEL] = float(sums[0])
        return dict(sorted(out.items(), key=lambda kv: -abs(kv[1])))

    def unmatched(self) -> dict[str, Any]:
        """Rows present in only one of the two inventories: ids and their effect on the total."""
        if self.match is None:
            return {}
        out: dict[str, Any] = {}
        for key, flag in (("only_in_current", ONLY_CURRENT), ("only_in_baseline", ONLY_BASELINE)):
            rows = np.flatnonzero(self.match == flag)
            out[key] = {
                "count": int(rows.size),
                "tco2e": float(self.output.tco2e[rows].sum()),
                "ids": self.ids.take(pa.array(rows)).to_pylist(),
            }
        return out

    def reasons_of(self, rows: np.ndarray) -> list[list[str]]:
        """The reason codes of each row (empty when creditable)."""
        bits = self.output.reasons[rows]
        table = self.output.reason_table
        return [[r.code for r in table if b & (1 << r.bit)] for b in bits.tolist()]

    def reason_counts(self) -> dict[str, int]:
        reasons = self.output.reasons
        return {
            r.code: int(np.count_nonzero(reasons & np.uint32(1 << r.bit)))
            for r in self.output.reason_table
            if np.any(reasons & np.uint32(1 << r.bit))
        }

    def summary(self) -> dict[str, Any]:
        """Everything but the rows: what ``--summary`` prints."""
        out: dict[str, Any] = {
            "method": self.method.name,
            "method_version": self.method.version,
            "title": {"zh": self.method.title_zh, "en": self.method.title_en},
            "total_tco2e": self.output.total,
            "gross_tco2e": self.output.gross,
            "deductions": dict(self.output.deductions),
            "rows_measured": len(self.ids),
            "rows_credited": int(np.count_nonzero(self.output.reasons == 0)),
            "excluded": self.reason_counts(),
        }
        for key in BREAKDOWNS:
            out[key] = self.totals_by(key)
        if self.match is not None:
            out["unmatched"] = self.unmatched()
        out["inventories"] = self.inventories
        if self.output.notes:
            out["notes"] = list(self.output.notes)
        out["provenance"] = self.provenance
        return out

    def row_table(self) -> dict[str, list[Any]]:
        """Per-row values as columns: id, tco2e, the method's intermediates, labels, reasons."""
        n = len(self.ids)
        table: dict[str, list[Any]] = {
            "id": self.ids.to_pylist(),
            "tco2e": _floats(self.output.tco2e),
        }
        for name, values in self.output.columns.items():
            table[name] = _floats(values)
        for key, column in BREAKDOWNS.items():
            codes, labels = self.breakdown_codes[key]
            names = np.array([*labels, None], dtype=object)
            table[column] = names[codes].tolist()  # code -1 → None
        if self.match is not None:
            states = np.array(["matched", "only_in_current", "only_in_baseline"], dtype=object)
            table["match"] = states[self.match].tolist()
        table["reasons"] = [",".join(r) for r in self.reasons_of(np.arange(n))]
        return table

    def to_dict(self, *, include_rows: bool = True) -> dict[str, Any]:
        """The JSON document: summary fields plus ``rows`` (one object per sub-compartment)."""
        out = self.summary()
        if include_rows:
            table = self.row_table()
            keys = list(table)
            out["rows"] = [
                dict(zip(keys, values, strict=True)) for values in zip(*table.values(), strict=True)
            ]
        return out


_BLOCK = 1 << 16  # rows per block where codes are widened for np.bincount (stays in cache)


def _sums_by_code(codes: np.ndarray, weights: np.ndarray, size: int) -> np.ndarray:
    """``sums[c + 1]`` = sum of ``weights`` over rows with code ``c`` (-1 → ``sums[0]``).

    Summed in blocks and the block sums added up; the order of additions differs from one
    whole-column ``np.bincount`` only in the last bits of each total.
    """
    if len(codes) <= _BLOCK:
        return np.bincount(codes + 1, weights=weights, minlength=size + 1)
    sums = np.zeros(size + 1)
    for start in range(0, len(codes), _BLOCK):
        sums += np.bincount(
            codes[start : start + _BLOCK] + 1,
            weights=weights[start : start + _BLOCK],
            minlength=size + 1,
        )
    return sums


def _floats(values: np.ndarray) -> list[float | None]:
    """Float64 values for JSON: NaN becomes null."""
    return [None if v != v else v for v in values.tolist()]


def read_for_params(path: str | Path, params: ParameterSet, **read_options: Any) -> Inventory:
    """Read an inventory accepting every species group of the parameter set in use."""
    return read_inventory(path, known_groups=params.groups, **read_options)


def read_pair_for_params(
    current: str | Path,
    baseline: str | Path | None,
    params: ParameterSet,
    *,
    progress: Progress | None = None,
    **read_options: Any,
) -> tuple[Inventory, Inventory | None]:
    """Read the current inventory and the earlier one (when given), as :func:`read_for_params`.

    Two Parquet files are read at the same time, one per core (decoding, validation and hashing
    mostly run in Arrow and NumPy, outside the GIL). What the caller sees is what reading them
    one after the other gives: the ``read`` stage, the current file's error if it has one (the
    earlier file is then not reported on), else the ``read-baseline`` stage and the earlier
    file's error if any. Other formats are read one after the other.
    """
    say = progress or (lambda _stage: None)
    say("read")
    if baseline is None:
        return read_for_params(current, params, **read_options), None
    if not (_is_parquet(current) and _is_parquet(baseline)):
        inventory = read_for_params(current, params, **read_options)
        say("read-baseline")
        return inventory, read_for_params(baseline, params, **read_options)
    # The current file's ids, once checked, spare the earlier file its duplicate check when
    # both surveys list the same ids in the same order (see UniqueIds).
    shared = UniqueIds()
    earlier_future = _read_pool().submit(
        read_for_params, baseline, params, unique_ids=shared, **read_options
    )
    inventory = read_for_params(current, params, publish_ids=shared, **read_options)
    say("read-baseline")
    return inventory, earlier_future.result()


def _is_parquet(path: str | Path) -> bool:
    return Path(path).suffix.lower() == ".parquet"


@functools.cache
def _read_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="tanhui-read-pair")


def measure_files(
    current: str | Path,
    *,
    method: str,
    baseline: str | Path | None = None,
    params_file: str | Path | None = None,
    options: MethodOptions | None = None,
    growth: str | None = None,
    yield_table: str | Path | None = None,
    read_options: dict[str, Any] | None = None,
    progress: Progress | None = None,
    keep_columns: bool = True,
) -> MeasureResult:
    """Read the inventory file(s) and measure them; see :func:`measure_inventories`."""
    read_options = read_options or {}
    params = load_parameters(params_file)
    chosen = get_method(method)
    inventory, earlier = read_pair_for_params(
        current, baseline, params, progress=progress, **read_options
    )
    return measure_inventories(
        inventory,
        method=chosen,
        baseline=earlier,
        params=params,
        options=options or MethodOptions(),
        growth=growth,
        yield_table=yield_table,
        progress=progress,
        keep_columns=keep_columns,
    )


def measure_inventories(
    current: Inventory,
    *,
    method: Method,
    params: ParameterSet,
    baseline: Inventory | None = None,
    options: MethodOptions | None = None,
    growth: str | None = None,
    yield_table: str | Path | None = None,
    progress: Progress | None = None,
    keep_columns: bool = True,
    chunk_rows: int = CHUNK_ROWS,
) -> MeasureResult:
    """Apply ``method`` to ``current`` (and ``baseline``, the earlier inventory, when given).

    Two inventories are matched by sub-compartment id; rows found in only one of them are kept,
    flagged, and reported in :meth:`MeasureResult.unmatched` — never silently dropped.
    ``keep_columns=False`` keeps only tCO2e and reasons per row (what totals and ``--summary``
    need), not the method's intermediate columns.
    """
    say = progress or (lambda _stage: None)
    options = options or MethodOptions()
    if method.baseline == "required" and baseline is None:
        raise MethodError(
            f"方法 {method.name}（{method.title_zh}）需要前期清查数据：请用 --baseline 指定前期文件。",
            f"Method {method.name} ({method.title_en}) needs the earlier inventory: pass it with --baseline.",
        )
    if method.baseline == "none" and baseline is not None:
        raise MethodError(
            f"方法 {method.name} 只用一期清查数据，不接受 --baseline。",
            f"Method {method.name} uses one inventory; --baseline does not apply.",
            hint_zh="两期数据求差请用 stock-difference 或 smcer。",
            hint_en="For the change between two inventories use stock-difference or smcer.",
        )
    for inventory in (current, baseline):
        if inventory is not None:
            inventory.start_hashing()  # overlaps the arithmetic below on the other core
    options = _with_growth(options, method, baseline or current, params, growth, yield_table)
    say("align")
    if baseline is None:
        ids, stands, earlier_stands, match = current.ids, current.stands(), None, None
    else:
        ids, stands, earlier_stands, match = align(current, baseline)
    inputs = MethodInputs(
        current=stands, params=params, options=options, baseline=earlier_stands, match=match
    )
    say("compute")
    output = compute_in_chunks(method, inputs, keep_columns=keep_columns, chunk_rows=chunk_rows)
    breakdowns = {}
    only_baseline = None if match is None else np.flatnonzero(match == ONLY_BASELINE)
    for key, column in BREAKDOWNS.items():
        codes, labels = stands.category(column)
        if earlier_stands is not None and only_baseline is not None and only_baseline.size:
            codes, labels = _fill_from_baseline(
                codes, labels, earlier_stands, column, match, only_baseline
            )
        breakdowns[key] = (codes, labels)
    inventories = {"current": _describe_inventory(current)}
    if baseline is not None:
        inventories["baseline"] = _describe_inventory(baseline)
    record = {
        "tanhui_version": __version__,
        "method": {"name": method.name, "version": method.version},
        "parameters": params.describe(),
        "options": options.describe(),
        "hash_algorithm": provenance.HASH_ALGORITHM,  # of content_hash and rows_hash
        "inputs": {
            k: {"content_hash": v["content_hash"], "rows": v["rows"]}
            for k, v in inventories.items()
        },
        "result": {
            "rows_hash": provenance.array_hash(output.tco2e),
            "total_tco2e": output.total,
        },
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "input_files": {k: v["file"] for k, v in inventories.items()},
    }
    sources = (
        {"current": current} if baseline is None else {"current": current, "baseline": baseline}
    )
    return MeasureResult(method, ids, output, match, breakdowns, record, inventories, sources)


def compute_in_chunks(
    method: Method, inputs: MethodInputs, *, keep_columns: bool = True, chunk_rows: int = CHUNK_ROWS
) -> MethodOutput:
    """``method.compute`` over row chunks, stitched together; equal to one call on all rows.

    Why: a method makes a few dozen temporaries per row. Over 10 million rows those are gigabytes of
    fresh memory, and first-touch page faults cost more than the arithmetic; in chunks the same
    small working set is reused. The chunks are computed on two threads (NumPy releases the GIL;
    methods are pure), each writing its own rows of the result. Project-level deductions are
    applied once, on the whole total.
    """
    n = len(inputs.match) if inputs.match is not None else len(inputs.current)
    if n <= chunk_rows:
        whole = method.compute(inputs if keep_columns else replace(inputs, columns=False))
        return whole if keep_columns else replace(whole, columns={})

    def part_of(rows: slice) -> MethodOutput:
        return method.compute(
            replace(
                inputs,
                current=inputs.current.take(rows),
                baseline=None if inputs.baseline is None else inputs.baseline.take(rows),
                match=None if inputs.match is None else inputs.match[rows],
                columns=inputs.columns and keep_columns,
            )
        )

    def put(rows: slice, part: MethodOutput) -> MethodOutput:
        tco2e[rows] = part.tco2e
        reasons[rows] = part.reasons
        if keep_columns:
            for name, values in part.columns.items():
                columns[name][rows] = values
        return replace(part, tco2e=tco2e[:0], columns={}, reasons=reasons[:0])  # keep the small

    chunks = [slice(start, min(start + chunk_rows, n)) for start in range(0, n, chunk_rows)]
    first = part_of(chunks[0])  # its columns name the result's columns
    tco2e = np.empty(n)
    reasons = np.empty(n, dtype=np.uint32)
    columns = {name: np.empty(n) for name in first.columns} if keep_columns else {}
    parts = [put(chunks[0], first)]
    parts += list(_compute_pool().map(lambda rows: put(rows, part_of(rows)), chunks[1:]))
    deductions: dict[str, float] = {}
    notes: dict[str, None] = {}
    for part in parts:
        for key, value in part.deductions.items():
            deductions[key] = deductions.get(key, 0.0) + value
        notes.update(dict.fromkeys(part.notes))
    project_deductions = getattr(method, "project_deductions", None)
    if project_deductions is not None:
        deductions = project_deductions(inputs, float(np.sum(tco2e)))
    return MethodOutput(tco2e, columns, reasons, parts[-1].reason_table, deductions, tuple(notes))


@functools.cache
def _compute_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="tanhui-compute")


def verify(result: MeasureResult, stored: dict[str, Any]) -> None:
    """Raise :class:`ProvenanceMismatch` naming every field of ``stored`` the recomputation changed.

    ``stored`` is a result document as written by ``--format json`` (its ``provenance`` key) or the
    provenance mapping itself.
    """
    record = stored.get("provenance", stored)
    if not isinstance(record, dict) or "method" not in record:
        raise MethodError(
            "这不是 tanhui 计量结果文件（缺少 provenance）。",
            "This is not a tanhui measurement result (no provenance).",
            hint_zh="请指定 `tanhui measure … --format json --out 文件` 生成的 JSON 文件。",
            hint_en="Pass a JSON file written by `tanhui measure … --format json --out FILE`.",
        )
    differences = provenance.compare(record, _rehashed(result, provenance.record_algorithm(record)))
    if differences:
        raise ProvenanceMismatch(differences)


def _rehashed(result: MeasureResult, algorithm: str) -> dict[str, Any]:
    """``result.provenance`` with its hashes made with ``algorithm``: a record made before
    BLAKE3 (sha256, no ``hash_algorithm`` field) is confirmed with sha256, as it was made."""
    record = result.provenance
    if algorithm == record.get("hash_algorithm") or algorithm != provenance.LEGACY_ALGORITHM:
        return record  # the same algorithm, or one tanhui does not know: compare as it is
    if set(result.sources) != set(record["inputs"]):
        return record
    redone = {k: v for k, v in record.items() if k != "hash_algorithm"}
    redone["inputs"] = {
        k: {**v, "content_hash": result.sources[k].content_hash_with(algorithm)}
        for k, v in record["inputs"].items()
    }
    redone["result"] = {
        **record["result"],
        "rows_hash": provenance.array_hash(result.output.tco2e, algorithm=algorithm),
    }
    return redone


def align(current: Inventory, baseline: Inventory) -> tuple[pa.Array, Stands, Stands, np.ndarray]:
    """Union of two inventories by id: current rows in their order, then baseline-only rows.

    Returns the ids, both inventories as row-aligned :class:`Stands` (NaN / code -1 where a row is
    absent) and the match flag per row.
    """
    ids_now, ids_then = current.ids, baseline.ids
    if len(ids_now) == len(ids_then) and ids_now.equals(ids_then):
        # Both surveys exported in the same order: the common case needs no join.
        return ids_now, current.stands(), baseline.stands(), np.zeros(len(ids_now), np.int8)
    position = pc.index_in(ids_now, value_set=ids_then)  # baseline row of each current row, or null
    in_baseline = position.is_valid().to_numpy(zero_copy_only=False)
    then_index_of_now = position.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    found = pc.is_in(ids_then, value_set=ids_now).to_numpy(zero_copy_only=False)
    only_then = np.flatnonzero(~found)
    n_now = len(ids_now)
    now_index = np.concatenate([np.arange(n_now), np.full(only_then.size, -1)])
    then_index = np.concatenate([then_index_of_now, only_then])
    match = np.full(now_index.size, MATCHED, dtype=np.int8)
    match[:n_now][~in_baseline] = ONLY_CURRENT
    match[n_now:] = ONLY_BASELINE
    ids = pa.concat_arrays(
        [ids_now.cast(pa.string()), ids_then.take(pa.array(only_then)).cast(pa.string())]
    )
    return ids, _take(current.stands(), now_index), _take(baseline.stands(), then_index), match


def _take(stands: Stands, index: np.ndarray) -> Stands:
    """Rows at ``index``, where -1 yields an absent row (NaN numbers, code -1)."""
    absent = index < 0
    safe = np.where(absent, 0, index)
    numbers = {}
    for name, values in stands.numbers.items():
        taken = values[safe] if len(values) else np.full(index.size, np.nan)
        taken[absent] = np.nan
        numbers[name] = taken
    codes = {}
    for name, values in stands.codes.items():
        taken = values[safe].astype(np.int32) if len(values) else np.full(index.size, -1, np.int32)
        taken[absent] = -1
        codes[name] = taken
    return replace(stands, numbers=numbers, codes=codes)


def _fill_from_baseline(
    codes: np.ndarray,
    labels: tuple[str, ...],
    earlier: Stands,
    column: str,
    match: np.ndarray,
    only_baseline: np.ndarray | None = None,
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Label baseline-only rows with the baseline's value so their totals land somewhere.

    ``only_baseline``: the rows where ``match`` is ONLY_BASELINE, when the caller has them."""
    then_codes, then_labels = earlier.category(column)
    if only_baseline is None:
        only_baseline = np.flatnonzero(match == ONLY_BASELINE)
    rows = only_baseline[then_codes[only_baseline] >= 0]
    if rows.size == 0:
        return codes, labels
    merged = list(labels)
    lookup = {label: i for i, label in enumerate(merged)}
    remap = np.empty(len(then_labels), dtype=np.int32)
    for i, label in enumerate(then_labels):
        if label not in lookup:
            lookup[label] = len(merged)
            merged.append(label)
        remap[i] = lookup[label]
    codes = codes.copy()
    codes[rows] = remap[then_codes[rows]]
    return codes, tuple(merged)


def _with_growth(
    options: MethodOptions,
    method: Method,
    fit_on: Inventory,
    params: ParameterSet,
    family: str | None,
    yield_table: str | Path | None,
) -> MethodOptions:
    """Attach growth curves when the method projects growth (or the user asked for them)."""
    needs = getattr(method, "needs_growth", False)
    if options.growth is not None or not (needs or family or yield_table):
        return options
    curves, _report = growth_curves(fit_on, params, family=family, yield_table=yield_table)
    return replace(options, growth=curves)


def _group_index(stands: Stands, params: ParameterSet) -> np.ndarray:
    """Index into ``params.groups`` per row; -1 where the group is missing or unknown."""
    codes, labels = stands.category("species_group")
    lookup = np.array([params.groups.index(x) if x in params.groups else -1 for x in labels] + [-1])
    return lookup[codes].astype(np.int64)


def growth_curves(
    inventory: Inventory,
    params: ParameterSet,
    *,
    family: str | None = None,
    yield_table: str | Path | None = None,
    min_rows: int = 20,
) -> tuple[Any, Any]:
    """Growth curves per species group: from a yield table, or fitted on the inventory itself.

    Returns ``(GrowthCurves, FitReport or None)``.
    """
    from tanhui.measure import growth as growth_module

    if yield_table is not None:
        tables = growth_module.read_yield_table(yield_table)
        curves = growth_module.yield_table_curves(
            tables, params.groups, source=f"yield table {Path(yield_table).name}"
        )
        return curves, None
    stands = inventory.stands()
    return growth_module.fit_curves(
        _group_index(stands, params),
        stands.number("age_years"),
        stands.number("volume_m3_per_ha"),
        params.groups,
        family=family or "richards",
        min_rows=min_rows,
    )


@dataclass(frozen=True)
class Projection:
    """Volumes and tree carbon stock of every sub-compartment ``years`` ahead (ex-ante)."""

    ids: pa.Array
    years: np.ndarray  # offsets from the survey, in years
    volume: np.ndarray  # (rows, years) m³/ha; NaN where not projectable
    stock_tco2e: np.ndarray  # (rows, years)
    curves: Any

    def totals(self) -> dict[float, float]:
        """Projected stock (tCO2e) summed over projectable rows, per year offset."""
        return {
            float(y): float(np.nansum(self.stock_tco2e[:, j])) for j, y in enumerate(self.years)
        }


def project_inventory(
    inventory: Inventory,
    params: ParameterSet,
    years: Sequence[float],
    *,
    family: str | None = None,
    yield_table: str | Path | None = None,
) -> Projection:
    """Project every sub-compartment from its observed (age, volume) ``years`` ahead."""
    curves, _report = growth_curves(inventory, params, family=family, yield_table=yield_table)
    stands = inventory.stands()
    group = _group_index(stands, params)
    offsets = np.asarray(sorted(set(years)), dtype=np.float64)
    volume = curves.project_years(
        group, stands.number("age_years"), stands.number("volume_m3_per_ha"), offsets
    )
    factor = np.where(group >= 0, params.tco2e_per_m3()[np.maximum(group, 0)], np.nan)
    stock = volume * (stands.number("area_ha") * factor)[:, None]
    return Projection(inventory.ids, offsets, volume, stock, curves)


def _describe_inventory(inventory: Inventory) -> dict[str, Any]:
    source = inventory.source
    return {
        "file": Path(source.path).name,
        "format": source.format,
        "encoding": source.encoding,
        "rows": len(inventory),
        "content_hash": inventory.content_hash,
        "survey_year": inventory.stands().survey_year,
    }
