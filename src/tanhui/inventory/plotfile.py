"""Read a sample-plot file (样地调查表) for the AR-TOOL14 stock estimate.

One row per plot, four columns (English or Chinese headers, any order, extra columns ignored):

=====================  ==========================================  ============================
canonical              accepted headers                            meaning
=====================  ==========================================  ============================
``stratum``            stratum, 层, 层号, 分层, 分层号              stratum label
``stratum_area_ha``    stratum_area_ha, 层面积(公顷), 层面积(ha)    the stratum's area in ha,
                                                                   the same on each of its plots
``plot``               plot, plot_id, 样地号, 样地                  plot id, unique in its stratum
``biomass_t_per_ha``   biomass_t_per_ha, 生物量(吨/公顷),           tree biomass, t d.m. per ha
                       生物量(t/ha)
=====================  ==========================================  ============================

Headers match ignoring case, spaces and full-width parentheses. CSV files are decoded as UTF-8
(with or without BOM), GBK or GB18030; ``.xlsx``/``.xls`` are read with python-calamine (first
sheet). A bad file is rejected as a whole: :class:`~tanhui.errors.InventoryError` lists every
problem with its row (header = row 1), the column header as written in the file, the value and the
reason.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tanhui.errors import InventoryError, Problem
from tanhui.inventory.encoding import decode_bytes
from tanhui.measure.plots import PlotEstimate, estimate_stock

COLUMNS = ("stratum", "stratum_area_ha", "plot", "biomass_t_per_ha")
LABELS = {
    "stratum": ("层号", "stratum"),
    "stratum_area_ha": ("层面积(公顷)", "stratum area (ha)"),
    "plot": ("样地号", "plot id"),
    "biomass_t_per_ha": ("生物量(吨/公顷)", "biomass (t/ha)"),
}
ALIASES: dict[str, tuple[str, ...]] = {
    "stratum": ("stratum", "层", "层号", "分层", "分层号"),
    "stratum_area_ha": ("stratum_area_ha", "层面积(公顷)", "层面积(ha)"),
    "plot": ("plot", "plot_id", "样地号", "样地"),
    "biomass_t_per_ha": ("biomass_t_per_ha", "生物量(吨/公顷)", "生物量(t/ha)"),
}
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".xlsb", ".ods")


def _normalize_header(name: str) -> str:
    name = name.replace("\ufeff", "").replace("（", "(").replace("）", ")")
    return "".join(name.split()).lower()


_ALIAS_INDEX = {_normalize_header(a): c for c, names in ALIASES.items() for a in names}


@dataclass(frozen=True)
class PlotTable:
    """Validated plots, one element per plot, in file order.

    ``rows``: the 1-based row of each plot in the file (header = row 1). ``content_hash``: sha256
    of the canonical rows (stratum, area, plot, biomass), for provenance.
    """

    source: str
    encoding: str
    stratum: tuple[str, ...]
    stratum_area_ha: np.ndarray
    plot: tuple[str, ...]
    biomass_t_per_ha: np.ndarray
    rows: np.ndarray
    content_hash: str

    def __len__(self) -> int:
        return len(self.stratum)

    def estimate(self, **options: Any) -> PlotEstimate:
        """:func:`tanhui.measure.plots.estimate_stock` on these plots (options passed through)."""
        return estimate_stock(self.stratum, self.stratum_area_ha, self.biomass_t_per_ha, **options)


def _problem(
    code: str,
    zh: str,
    en: str,
    row: int | None = None,
    column: str | None = None,
    value: Any = None,
) -> Problem:
    return Problem(code, zh, en, row=row, column=column, value=value)


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(value)
    return str(value)


def _read_records(path: Path, encoding: str | None) -> tuple[list[list[str]], str]:
    source = str(path)
    try:
        if path.suffix.lower() in EXCEL_SUFFIXES:
            from python_calamine import CalamineWorkbook

            try:
                sheet = CalamineWorkbook.from_path(source).get_sheet_by_index(0)
                cells = sheet.to_python(skip_empty_area=False)
            except Exception as exc:
                raise InventoryError(
                    source,
                    [
                        _problem(
                            "unreadable_file",
                            f"无法读取 Excel 文件：{exc}。请确认文件未损坏，或另存为 CSV。",
                            f"Cannot read the Excel file: {exc}. Check that it is not damaged, "
                            "or save it as CSV.",
                        )
                    ],
                ) from None
            return [[_cell_text(v) for v in row] for row in cells], "xlsx"
        data = path.read_bytes()
    except FileNotFoundError:
        raise InventoryError(
            source,
            [
                _problem(
                    "file_not_found",
                    "找不到文件，请检查路径。",
                    "File not found; check the path.",
                )
            ],
        ) from None
    text, used = decode_bytes(data, source, encoding)
    return list(csv.reader(io.StringIO(text))), used


def read_plots(path: str | Path, encoding: str | None = None) -> PlotTable:
    """Read and validate a sample-plot file; raise :class:`InventoryError` listing every problem.

    ``encoding`` forces the codec of a CSV file (default: detect UTF-8 / GBK / GB18030).
    """
    path = Path(path)
    source = str(path)
    records, used = _read_records(path, encoding)
    problems: list[Problem] = []

    header = records[0] if records else []
    data = [
        (i + 1, rec)
        for i, rec in enumerate(records)
        if i > 0 and any((c or "").strip() for c in rec)
    ]
    if not any((c or "").strip() for c in header) or not data:
        raise InventoryError(
            source,
            [
                _problem(
                    "empty_file",
                    "文件为空或没有数据行。第一行应为列名：层号, 层面积(公顷), 样地号, 生物量(吨/公顷)。",
                    "The file is empty or has no data rows. The first row must name the columns: "
                    "stratum, stratum_area_ha, plot, biomass_t_per_ha.",
                )
            ],
        )

    # Map headers to canonical columns.
    where: dict[str, tuple[int, str]] = {}
    for j, raw in enumerate(header):
        canonical = _ALIAS_INDEX.get(_normalize_header(raw or ""))
        if canonical is None:
            continue
        if canonical in where:
            first = where[canonical][1]
            problems.append(
                _problem(
                    "duplicate_column",
                    f"列“{raw}”与列“{first}”都表示{LABELS[canonical][0]}，请只保留一列。",
                    f"Columns '{raw}' and '{first}' both give the {LABELS[canonical][1]}; "
                    "keep only one.",
                    row=1,
                    column=raw,
                )
            )
            continue
        where[canonical] = (j, raw)
    for c in COLUMNS:
        if c not in where:
            zh, en = LABELS[c]
            problems.append(
                _problem(
                    "missing_column",
                    f"缺少“{zh}”列（可用列名：{'、'.join(ALIASES[c])}）。",
                    f"Missing the {en} column (accepted headers: {', '.join(ALIASES[c])}).",
                    row=1,
                    column=c,
                )
            )
    if problems:
        raise InventoryError(source, problems)

    def cell(rec: list[str], c: str) -> str:
        j = where[c][0]
        return (rec[j] if j < len(rec) else "").strip()

    n = len(data)
    strata: list[str] = []
    plots: list[str] = []
    areas = np.full(n, np.nan)
    biomass = np.full(n, np.nan)
    row_numbers = np.array([r for r, _ in data], dtype=np.int64)

    def number(text: str, row: int, c: str) -> float:
        col = where[c][1]
        zh, en = LABELS[c]
        if text == "":
            problems.append(
                _problem(
                    "missing_value",
                    f"{zh}为空。",
                    f"The {en} is empty.",
                    row=row,
                    column=col,
                    value=text,
                )
            )
            return math.nan
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            problems.append(
                _problem(
                    "not_a_number",
                    f"{zh}“{text}”不是数字。",
                    f"The {en} '{text}' is not a number.",
                    row=row,
                    column=col,
                    value=text,
                )
            )
            return math.nan
        return value

    for k, (row, rec) in enumerate(data):
        s = cell(rec, "stratum")
        p = cell(rec, "plot")
        for c, text in (("stratum", s), ("plot", p)):
            if text == "":
                zh, en = LABELS[c]
                problems.append(
                    _problem(
                        "missing_value",
                        f"{zh}为空。",
                        f"The {en} is empty.",
                        row=row,
                        column=where[c][1],
                        value=text,
                    )
                )
        strata.append(s)
        plots.append(p)
        a = number(cell(rec, "stratum_area_ha"), row, "stratum_area_ha")
        if not math.isnan(a) and a <= 0:
            problems.append(
                _problem(
                    "nonpositive_area",
                    f"层面积必须大于 0，此处为 {a}。",
                    f"The stratum area must be greater than 0; it is {a}.",
                    row=row,
                    column=where["stratum_area_ha"][1],
                    value=cell(rec, "stratum_area_ha"),
                )
            )
        b = number(cell(rec, "biomass_t_per_ha"), row, "biomass_t_per_ha")
        if not math.isnan(b) and b < 0:
            problems.append(
                _problem(
                    "negative_biomass",
                    f"生物量不能为负数，此处为 {b}。",
                    f"The biomass cannot be negative; it is {b}.",
                    row=row,
                    column=where["biomass_t_per_ha"][1],
                    value=cell(rec, "biomass_t_per_ha"),
                )
            )
        areas[k], biomass[k] = a, b

    # Checks across rows, per stratum (rows with an empty stratum were reported above).
    first_area: dict[str, tuple[int, float]] = {}
    first_plot: dict[tuple[str, str], int] = {}
    members: dict[str, list[int]] = {}
    area_col, plot_col, stratum_col = (
        where["stratum_area_ha"][1],
        where["plot"][1],
        where["stratum"][1],
    )
    for k, (row, _) in enumerate(data):
        s, p, a = strata[k], plots[k], areas[k]
        if s == "":
            continue
        members.setdefault(s, []).append(row)
        if p != "":
            seen = first_plot.get((s, p))
            if seen is None:
                first_plot[(s, p)] = row
            else:
                problems.append(
                    _problem(
                        "duplicate_plot",
                        f"分层“{s}”中样地号“{p}”重复（第 {seen} 行已出现）。",
                        f"Plot '{p}' appears twice in stratum '{s}' (first on row {seen}).",
                        row=row,
                        column=plot_col,
                        value=p,
                    )
                )
        if not (math.isnan(a) or a <= 0):
            if s not in first_area:
                first_area[s] = (row, a)
            elif a != first_area[s][1]:
                r0, a0 = first_area[s]
                problems.append(
                    _problem(
                        "inconsistent_stratum_area",
                        f"分层“{s}”的层面积 {a} 与第 {r0} 行的 {a0} 不一致；同一分层应填写相同的层面积。",
                        f"Stratum '{s}' has area {a} here but {a0} on row {r0}; give the same "
                        "stratum area on every plot of a stratum.",
                        row=row,
                        column=area_col,
                        value=cell(data[k][1], "stratum_area_ha"),
                    )
                )
    for s, rows in members.items():
        if len(rows) < 2:
            problems.append(
                _problem(
                    "too_few_plots",
                    f"分层“{s}”只有 {len(rows)} 个样地，至少需要 2 个；请增设样地或与相近分层合并。",
                    f"Stratum '{s}' has {len(rows)} plot; at least 2 are needed. Measure more "
                    "plots or merge it with a similar stratum.",
                    row=rows[0],
                    column=stratum_col,
                    value=s,
                )
            )

    if problems:
        problems.sort(key=lambda p: p.row if p.row is not None else 0)
        raise InventoryError(source, problems)

    digest = hashlib.sha256()
    for s, a, p, b in zip(strata, areas.tolist(), plots, biomass.tolist(), strict=True):
        digest.update(f"{s}\t{a!r}\t{p}\t{b!r}\n".encode())
    return PlotTable(
        source=source,
        encoding=used,
        stratum=tuple(strata),
        stratum_area_ha=areas,
        plot=tuple(plots),
        biomass_t_per_ha=biomass,
        rows=row_numbers,
        content_hash=digest.hexdigest(),
    )
