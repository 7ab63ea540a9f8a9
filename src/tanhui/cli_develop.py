"""``tanhui develop …``: screening, feasibility, risk, reports and the project library.

Thin over :mod:`tanhui.develop`; imported at the end of :mod:`tanhui.cli` (it reuses that
module's consoles, error handling and shared options).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from tanhui.cli import (
    AreaUnitOpt,
    DbOpt,
    EncodingOpt,
    IdColumnsOpt,
    LayerOpt,
    ShortFormat,
    _db_url,
    _emit,
    _progress,
    _read_options,
    err,
    handles_errors,
    out,
)
from tanhui.errors import InputError
from tanhui.i18n import current_lang, pick

develop_app = typer.Typer(
    help="项目开发：资源筛查、可行性、风险、项目库 / development: screening, feasibility, "
    "risk, the project library.",
    no_args_is_help=True,
)

SchemeOpt = Annotated[
    str,
    typer.Option(
        "--scheme",
        help="机制，见 `tanhui develop rules` / scheme, see `tanhui develop rules` "
        "(smcer, ccer-afforestation, forest-management, stop-logging, guizhou-ticket).",
    ),
]
RulesFileOpt = Annotated[
    Path | None,
    typer.Option("--rules", help="自定义规则文件 TOML / your own rule file (TOML)."),
]
ParamsOpt = Annotated[
    Path | None,
    typer.Option("--params", help="参数文件（覆盖默认值）/ parameter overrides (CSV)."),
]
StartYearOpt = Annotated[
    int | None, typer.Option("--start-year", help="项目开始年份 / project start year.")
]
GrowthOpt = Annotated[
    str | None,
    typer.Option(
        "--growth",
        help="用本清查数据拟合生长模型 richards 或 schumacher / fit growth curves on this "
        "inventory: richards or schumacher.",
    ),
]
YieldTableOpt = Annotated[
    Path | None,
    typer.Option("--yield-table", help="收获表 CSV（树种组,年龄,每公顷蓄积）/ yield table CSV."),
]
RegisteredOpt = Annotated[
    Path | None,
    typer.Option(
        "--registered",
        help="已在其他机制登记的小班号清单（每行一个）/ ids already registered elsewhere, one per "
        "line.",
    ),
]
UseRegistryOpt = Annotated[
    bool,
    typer.Option(
        "--check-registry/--no-check-registry",
        help="从登记簿读取已签发的小班（需 --start-year）/ read land already issued from the "
        "registry (needs --start-year).",
    ),
]


def _registered_ids(
    registered: Path | None,
    use_registry: bool,
    db: str | None,
    start_year: int | None,
    years: int | None,
) -> list[str] | None:
    """Ids already claimed elsewhere, from a file and/or the registry; None when not asked."""
    ids: list[str] | None = None
    if registered is not None:
        try:
            text = registered.read_text("utf-8-sig")
        except FileNotFoundError:
            raise InputError(
                f"找不到文件 {registered}。", f"File {registered} not found."
            ) from None
        ids = [line.strip() for line in text.splitlines() if line.strip()]
    if use_registry:
        if start_year is None:
            raise InputError(
                "从登记簿核对已签发小班需要 --start-year。",
                "Checking the registry for land already issued needs --start-year.",
            )
        from tanhui.db import make_engine
        from tanhui.registry.ledger import Ledger

        ledger = Ledger(make_engine(_db_url(db)))
        end = dt.date(start_year + (years or 1) - 1, 12, 31)
        claimed = ledger.claimed_subcompartments(dt.date(start_year, 1, 1), end)
        ids = sorted(set(ids or []) | set(claimed))
    return ids


@develop_app.command("rules")
@handles_errors
def develop_rules(
    scheme: Annotated[
        str | None, typer.Argument(help="机制名；省略则列出全部 / scheme; all when omitted.")
    ] = None,
    rules_file: RulesFileOpt = None,
    format: Annotated[
        ShortFormat, typer.Option("--format", help="输出格式 / output format.")
    ] = ShortFormat.table,
) -> None:
    """列出各机制的筛查规则及其来源 / list each scheme's eligibility rules and their sources."""
    from tanhui.develop.screening_service import list_schemes, load_rule_set, rule_table

    lang = current_lang()
    if scheme is None and rules_file is None:
        schemes = list_schemes(lang)
        if format is ShortFormat.json:
            _emit(json.dumps(schemes, ensure_ascii=False, indent=2) + "\n", None)
            return
        table = Table(title=pick("筛查规则集", "Rule sets"))
        for title in (pick("机制", "scheme"), pick("名称", "title"), pick("版本", "version")):
            table.add_column(title)
        table.add_column(pick("规则数", "rules"), justify="right")
        for item in schemes:
            table.add_row(item["scheme"], item["title"], item["version"], str(item["rules"]))
        out.print(table)
        out.print(
            pick(
                "查看规则：tanhui develop rules 机制名", "Show rules: tanhui develop rules SCHEME"
            ),
            style="dim",
        )
        return
    rule_set = load_rule_set(scheme, rules_file)
    rows = rule_table(rule_set, lang)
    if format is ShortFormat.json:
        _emit(
            json.dumps({"rules": rule_set.describe(), "table": rows}, ensure_ascii=False, indent=2)
            + "\n",
            None,
        )
        return
    title = rule_set.title_zh if lang == "zh" else rule_set.title_en
    table = Table(title=f"{title} v{rule_set.version}", show_lines=True)
    for name in (
        "id",
        pick("不合格原因", "fails when"),
        pick("状态", "status"),
        pick("来源", "source"),
    ):
        table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(
            row["id"], f"{row['reason']}\n[dim]{row['check']}[/]", row["status"], row["source"]
        )
    out.print(table)
    out.print(f"hash {rule_set.hash[:16]}  ({rule_set.origin})", style="dim")


