"""The feasibility report of a candidate project (可行性报告): HTML, PDF and Excel.

HTML and PDF come from one Jinja2 template (``tanhui/web/templates/feasibility_report.html``,
CSS inlined so the file stands alone and works offline); the charts are inline SVG from
:mod:`tanhui.develop.charts`, so the PDF shows the same pictures. The workbook
(:func:`render_xlsx`) carries the same tables with native Excel charts.
"""

from __future__ import annotations

import datetime as dt
import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from tanhui import __version__
from tanhui.develop import charts
from tanhui.develop.risk import hazard_label
from tanhui.develop.study import FeasibilityStudy
from tanhui.errors import TanhuiError
from tanhui.i18n import Lang, current_lang, pick

__all__ = ["ReportError", "render_html", "render_pdf", "render_xlsx", "report_context"]


class ReportError(TanhuiError):
    """A report could not be produced (PDF tooling or fonts missing)."""


SCENARIO_LABELS = {"low": ("低价", "low"), "base": ("基准", "base"), "high": ("高价", "high")}
MAP_LEGEND = {
    "selected": ("项目小班", "in the project"),
    "eligible": ("其他合格小班", "other eligible"),
    "ineligible": ("不合格小班", "not eligible"),
}


@cache
def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("tanhui.web", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["yuan"] = lambda v: "—" if v is None else f"{v:,.0f}"
    env.filters["num"] = lambda v, d=0: "—" if v is None else f"{v:,.{d}f}"
    env.filters["pct"] = lambda v, d=1: "—" if v is None else f"{100 * v:.{d}f}%"
    return env


def _css() -> str:
    return resources.files("tanhui.web").joinpath("static/css/report.css").read_text("utf-8")


def _scenario_label(name: str, lang: Lang) -> str:
    zh, en = SCENARIO_LABELS.get(name, (name, name))
    return pick(zh, en, lang)


def _charts(study: FeasibilityStudy, lang: Lang) -> dict[str, Markup | None]:
    result = study.result
    table = result.table
    years = table["year"].tolist()
    crediting = study.inputs.timeline.crediting_years
    series = {
        pick("累计固碳量", "cumulative sequestered", lang): np.cumsum(
            table["tonnes_sequestered"]
        ).tolist(),
        pick("累计签发量", "cumulative issued", lang): np.cumsum(table["tonnes_issued"]).tolist(),
    }
    out: dict[str, Markup | None] = {
        "tonnes": Markup(
            charts.line_chart(
                pick("累计碳汇量（tCO2e）", "Cumulative tonnes (tCO2e)", lang),
                years,
                series,
                y_title="tCO2e",
            )
        ),
        "cash": Markup(
            charts.bar_chart(
                pick(
                    "逐年净现金流（元，基准价格）", "Net cash flow by year (yuan, base price)", lang
                ),
                years,
                table["net"].tolist(),
                y_title=pick("元", "yuan", lang),
            )
        ),
        "npv": None,
        "stock": None,
        "map": None,
    }
    if study.risk is not None:
        risk = study.risk.to_dict(lang)
        hist = risk["histograms"]["npv"]
        q = risk["npv"]
        out["npv"] = Markup(
            charts.histogram(
                pick("净现值分布（元）", "Distribution of NPV (yuan)", lang),
                hist["edges"],
                hist["counts"],
                marks={"P10": q["p10"], "P50": q["p50"], "P90": q["p90"]},
                x_title=pick("净现值（元）", "NPV (yuan)", lang),
            )
        )
        sq = risk["stock_quantiles"]
        if len(sq["years"]) > 1:
            out["stock"] = Markup(
                charts.line_chart(
                    pick("项目碳储量增量 P10/P50/P90", "Project carbon gain P10/P50/P90", lang),
                    sq["years"][:crediting],
                    {"P10": sq["p10"], "P50": sq["p50"], "P90": sq["p90"]},
                    y_title="tCO2e",
                )
            )
    if study.map_shapes:
        legend = {k: pick(*v, lang) for k, v in MAP_LEGEND.items()}
        out["map"] = Markup(
            charts.map_chart(
                pick("小班合格情况", "Eligibility of sub-compartments", lang),
                study.map_shapes,
                legend,
            )
        )
    return out


def report_context(study: FeasibilityStudy, lang: Lang | None = None) -> dict[str, Any]:
    """Everything the template shows, as plain values (also the API's report document)."""
    lang = lang or current_lang()
    screening = study.screening.summary(lang)
    result = study.result
    start = study.inputs.timeline.start_year
    villages = sorted(
        (
            (label, row)
            for label, row in screening.get("by_village", {}).items()
            if row["eligible_rows"]
        ),
        key=lambda kv: -(kv[1]["tco2e_per_yr"] or 0.0),
    )[:15]
    scenarios = []
    for name, res in study.scenarios.items():
        scenarios.append(
            {
                "name": _scenario_label(name, lang),
                "price": res.inputs.price.start_price,
                "growth": res.inputs.price.growth,
                "source": res.inputs.price.source,
                "npv": res.npv,
                "irr": res.irr.rate,
                "irr_note": None if res.irr.rate is not None else res.irr.message(lang),
                "payback": None if res.payback_year is None else start + res.payback_year,
                "npv_per_mu": res.per_mu()["npv"],
            }
        )
    sensitivity: dict[str, dict[float, dict[str, Any]]] = {}
    labels: dict[str, str] = {}
    for row in result.to_dict(lang)["sensitivity"]:
        sensitivity.setdefault(row["factor"], {})[row["change"]] = row
        labels[row["factor"]] = row["factor_label"]
    steps = sorted({c for rows in sensitivity.values() for c in rows})
    risk = None
    if study.risk is not None:
        summary = study.risk.summary(lang)
        risk = {
            **summary,
            "hazards": [
                {
                    **h,
                    "name": hazard_label(h["name"], lang),
                    "lost": summary["expected_lost_tonnes_by_hazard"].get(h["name"], 0.0),
                }
                for h in summary["settings"]["hazards"]
            ],
        }
    to_confirm = []
    costs = study.inputs.costs
    if costs.status:
        to_confirm.append(pick("成本表：", "Cost table: ", lang) + str(costs.status))
    for item in costs.items:
        if item.status and item.status != "verified":
            to_confirm.append(f"{item.name(lang)}：{item.status}")
    for reason in screening["reasons"]:
        if reason["status"] != "verified":
            to_confirm.append(f"{reason['id']}：{reason['status']}")
    rows = result.to_dict(lang)["rows"]
    return {
        "lang": lang,
        "html_lang": "zh-CN" if lang == "zh" else "en",
        "name": study.name,
        "generated": dt.datetime.now(dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=8))),
        "version": __version__,
        "headline": study.headline(),
        "scheme_title": screening["title"],
        "rules_version": screening["rules"]["version"],
        "screening": screening,
        "villages": villages,
        "timeline": study.inputs.timeline.to_dict(),
        "discount_rate": study.inputs.discount_rate,
        "buffer_share": study.inputs.buffer_share,
        "costs": costs.to_dict(lang),
        "rows": rows,
        "totals": result.totals(),
        "per_mu": result.per_mu(),
        "per_tonne": result.per_tonne(),
        "base": _scenario_label(study.base, lang),
        "scenarios": scenarios,
        "sensitivity": sensitivity,
        "sensitivity_labels": labels,
        "steps": steps,
        "risk": risk,
        "ex_ante": study.ex_ante.summary(),
        "map_note": study.map_note,
        "to_confirm": to_confirm,
        "provenance": json.dumps(study.provenance, ensure_ascii=False, indent=1, default=str),
        "charts": _charts(study, lang),
    }


