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


# ------------------------------------------------------------------- feasibility, risk, report

VillageOpt = Annotated[
    list[str] | None,
    typer.Option("--village", help="只取这些村（可多次）/ only these villages (repeatable)."),
]
OwnerOpt = Annotated[
    list[str] | None,
    typer.Option("--owner", help="只取这些权利人（可多次）/ only these rights holders."),
]
IdsOpt = Annotated[
    Path | None,
    typer.Option("--ids", help="项目小班号清单（每行一个）/ the project's ids, one per line."),
]
CostsOpt = Annotated[
    Path | None,
    typer.Option(
        "--costs",
        help="成本表 TOML/CSV（覆盖默认值，见 `tanhui develop costs`）/ cost table overrides.",
    ),
]
PriceOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--price",
        help="价格情景 名称=元/吨[@年增长率]，可多次，如 base=15@0.03 / price scenario "
        "NAME=YUAN[@GROWTH], repeatable.",
    ),
]


def _price_scenarios(values: list[str] | None) -> list[Any] | None:
    from tanhui.develop.feasibility import PriceScenario

    if not values:
        return None
    scenarios = []
    for value in values:
        name, _, rest = value.partition("=")
        price, _, growth = rest.partition("@")
        try:
            scenario = PriceScenario(
                name.strip(),
                float(price),
                float(growth) if growth else 0.0,
                source="user (--price)",
                status="user",
            )
        except ValueError:
            raise InputError(
                f"价格情景 {value!r} 的格式应为 名称=元/吨[@年增长率]，如 base=15@0.03。",
                f"Price scenario {value!r} must look like NAME=YUAN[@GROWTH], e.g. base=15@0.03.",
            ) from None
        if not scenario.name:
            raise InputError(
                f"价格情景 {value!r} 缺少名称。", f"Price scenario {value!r} has no name."
            )
        scenario.check()
        scenarios.append(scenario)
    return scenarios


def _study(
    file: Path,
    *,
    scheme: str,
    name: str | None,
    ids: Path | None,
    village: list[str] | None,
    owner: list[str] | None,
    rules_file: Path | None,
    params: Path | None,
    costs: Path | None,
    registered: Path | None,
    check_registry: bool,
    db: str | None,
    start_year: int | None,
    years: int | None,
    monitoring_interval: int,
    first_verification: int,
    issuance_lag: int,
    price: list[str] | None,
    discount_rate: float,
    buffer_share: float,
    growth: str | None,
    yield_table: Path | None,
    paths: int,
    seed: int,
    with_map: bool,
    read: dict[str, Any],
) -> Any:
    from tanhui.develop.study import Selection, study_file

    selection = Selection(
        ids=tuple(_read_id_list(ids)) if ids else (),
        villages=tuple(village or ()),
        owners=tuple(owner or ()),
    )
    start = start_year or dt.date.today().year
    registered_ids = _registered_ids(registered, check_registry, db, start, years or 30)
    stages = {
        "read": ("读取清查文件", "reading the inventory"),
        "screen": ("筛查", "screening"),
        "yield": ("预测碳汇量", "projecting tonnes"),
        "economics": ("计算现金流", "cash flows"),
        "risk": (f"蒙特卡洛 {paths:,} 条路径", f"Monte Carlo, {paths:,} paths"),
        "map": ("绘制地图", "drawing the map"),
    }
    with err.status(pick("可行性分析", "feasibility")) as status:

        def progress(stage: str) -> None:
            zh, en = stages.get(stage, (stage, stage))
            status.update(f"{pick('可行性分析', 'feasibility')} — {pick(zh, en)}")

        return study_file(
            file,
            scheme,
            params_file=params,
            costs_file=costs,
            read_options=read,
            progress=progress,
            name=name,
            selection=selection,
            rules_file=rules_file,
            registered_ids=registered_ids,
            start_year=start,
            crediting_years=years,
            monitoring_interval=monitoring_interval,
            first_verification_after=first_verification,
            issuance_lag=issuance_lag,
            prices=_price_scenarios(price),
            discount_rate=discount_rate,
            buffer_share=buffer_share,
            growth_family=None if yield_table else growth,
            yield_table=yield_table,
            paths=paths,
            seed=seed,
            with_map=with_map,
        )


