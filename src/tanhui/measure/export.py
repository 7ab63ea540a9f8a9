"""Write a measurement result as JSON, CSV (UTF-8 with BOM, opens in Excel) or XLSX."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.csv as pacsv

from tanhui.i18n import Lang, pick
from tanhui.measure.service import BREAKDOWNS, MeasureResult

BREAKDOWN_TITLES = {
    "by_group": ("按树种组", "by species group"),
    "by_township": ("按乡镇", "by township"),
    "by_village": ("按村", "by village"),
    "by_age_class": ("按龄组", "by age class"),
}


def to_json(result: MeasureResult, *, include_rows: bool = True) -> str:
    return (
        json.dumps(result.to_dict(include_rows=include_rows), ensure_ascii=False, indent=1) + "\n"
    )


def write_csv(result: MeasureResult, out: IO[bytes]) -> None:
    """Per-row table; Excel on a Chinese Windows needs the BOM to show the headers right."""
    out.write(b"\xef\xbb\xbf")
    pacsv.write_csv(pa.table(result.row_table()), out)


def write_xlsx(result: MeasureResult, path: Path, *, lang: Lang | None = None) -> None:
    """A workbook: summary, the breakdowns, per-row values and provenance, one sheet each."""
    import xlsxwriter

    summary = result.summary()
    with xlsxwriter.Workbook(
        str(path), {"constant_memory": True, "nan_inf_to_errors": True}
    ) as book:
        bold = book.add_format({"bold": True})
        number = book.add_format({"num_format": "#,##0.000"})
        sheet = book.add_worksheet(pick("汇总", "Summary", lang))
        facts: list[tuple[str, Any]] = [
            (
                pick("方法", "method", lang),
                f"{result.method.name} — {pick(result.method.title_zh, result.method.title_en, lang)}",
            ),
            (pick("合计 (tCO2e)", "total (tCO2e)", lang), summary["total_tco2e"]),
            (pick("毛量 (tCO2e)", "gross (tCO2e)", lang), summary["gross_tco2e"]),
        ]
        facts += [
            (pick(f"扣减：{k}", f"deduction: {k}", lang), v)
            for k, v in summary["deductions"].items()
        ]
        facts += [
            (pick("计量小班数", "rows measured", lang), summary["rows_measured"]),
            (pick("计入小班数", "rows credited", lang), summary["rows_credited"]),
        ]
        facts += [
            (pick(f"未计入：{k}", f"excluded: {k}", lang), v)
            for k, v in summary["excluded"].items()
        ]
        sheet.set_column(0, 0, 28)
        sheet.set_column(1, 1, 48)
        for i, (label, value) in enumerate(facts):
            sheet.write(i, 0, label, bold)
            sheet.write(i, 1, value, number if isinstance(value, float) else None)
        for key, (zh, en) in BREAKDOWN_TITLES.items():
            part = book.add_worksheet(pick(zh, en, lang))
            part.write_row(
                0, 0, [pick(BREAKDOWN_COLUMN_ZH[key], BREAKDOWNS[key], lang), "tCO2e"], bold
            )
            for i, (label, value) in enumerate(summary[key].items(), start=1):
                part.write(i, 0, label)
                part.write_number(i, 1, value, number)
            part.set_column(0, 0, 20)
            part.set_column(1, 1, 16)
        rows = book.add_worksheet(pick("小班明细", "Rows", lang))
        table = result.row_table()
        rows.write_row(0, 0, list(table), bold)
        columns = list(table.values())
        for r in range(len(columns[0])):
            rows.write_row(r + 1, 0, [c[r] for c in columns])
        prov = book.add_worksheet(pick("来源", "Provenance", lang))
        for i, (key, value) in enumerate(_flatten(summary["provenance"])):
            prov.write(i, 0, key, bold)
            prov.write(
                i,
                1,
                value
                if isinstance(value, int | float | str)
                else json.dumps(value, ensure_ascii=False),
            )
        prov.set_column(0, 0, 36)
        prov.set_column(1, 1, 70)


BREAKDOWN_COLUMN_ZH = {
    "by_group": "树种组",
    "by_township": "乡镇",
    "by_village": "村",
    "by_age_class": "龄组",
}


def _flatten(mapping: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    items: list[tuple[str, Any]] = []
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            items.extend(_flatten(value, f"{name}."))
        else:
            items.append((name, value))
    return items