def render_html(study: FeasibilityStudy, lang: Lang | None = None) -> str:
    """The report as one standalone HTML document (CSS and charts inline)."""
    context = report_context(study, lang)
    return _env().get_template("feasibility_report.html").render(css=Markup(_css()), **context)


def render_pdf(study: FeasibilityStudy, lang: Lang | None = None) -> bytes:
    """The report as an A4 PDF (WeasyPrint, the ``pdf`` extra, and a Chinese font)."""
    from tanhui._pdf import html_to_pdf

    return html_to_pdf(
        render_html(study, lang), what_zh="PDF 报告", what_en="PDF report", error=ReportError
    )


def render_xlsx(study: FeasibilityStudy, path: str | Path, lang: Lang | None = None) -> None:
    """The report's tables in a workbook with native Excel charts."""
    import xlsxwriter

    lang = lang or current_lang()
    ctx = report_context(study, lang)
    h = ctx["headline"]
    with xlsxwriter.Workbook(str(path), {"nan_inf_to_errors": True}) as book:
        bold = book.add_format({"bold": True})
        money = book.add_format({"num_format": "#,##0"})
        tonnes = book.add_format({"num_format": "#,##0.0"})
        pct = book.add_format({"num_format": "0.0%"})

        summary = book.add_worksheet(pick("概要", "Summary", lang))
        summary.set_column(0, 0, 30)
        summary.set_column(1, 1, 40)
        facts = [
            (pick("项目", "project", lang), study.name, None),
            (pick("机制", "scheme", lang), ctx["scheme_title"], None),
            (pick("小班数", "sub-compartments", lang), h["sub_compartments"], None),
            (pick("面积（亩）", "area (mu)", lang), h["area_mu"], tonnes),
            (
                pick("计入期固碳量（tCO2e）", "tCO2e sequestered", lang),
                h["tonnes_sequestered"],
                tonnes,
            ),
            (pick("签发量（tCO2e）", "tCO2e issued", lang), h["tonnes_issued"], money),
            (pick("净现值（元）", "NPV (yuan)", lang), h["npv"], money),
            (pick("内部收益率", "IRR", lang), h["irr"], pct),
            (pick("回收年份", "payback year", lang), h["payback_year"], None),
            (
                pick("盈亏平衡价格（元/吨）", "break-even price (yuan/t)", lang),
                h["break_even_price"],
                tonnes,
            ),
            (pick("亏损概率", "probability of a loss", lang), h["probability_of_loss"], pct),
            (pick("建议缓冲比例", "recommended buffer", lang), h["recommended_buffer_share"], pct),
        ]
        for i, (label, value, fmt) in enumerate(facts):
            summary.write(i, 0, label, bold)
            if value is None:
                summary.write(i, 1, "—")
            else:
                summary.write(i, 1, value, fmt)

        flows = book.add_worksheet(pick("现金流", "Cash flow", lang))
        columns = [
            ("year", pick("年份", "year", lang), None),
            ("tonnes_sequestered", pick("固碳量", "sequestered", lang), tonnes),
            ("tonnes_issued", pick("签发量", "issued", lang), money),
            ("tonnes_buffer", pick("缓冲量", "buffer", lang), money),
            ("price", pick("价格", "price", lang), tonnes),
            ("revenue", pick("收入", "revenue", lang), money),
            ("total_cost", pick("成本", "cost", lang), money),
            ("net", pick("净现金流", "net", lang), money),
            ("cumulative", pick("累计", "cumulative", lang), money),
            ("discounted", pick("折现值", "discounted", lang), money),
        ]
        flows.write_row(0, 0, [c[1] for c in columns], bold)
        flows.set_column(0, len(columns), 13)
        for r, row in enumerate(ctx["rows"], start=1):
            for c, (key, _label, fmt) in enumerate(columns):
                flows.write(r, c, row[key], fmt)
        n = len(ctx["rows"])
        sheet = flows.get_name()
        cash = book.add_chart({"type": "column"})
        cash.add_series(
            {
                "name": pick("净现金流", "net cash flow", lang),
                "categories": [sheet, 1, 0, n, 0],
                "values": [sheet, 1, 7, n, 7],
            }
        )
        cash.set_title({"name": pick("逐年净现金流", "Net cash flow", lang)})
        flows.insert_chart(1, len(columns) + 1, cash)
        issued = book.add_chart({"type": "line"})
        issued.add_series(
            {
                "name": pick("固碳量", "sequestered", lang),
                "categories": [sheet, 1, 0, n, 0],
                "values": [sheet, 1, 1, n, 1],
            }
        )
        issued.set_title({"name": pick("逐年固碳量（tCO2e）", "Tonnes by year", lang)})
        flows.insert_chart(17, len(columns) + 1, issued)

        costs = book.add_worksheet(pick("成本表", "Costs", lang))
        costs.write_row(
            0,
            0,
            [
                pick(x, y, lang)
                for x, y in (
                    ("项目", "item"),
                    ("单位", "unit"),
                    ("金额", "amount"),
                    ("状态", "status"),
                    ("来源", "source"),
                )
            ],
            bold,
        )
        costs.set_column(0, 1, 24)
        costs.set_column(4, 4, 60)
        for r, item in enumerate(ctx["costs"]["items"], start=1):
            costs.write_row(
                r,
                0,
                [item["name"], item["unit_label"], item["amount"], item["status"], item["source"]],
            )

        scen = book.add_worksheet(pick("价格情景", "Scenarios", lang))
        scen.write_row(
            0,
            0,
            [
                pick(x, y, lang)
                for x, y in (
                    ("情景", "scenario"),
                    ("价格", "price"),
                    ("净现值", "NPV"),
                    ("内部收益率", "IRR"),
                    ("回收年份", "payback"),
                    ("来源", "source"),
                )
            ],
            bold,
        )
        scen.set_column(0, 4, 14)
        scen.set_column(5, 5, 80)
        for r, s in enumerate(ctx["scenarios"], start=1):
            scen.write(r, 0, s["name"])
            scen.write(r, 1, s["price"], tonnes)
            scen.write(r, 2, s["npv"], money)
            scen.write(r, 3, s["irr"] if s["irr"] is not None else "—", pct)
            scen.write(r, 4, s["payback"] if s["payback"] is not None else "—")
            scen.write(r, 5, s["source"])
        row0 = len(ctx["scenarios"]) + 2
        scen.write(row0, 0, pick("敏感性（净现值）", "Sensitivity (NPV)", lang), bold)
        scen.write_row(row0 + 1, 1, [f"{100 * s:+.0f}%" for s in ctx["steps"]], bold)
        for i, (factor, changes) in enumerate(ctx["sensitivity"].items(), start=row0 + 2):
            scen.write(i, 0, ctx["sensitivity_labels"][factor])
            for j, step in enumerate(ctx["steps"], start=1):
                scen.write(i, j, changes[step]["npv"], money)

        if study.risk is not None:
            risk = book.add_worksheet(pick("风险", "Risk", lang))
            risk.set_column(0, 0, 28)
            risk.set_column(1, 4, 16)
            summary_risk = ctx["risk"]
            risk.write_row(0, 0, ["", "P10", "P50", "P90", pick("均值", "mean", lang)], bold)
            for i, (key, label) in enumerate(
                (
                    ("npv", pick("净现值（元）", "NPV (yuan)", lang)),
                    ("credited_tonnes", pick("计入量（tCO2e）", "credited tCO2e", lang)),
                    ("issued_tonnes", pick("签发量（tCO2e）", "issued tCO2e", lang)),
                ),
                start=1,
            ):
                q = summary_risk[key]
                risk.write_row(i, 0, [label, q["p10"], q["p50"], q["p90"], q["mean"]])
            risk.write(5, 0, pick("亏损概率", "probability of a loss", lang), bold)
            risk.write(5, 1, summary_risk["probability_of_loss"], pct)
            risk.write(6, 0, pick("建议缓冲比例", "recommended buffer", lang), bold)
            risk.write(6, 1, summary_risk["recommended_buffer_share"], pct)
            risk.write(7, 0, pick("模拟路径数 / 种子", "paths / seed", lang), bold)
            risk.write(7, 1, f"{summary_risk['paths']} / {summary_risk['seed']}")
            hist = study.risk.to_dict(lang)["histograms"]["npv"]
            risk.write_row(
                9,
                0,
                [pick("净现值区间下限", "NPV bin from", lang), pick("路径数", "paths", lang)],
                bold,
            )
            for i, (edge, count) in enumerate(
                zip(hist["edges"][:-1], hist["counts"], strict=True), start=10
            ):
                risk.write(i, 0, edge, money)
                risk.write(i, 1, count)
            bins = len(hist["counts"])
            chart = book.add_chart({"type": "column"})
            chart.add_series(
                {
                    "name": pick("净现值分布", "NPV distribution", lang),
                    "categories": [risk.get_name(), 10, 0, 9 + bins, 0],
                    "values": [risk.get_name(), 10, 1, 9 + bins, 1],
                    "gap": 5,
                }
            )
            chart.set_title({"name": pick("净现值分布", "Distribution of NPV", lang)})
            risk.insert_chart(1, 6, chart)

        prov = book.add_worksheet(pick("来源", "Provenance", lang))
        prov.set_column(0, 0, 120)
        for i, line in enumerate(ctx["provenance"].splitlines()):
            prov.write(i, 0, line)
