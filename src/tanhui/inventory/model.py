"""The validated inventory: a canonical Arrow table, its source, its content hash, and ``stands()``.

:func:`read_inventory` is the one way in: it reads the file, maps the headers, validates every row
and either returns an :class:`Inventory` or raises :class:`~tanhui.errors.InventoryError` listing
every problem — nothing is ever half-imported.
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

import blake3
import numpy as np
import pyarrow as pa

from tanhui.errors import InventoryError, Problem
from tanhui.inventory import schema
from tanhui.inventory.aliases import plan_columns
from tanhui.inventory.readers import read_raw, single_array
from tanhui.inventory.validate import UniqueIds, build_table
from tanhui.measure.stands import Stands

_CANONICAL_NAN = np.uint64(0x7FF8000000000000)


@dataclass(frozen=True)
class SourceInfo:
    """Where an inventory came from and how it was read.

    ``column_map`` maps each canonical column to the header as written in the file (a composed id
    shows its parts joined with ``+``); ``area_unit`` is the unit of the area column that was used
    (``ha``, ``mu`` or ``m2``; ``None`` when areas come from polygons).
    """

    path: str
    format: str
    encoding: str | None
    layer: str | None
    column_map: Mapping[str, str]
    area_unit: str | None
    area_from_geometry: bool
    ignored_columns: tuple[str, ...] = ()
    id_columns: tuple[str, ...] = ()


class Inventory:
    """A validated sub-compartment table in the canonical schema.

    ``table`` holds only canonical columns, in :data:`schema.COLUMNS` order: ``subcompartment_id``
    string (it may keep the reader's chunks, e.g. one per Parquet row group); numbers float64, one
    chunk, ``NaN`` for an empty cell and no Arrow nulls, so they convert to NumPy without copying;
    categories ``dictionary<int32, string>``, one chunk, whose dictionary is the sorted list of the
    labels in use (an empty cell is null).
    """

    def __init__(
        self,
        table: pa.Table,
        source: SourceInfo,
        *,
        geometry: np.ndarray | None = None,
        crs: str | None = None,
    ) -> None:
        self.table = table
        self.source = source
        self.geometry = geometry
        self.crs = crs
        self._hash: Future[str] | None = None
        self._digests: Mapping[str, Future[bytes]] | None = None  # started while validating
        self._stands: Stands | None = None
        self._ids: pa.Array | None = None

    def __len__(self) -> int:
        return self.table.num_rows

    def __repr__(self) -> str:
        return (
            f"Inventory({len(self)} rows from {self.source.path!r} "
            f"[{self.source.format}], columns={self.table.column_names})"
        )

    @property
    def content_hash(self) -> str:
        """See :func:`content_hash` (BLAKE3); computed once."""
        return self.start_hashing().result()

    def content_hash_with(self, algorithm: str) -> str:
        """The content hash with another algorithm (``"sha256"``: the one results recorded
        before BLAKE3 name); computed on each call."""
        if algorithm == HASH_ALGORITHM:
            return self.content_hash
        return content_hash(self.table, algorithm)

    def start_hashing(self) -> Future[str]:
        """Start computing the content hash in a background thread (the hash releases the GIL,
        so it overlaps the arithmetic on another core); :attr:`content_hash` waits for it.
        :func:`read_inventory` has usually started it already, column by column."""
        if self._hash is None:
            digests = self._digests
            if digests is not None and list(digests) == self.table.column_names:
                self._hash = _combined(self.table.num_rows, digests)
            else:
                self._hash = _hasher().submit(content_hash, self.table)
            self._digests = None
        return self._hash

    @property
    def ids(self) -> pa.Array:
        """The sub-compartment ids as one array (combined once; 10 M ids are 200 MB to copy)."""
        if self._ids is None:
            self._ids = single_array(self.table.column("subcompartment_id"))
        return self._ids

    def stands(self) -> Stands:
        """The NumPy view the methods compute on (float64 arrays shared with the table); built
        once. The content hash starts in the background meanwhile."""
        if self._stands is not None:
            return self._stands
        self.start_hashing()
        numbers: dict[str, np.ndarray] = {}
        codes: dict[str, np.ndarray] = {}
        labels: dict[str, tuple[str, ...]] = {}
        for column in schema.COLUMNS:
            if column.name not in self.table.column_names or column.kind == "id":
                continue
            array = single_array(self.table.column(column.name))
            if column.kind == "float":
                numbers[column.name] = _float_numpy(array)
            elif column.kind == "category":
                codes[column.name], labels[column.name] = _codes_numpy(array)
        self._stands = Stands(
            numbers=numbers,
            codes=codes,
            labels=labels,
            survey_year=self.survey_year(),
        )
        return self._stands

    def survey_year(self) -> float | None:
        """The survey year when the 调查年度 column holds exactly one value, else ``None``."""
        if "survey_year" not in self.table.column_names:
            return None
        years = _float_numpy(single_array(self.table.column("survey_year")))
        if len(years) == 0:
            return None
        low, high = np.fmin.reduce(years), np.fmax.reduce(years)  # NaN ignored; all NaN → NaN
        return float(low) if low == high else None  # NaN never equals NaN

    def summary(self) -> dict[str, Any]:
        """Rows, total area, count and area by species group, survey years, columns found/missing."""
        area = _float_numpy(single_array(self.table.column("area_ha")))
        group_codes, group_labels = _codes_numpy(single_array(self.table.column("species_group")))
        count = np.bincount(group_codes, minlength=len(group_labels))
        by_area = np.bincount(group_codes, weights=area, minlength=len(group_labels))
        years: list[int | float] = []
        if "survey_year" in self.table.column_names:
            y = _float_numpy(single_array(self.table.column("survey_year")))
            years = [
                int(v) if float(v).is_integer() else float(v) for v in np.unique(y[~np.isnan(y)])
            ]
        present = set(self.table.column_names)
        return {
            "rows": len(self),
            "total_area_ha": float(area.sum()),
            "by_species_group": {
                label: {"count": int(count[i]), "area_ha": float(by_area[i])}
                for i, label in enumerate(group_labels)
            },
            "survey_years": years,
            "columns_found": dict(self.source.column_map),
            "columns_missing": [
                c.name for c in schema.COLUMNS if not c.required and c.name not in present
            ],
            "columns_ignored": list(self.source.ignored_columns),
            "area_from_geometry": self.source.area_from_geometry,
            "format": self.source.format,
            "encoding": self.source.encoding,
            "content_hash": self.content_hash,
        }


def _float_numpy(array: pa.Array) -> np.ndarray:
    if array.null_count:
        return array.to_numpy(zero_copy_only=False)  # nulls → NaN
    return array.to_numpy(zero_copy_only=True)


def _codes_numpy(array: pa.DictionaryArray) -> tuple[np.ndarray, tuple[str, ...]]:
    indices = array.indices
    if indices.null_count:
        codes = np.asarray(indices.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int32)
    else:
        codes = indices.to_numpy(zero_copy_only=True).astype(np.int32, copy=False)
    return codes, tuple(array.dictionary.to_pylist())


# --- content hash -------------------------------------------------------------------------------


@functools.cache
def _hasher() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="tanhui-hash")


# The algorithm of the content hash: BLAKE3 (layout v2). sha256 (layout v1) is kept to confirm
# results recorded before BLAKE3 was adopted; provenance names the algorithm of its hashes.
HASH_ALGORITHM = "blake3"
ALGORITHMS = ("blake3", "sha256")
_PREFIX = {"blake3": b"tanhui-inventory-content-v2\n", "sha256": b"tanhui-inventory-content-v1\n"}


def new_hash(algorithm: str = HASH_ALGORITHM, data: bytes = b"") -> Any:
    """A fresh hash object of ``algorithm`` ("blake3" or "sha256") fed with ``data``.

    Feed it with :func:`feed` (BLAKE3 takes only byte buffers). Both release the GIL on large
    inputs, so hashing overlaps NumPy and Arrow work on another core.
    """
    if algorithm == "blake3":
        return blake3.blake3(data)
    if algorithm == "sha256":
        return hashlib.sha256(data)
    raise ValueError(f"unknown hash algorithm {algorithm!r}; known: {', '.join(ALGORITHMS)}")


def feed(h: Any, data: Any) -> None:
    """``h.update`` with any C-contiguous buffer (a NumPy array, an Arrow buffer, bytes)."""
    h.update(memoryview(data).cast("B"))


def content_hash(table: pa.Table, algorithm: str = HASH_ALGORITHM) -> str:
    """The hash of the canonical content of an inventory table — the same rows give the same
    hash whatever the file format, chunking or dictionary order.

    Exactly, with ``X`` = BLAKE3 (256-bit output) and ``V`` = 2 (the default), or, for
    ``algorithm="sha256"``, ``X`` = sha256 and ``V`` = 1 (the layout's first version, kept to
    confirm older results)::

        H = X(b"tanhui-inventory-content-vV\\n" ‖ u64(row count) ‖ for each canonical column
              present, in schema.COLUMNS order: u64(len(name)) ‖ name ‖ u64(len(kind)) ‖
              kind ‖ D(column))

    where names and kinds are UTF-8, ``u64``/``i64``/``i32``/``f64`` are little-endian integers and
    floats, and ``D`` is the 32-byte ``X`` digest of the column's payload:

    * ``id``: i64 byte length of every id, in row order, then the UTF-8 bytes of all ids
      concatenated;
    * ``float``: f64 of every value, with every NaN written as 0x7FF8000000000000 and -0.0 as 0.0;
    * ``category``: i64(number of labels used) ‖ for each label in sorted order (Unicode code
      point order, which is UTF-8 byte order) i64(byte length) ‖ bytes; then i32 of every row's
      code into that sorted list, -1 for an empty cell.

    The result is the hex digest of ``H`` (64 characters). Column digests are computed in two
    threads. Version 2 changed only the algorithm (BLAKE3 hashes about twice as fast as sha256
    here, and the content hash is on the path of every measurement).
    """
    names = [c for c in schema.COLUMNS if c.name in table.column_names]
    with ThreadPoolExecutor(max_workers=2) as pool:
        digests = list(
            pool.map(lambda c: column_digest(c.name, table.column(c.name), algorithm), names)
        )
    return _combine(table.num_rows, [c.name for c in names], digests, algorithm)


def _combine(num_rows: int, names: Sequence[str], digests: Sequence[bytes], algorithm: str) -> str:
    """``H`` of :func:`content_hash` from the column digests, in ``schema.COLUMNS`` order."""
    h = new_hash(algorithm, _PREFIX[algorithm])
    feed(h, _u64(num_rows))
    for name, digest in zip(names, digests, strict=True):
        for text in (name, schema.BY_NAME[name].kind):
            data = text.encode("utf-8")
            feed(h, _u64(len(data)))
            feed(h, data)
        feed(h, digest)
    return h.hexdigest()


def _combined(num_rows: int, digests: Mapping[str, Future[bytes]]) -> Future[str]:
    """A future of the content hash, set when the last column digest is done (no thread
    waits for it)."""
    result: Future[str] = Future()
    result.set_running_or_notify_cancel()
    pending = [len(digests)]
    lock = threading.Lock()

    def one_done(_: Future[bytes]) -> None:
        with lock:
            pending[0] -= 1
            if pending[0]:
                return
        try:
            values = [f.result() for f in digests.values()]
            result.set_result(_combine(num_rows, list(digests), values, HASH_ALGORITHM))
        except BaseException as exc:  # pragma: no cover - a digest failed: report it on use
            result.set_exception(exc)

    for future in digests.values():
        future.add_done_callback(one_done)
    return result


def start_column_digest(name: str, column: pa.Array | pa.ChunkedArray) -> Future[bytes]:
    """Start :func:`column_digest` of one canonical column in the background."""
    return _hasher().submit(column_digest, name, column)


def _u64(n: int) -> bytes:
    return int(n).to_bytes(8, "little")


_BLOCK = 1 << 16  # values per block when hashing: a block's checks and copies stay in cache


def column_digest(
    name: str, column: pa.Array | pa.ChunkedArray, algorithm: str = HASH_ALGORITHM
) -> bytes:
    """``D(column)`` of :func:`content_hash` for the canonical column ``name``."""
    kind = schema.BY_NAME[name].kind
    h = new_hash(algorithm)
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    chunks = [c for c in chunks if len(c)]
    if kind == "id":
        _hash_ids(h, chunks)
    elif kind == "float":
        for chunk in chunks:
            _hash_floats(h, chunk.cast(pa.float64()).to_numpy(zero_copy_only=False))
    else:
        _hash_categories(h, chunks)
    return h.digest()


def _hash_ids(h: Any, chunks: list[pa.Array]) -> None:
    pieces = []
    for chunk in chunks:
        if pa.types.is_dictionary(chunk.type):
            chunk = chunk.dictionary_decode()
        offsets_type = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
        offsets = np.frombuffer(chunk.buffers()[1], dtype=offsets_type)[
            chunk.offset : chunk.offset + len(chunk) + 1
        ]
        lengths = np.empty(_BLOCK, dtype="<i8")
        for start in range(0, len(offsets) - 1, _BLOCK):
            block = offsets[start : start + _BLOCK + 1]
            out = lengths[: len(block) - 1]
            np.subtract(block[1:], block[:-1], out=out)
            feed(h, out)
        pieces.append((chunk, offsets))
    for chunk, offsets in pieces:
        data = chunk.buffers()[2]
        if data is not None and offsets[-1] > offsets[0]:
            feed(h, memoryview(data)[int(offsets[0]) : int(offsets[-1])])


def _hash_floats(h: Any, values: np.ndarray) -> None:
    values = values.astype("<f8", copy=False)
    for start in range(0, len(values), _BLOCK):
        block = values[start : start + _BLOCK]
        if np.minimum.reduce(block) > 0.0:  # False for a NaN (it propagates) or any zero
            feed(h, block)  # nothing to canonicalize: hash the memory as it is
            continue
        block = block + 0.0  # a copy; -0.0 + 0.0 = +0.0
        nan = np.isnan(block)
        if nan.any():
            block.view(np.uint64)[nan] = _CANONICAL_NAN
        feed(h, block)


def _hash_categories(h: Any, chunks: list[pa.Array]) -> None:
    labels: set[str] = set()
    parts = []
    for chunk in chunks:
        if not pa.types.is_dictionary(chunk.type):
            chunk = chunk.dictionary_encode()
        dictionary = chunk.dictionary.to_pylist()
        indices = chunk.indices
        if indices.null_count:
            indices = indices.fill_null(-1)
        codes = indices.to_numpy(zero_copy_only=False)
        present = np.zeros(len(dictionary) + 1, dtype=bool)
        for start in range(0, len(codes), _BLOCK):
            block = codes[start : start + _BLOCK]
            if len(present) <= 4096:  # a count per block is cheaper than a scatter
                present |= np.bincount(block + 1, minlength=len(present)).astype(bool)
            else:
                present[block + 1] = True
        used = present[1:]  # code -1 marks the spare first slot
        labels.update(v for v, u in zip(dictionary, used, strict=True) if u)
        parts.append((dictionary, codes))
    ordered = sorted(labels)
    feed(h, _u64(len(ordered)))
    for label in ordered:
        data = label.encode("utf-8")
        feed(h, _u64(len(data)))
        feed(h, data)
    where = {label: i for i, label in enumerate(ordered)}
    for dictionary, codes in parts:
        remap = np.array([where.get(v, -1) for v in dictionary] + [-1], dtype="<i4")
        identity = len(dictionary) == len(ordered) and bool(
            (remap[:-1] == np.arange(len(ordered))).all()
        )
        if identity and codes.dtype == np.dtype("<i4"):
            feed(h, np.ascontiguousarray(codes))
        else:
            for start in range(0, len(codes), _BLOCK):
                feed(h, remap[codes[start : start + _BLOCK]])


# --- reading ------------------------------------------------------------------------------------


def read_inventory(
    path: str | os.PathLike[str],
    *,
    layer: str | None = None,
    encoding: str | None = None,
    area_unit: Literal["ha", "mu"] | None = None,
    id_columns: Sequence[str] | None = None,
    known_groups: Collection[str] | None = None,
    publish_ids: UniqueIds | None = None,
    unique_ids: UniqueIds | None = None,
) -> Inventory:
    """Read, map and validate an inventory file; raise :class:`InventoryError` listing every
    problem (at most 10,000; the last then says how many more) — no partial inventory, ever.

    ``layer``: sheet (Excel) or layer (GeoPackage) name. ``encoding``: force the text encoding of
    a CSV or of a Shapefile's DBF. ``area_unit``: the unit of a bare 面积 column (default ha).
    ``id_columns``: columns whose values, joined with ``-``, make the sub-compartment id.
    ``known_groups``: species groups that parameters exist for (default: the shipped set).
    ``publish_ids`` / ``unique_ids``: two files read at the same time share their checked ids
    (:class:`tanhui.inventory.validate.UniqueIds`); what is read or raised does not change.
    """
    try:
        return _read_inventory(
            path,
            layer=layer,
            encoding=encoding,
            area_unit=area_unit,
            id_columns=id_columns,
            known_groups=known_groups,
            publish_ids=publish_ids,
            unique_ids=unique_ids,
        )
    finally:
        if publish_ids is not None:
            publish_ids.close()  # the other file must not wait when this one failed early


def _read_inventory(
    path: str | os.PathLike[str],
    *,
    layer: str | None,
    encoding: str | None,
    area_unit: Literal["ha", "mu"] | None,
    id_columns: Sequence[str] | None,
    known_groups: Collection[str] | None,
    publish_ids: UniqueIds | None,
    unique_ids: UniqueIds | None,
) -> Inventory:
    if area_unit not in (None, "ha", "mu"):
        raise ValueError(f"area_unit must be 'ha' or 'mu', not {area_unit!r}")
    if known_groups is None:
        from tanhui.measure.params import default_parameters

        known_groups = default_parameters().groups
    ids = tuple(id_columns or ())

    def select(headers: Sequence[str]) -> tuple[set[int], set[int]]:
        plan = plan_columns(headers, area_unit=area_unit, id_columns=ids)
        as_dictionary = {
            s.index
            for name, sources in plan.sources.items()
            if schema.BY_NAME[name].kind == "category"
            for s in sources
        }
        return plan.headers_needed(), as_dictionary

    raw = read_raw(path, layer=layer, encoding=encoding, select=select)
    plan = plan_columns(raw.headers, area_unit=area_unit, id_columns=ids)
    digests: dict[str, Future[bytes]] = {}

    def on_column(name: str, column: pa.Array | pa.ChunkedArray) -> None:
        # The content hash is needed by every measurement: hash each column on the other core
        # while the rest of the file is still being checked.
        digests[name] = start_column_digest(name, column)

    built = build_table(
        raw,
        plan,
        known_groups=known_groups,
        on_column=on_column,
        publish_ids=publish_ids,
        unique_ids=unique_ids,
    )
    if built.problems or built.table is None:
        for future in digests.values():
            future.cancel()
        raise InventoryError(str(path), built.problems)
    source = SourceInfo(
        path=str(path),
        format=raw.fmt,
        encoding=raw.encoding,
        layer=raw.layer,
        column_map=built.column_map,
        area_unit=built.area_unit,
        area_from_geometry=built.area_from_geometry,
        ignored_columns=tuple(built.ignored),
        id_columns=ids,
    )
    inventory = Inventory(built.table, source, geometry=raw.geometry, crs=raw.crs)
    if all(name in digests for name in built.table.column_names):
        inventory._digests = {name: digests[name] for name in built.table.column_names}
    return inventory


def check_inventory(
    path: str | os.PathLike[str],
    *,
    layer: str | None = None,
    encoding: str | None = None,
    area_unit: Literal["ha", "mu"] | None = None,
    id_columns: Sequence[str] | None = None,
    known_groups: Collection[str] | None = None,
) -> tuple[Inventory | None, list[Problem]]:
    """Like :func:`read_inventory` but returns ``(inventory, [])`` or ``(None, problems)``.

    Never raises :class:`InventoryError` (a missing or unreadable file is a problem too)."""
    try:
        inventory = read_inventory(
            path,
            layer=layer,
            encoding=encoding,
            area_unit=area_unit,
            id_columns=id_columns,
            known_groups=known_groups,
        )
        return inventory, []
    except InventoryError as exc:
        return None, list(exc.problems)


__all__ = [
    "Inventory",
    "SourceInfo",
    "check_inventory",
    "content_hash",
    "read_inventory",
]
