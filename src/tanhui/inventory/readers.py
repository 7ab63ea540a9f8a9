"""Read inventory files into a :class:`RawTable`: the file's own headers and Arrow columns.

The format is chosen by the extension (case-insensitive):

========================  ==================================================================
``.csv`` ``.txt``         text, UTF-8 (with or without BOM), GBK or GB18030 (see ``encoding``);
                          comma, tab, semicolon or ``|`` separated; every cell read as text
``.xlsx`` ``.xlsm``       python-calamine; the first sheet, or ``layer`` = the sheet name
``.xls`` ``.ods``
``.gpkg``                 pyogrio; ``layer`` or the first layer
``.shp``                  pyogrio; the ``.cpg`` names the DBF encoding, else UTF-8 is tried and
                          GBK is the fallback; DBF field names cut at 10 bytes are decoded here
``.parquet``              pyarrow; only the columns tanhui uses are read, categories as
                          dictionaries; a GeoParquet primary geometry column is kept
========================  ==================================================================

Rows: in text and spreadsheet files the header is the first row (within the first 20) in which
at least two cells are known headers — a title row above it is skipped — and ``row_of(i)`` is the
spreadsheet row of data row ``i`` (header = the header's own row, usually row 1). Completely empty
rows are skipped but keep their numbers. In GIS and Parquet files data row ``i`` (0-based) is
reported as row ``i + 2``: the feature or record number (1-based) plus one, as in a spreadsheet
export of the attribute table.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import functools
import io
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tanhui.errors import InventoryError, Problem
from tanhui.inventory.aliases import lookup
from tanhui.inventory.encoding import decode_bytes

FORMATS = {
    ".csv": "csv",
    ".txt": "csv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".xls": "xls",
    ".ods": "ods",
    ".gpkg": "gpkg",
    ".shp": "shp",
    ".parquet": "parquet",
}
HEADER_SCAN_ROWS = 20
# In text cells these mean "no value" (case-insensitive), like an empty cell.
NULL_MARKERS = ("nan", "null", "none", "<null>", "n/a")

# Given the file's headers, which columns to read and which of those to read as dictionaries.
Selector = Callable[[Sequence[str]], tuple[set[int], set[int]]]


@dataclass
class RawTable:
    """A file as read: headers as written, one Arrow array per column, row numbering."""

    path: str
    fmt: str
    headers: list[str]
    columns: list[pa.Array | pa.ChunkedArray]  # Parquet text and category columns may be chunked
    encoding: str | None = None
    layer: str | None = None
    first_row: int = 2
    row_numbers: np.ndarray | None = None  # spreadsheet row of each data row, when not contiguous
    geometry: np.ndarray | None = None  # WKB bytes (object array), GIS formats only
    geometry_column: str | None = None
    crs: str | None = None
    text_cells: bool = False  # every cell was text (CSV) or a spreadsheet cell: apply NULL_MARKERS
    problems: list[Problem] = field(default_factory=list)
    n_rows: int = 0
    unread: list[str] = field(default_factory=list)  # headers not read (Parquet: not needed)
    # Columns still being decoded in the background (Parquet text): index → the call that waits
    # for one and returns it (or raises InventoryError). ``column(i)`` resolves them.
    pending: dict[int, Callable[[], pa.Array | pa.ChunkedArray]] = field(default_factory=dict)

    def __len__(self) -> int:
        return self.n_rows

    def column(self, i: int) -> pa.Array | pa.ChunkedArray:
        """Column ``i``, waiting for it if it is still being decoded."""
        wait = self.pending.pop(i, None)
        if wait is not None:
            self.columns[i] = wait()
        return self.columns[i]

    def row_of(self, i: int) -> int:
        """The row number users see for data row ``i`` (0-based)."""
        if self.row_numbers is not None:
            return int(self.row_numbers[i])
        return self.first_row + int(i)


def read_raw(
    path: str | os.PathLike[str],
    *,
    layer: str | None = None,
    encoding: str | None = None,
    select: Selector | None = None,
) -> RawTable:
    """Read ``path`` as it is; raise :class:`InventoryError` for problems with the whole file."""
    p = Path(path)
    source = str(p)
    fmt = FORMATS.get(p.suffix.lower())
    if fmt is None:
        known = "、".join(sorted(FORMATS))
        raise InventoryError(
            source,
            [
                Problem(
                    "unsupported_format",
                    f"不支持扩展名为“{p.suffix or '（无）'}”的文件。支持：{known}。"
                    "请另存为 CSV、Excel、GeoPackage、Shapefile 或 Parquet。",
                    f"Files ending in '{p.suffix or '(none)'}' are not supported. Supported: "
                    f"{', '.join(sorted(FORMATS))}. Save the file as CSV, Excel, GeoPackage, "
                    "Shapefile or Parquet.",
                    value=p.suffix,
                )
            ],
        )
    if not p.is_file():
        raise InventoryError(
            source,
            [
                Problem(
                    "file_not_found",
                    f"找不到文件 {source}。请检查路径和文件名。",
                    f"File {source} does not exist. Check the path and the file name.",
                    value=source,
                )
            ],
        )
    if fmt == "csv":
        raw = _read_csv(p, encoding)
    elif fmt in ("xlsx", "xls", "ods"):
        raw = _read_excel(p, fmt, layer)
    elif fmt in ("gpkg", "shp"):
        raw = _read_gis(p, fmt, layer, encoding)
    else:
        raw = _read_parquet(p, select)
    if raw.n_rows == 0:
        raise InventoryError(source, [_empty_file(source)])
    return raw


def _empty_file(source: str) -> Problem:
    return Problem(
        "empty_file",
        f"文件 {source} 没有数据行（只有表头或完全为空）。请确认导出的是小班数据表。",
        f"File {source} has no data rows (only a header, or nothing). Check that you exported "
        "the sub-compartment table.",
    )


def _unreadable(source: str, what_zh: str, what_en: str, exc: BaseException) -> InventoryError:
    return InventoryError(
        source,
        [
            Problem(
                "unreadable_file",
                f"无法读取{what_zh}：{exc}。请确认文件未损坏，并用原软件重新导出。",
                f"Cannot read the {what_en}: {exc}. Check that the file is not damaged and export "
                "it again from the program that made it.",
            )
        ],
    )


# --- header detection (text and spreadsheets) ---------------------------------------------------


def _find_header(rows: Sequence[Sequence[object]]) -> int:
    """Index of the header row: the first with two known headers, else the first non-empty."""
    first_nonempty = None
    for i, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        cells = [c for c in row if _cell_text(c)]
        if not cells:
            continue
        if first_nonempty is None:
            first_nonempty = i
        if sum(lookup(_cell_text(c)) is not None for c in cells) >= 2:
            return i
    return first_nonempty if first_nonempty is not None else 0


def _cell_text(cell: object) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell).strip()


def _header_names(cells: Sequence[object]) -> list[str]:
    return [_cell_text(c) for c in cells]


# --- CSV ----------------------------------------------------------------------------------------


def _sniff_delimiter(line: str) -> str:
    counts = {d: line.count(d) for d in (",", "\t", ";", "|")}
    best = max(counts, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


def _read_csv(path: Path, encoding: str | None) -> RawTable:
    import pyarrow.csv as pcsv

    source = str(path)
    data = path.read_bytes()
    if not data or data.isspace():
        raise InventoryError(source, [_empty_file(source)])
    text, used = decode_bytes(data, source, encoding)
    if used == "utf-8-sig" or text.startswith("\ufeff"):
        text = text.removeprefix("\ufeff")
        payload = data[3:] if data.startswith(b"\xef\xbb\xbf") else text.encode("utf-8")
    elif used.replace("_", "-").lower() in ("utf-8", "utf8"):
        payload = data
    else:
        payload = text.encode("utf-8")

    first_line = text[: text.find("\n")] if "\n" in text[:65536] else text[:65536]
    delimiter = _sniff_delimiter(first_line)
    head_reader = csv.reader(io.StringIO(text[: 1 << 20]), delimiter=delimiter)
    head_rows: list[list[str]] = []
    for record in head_reader:
        head_rows.append(record)
        if len(head_rows) >= HEADER_SCAN_ROWS:
            break
    header_index = _find_header(head_rows)
    headers = _header_names(head_rows[header_index]) if head_rows else []
    if not any(headers):
        raise InventoryError(source, [_empty_file(source)])
    names = [f"c{i}" for i in range(len(headers))]

    invalid: list[object] = []

    def on_invalid(row: object) -> str:
        invalid.append(row)
        return "skip"

    try:
        table = pcsv.read_csv(
            pa.py_buffer(payload),
            read_options=pcsv.ReadOptions(column_names=names, skip_rows=header_index + 1),
            parse_options=pcsv.ParseOptions(
                delimiter=delimiter,
                newlines_in_values=True,
                ignore_empty_lines=False,
                invalid_row_handler=on_invalid,
            ),
            convert_options=pcsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
                null_values=[""],
            ),
        )
    except pa.ArrowInvalid as exc:
        raise _unreadable(source, "CSV 文件", "CSV file", exc) from None
    problems: list[Problem] = []
    if invalid:
        # Ragged rows: parse again in Python so every row keeps its true number.
        columns, problems = _csv_slow(text, delimiter, header_index, len(headers))
    else:
        columns = [table.column(i).combine_chunks() for i in range(len(headers))]
    raw = RawTable(
        source,
        "csv",
        headers,
        columns,
        encoding=used,
        first_row=header_index + 2,
        text_cells=True,
        problems=problems,
    )
    return _drop_empty_rows(raw)


def _csv_slow(
    text: str, delimiter: str, header_index: int, width: int
) -> tuple[list[pa.Array], list[Problem]]:
    cells: list[list[str | None]] = [[] for _ in range(width)]
    problems: list[Problem] = []
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    for number, record in enumerate(reader, start=1):
        if number <= header_index + 1:
            continue
        if len(record) > width and any(c.strip() for c in record[width:]):
            problems.append(
                Problem(
                    "malformed_row",
                    f"该行有 {len(record)} 个单元格，而表头只有 {width} 列（多出的内容不在任何列下）。"
                    "请检查是否有未加引号的逗号或错位的单元格。",
                    f"This row has {len(record)} cells but the header has {width} columns "
                    "(the extra cells belong to no column). Look for an unquoted comma or "
                    "shifted cells.",
                    row=number,
                    value=delimiter.join(record)[:200],
                )
            )
        for j in range(width):
            value = record[j] if j < len(record) else ""
            cells[j].append(value if value != "" else None)
    return [pa.array(c, type=pa.string()) for c in cells], problems


def _drop_empty_rows(raw: RawTable) -> RawTable:
    n = len(raw.columns[0]) if raw.columns else 0
    if n == 0:
        raw.n_rows = 0
        return raw
    empty = np.ones(n, dtype=bool)
    for column in raw.columns:
        present = pc.is_valid(column)
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            blank = pc.or_(pc.equal(column, ""), pc.utf8_is_space(column))
            present = pc.and_(present, pc.invert(pc.fill_null(blank, False)))
        empty &= ~present.to_numpy(zero_copy_only=False).astype(bool)
    if empty.any():
        keep = np.flatnonzero(~empty)
        raw.row_numbers = (raw.first_row + keep).astype(np.int64)
        index = pa.array(keep)
        raw.columns = [c.take(index) for c in raw.columns]
        n = len(keep)
    raw.n_rows = n
    return raw


# --- Excel and ODS ------------------------------------------------------------------------------


def _read_excel(path: Path, fmt: str, layer: str | None) -> RawTable:
    import python_calamine

    source = str(path)
    try:
        book = python_calamine.CalamineWorkbook.from_path(source)
        names = list(book.sheet_names)
        if layer is not None and layer not in names:
            raise _unknown_layer(source, layer, names, "工作表", "sheet")
        if not names:
            raise InventoryError(source, [_empty_file(source)])
        sheet_name = layer if layer is not None else names[0]
        rows = book.get_sheet_by_name(sheet_name).to_python(skip_empty_area=False)
    except InventoryError:
        raise
    except Exception as exc:  # calamine raises several unrelated types for damaged files
        raise _unreadable(source, "电子表格", "spreadsheet", exc) from None
    if not rows:
        raise InventoryError(source, [_empty_file(source)])
    header_index = _find_header(rows)
    headers = _header_names(rows[header_index])
    body = rows[header_index + 1 :]
    width = len(headers)
    columns = [_excel_column([r[j] if j < len(r) else "" for r in body]) for j in range(width)]
    raw = RawTable(
        source,
        fmt,
        headers,
        columns,
        layer=sheet_name,
        first_row=header_index + 2,
        text_cells=True,
    )
    return _drop_empty_rows(raw)


def _excel_column(values: list[object]) -> pa.Array:
    """Numbers stay float64 when the whole column is numeric; otherwise text, 12.0 → "12"."""
    numeric = True
    for v in values:
        if v == "" or v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, int | float):
            numeric = False
            break
    if numeric:
        return pa.array(
            [None if (v == "" or v is None) else float(v) for v in values], type=pa.float64()
        )
    return pa.array([_excel_text(v) for v in values], type=pa.string())


def _excel_text(v: object) -> str | None:
    if v is None or v == "":
        return None
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 2**53:
            return str(int(v))
        return repr(v)
    if isinstance(v, dt.date | dt.time | dt.datetime):
        return v.isoformat()
    return str(v)


def _unknown_layer(
    source: str, layer: str, names: Sequence[str], what_zh: str, what_en: str
) -> InventoryError:
    shown = "、".join(names)
    return InventoryError(
        source,
        [
            Problem(
                "unknown_layer",
                f"文件中没有名为“{layer}”的{what_zh}。可用的{what_zh}：{shown}。",
                f"The file has no {what_en} named '{layer}'. Available: {', '.join(names)}.",
                value=layer,
            )
        ],
    )


# --- GeoPackage and Shapefile -------------------------------------------------------------------


def _import_pyogrio(source: str):  # type: ignore[no-untyped-def]
    try:
        import pyogrio
    except ImportError:  # pragma: no cover - the gis extra is installed in tests
        raise InventoryError(
            source,
            [
                Problem(
                    "missing_dependency",
                    "读取 GeoPackage/Shapefile 需要安装 GIS 组件：pip install 'tanhui[gis]'。",
                    "Reading GeoPackage/Shapefile needs the GIS extra: pip install 'tanhui[gis]'.",
                )
            ],
        ) from None
    return pyogrio


_CPG_CODECS = {
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "65001": "utf-8",
    "gbk": "gbk",
    "cp936": "gbk",
    "936": "gbk",
    "ansi 936": "gbk",
    "gb2312": "gbk",
    "gb18030": "gb18030",
    "54936": "gb18030",
}


def _sidecar(path: Path, ext: str) -> Path | None:
    for candidate in (path.with_suffix(ext), path.with_suffix(ext.upper())):
        if candidate.is_file():
            return candidate
    return None


def _dbf_fields(dbf: bytes) -> list[tuple[int, bytes]]:
    """(offset, raw name bytes) of each field descriptor of a DBF header."""
    out: list[tuple[int, bytes]] = []
    offset = 32
    header_len = int.from_bytes(dbf[8:10], "little") if len(dbf) >= 10 else 0
    while offset + 32 <= min(len(dbf), header_len or len(dbf)) and dbf[offset] != 0x0D:
        out.append((offset, dbf[offset : offset + 11].split(b"\0", 1)[0]))
        offset += 32
    return out


def _shapefile_codec(path: Path, encoding: str | None, dbf: bytes) -> str:
    """Python codec of the DBF text: the caller's, the .cpg's, else detected (UTF-8 or GBK)."""
    if encoding:
        return encoding
    cpg = _sidecar(path, ".cpg")
    if cpg is not None:
        name = cpg.read_bytes().decode("ascii", errors="ignore").strip().lower()
        if name in _CPG_CODECS:
            return _CPG_CODECS[name]
        try:
            return codecs.lookup(name).name
        except LookupError:
            pass  # an unknown code page: detect as if there were no .cpg
    return _detect_dbf_codec(dbf)


_DBF_SAMPLE_BYTES = 1 << 20


def _detect_dbf_codec(dbf: bytes) -> str:
    """UTF-8 or GBK for a DBF without .cpg: decide on whole records, else on the field names."""
    if len(dbf) < 12:
        return "utf-8"
    count = int.from_bytes(dbf[4:8], "little")
    header_len = int.from_bytes(dbf[8:10], "little")
    record_len = max(1, int.from_bytes(dbf[10:12], "little"))
    take = min(count, max(1, _DBF_SAMPLE_BYTES // record_len))
    body = dbf[header_len : header_len + take * record_len]
    if not body.isascii():
        try:
            _, codec = decode_bytes(body, "dbf")
        except InventoryError:
            return "gbk"
        return "utf-8" if codec.startswith("utf-8") else codec
    names = [name for _, name in _dbf_fields(dbf)]
    if all(name.isascii() for name in names):
        return "utf-8"
    if all(_decodes_truncated(name, "utf-8") for name in names):
        decoded = "".join(_decode_name(name, "utf-8") for name in names)
        if any("\u3400" <= ch <= "\u9fff" for ch in decoded):
            return "utf-8"
    return "gbk"


def _decodes_truncated(name: bytes, codec: str) -> bool:
    """Whether ``name`` decodes, allowing one multi-byte character cut off at the end."""
    for cut in range(4):
        try:
            name[: len(name) - cut].decode(codec)
            return True
        except UnicodeDecodeError:
            continue
    return False


def _decode_name(name: bytes, codec: str) -> str:
    for cut in range(4):
        try:
            return name[: len(name) - cut].decode(codec)
        except UnicodeDecodeError:
            continue
    return name.decode(codec, errors="ignore")


def _gdal_encoding(codec: str) -> str:
    return {"gbk": "CP936", "gb18030": "GB18030", "utf-8": "UTF-8"}.get(codec.lower(), codec)


def _read_gis(path: Path, fmt: str, layer: str | None, encoding: str | None) -> RawTable:
    pyogrio = _import_pyogrio(str(path))
    source = str(path)
    renames: dict[str, str] = {}
    used_encoding: str | None = "utf-8"
    read_path = path
    tmp: tempfile.TemporaryDirectory[str] | None = None
    try:
        if fmt == "shp":
            dbf_path = _sidecar(path, ".dbf")
            dbf = dbf_path.read_bytes() if dbf_path is not None else b""
            used_encoding = _shapefile_codec(path, encoding, dbf)
            fields = _dbf_fields(dbf)
            broken = any(_not_clean(name, used_encoding) for _, name in fields)
            if broken and dbf_path is not None:
                # GDAL cannot hand over a field name cut inside a character; give it ASCII
                # placeholders in a copy of the DBF and decode the real names here.
                tmp = tempfile.TemporaryDirectory(prefix="tanhui-shp-")
                patched = bytearray(dbf)
                for k, (offset, name) in enumerate(fields):
                    placeholder = f"TH_F{k:04d}"
                    patched[offset : offset + 11] = placeholder.encode().ljust(11, b"\0")
                    renames[placeholder] = _decode_name(name, used_encoding)
                read_path = Path(tmp.name) / "layer.shp"
                (Path(tmp.name) / "layer.dbf").write_bytes(bytes(patched))
                for ext in (".shp", ".shx", ".prj"):
                    side = _sidecar(path, ext)
                    if side is not None:
                        shutil.copyfile(side, read_path.with_suffix(ext))
        try:
            layers = [str(row[0]) for row in pyogrio.list_layers(read_path)]
        except Exception as exc:
            raise _unreadable(source, "GIS 文件", "GIS file", exc) from None
        if layer is not None and fmt == "gpkg" and layer not in layers:
            raise _unknown_layer(source, layer, layers, "图层", "layer")
        if not layers:
            raise InventoryError(source, [_empty_file(source)])
        chosen = layer if (layer is not None and fmt == "gpkg") else layers[0]
        kwargs: dict[str, object] = {"layer": chosen}
        if fmt == "shp":
            kwargs["encoding"] = _gdal_encoding(used_encoding)
        with warnings.catch_warnings():
            # GDAL reports recoding details as warnings; the encoding decision is made above.
            warnings.simplefilter("ignore")
            try:
                meta, table = pyogrio.read_arrow(read_path, **kwargs)
            except Exception as exc:
                raise _unreadable(source, "GIS 图层", "GIS layer", exc) from None
    finally:
        if tmp is not None:
            tmp.cleanup()

    geometry_name = meta.get("geometry_name") or ""
    geometry_index = None
    for i, f in enumerate(table.schema):
        ext = (f.metadata or {}).get(b"ARROW:extension:name", b"")
        if f.name == geometry_name or ext == b"geoarrow.wkb" or f.name == "wkb_geometry":
            geometry_index = i
            break
    headers: list[str] = []
    columns: list[pa.Array] = []
    geometry = None
    geometry_column = None
    for i, f in enumerate(table.schema):
        if i == geometry_index:
            geometry_column = geometry_name or "geometry"
            column = table.column(i)
            if column.type != pa.binary():
                column = column.cast(pa.binary())
            geometry = column.to_numpy(zero_copy_only=False)
            continue
        headers.append(renames.get(f.name, f.name))
        columns.append(table.column(i).combine_chunks())
    return RawTable(
        source,
        fmt,
        headers,
        columns,
        encoding=used_encoding,
        layer=chosen,
        first_row=2,
        geometry=geometry,
        geometry_column=geometry_column,
        crs=meta.get("crs") or None,
        n_rows=table.num_rows,
    )


def _not_clean(name: bytes, codec: str) -> bool:
    try:
        name.decode(codec)
        return False
    except UnicodeDecodeError:
        return True


# --- Parquet ------------------------------------------------------------------------------------


def _read_parquet(path: Path, select: Selector | None) -> RawTable:
    import pyarrow.parquet as pq

    source = str(path)
    try:
        pf = pq.ParquetFile(source, memory_map=True)
        schema = pf.schema_arrow
    except Exception as exc:
        raise _unreadable(source, "Parquet 文件", "Parquet file", exc) from None
    names = list(schema.names)
    geo_column, crs = _geoparquet(schema)
    data_names = [n for n in names if n != geo_column]
    if select is not None:
        wanted, as_dict = select(data_names)
    else:
        wanted, as_dict = set(range(len(data_names))), set()
    read = [data_names[i] for i in sorted(wanted)]
    dictionary = [
        data_names[i]
        for i in as_dict
        if pa.types.is_string(schema.field(data_names[i]).type)
        or pa.types.is_large_string(schema.field(data_names[i]).type)
    ]
    columns_to_read = read + ([geo_column] if geo_column else [])
    # Plain text columns (the ids) cost the most to decode, one column at a time. In a large
    # file they are decoded on another thread while this one decodes the rest, which validation
    # can then check (and hashing start on) before the text arrives; the checks of a column
    # wait for it (``RawTable.column``).
    later = [
        name for name in read if _is_plain_text(schema.field(name).type) and name not in dictionary
    ]
    if pf.metadata.num_rows < _BACKGROUND_ROWS or len(later) == len(columns_to_read):
        later = []
    now = [name for name in columns_to_read if name not in later]

    def decode(names: list[str], threads: bool) -> pa.Table:
        try:
            # The file reader, not the dataset scanner (``pq.read_table``): it decodes each
            # column of all row groups into one contiguous array (the scanner cuts every column
            # into 128k-row batches that would have to be copied together again), doing less.
            return pq.ParquetFile(source, memory_map=True, read_dictionary=dictionary or None).read(
                columns=names, use_threads=threads
            )
        except Exception as exc:
            raise _unreadable(source, "Parquet 文件", "Parquet file", exc) from None

    background = _background().submit(_text_columns, source, later) if later else None
    try:
        table = decode(now, True)
    except BaseException:
        if background is not None:
            background.cancel()
        raise
    headers = list(read)
    # Text columns and the dictionaries of categories stay chunked (a dictionary arrives with
    # one chunk per row group; validation maps it chunk by chunk, no copy); the rest become one
    # array (numbers already are one).
    categories = {data_names[i] for i in as_dict}
    columns: list[pa.Array | pa.ChunkedArray] = []
    pending: dict[int, Callable[[], pa.Array | pa.ChunkedArray]] = {}
    for i, name in enumerate(read):
        if name in later:
            assert background is not None
            columns.append(pa.nulls(0))  # replaced by ``RawTable.column`` once decoded
            pending[i] = functools.partial(_column_of, background, name)
            continue
        column = table.column(name)
        if not (
            _is_plain_text(column.type)
            or (name in categories and pa.types.is_dictionary(column.type))
        ):
            column = single_array(column)
        columns.append(column)
    geometry = None
    if geo_column:
        geometry = table.column(geo_column).to_numpy(zero_copy_only=False)
    return RawTable(
        source,
        "parquet",
        headers,
        columns,
        first_row=2,
        geometry=geometry,
        geometry_column=geo_column,
        crs=crs,
        n_rows=pf.metadata.num_rows,
        unread=[n for i, n in enumerate(data_names) if i not in wanted],
        pending=pending,
    )


_BACKGROUND_ROWS = 200_000  # smaller files are read in one go


@functools.cache
def _background() -> ThreadPoolExecutor:
    # two workers: the two files of a measurement may be read at the same time
    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="tanhui-read")


def _column_of(
    columns: Future[dict[str, pa.Array | pa.ChunkedArray]], name: str
) -> pa.Array | pa.ChunkedArray:
    return columns.result()[name]  # re-raises the InventoryError of a failed decode


_TEXT_BATCH = 1 << 17  # rows per batch while assembling a text column


def _text_columns(source: str, names: list[str]) -> dict[str, pa.Array | pa.ChunkedArray]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(source, memory_map=True)
        return {name: _text_column(pf, name) for name in names}
    except Exception as exc:
        raise _unreadable(source, "Parquet 文件", "Parquet file", exc) from None


def _text_column(pf: object, name: str) -> pa.Array | pa.ChunkedArray:
    """One plain text column, decoded batch by batch into one buffer sized from the metadata.

    Arrow's column reader builds a long text column in a buffer it doubles (and copies) as it
    fills: for 10 M ids that is several times their size in fresh memory, which costs more than
    the decoding on a VM. Here each batch (its memory reused for the next) is copied once into
    place. Nulls, or more text than the offsets hold, take Arrow's own path.
    """
    meta = pf.metadata  # type: ignore[attr-defined]
    arrow_type = pf.schema_arrow.field(name).type  # type: ignore[attr-defined]
    n = meta.num_rows
    offset_type = np.int64 if pa.types.is_large_string(arrow_type) else np.int32
    limit = int(np.iinfo(offset_type).max)

    def whole() -> pa.Array | pa.ChunkedArray:
        column = pf.read(columns=[name], use_threads=False).column(0)  # type: ignore[attr-defined]
        return column.chunk(0) if column.num_chunks == 1 else column

    # Plain pages hold every value with a 4-byte length: their uncompressed size bounds the text.
    # Dictionary pages may repeat values: then the buffer grows. Unused capacity is never touched.
    size = 0
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        for c in range(group.num_columns):
            if group.column(c).path_in_schema == name:
                size += group.column(c).total_uncompressed_size
    data = np.empty(max(size, 1), dtype=np.uint8)
    offsets = np.empty(n + 1, dtype=offset_type)
    offsets[0] = 0
    row = cursor = 0
    for batch in pf.iter_batches(  # type: ignore[attr-defined]
        batch_size=_TEXT_BATCH, columns=[name], use_threads=False
    ):
        chunk = batch.column(0)
        m = len(chunk)
        if chunk.null_count or chunk.type != arrow_type or row + m > n:
            return whole()
        bounds = np.frombuffer(chunk.buffers()[1], dtype=offset_type)[
            chunk.offset : chunk.offset + m + 1
        ]
        start, stop = int(bounds[0]), int(bounds[-1])
        if cursor + stop - start > limit:
            return whole()
        if cursor + stop - start > len(data):
            grown = np.empty(max(2 * len(data), cursor + stop - start), dtype=np.uint8)
            grown[:cursor] = data[:cursor]
            data = grown
        if stop > start:
            text = np.frombuffer(chunk.buffers()[2], dtype=np.uint8)
            data[cursor : cursor + stop - start] = text[start:stop]
        np.add(bounds[1:], cursor - start, out=offsets[row + 1 : row + m + 1])
        row, cursor = row + m, cursor + stop - start
    if row != n:
        return whole()
    return pa.Array.from_buffers(
        arrow_type, n, [None, pa.py_buffer(offsets), pa.py_buffer(data[:cursor])]
    )


def _is_plain_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def single_array(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """One contiguous array (dictionaries unified) from a possibly chunked column."""
    if isinstance(column, pa.Array):
        return column
    if column.num_chunks == 1:
        return column.chunk(0)
    if pa.types.is_dictionary(column.type):
        column = column.unify_dictionaries()
        dictionary = column.chunk(0).dictionary
        indices = pa.concat_arrays([c.indices for c in column.chunks])
        return pa.DictionaryArray.from_arrays(indices, dictionary)
    if column.num_chunks == 0:
        return pa.array([], type=column.type)
    return column.combine_chunks()


def _geoparquet(schema: pa.Schema) -> tuple[str | None, str | None]:
    import json

    meta = schema.metadata or {}
    if b"geo" not in meta:
        return None, None
    try:
        geo = json.loads(meta[b"geo"])
        name = geo["primary_column"]
        info = geo["columns"][name]
    except (ValueError, KeyError, TypeError):
        return None, None
    if str(info.get("encoding", "WKB")).upper() != "WKB" or name not in schema.names:
        return None, None
    crs_json = info.get("crs", "missing")
    if crs_json == "missing":
        return name, "OGC:CRS84"
    if crs_json is None:
        return name, None
    try:
        from pyproj import CRS

        return name, CRS.from_json_dict(crs_json).to_string()
    except Exception:
        return name, None