def _read_id_list(path: Path) -> list[str]:
    try:
        text = path.read_text("utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"找不到文件 {path}。", f"File {path} not found.") from None
    return [line.strip() for line in text.splitlines() if line.strip()]


@develop_app.command("feasibility")
@handles_errors
def develop_feasibility(
    file: Annotated[Path, typer.Argument(help="小班数据文件 / inventory file.")],
    scheme: SchemeOpt = "smcer",
    name: Annotated[str | None, typer.Option("--name", help="项目名称 / project name.")] = None,
    ids: IdsOpt = None,
    village: VillageOpt = None,
    owner: OwnerOpt = None,
    rules_file: RulesFileOpt = None,
    params: ParamsOpt = None,
    costs: CostsOpt = None,
    registered: RegisteredOpt = None,
    check_registry: UseRegistryOpt = False,
    db: DbOpt = None,
    start_year: StartYearOpt = None,
    years: Annotated[
        int | None,
        typer.Option(
            "--years", min=1, help="计入期年数（默认 CCER 30，碳票 20）/ crediting years."
        ),
    ] = None,
    monitoring_interval: Annotated[
        int,
        typer.Option(
            "--monitoring-interval", min=1, help="监测间隔（年）/ years between verifications."
        ),
    ] = 5,
    first_verification: Annotated[
        int,
        typer.Option(
            "--first-verification",
            min=1,
            help="首次核证在第几年 / first verification after N years.",
        ),
    ] = 5,
    issuance_lag: Annotated[
        int,
        typer.Option(
            "--issuance-lag", min=0, help="核证到签发（年）/ years from verification to issuance."
        ),
    ] = 1,
    price: PriceOpt = None,
    discount_rate: Annotated[
        float, typer.Option("--discount-rate", help="折现率 / discount rate.")
    ] = 0.08,
    buffer_share: Annotated[
        float, typer.Option("--buffer-share", min=0.0, max=0.99, help="缓冲比例 / buffer share.")
    ] = 0.0,
    growth: GrowthOpt = "richards",
    yield_table: YieldTableOpt = None,
    paths: Annotated[
        int,
        typer.Option(
            "--paths", min=0, help="蒙特卡洛路径数，0 不做风险 / Monte Carlo paths (0: none)."
        ),
    ] = 10_000,
    seed: Annotated[int, typer.Option("--seed", help="随机种子 / random seed.")] = 0,
    format: Annotated[
        ShortFormat, typer.Option("--format", help="输出格式 / output format.")
    ] = ShortFormat.table,
    out_path: Annotated[Path | None, typer.Option("--out", help="输出文件 / output file.")] = None,
    layer: LayerOpt = None,
    encoding: EncodingOpt = None,
    area_unit: AreaUnitOpt = None,
    id_columns: IdColumnsOpt = None,
) -> None:
    """可行性：计入期碳汇量、成本、价格情景、NPV/IRR/回收期、敏感性与风险。
    Feasibility: tonnes over the crediting period, costs, price scenarios, NPV/IRR/payback,
    sensitivity and Monte Carlo risk."""
    study = _study(
        file,
        scheme=scheme,
        name=name,
        ids=ids,
        village=village,
        owner=owner,
        rules_file=rules_file,
        params=params,
        costs=costs,
        registered=registered,
        check_registry=check_registry,
        db=db,
        start_year=start_year,
        years=years,
        monitoring_interval=monitoring_interval,
        first_verification=first_verification,
        issuance_lag=issuance_lag,
        price=price,
        discount_rate=discount_rate,
        buffer_share=buffer_share,
        growth=growth,
        yield_table=yield_table,
        paths=paths,
        seed=seed,
        with_map=False,
        read=_read_options(layer, encoding, area_unit, id_columns),
    )
    if format is ShortFormat.json:
        doc = study.to_dict(current_lang())
        doc["screening"].pop("by_owner", None)  # tens of thousands of holders: see `screen`
        _emit(json.dumps(doc, ensure_ascii=False, indent=1, default=str) + "\n", out_path)
        if out_path is not None:
            err.print(pick(f"已写出 {out_path}", f"Wrote {out_path}"))
        return
    _print_study(study)


def _print_study(study: Any) -> None:
    from tanhui.develop.report import report_context

    lang = current_lang()
    ctx = report_context(study, lang)
    h = ctx["headline"]

    def money(v: float | None) -> str:
        return "—" if v is None else f"{v:,.0f}"

    def pct(v: float | None, d: int = 1) -> str:
        return "—" if v is None else f"{100 * v:.{d}f}%"

    out.print(f"[bold]{study.name}[/] — {ctx['scheme_title']}")
    tl = ctx["timeline"]
    out.print(
        pick(
            f"{h['sub_compartments']:,} 个小班，{h['area_mu']:,.0f} 亩；计入期 {tl['start_year']}–"
            f"{tl['start_year'] + tl['crediting_years'] - 1}，核证 {'、'.join(map(str, tl['verification_years']))}",
            f"{h['sub_compartments']:,} sub-compartments, {h['area_mu']:,.0f} mu; crediting "
            f"{tl['start_year']}–{tl['start_year'] + tl['crediting_years'] - 1}, verified "
            f"{', '.join(map(str, tl['verification_years']))}",
        )
    )
    out.print(
        pick(
            f"固碳 {h['tonnes_sequestered']:,.0f} tCO2e，签发 {h['tonnes_issued']:,} tCO2e",
            f"sequestered {h['tonnes_sequestered']:,.0f} tCO2e, issued {h['tonnes_issued']:,} tCO2e",
        )
    )
    table = Table(title=pick("价格情景", "Price scenarios"))
    for title in (
        pick("情景", "scenario"),
        pick("元/吨", "yuan/t"),
        pick("净现值(元)", "NPV (yuan)"),
        "IRR",
        pick("回收年份", "payback"),
        pick("每亩净现值", "NPV/mu"),
    ):
        table.add_column(title, justify="right")
    for s in ctx["scenarios"]:
        table.add_row(
            s["name"],
            f"{s['price']:,.2f}",
            money(s["npv"]),
            pct(s["irr"]),
            str(s["payback"] or "—"),
            f"{s['npv_per_mu']:,.2f}",
        )
    out.print(table)
    out.print(
        pick("盈亏平衡价格", "Break-even price")
        + f": {'—' if h['break_even_price'] is None else format(h['break_even_price'], ',.2f')} "
        + pick("元/吨", "yuan/t")
    )
    table = Table(title=pick("敏感性（净现值，元）", "Sensitivity (NPV, yuan)"))
    table.add_column("")
    for step in ctx["steps"]:
        table.add_column(f"{100 * step:+.0f}%", justify="right")
    for factor, changes in ctx["sensitivity"].items():
        table.add_row(
            ctx["sensitivity_labels"][factor], *(money(changes[s]["npv"]) for s in ctx["steps"])
        )
    out.print(table)
    risk = ctx["risk"]
    if risk is not None:
        table = Table(
            title=pick(
                f"风险（{risk['paths']:,} 条路径，种子 {risk['seed']}）",
                f"Risk ({risk['paths']:,} paths, seed {risk['seed']})",
            )
        )
        for title in ("", "P10", "P50", "P90"):
            table.add_column(title, justify="right")
        table.add_row(
            pick("净现值(元)", "NPV (yuan)"),
            *(money(risk["npv"][k]) for k in ("p10", "p50", "p90")),
        )
        table.add_row(
            pick("签发量(t)", "issued (t)"),
            *(money(risk["issued_tonnes"][k]) for k in ("p10", "p50", "p90")),
        )
        out.print(table)
        out.print(
            pick(
                f"亏损概率 {pct(risk['probability_of_loss'])}，建议缓冲比例 [bold]{pct(risk['recommended_buffer_share'], 0)}[/]",
                f"Probability of a loss {pct(risk['probability_of_loss'])}, recommended buffer [bold]{pct(risk['recommended_buffer_share'], 0)}[/]",
            )
        )
    if ctx["to_confirm"]:
        out.print(
            pick(
                f"注意：{len(ctx['to_confirm'])} 项成本、参数或规则为待核实的默认值（见报告“待核实的假设”）。",
                f"Note: {len(ctx['to_confirm'])} costs, parameters or rules are defaults to confirm "
                "(see the report's assumptions).",
            ),
            style="yellow",
        )


@develop_app.command("report")
@handles_errors
def develop_report(
    file: Annotated[Path, typer.Argument(help="小班数据文件 / inventory file.")],
    out_path: Annotated[
        Path, typer.Option("--out", help="报告文件 .html、.pdf 或 .xlsx / report file.")
    ],
    scheme: SchemeOpt = "smcer",
    name: Annotated[str | None, typer.Option("--name", help="项目名称 / project name.")] = None,
    ids: IdsOpt = None,
    village: VillageOpt = None,
    owner: OwnerOpt = None,
    rules_file: RulesFileOpt = None,
    params: ParamsOpt = None,
    costs: CostsOpt = None,
    registered: RegisteredOpt = None,
    check_registry: UseRegistryOpt = False,
    db: DbOpt = None,
    start_year: StartYearOpt = None,
    years: Annotated[
        int | None, typer.Option("--years", min=1, help="计入期年数 / crediting years.")
    ] = None,
    price: PriceOpt = None,
    discount_rate: Annotated[
        float, typer.Option("--discount-rate", help="折现率 / discount rate.")
    ] = 0.08,
    buffer_share: Annotated[
        float, typer.Option("--buffer-share", min=0.0, max=0.99, help="缓冲比例 / buffer share.")
    ] = 0.0,
    growth: GrowthOpt = "richards",
    yield_table: YieldTableOpt = None,
    paths: Annotated[
        int, typer.Option("--paths", min=0, help="蒙特卡洛路径数 / Monte Carlo paths.")
    ] = 10_000,
    seed: Annotated[int, typer.Option("--seed", help="随机种子 / random seed.")] = 0,
    layer: LayerOpt = None,
    encoding: EncodingOpt = None,
    area_unit: AreaUnitOpt = None,
    id_columns: IdColumnsOpt = None,
) -> None:
    """可行性报告（HTML、PDF 或 Excel，含图表）/ the feasibility report (HTML, PDF or Excel, with
    charts)."""
    from tanhui.develop import report

    suffix = out_path.suffix.lower()
    if suffix not in (".html", ".htm", ".pdf", ".xlsx"):
        raise InputError(
            f"报告文件须以 .html、.pdf 或 .xlsx 结尾：{out_path}",
            f"The report file must end in .html, .pdf or .xlsx: {out_path}",
        )
    study = _study(
        file,
        scheme=scheme,
        name=name,
        ids=ids,
        village=village,
        owner=owner,
        rules_file=rules_file,
        params=params,
        costs=costs,
        registered=registered,
        check_registry=check_registry,
        db=db,
        start_year=start_year,
        years=years,
        monitoring_interval=5,
        first_verification=5,
        issuance_lag=1,
        price=price,
        discount_rate=discount_rate,
        buffer_share=buffer_share,
        growth=growth,
        yield_table=yield_table,
        paths=paths,
        seed=seed,
        with_map=suffix != ".xlsx",
        read=_read_options(layer, encoding, area_unit, id_columns),
    )
    lang = current_lang()
    with err.status(pick("生成报告", "writing the report")):
        if suffix == ".pdf":
            out_path.write_bytes(report.render_pdf(study, lang))
        elif suffix == ".xlsx":
            report.render_xlsx(study, out_path, lang)
        else:
            out_path.write_text(report.render_html(study, lang), "utf-8")
    err.print(pick(f"已写出 {out_path}", f"Wrote {out_path}"))


@develop_app.command("costs")
@handles_errors
def develop_costs(
    costs: CostsOpt = None,
    export: Annotated[
        Path | None,
        typer.Option(
            "--export", help="导出为可编辑的 TOML 模板 / write an editable TOML template."
        ),
    ] = None,
) -> None:
    """显示成本表（默认值均待核实）/ show the cost table (every default is to confirm)."""
    from tanhui.develop.costs import load_costs

    table_data = load_costs(costs)
    if export is not None:
        export.write_text(table_data.to_toml(), "utf-8")
        err.print(
            pick(
                f"已写出 {export}，修改后用 --costs 传入。",
                f"Wrote {export}; edit it and pass it with --costs.",
            )
        )
        return
    lang = current_lang()
    doc = table_data.to_dict(lang)
    table = Table(title=f"{doc['name']} {doc['version']} ({doc['hash'][:12]})", show_lines=True)
    for title in (
        pick("项目", "item"),
        pick("单位", "unit"),
        pick("金额", "amount"),
        pick("状态", "status"),
        pick("来源", "source"),
    ):
        table.add_column(title, overflow="fold")
    for item in doc["items"]:
        amount = (
            f"{100 * item['amount']:.1f}%"
            if item["unit"] == "share_of_revenue"
            else f"{item['amount']:,.2f}"
        )
        table.add_row(item["name"], item["unit_label"], amount, item["status"], item["source"])
    out.print(table)
    if doc["note"]:
        out.print(doc["note"], style="yellow")


# ---------------------------------------------------------------------------- project library

projects_app = typer.Typer(help="项目库 / the project library.", no_args_is_help=True)
develop_app.add_typer(projects_app, name="projects")


def _library(db: str | None) -> Any:
    from tanhui.db import make_engine
    from tanhui.develop.library import Library

    return Library(make_engine(_db_url(db)))


def _system() -> Any:
    # The CLI is the administrator's tool on the server: it acts as the system (all roles); the
    # web pages and the API act as the logged-in user.
    from tanhui.registry.ledger import SystemActor

    return SystemActor()


def _stage(stage: str) -> str:
    from tanhui.develop.lifecycle import STAGE_LABELS, Stage

    try:
        zh, en = STAGE_LABELS[Stage(stage)]
    except ValueError:
        return stage
    return pick(zh, en)


def _subcompartment_list(path: Path) -> list[tuple[str, float]]:
    """``id,area_ha`` per line (e.g. the eligible rows of `develop screen --format csv`)."""
    rows = []
    for number, line in enumerate(_read_id_list(path), start=1):
        sub_id, _, area = line.replace("，", ",").partition(",")
        try:
            rows.append((sub_id.strip(), float(area)))
        except ValueError:
            raise InputError(
                f"{path} 第 {number} 行的面积 {area!r} 不是数字。",
                f"Line {number} of {path}: the area {area!r} is not a number.",
            ) from None
    return rows


@projects_app.command("list")
@handles_errors
def projects_list(
    region: Annotated[str | None, typer.Option("--region", help="县代码 / county code.")] = None,
    stage: Annotated[str | None, typer.Option("--stage", help="阶段 / stage.")] = None,
    scheme: Annotated[str | None, typer.Option("--scheme", help="机制 / scheme.")] = None,
    db: DbOpt = None,
) -> None:
    """列出项目库中的项目 / list the projects in the library."""
    projects, total = _library(db).list_projects(
        _system(), region_code=region, stage=stage, scheme=scheme, limit=500
    )
    table = Table(title=pick(f"项目库（共 {total} 个）", f"Project library ({total})"))
    for title in (
        "id",
        pick("名称", "name"),
        pick("机制", "scheme"),
        pick("县", "county"),
        pick("阶段", "stage"),
        pick("面积(亩)", "area (mu)"),
    ):
        table.add_column(title)
    for p in projects:
        table.add_row(
            str(p.id),
            p.name,
            p.scheme,
            p.county or p.region_code,
            _stage(p.stage),
            f"{p.area_ha * 15:,.0f}",
        )
    out.print(table)


@projects_app.command("create")
@handles_errors
def projects_create(
    name: Annotated[str, typer.Argument(help="项目名称 / project name.")],
    scheme: Annotated[str, typer.Option("--scheme", help="SMCER, CCER, GZCER … / scheme.")],
    methodology: Annotated[str, typer.Option("--methodology", help="方法学 / methodology.")],
    region: Annotated[str, typer.Option("--region", help="县代码（6 位）/ county code.")],
    owner: Annotated[int, typer.Option("--owner", help="业主机构 id / owner organisation id.")],
    ids: Annotated[
        Path | None,
        typer.Option(
            "--ids", help="小班清单：每行 小班号,面积公顷 / sub-compartments: id,area_ha per line."
        ),
    ] = None,
    county: Annotated[str, typer.Option("--county", help="县名 / county name.")] = "",
    notes: Annotated[str, typer.Option("--notes", help="备注 / notes.")] = "",
    db: DbOpt = None,
) -> None:
    """把候选项目加入项目库 / add a candidate project to the library."""
    view = _library(db).create_project(
        _system(),
        name=name,
        scheme=scheme,
        methodology=methodology,
        region_code=region,
        county=county,
        owner_organisation_id=owner,
        subcompartments=_subcompartment_list(ids) if ids else (),
        notes=notes,
    )
    out.print(
        pick(
            f"已建立项目 {view.id}「{view.name}」，阶段：{_stage(view.stage)}，小班 {len(view.subcompartments)} 个",
            f"Created project {view.id} “{view.name}”, stage {_stage(view.stage)}, "
            f"{len(view.subcompartments)} sub-compartments",
        )
    )


@projects_app.command("show")
@handles_errors
def projects_show(
    project_id: Annotated[int, typer.Argument(help="项目 id / project id.")],
    on: Annotated[
        str | None, typer.Option("--on", help="核对授权的日期 YYYY-MM-DD / consent date.")
    ] = None,
    db: DbOpt = None,
) -> None:
    """项目详情：阶段历史与尚缺授权的地块 / a project: stage history and parcels lacking consent."""
    from tanhui.db import make_engine
    from tanhui.develop.library import Library
    from tanhui.develop.pooling import GAP_REASON_LABELS, Pooling

    engine = make_engine(_db_url(db))
    library, actor = Library(engine), _system()
    p = library.get_project(actor, project_id)
    out.print(f"[bold]{p.id} {p.name}[/] — {p.scheme} / {p.methodology} — {_stage(p.stage)}")
    out.print(
        pick(
            f"县 {p.county or p.region_code}，业主 {p.owner_name}，小班 {len(p.subcompartments)} 个，{p.area_ha * 15:,.0f} 亩",
            f"county {p.county or p.region_code}, owner {p.owner_name}, "
            f"{len(p.subcompartments)} sub-compartments, {p.area_ha * 15:,.0f} mu",
        )
    )
    if p.next_stages:
        out.print(
            pick("下一步可到：", "May move to: ") + "、".join(_stage(s) for s in p.next_stages)
        )
    table = Table(title=pick("阶段历史", "Stage history"))
    for title in (
        pick("时间", "when"),
        pick("从", "from"),
        pick("到", "to"),
        pick("操作人", "by"),
        pick("说明", "note"),
    ):
        table.add_column(title)
    for change in library.history(actor, project_id):
        table.add_row(
            str(change.changed_at)[:16],
            _stage(change.from_stage) if change.from_stage else "—",
            _stage(change.to_stage),
            change.actor,
            change.note,
        )
    out.print(table)
    day = dt.date.fromisoformat(on) if on else None
    gap = Pooling(engine).consent_gap(actor, project_id, on=day)
    if gap.complete:
        out.print(
            pick(
                "[green]✓[/] 所有地块均有有效授权。",
                "[green]✓[/] Every parcel has a valid consent.",
            )
        )
        return
    table = Table(title=pick(f"尚缺授权（{gap.on}）", f"Lacking consent on {gap.on}"))
    for title in (
        pick("小班", "sub-compartment"),
        pick("权利人", "holder"),
        pick("村", "village"),
        pick("面积(亩)", "mu"),
        pick("原因", "reason"),
    ):
        table.add_column(title)
    for parcel in gap.parcels:
        zh, en = GAP_REASON_LABELS.get(parcel.reason, (parcel.reason, parcel.reason))
        since = f"（{parcel.since}）" if parcel.since else ""
        table.add_row(
            parcel.subcompartment_id,
            parcel.holder_name,
            parcel.village,
            f"{parcel.area_ha * 15:,.1f}",
            pick(zh, en) + since,
        )
    for sub in gap.unowned:
        table.add_row(
            sub.subcompartment_id,
            "—",
            "",
            f"{sub.area_ha * 15:,.1f}",
            pick("未登记权利人", "no rights holder recorded"),
        )
    out.print(table)
    out.print(
        pick(
            f"已授权面积 {gap.area_covered_ha * 15:,.0f} / {gap.area_total_ha * 15:,.0f} 亩",
            f"Consented {gap.area_covered_ha * 15:,.0f} of {gap.area_total_ha * 15:,.0f} mu",
        )
    )


@projects_app.command("advance")
@handles_errors
def projects_advance(
    project_id: Annotated[int, typer.Argument(help="项目 id / project id.")],
    note: Annotated[str, typer.Option("--note", help="说明 / note.")] = "",
    db: DbOpt = None,
) -> None:
    """推进到下一阶段 / move the project to its next stage."""
    view = _library(db).advance(_system(), project_id, note=note)
    out.print(
        pick(
            f"项目 {view.id} 现处于：{_stage(view.stage)}",
            f"Project {view.id} is now at: {_stage(view.stage)}",
        )
    )


@projects_app.command("withdraw")
@handles_errors
def projects_withdraw(
    project_id: Annotated[int, typer.Argument(help="项目 id / project id.")],
    reason: Annotated[str, typer.Option("--reason", help="撤回原因 / reason.")],
    db: DbOpt = None,
) -> None:
    """撤回项目 / withdraw the project."""
    view = _library(db).withdraw(_system(), project_id, reason=reason)
    out.print(pick(f"项目 {view.id} 已撤回", f"Project {view.id} withdrawn"))


@projects_app.command("stats")
@handles_errors
def projects_stats(
    region: Annotated[
        str, typer.Option("--region", help="县代码（6 位）或省代码（2 位）/ county or province.")
    ],
    db: DbOpt = None,
) -> None:
    """县或省的项目库统计，含项目储备不足的县 / county or province statistics, with the counties
    whose reserve is below the target."""
    library, actor = _library(db), _system()
    if len(region) == 6 and not region.endswith("0000"):
        stats = library.county_stats(actor, region)
        rows = [stats]
        title = pick(f"{stats.county or region} 项目库", f"Library of {stats.county or region}")
    else:
        province = library.province_stats(actor, region[:2])
        rows = list(province.counties)
        title = pick(f"省 {region[:2]}0000 项目库", f"Library of province {region[:2]}0000")
    table = Table(title=title)
    for head in (
        pick("县", "county"),
        pick("项目数", "projects"),
        pick("面积(亩)", "mu"),
        pick("储备", "reserve"),
        pick("各阶段", "by stage"),
    ):
        table.add_column(head)
    for s in rows:
        stages = "，".join(f"{_stage(k)} {v.count}" for k, v in s.by_stage.items() if v.count)
        reserve = f"{s.reserve}/{s.reserve_min}" + (" [red]↓[/]" if s.below_reserve else "")
        table.add_row(
            s.county or s.region_code, str(s.projects), f"{s.area_ha * 15:,.0f}", reserve, stages
        )
    out.print(table)