@develop_app.command("screen")
@handles_errors
def develop_screen(
    file: Annotated[Path, typer.Argument(help="小班数据文件 / inventory file.")],
    scheme: SchemeOpt = "smcer",
    rules_file: RulesFileOpt = None,
    params: ParamsOpt = None,
    start_year: StartYearOpt = None,
    years: Annotated[
        int | None, typer.Option("--years", min=1, help="计入期年数 / crediting period in years.")
    ] = None,
    growth: GrowthOpt = None,
    yield_table: YieldTableOpt = None,
    registered: RegisteredOpt = None,
    check_registry: UseRegistryOpt = False,
    db: DbOpt = None,
    by: Annotated[
        str,
        typer.Option("--by", help="汇总维度 village/owner/species_group/township / breakdown."),
    ] = "village",
    format: Annotated[
        str, typer.Option("--format", help="table, json, csv 或 xlsx / output format.")
    ] = "table",
    out_path: Annotated[Path | None, typer.Option("--out", help="输出文件 / output file.")] = None,
    layer: LayerOpt = None,
    encoding: EncodingOpt = None,
    area_unit: AreaUnitOpt = None,
    id_columns: IdColumnsOpt = None,
) -> None:
    """筛查哪些小班符合开发条件，逐条列出不合格原因。
    Screen which sub-compartments qualify, with every reason for those that do not."""
    from tanhui.develop import export
    from tanhui.develop.screening_service import screen_file

    if format not in ("table", "json", "csv", "xlsx"):
        raise InputError(
            f"未知输出格式 {format}：可用 table、json、csv、xlsx。",
            f"Unknown format {format}: use table, json, csv or xlsx.",
        )
    if format == "xlsx" and out_path is None:
        raise InputError("xlsx 格式需要 --out 文件名。", "The xlsx format needs --out FILE.")
    ids = _registered_ids(registered, check_registry, db, start_year, years)
    with _progress(pick("资源筛查", "screening")) as advance:
        advance("read")
        report = screen_file(
            file,
            scheme,
            rules_file=rules_file,
            params_file=params,
            registered_ids=ids,
            start_year=start_year,
            crediting_years=years,
            growth_family=growth,
            yield_table=yield_table,
            **_read_options(layer, encoding, area_unit, id_columns),
        )
        advance("write")
        lang = current_lang()
        if format == "table":
            _print_screening(report, by)
        elif format == "json":
            _emit(
                json.dumps(report.to_dict(lang=lang), ensure_ascii=False, indent=1, default=str)
                + "\n",
                out_path,
            )
        elif format == "csv":
            _emit(export.screening_csv(report, lang), out_path)
        else:
            assert out_path is not None
            export.screening_xlsx(report, out_path, lang)
    if out_path is not None:
        err.print(pick(f"已写出 {out_path}", f"Wrote {out_path}"))


