"""Screening results as CSV (UTF-8 with BOM, so Excel in a Chinese locale opens it right) and
as an Excel workbook (xlsxwriter). The feasibility report's workbook is in
:mod:`tanhui.develop.report`."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from tanhui.i18n import Lang, pick

#: Column headings of the per-row table, Chinese and English.
ROW_HEADINGS: dict[str, tuple[str, str]] = {
    "id": ("小班号", "sub-compartment id"),
    "eligible": ("是否合格", "eligible"),
    "reasons": ("原因代码", "reason codes"),
    "reason_texts": ("不合格原因", "reasons"),
    "area_ha": ("面积(公顷)", "area (ha)"),
    "area_mu": ("面积(亩)", "area (mu)"),
    "expected_tco2e_per_yr": ("预计年碳汇(tCO2e/年)", "expected tCO2e/yr"),
    "estimate": ("估计方法", "estimate"),
    "species_group": ("树种组", "species group"),
    "village": ("村", "village"),
    "owner": ("林权权利人", "rights holder"),
    "township": ("乡镇", "township"),
}

BREAKDOWN_HEADINGS: dict[str, tuple[str, str]] = {
    "village": ("按村", "By village"),
    "owner": ("按权利人", "By rights holder"),
    "species_group": ("按树种组", "By species group"),
    "township": ("按乡镇", "By township"),
}

TOTAL_HEADINGS: dict[str, tuple[str, str]] = {
    "rows": ("小班数", "rows"),
    "area_ha": ("面积(公顷)", "area (ha)"),
    "eligible_rows": ("合格小班数", "eligible rows"),
    "eligible_area_ha": ("合格面积(公顷)", "eligible area (ha)"),
    "eligible_area_mu": ("合格面积(亩)", "eligible area (mu)"),
    "tco2e_per_yr": ("预计年碳汇(tCO2e/年)", "expected tCO2e/yr"),
    "tco2e_crediting_period": ("计入期碳汇(tCO2e)", "tCO2e over the crediting period"),
    "eligible_rows_without_estimate": ("缺少估计的合格小班", "eligible rows without estimate"),
}


def _heading(key: str, table: dict[str, tuple[str, str]], lang: Lang | None) -> str:
    zh, en = table.get(key, (key, key))
    return pick(zh, en, lang)


def _cell(value: Any, lang: Lang | None) -> Any:
    if value is True:
        return pick("是", "yes", lang)
    if value is False:
        return pick("否", "no", lang)
    return "" if value is None else value


def screening_csv(report: Any, lang: Lang | None = None) -> str:
    """One row per sub-compartment (the report's :meth:`row_table`), headings in ``lang``."""
    table = report.row_table(lang)
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([_heading(k, ROW_HEADINGS, lang) for k in table])
    for values in zip(*table.values(), strict=True):
        writer.writerow([_cell(v, lang) for v in values])
    return buffer.getvalue()


def screening_xlsx(report: Any, path: Path, lang: Lang | None = None) -> None:
    """Summary, reasons, the four breakdowns, every row and the provenance, a sheet each."""
    import xlsxwriter

    summary = report.summary(lang)
    with xlsxwriter.Workbook(
        str(path), {"constant_memory": True, "nan_inf_to_errors": True}
    ) as book:
        bold = book.add_format({"bold": True})
        number = book.add_format({"num_format": "#,##0.00"})
        sheet = book.add_worksheet(pick("汇总", "Summary", lang))
        sheet.set_column(0, 0, 30)
        sheet.set_column(1, 1, 50)
        facts: list[tuple[str, Any]] = [
            (pick("机制", "scheme", lang), summary["title"]),
            (pick("规则版本", "rules version", lang), summary["rules"]["version"]),
        ]
        facts += [(_heading(k, TOTAL_HEADINGS, lang), v) for k, v in summary["totals"].items()]
        for i, (label, value) in enumerate(facts):
            sheet.write(i, 0, label, bold)
            sheet.write(i, 1, _cell(value, lang), number if isinstance(value, float) else None)
        reasons = book.add_worksheet(pick("不合格原因", "Reasons", lang))
        heads = [
            "id",
            pick("原因", "reason", lang),
            pick("小班数", "rows", lang),
            pick("状态", "status", lang),
            pick("来源", "source", lang),
        ]
        reasons.write_row(0, 0, heads, bold)
        reasons.set_column(1, 1, 60)
        reasons.set_column(4, 4, 60)
        for i, r in enumerate(summary["reasons"], start=1):
            count = r["rows"] if r["checked"] else pick("未核对", "not checked", lang)
            reasons.write_row(i, 0, [r["id"], r["reason"], count, r["status"], r["source"]])
        for key, titles in BREAKDOWN_HEADINGS.items():
            part = book.add_worksheet(pick(*titles, lang))
            rows = summary.get(f"by_{key}") or {}
            fields = list(next(iter(rows.values()), {}).keys())
            part.write_row(
                0,
                0,
                [pick(*titles, lang)] + [_heading(f, TOTAL_HEADINGS, lang) for f in fields],
                bold,
            )
            part.set_column(0, len(fields), 16)
            for i, (label, values) in enumerate(rows.items(), start=1):
                part.write(i, 0, label)
                for j, f in enumerate(fields, start=1):
                    value = values[f]
                    if value is not None:
                        part.write(i, j, value, number if isinstance(value, float) else None)
        rows_sheet = book.add_worksheet(pick("小班明细", "Rows", lang))
        table = report.row_table(lang)
        rows_sheet.write_row(0, 0, [_heading(k, ROW_HEADINGS, lang) for k in table], bold)
        columns = list(table.values())
        for r in range(len(columns[0]) if columns else 0):
            rows_sheet.write_row(r + 1, 0, [_cell(c[r], lang) for c in columns])
        prov = book.add_worksheet(pick("来源", "Provenance", lang))
        prov.set_column(0, 0, 24)
        prov.set_column(1, 1, 80)
        for i, (key, value) in enumerate(summary["provenance"].items()):
            prov.write(i, 0, key, bold)
            prov.write(
                i,
                1,
                value
                if isinstance(value, int | float | str)
                else json.dumps(value, ensure_ascii=False, default=str),
            )