def _print_screening(report: Any, by: str) -> None:
    lang = current_lang()
    summary = report.summary(lang)
    totals = summary["totals"]
    out.print(f"[bold]{summary['title']}[/]  v{summary['rules']['version']}")
    out.print(
        pick(
            f"小班 {totals['rows']:,} 个，合格 [bold green]{totals['eligible_rows']:,}[/] 个，"
            f"合格面积 {totals['eligible_area_ha']:,.2f} 公顷（{totals['eligible_area_mu']:,.0f} 亩），"
            f"预计年碳汇 {totals['tco2e_per_yr']:,.1f} tCO2e/年",
            f"{totals['rows']:,} sub-compartments, [bold green]{totals['eligible_rows']:,}[/] "
            f"eligible, {totals['eligible_area_ha']:,.2f} ha ({totals['eligible_area_mu']:,.0f} mu), "
            f"expected {totals['tco2e_per_yr']:,.1f} tCO2e/yr",
        )
    )
    if totals.get("tco2e_crediting_period") is not None:
        out.print(
            pick("计入期合计", "Over the crediting period")
            + f": {totals['tco2e_crediting_period']:,.1f} tCO2e"
        )
    if totals.get("eligible_rows_without_estimate"):
        out.print(
            pick(
                f"其中 {totals['eligible_rows_without_estimate']:,} 个合格小班缺少碳汇估计"
                "（该树种组无默认速率且未给生长模型；可加 --growth richards）",
                f"{totals['eligible_rows_without_estimate']:,} eligible rows have no estimate "
                "(no default rate for their species group and no growth model; try --growth "
                "richards)",
            ),
            style="yellow",
        )
    table = Table(title=pick("不合格原因", "Why sub-compartments do not qualify"))
    table.add_column(pick("原因", "reason"), overflow="fold")
    table.add_column(pick("小班数", "rows"), justify="right")
    table.add_column(pick("状态", "status"))
    for reason in summary["reasons"]:
        if reason["rows"] or not reason["checked"]:
            count = f"{reason['rows']:,}" if reason["checked"] else pick("未核对", "not checked")
            table.add_row(reason["reason"], count, reason["status"])
    out.print(table)
    from tanhui.develop.export import BREAKDOWN_HEADINGS, ROW_HEADINGS

    breakdown = report.totals_by(by)
    zh, en = BREAKDOWN_HEADINGS.get(by, (f"按 {by}", f"By {by}"))
    table = Table(title=pick(f"{zh}汇总（前 20）", f"{en} (top 20)"))
    table.add_column(pick(*ROW_HEADINGS.get(by, (by, by))))
    for title in (
        pick("合格小班", "eligible"),
        pick("合格面积(亩)", "eligible mu"),
        "tCO2e/yr",
    ):
        table.add_column(title, justify="right")
    ranked = sorted(breakdown.items(), key=lambda kv: -(kv[1]["tco2e_per_yr"] or 0.0))
    for label, row in ranked[:20]:
        table.add_row(
            label,
            f"{row['eligible_rows']:,}",
            f"{row['eligible_area_mu']:,.0f}",
            f"{row['tco2e_per_yr']:,.1f}",
        )
    out.print(table)
    if summary["unchecked"]:
        out.print(
            pick(
                "未核对："
                + "、".join(summary["unchecked"])
                + "（用 --registered 或 --check-registry）",
                "Not checked: " + ", ".join(summary["unchecked"]) + " (use --registered or "
                "--check-registry)",
            ),
            style="yellow",
        )
    out.print(
        pick("来源", "Provenance")
        + f": rules {report.provenance['rules']['hash'][:12]}, "
        + f"inventory {str(report.provenance['inventory_hash'])[:12]}",
        style="dim",
    )
