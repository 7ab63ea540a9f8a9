"""The ``tanhui`` command line: one sub-command group per room, thin over the services.

Errors a user can cause print a message in Chinese or English (by locale: ``TANHUI_LANG`` or
``LANG``) and exit with 2; ``measure --check`` exits with 1 when a recomputation differs.
Progress goes to stderr, results to stdout (or ``--out``).
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from tanhui import __version__
from tanhui.errors import InventoryError, TanhuiError
from tanhui.i18n import pick

app = typer.Typer(
    name="tanhui",
    help="碳汇 tanhui：从小班清查数据到林业碳票 / from forest inventories to forestry carbon tickets.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
inventory_app = typer.Typer(help="小班清查数据 / forest inventory files.", no_args_is_help=True)
params_app = typer.Typer(help="树种参数 / species parameters.", no_args_is_help=True)
growth_app = typer.Typer(help="生长模型 / growth projection.", no_args_is_help=True)
app.add_typer(inventory_app, name="inventory")
app.add_typer(params_app, name="params")
app.add_typer(growth_app, name="growth")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)

F = TypeVar("F", bound=Callable[..., Any])


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    xlsx = "xlsx"


class ShortFormat(StrEnum):
    table = "table"
    json = "json"


def handles_errors(func: F) -> F:
    """Turn a :class:`TanhuiError` into its message and exit code instead of a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except TanhuiError as exc:
            # inventory, rule, cost and loss-event files list every problem they found
            if isinstance(exc, InventoryError) or getattr(exc, "problems", None):
                _print_problems(exc)
            else:
                err.print(f"[bold red]{pick('错误', 'Error')}:[/] {exc.message()}")
            raise typer.Exit(exc.exit_code) from None

    return wrapper  # type: ignore[return-value]


def _print_problems(exc: TanhuiError, limit: int = 200) -> None:
    err.print(f"[bold red]{pick('错误', 'Error')}:[/] {exc.message()}")
    table = Table(show_lines=False)
    for title in (
        pick("行", "row"),
        pick("列", "column"),
        pick("值", "value"),
        pick("原因", "reason"),
    ):
        table.add_column(title, overflow="fold")
    for problem in exc.problems[:limit]:
        table.add_row(
            "" if problem.row is None else str(problem.row),
            problem.column or "",
            "" if problem.value is None else str(problem.value),
            problem.reason(),
        )
    err.print(table)
    if len(exc.problems) > limit:
        err.print(
            pick(
                f"……另有 {len(exc.problems) - limit} 个问题，用 --format json 查看全部。",
                f"… and {len(exc.problems) - limit} more; use --format json to see them all.",
            )
        )


@contextmanager
def _progress(total_label: str) -> Iterator[Callable[[str], None]]:
    """A spinner with the current stage on stderr (silent when stderr is not a terminal)."""
    stages = {
        "read": ("读取清查文件", "reading the inventory"),
        "read-baseline": ("读取前期清查文件", "reading the earlier inventory"),
        "align": ("按小班号匹配", "matching sub-compartments"),
        "compute": ("计算", "computing"),
        "write": ("写出结果", "writing the result"),
    }
    with err.status(total_label) as status:

        def advance(stage: str) -> None:
            zh, en = stages.get(stage, (stage, stage))
            status.update(f"{total_label} — {pick(zh, en)}")

        yield advance


def _version_callback(value: bool) -> None:
    if value:
        out.print(f"tanhui {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_version_callback,
            is_eager=True,
            help="显示版本 / show the version.",
        ),
    ] = False,
) -> None:
    """碳汇 tanhui."""


# ---------------------------------------------------------------------------------------- inventory

ReadOptions = dict[str, Any]


def _read_options(
    layer: str | None, encoding: str | None, area_unit: str | None, id_columns: str | None
) -> ReadOptions:
    options: ReadOptions = {}
    if layer:
        options["layer"] = layer
    if encoding:
        options["encoding"] = encoding
    if area_unit:
        options["area_unit"] = area_unit
    if id_columns:
        options["id_columns"] = [
            c.strip() for c in id_columns.replace("，", ",").split(",") if c.strip()
        ]
    return options


LayerOpt = Annotated[
    str | None, typer.Option("--layer", help="图层或工作表名 / layer or sheet name.")
]
EncodingOpt = Annotated[
    str | None, typer.Option("--encoding", help="强制文本编码，如 gbk / force a text encoding.")
]
AreaUnitOpt = Annotated[
    str | None,
    typer.Option(
        "--area-unit", help="“面积”列的单位 ha 或 mu / unit of a bare 面积 column: ha or mu."
    ),
]
IdColumnsOpt = Annotated[
    str | None,
    typer.Option(
        "--id-columns",
        help="用多列组成小班唯一号，如 村,林班号,小班号 / compose the id from columns.",
    ),
]


@inventory_app.command("check")
@handles_errors
def inventory_check(
    file: Annotated[
        Path, typer.Argument(help="小班数据文件 / inventory file (CSV, XLSX, GPKG, SHP, Parquet).")
    ],
    layer: LayerOpt = None,
    encoding: EncodingOpt = None,
    area_unit: AreaUnitOpt = None,
    id_columns: IdColumnsOpt = None,
    params: Annotated[
        Path | None, typer.Option("--params", help="参数文件（新增树种组）/ parameter file.")
    ] = None,
    format: Annotated[
        ShortFormat, typer.Option("--format", help="输出格式 / output format.")
    ] = ShortFormat.table,
) -> None:
    """检查清查文件：通过则退出码 0 并汇总；否则退出码 2 并列出全部问题。
    Check an inventory file: exit 0 with a summary, or exit 2 listing every problem."""
    from tanhui.inventory import check_inventory
    from tanhui.measure.params import load_parameters

    known = load_parameters(params).groups
    with _progress(pick("检查", "checking")):
        inventory, problems = check_inventory(
            file, known_groups=known, **_read_options(layer, encoding, area_unit, id_columns)
        )
    if format is ShortFormat.json:
        doc: dict[str, Any] = {"file": str(file), "ok": not problems}
        if inventory is not None:
            doc["summary"] = inventory.summary()
            doc["content_hash"] = inventory.content_hash
        doc["problems"] = [p.to_dict() for p in problems]
        out.print_json(json.dumps(doc, ensure_ascii=False, default=str))
        if problems:
            raise typer.Exit(2)
        return
    if problems:
        raise InventoryError(str(file), problems)
    assert inventory is not None
    summary = inventory.summary()
    out.print(
        pick(
            f"[green]✓[/] {file}：{summary['rows']} 个小班，总面积 {summary['total_area_ha']:,.2f} 公顷，格式 {inventory.source.format}"
            f"（{inventory.source.encoding or '-'}），无问题。",
            f"[green]✓[/] {file}: {summary['rows']} sub-compartments, {summary['total_area_ha']:,.2f} ha, "
            f"format {inventory.source.format} ({inventory.source.encoding or '-'}); no problems.",
        )
    )
    table = Table(title=pick("按树种组", "By species group"))
    table.add_column(pick("树种组", "species group"))
    table.add_column(pick("小班数", "rows"), justify="right")
    table.add_column(pick("面积(公顷)", "area (ha)"), justify="right")
    for group, facts in summary["by_species_group"].items():
        table.add_row(group, f"{facts['count']:,}", f"{facts['area_ha']:,.2f}")
    out.print(table)
    out.print(pick("内容哈希", "content hash") + f": {inventory.content_hash}")


# ------------------------------------------------------------------------------------------ measure


@app.command("measure")
@handles_errors
def measure(
    file: Annotated[
        Path, typer.Argument(help="（后期）小班数据文件 / the (later) inventory file.")
    ],
    method: Annotated[
        str,
        typer.Option(
            "--method", help="方法学，见 `tanhui methods` / methodology, see `tanhui methods`."
        ),
    ],
    baseline: Annotated[
        Path | None, typer.Option("--baseline", help="前期清查文件 / the earlier inventory file.")
    ] = None,
    year_from: Annotated[
        float | None, typer.Option("--from", help="监测期起始年 / start year of the period.")
    ] = None,
    year_to: Annotated[
        float | None, typer.Option("--to", help="监测期结束年 / end year of the period.")
    ] = None,
    params: Annotated[
        Path | None,
        typer.Option("--params", help="参数文件（覆盖默认值）/ parameter overrides (CSV)."),
    ] = None,
    format: Annotated[
        Format, typer.Option("--format", help="输出格式 / output format.")
    ] = Format.table,
    out_path: Annotated[Path | None, typer.Option("--out", help="输出文件 / output file.")] = None,
    summary: Annotated[
        bool, typer.Option("--summary", help="只输出汇总，不含小班明细 / totals only, no rows.")
    ] = False,
    check: Annotated[
        Path | None,
        typer.Option(
            "--check", help="重算并与该结果文件比对 / recompute and compare with this result."
        ),
    ] = None,
    reserve_share: Annotated[
        float,
        typer.Option(
            "--reserve-share", min=0.0, max=1.0, help="smcer 风险储备比例 / smcer reserve share."
        ),
    ] = 0.0,
    hwp_share: Annotated[
        float,
        typer.Option(
            "--hwp-share",
            min=0.0,
            max=1.0,
            help="stop-logging 长期木产品比例 / long-lived wood products share.",
        ),
    ] = 0.0,
    baseline_growth_factor: Annotated[
        float,
        typer.Option(
            "--baseline-growth-factor",
            min=0.0,
            help="forest-management 基线生长系数 / baseline growth factor.",
        ),
    ] = 1.0,
    growth: Annotated[
        str | None,
        typer.Option("--growth", help="生长模型 richards 或 schumacher / growth model family."),
    ] = None,
    yield_table: Annotated[
        Path | None,
        typer.Option(
            "--yield-table", help="收获表 CSV（树种组,年龄,每公顷蓄积）/ yield table CSV."
        ),
    ] = None,
    layer: LayerOpt = None,
    encoding: EncodingOpt = None,
    area_unit: AreaUnitOpt = None,
    id_columns: IdColumnsOpt = None,
) -> None:
    """按方法学计量碳汇量（tCO2e），附可复算的来源信息。
    Measure tCO2e under a methodology, with provenance anyone can recompute."""
    from tanhui.measure import export
    from tanhui.measure.methods.base import MethodOptions
    from tanhui.measure.service import measure_files, verify

    options = MethodOptions(
        year_from=year_from,
        year_to=year_to,
        reserve_share=reserve_share,
        hwp_share=hwp_share,
        baseline_growth_factor=baseline_growth_factor,
    )
    if format is Format.xlsx and out_path is None:
        raise TanhuiError("xlsx 格式需要 --out 文件名。", "The xlsx format needs --out FILE.")
    with _progress(pick("计量", "measuring")) as advance:
        result = measure_files(
            file,
            method=method,
            baseline=baseline,
            params_file=params,
            options=options,
            growth=growth,
            yield_table=yield_table,
            read_options=_read_options(layer, encoding, area_unit, id_columns),
            progress=advance,
            # per-row intermediate values only when the output shows rows
            keep_columns=format in (Format.csv, Format.xlsx)
            or (format is Format.json and not summary),
        )
        if check is not None:
            verify(result, _load_result(check))
            out.print(
                pick(
                    f"[green]✓[/] 重算结果与 {check} 一致：{result.total_tco2e:,.3f} tCO2e",
                    f"[green]✓[/] Recomputation matches {check}: {result.total_tco2e:,.3f} tCO2e",
                )
            )
            return
        advance("write")
        if format is Format.table:
            _print_result(result)
        elif format is Format.json:
            _emit(export.to_json(result, include_rows=not summary), out_path)
        elif format is Format.csv:
            if out_path is None:
                export.write_csv(result, sys.stdout.buffer)
            else:
                with out_path.open("wb") as handle:
                    export.write_csv(result, handle)
        else:
            assert out_path is not None
            export.write_xlsx(result, out_path)
    if out_path is not None:
        err.print(pick(f"已写出 {out_path}", f"Wrote {out_path}"))


def _load_result(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise TanhuiError(f"找不到结果文件 {path}。", f"Result file {path} not found.") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise TanhuiError(
            f"{path} 不是 JSON 结果文件。",
            f"{path} is not a JSON result file.",
            hint_zh="请用 `tanhui measure … --format json --out 文件` 生成。",
            hint_en="Write one with `tanhui measure … --format json --out FILE`.",
        ) from None


def _emit(text: str, path: Path | None) -> None:
    if path is None:
        sys.stdout.write(text)
    else:
        path.write_text(text, "utf-8")


def _print_result(result: Any) -> None:
    from tanhui.measure.export import BREAKDOWN_TITLES

    summary = result.summary()
    method = result.method
    out.print(
        f"[bold]{method.name}[/] — {pick(method.title_zh, method.title_en)}  (v{method.version})"
    )
    out.print(pick("合计", "Total") + f": [bold green]{summary['total_tco2e']:,.3f}[/] tCO2e")
    for key, value in summary["deductions"].items():
        out.print(pick(f"  扣减 {key}", f"  deduction {key}") + f": {value:,.3f} tCO2e")
    out.print(
        pick(
            f"计量小班 {summary['rows_measured']:,} 个，计入 {summary['rows_credited']:,} 个",
            f"{summary['rows_measured']:,} rows measured, {summary['rows_credited']:,} credited",
        )
    )
    if summary["excluded"]:
        reasons = {r.code: pick(r.zh, r.en) for r in result.output.reason_table}
        table = Table(title=pick("未计入原因", "Why rows were not credited"))
        table.add_column(pick("原因", "reason"))
        table.add_column(pick("小班数", "rows"), justify="right")
        for code, count in summary["excluded"].items():
            table.add_row(reasons.get(code, code), f"{count:,}")
        out.print(table)
    if "unmatched" in summary:
        u = summary["unmatched"]
        out.print(
            pick(
                f"两期未匹配：仅后期 {u['only_in_current']['count']} 个（未计入），仅前期 {u['only_in_baseline']['count']} 个（按损失计 {u['only_in_baseline']['tco2e']:,.3f} tCO2e）",
                f"Unmatched: {u['only_in_current']['count']} only in the later inventory (not credited), "
                f"{u['only_in_baseline']['count']} only in the earlier one (counted as loss, {u['only_in_baseline']['tco2e']:,.3f} tCO2e)",
            )
        )
    for key in ("by_group", "by_age_class", "by_township"):
        values = summary[key]
        if not values:
            continue
        zh, en = BREAKDOWN_TITLES[key]
        table = Table(title=pick(zh, en))
        table.add_column(pick("类别", "label"))
        table.add_column("tCO2e", justify="right")
        table.add_column(pick("占比", "share"), justify="right")
        total = sum(values.values()) or 1.0
        for label, value in list(values.items())[:20]:
            table.add_row(label, f"{value:,.3f}", f"{100 * value / total:.1f}%")
        out.print(table)
    prov = summary["provenance"]
    out.print(
        pick("来源", "Provenance") + f": tanhui {prov['tanhui_version']}, "
        f"{pick('参数', 'parameters')} {prov['parameters']['name']} {prov['parameters']['version']} "
        f"({prov['parameters']['hash'][:12]}), "
        + ", ".join(f"{k} {v['content_hash'][:12]}" for k, v in prov["inputs"].items())
    )
    out.print(
        pick(
            "（小班明细请用 --format json/csv/xlsx 输出）",
            "(per-row values: --format json, csv or xlsx)",
        ),
        style="dim",
    )


@app.command("methods")
def methods() -> None:
    """列出方法学 / list the methodologies."""
    from tanhui.measure.methods import METHODS

    table = Table()
    for title in (
        pick("名称", "name"),
        pick("版本", "version"),
        pick("方法学", "methodology"),
        pick("前期数据", "earlier inventory"),
        pick("适用条件", "applicability"),
    ):
        table.add_column(title, overflow="fold")
    need = {
        "required": pick("必需", "required"),
        "optional": pick("可选", "optional"),
        "none": pick("不用", "not used"),
    }
    for name, m in METHODS.items():
        table.add_row(
            name,
            m.version,
            pick(m.title_zh, m.title_en),
            need[m.baseline],
            pick(getattr(m, "applicability_zh", ""), getattr(m, "applicability_en", "")),
        )
    out.print(table)


# ------------------------------------------------------------------------------------------- plots


@app.command("plots")
@handles_errors
def plots(
    file: Annotated[
        Path,
        typer.Argument(
            help="样地 CSV：stratum, stratum_area_ha, plot, biomass_t_per_ha / plot file."
        ),
    ],
    carbon_fraction: Annotated[
        float, typer.Option("--carbon-fraction", min=0.3, max=0.6, help="含碳率 / carbon fraction.")
    ] = 0.47,
    format: Annotated[
        ShortFormat, typer.Option("--format", help="输出格式 / output format.")
    ] = ShortFormat.table,
    encoding: EncodingOpt = None,
) -> None:
    """样地法估计碳储量及其不确定性（AR-TOOL14）。
    Sample-plot estimate of the carbon stock, its 90 % uncertainty and the conservative value (AR-TOOL14)."""
    from tanhui.inventory.plotfile import read_plots
    from tanhui.measure.plots import estimate_stock

    table = read_plots(file, encoding=encoding)
    estimate = estimate_stock(
        table.stratum,
        table.stratum_area_ha,
        table.biomass_t_per_ha,
        carbon_fraction=carbon_fraction,
    )
    doc = estimate.to_dict()
    if format is ShortFormat.json:
        out.print_json(json.dumps(doc, ensure_ascii=False))
        return
    out.print(pick("碳储量", "Carbon stock") + f": [bold]{doc['carbon_tco2e']:,.3f}[/] tCO2e")
    out.print(pick("不确定性 (90%)", "Uncertainty (90 %)") + f": {100 * doc['uncertainty']:.2f}%")
    out.print(pick("扣减比例", "Discount") + f": {100 * doc['discount']:.0f}%")
    out.print(
        pick("保守值", "Conservative value")
        + f": [bold green]{doc['conservative_tco2e']:,.3f}[/] tCO2e"
    )


# ------------------------------------------------------------------------------------------ params


@params_app.command("show")
@handles_errors
def params_show(
    params: Annotated[
        Path | None, typer.Option("--params", help="参数文件 / parameter overrides.")
    ] = None,
) -> None:
    """显示参数表及来源 / show the parameter set with sources."""
    from tanhui.measure.params import VALUE_COLUMNS, load_parameters

    ps = load_parameters(params)
    factor = ps.tco2e_per_m3()
    table = Table(title=f"{ps.name} {ps.version} ({ps.hash[:12]})")
    for title in (
        pick("树种组", "group"),
        "WD",
        "BEF",
        "R",
        "CF",
        pick("默认速率", "rate/亩·a"),
        "tCO2e/m³",
        pick("状态", "status"),
    ):
        table.add_column(title)
    for i, group in enumerate(ps.groups):
        cells = [
            f"{ps.values[c][i]:.3f}" if ps.values[c][i] == ps.values[c][i] else "—"
            for c in VALUE_COLUMNS
        ]
        f = factor[i]
        table.add_row(group, *cells, "—" if f != f else f"{f:.4f}", ps.texts["status"][i])
    out.print(table)


@params_app.command("export")
@handles_errors
def params_export(
    file: Annotated[Path, typer.Argument(help="写出的 CSV / CSV to write.")],
) -> None:
    """写出默认参数表，供修改后用 --params 传入 / write the default table to edit and pass with --params."""
    from tanhui.measure.params import default_parameters

    file.write_text(default_parameters().to_csv(), "utf-8")
    err.print(pick(f"已写出 {file}", f"Wrote {file}"))


# ------------------------------------------------------------------------------------------ growth

FamilyOpt = Annotated[
    str, typer.Option("--family", help="richards 或 schumacher / growth model family.")
]


@growth_app.command("fit")
@handles_errors
def growth_fit(
    file: Annotated[Path, typer.Argument(help="小班数据文件 / inventory file.")],
    family: FamilyOpt = "richards",
    min_rows: Annotated[
        int, typer.Option("--min-rows", min=3, help="每个树种组最少小班数 / rows needed per group.")
    ] = 20,
    format: Annotated[
        ShortFormat, typer.Option("--format", help="输出格式 / output format.")
    ] = ShortFormat.table,
    layer: LayerOpt = None,
) -> None:
    """用本县清查数据拟合各树种组生长曲线 / fit growth curves per species group from your inventory."""
    from tanhui.measure.params import load_parameters
    from tanhui.measure.service import growth_curves, read_for_params

    params = load_parameters()
    with _progress(pick("拟合", "fitting")):
        inventory = read_for_params(file, params, **_read_options(layer, None, None, None))
        curves, report = growth_curves(inventory, params, family=family, min_rows=min_rows)
    if format is ShortFormat.json:
        out.print_json(
            json.dumps(
                {"report": report.to_dict(), "curves": curves.describe()}, ensure_ascii=False
            )
        )
        return
    table = Table(title=pick(f"生长曲线（{family}）", f"Growth curves ({family})"))
    for title in (
        pick("树种组", "group"),
        pick("小班数", "rows"),
        pick("模型", "family"),
        "a",
        "b",
        "c",
        "RMSE",
        "R²",
        pick("说明", "note"),
    ):
        table.add_column(title)
    for g in report.groups:
        if g.n == 0:
            continue
        a, b, c = (f"{x:.4g}" if x == x else "—" for x in g.coefficients)
        table.add_row(
            g.group,
            f"{g.n:,}",
            g.family or "—",
            a,
            b,
            c,
            f"{g.rmse:.1f}" if g.rmse == g.rmse else "—",
            f"{g.r2:.3f}" if g.r2 == g.r2 else "—",
            g.reason() if g.note else "",
        )
    out.print(table)


@growth_app.command("project")
@handles_errors
def growth_project(
    file: Annotated[Path, typer.Argument(help="小班数据文件 / inventory file.")],
    years: Annotated[
        str, typer.Option("--years", help="预测年数，逗号分隔 / years ahead, comma-separated.")
    ] = "5,10,20,30,40",
    family: FamilyOpt = "richards",
    yield_table: Annotated[
        Path | None, typer.Option("--yield-table", help="收获表 CSV / yield table CSV.")
    ] = None,
    format: Annotated[
        Format, typer.Option("--format", help="table、json 或 csv / output format.")
    ] = Format.table,
    out_path: Annotated[Path | None, typer.Option("--out", help="输出文件 / output file.")] = None,
    layer: LayerOpt = None,
) -> None:
    """预测各小班未来蓄积和碳储量（事前估计，不打折扣）/ project volumes and tree carbon ahead (ex-ante)."""
    import numpy as np

    from tanhui.measure.params import load_parameters
    from tanhui.measure.service import project_inventory, read_for_params

    try:
        offsets = [float(y) for y in years.replace("，", ",").split(",") if y.strip()]
    except ValueError:
        raise TanhuiError(
            f"--years 应为数字列表，如 5,10,20：{years}",
            f"--years must be numbers like 5,10,20: {years}",
        ) from None
    if format is Format.xlsx:
        raise TanhuiError(
            "growth project 支持 table、json、csv。", "growth project writes table, json or csv."
        )
    params = load_parameters()
    with _progress(pick("生长预测", "projecting")):
        inventory = read_for_params(file, params, **_read_options(layer, None, None, None))
        projection = project_inventory(
            inventory, params, offsets, family=family, yield_table=yield_table
        )
    totals = projection.totals()
    if format is Format.csv:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        columns = {"id": projection.ids}
        for j, y in enumerate(projection.years):
            columns[f"volume_m3_per_ha_+{y:g}"] = pa.array(
                projection.volume[:, j], from_pandas=True
            )
            columns[f"stock_tco2e_+{y:g}"] = pa.array(
                projection.stock_tco2e[:, j], from_pandas=True
            )
        sink = out_path.open("wb") if out_path else sys.stdout.buffer
        sink.write(b"\xef\xbb\xbf")
        pacsv.write_csv(pa.table(columns), sink)
        if out_path:
            sink.close()
        return
    if format is Format.json:
        doc = {
            "years": projection.years.tolist(),
            "stock_tco2e": [totals[y] for y in projection.years.tolist()],
            "projectable_rows": int(np.isfinite(projection.volume[:, 0]).sum())
            if len(projection.years)
            else 0,
            "rows": len(projection.ids),
            "growth": projection.curves.describe(),
        }
        _emit(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", out_path)
        return
    table = Table(title=pick("预测碳储量（乔木层）", "Projected tree carbon stock"))
    table.add_column(pick("年后", "years ahead"), justify="right")
    table.add_column("tCO2e", justify="right")
    for y, value in totals.items():
        table.add_row(f"{y:g}", f"{value:,.0f}")
    out.print(table)
    projectable = int(np.isfinite(projection.volume[:, 0]).sum()) if len(projection.years) else 0
    out.print(
        pick(
            f"可预测小班 {projectable:,}/{len(projection.ids):,}（事前估计不作不确定性扣减）",
            f"{projectable:,}/{len(projection.ids):,} rows projectable (ex-ante estimates are not discounted)",
        ),
        style="dim",
    )


# -------------------------------------------------------------------------------------------- demo


@app.command("demo")
@handles_errors
def demo(
    directory: Annotated[
        Path, typer.Option("--dir", help="示范数据目录 / where the demo files go.")
    ] = Path("tanhui-demo"),
    rows: Annotated[
        int, typer.Option("--rows", min=100, help="小班数 / sub-compartments.")
    ] = 20_000,
    seed: Annotated[int, typer.Option("--seed", help="随机种子 / seed.")] = 2026,
    build_only: Annotated[
        bool, typer.Option("--build-only", help="只生成数据 / only build the files.")
    ] = False,
) -> None:
    """生成示范县数据并走一遍计量流程 / build the demo county and run the measurement chain on it."""
    from tanhui.demo_run import run_demo

    run_demo(directory, rows=rows, seed=seed, build_only=build_only, console=out, status=err)


# ---------------------------------------------------------------------------------------------- db

db_app = typer.Typer(
    help="数据库：迁移、备份与恢复 / database: migrations, backup and restore.",
    no_args_is_help=True,
)
app.add_typer(db_app, name="db")

DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="数据库地址，默认取 TANHUI_DATABASE_URL 或数据目录中的 SQLite 文件 / database URL "
        "(default: TANHUI_DATABASE_URL, or the SQLite file in TANHUI_HOME).",
    ),
]


def _db_url(db: str | None) -> str:
    if db:
        return db
    from tanhui.config import get_settings

    return get_settings().database_url


@db_app.command("upgrade")
@handles_errors
def db_upgrade(
    db: DbOpt = None,
    revision: Annotated[
        str, typer.Option("--revision", help="目标版本，默认最新 / target revision.")
    ] = "head",
) -> None:
    """建立或升级数据表（一个事务内完成）/ create or migrate the tables (in one transaction)."""
    from tanhui.db import current, display_url, upgrade

    url = _db_url(db)
    before = current(url)
    upgrade(url, revision)
    after = current(url)
    if before == after:
        out.print(
            pick(
                f"数据库 {display_url(url)} 已是版本 {after}，无需升级。",
                f"Database {display_url(url)} is already at revision {after}.",
            )
        )
    else:
        out.print(
            pick(
                f"[green]✓[/] 数据库 {display_url(url)}：{before or '（空）'} → {after}",
                f"[green]✓[/] Database {display_url(url)}: {before or '(empty)'} → {after}",
            )
        )


@db_app.command("downgrade")
@handles_errors
def db_downgrade(
    revision: Annotated[
        str,
        typer.Option(
            "--revision",
            help="目标版本，base 删除全部数据表 / target revision (base drops every table).",
        ),
    ],
    db: DbOpt = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="不再确认 / do not ask for confirmation.")
    ] = False,
) -> None:
    """降级数据表（会删除较新版本的表及其数据）/ migrate down (drops newer tables and their data)."""
    from tanhui.db import current, display_url, downgrade

    url = _db_url(db)
    before = current(url)
    if not yes:
        typer.confirm(
            pick(
                f"将数据库 {display_url(url)} 从 {before or '（空）'} 降级到 {revision}，被删除的表中的数据将丢失。继续？",
                f"Downgrade {display_url(url)} from {before or '(empty)'} to {revision}? Data in dropped tables is lost.",
            ),
            abort=True,
        )
    downgrade(url, revision)
    after = current(url)
    out.print(
        pick(
            f"[green]✓[/] 数据库 {display_url(url)}：{before or '（空）'} → {after or '（空）'}",
            f"[green]✓[/] Database {display_url(url)}: {before or '(empty)'} → {after or '(empty)'}",
        )
    )


@db_app.command("current")
@handles_errors
def db_current(db: DbOpt = None) -> None:
    """显示数据库的架构版本 / show the database's schema revision."""
    from tanhui.db import current, display_url, head

    url = _db_url(db)
    revision = current(url)
    latest = head()
    out.print(revision or pick("（空）", "(none)"))
    if revision != latest:
        err.print(
            pick(
                f"{display_url(url)} 不是最新版本 {latest}：请运行 tanhui db upgrade。",
                f"{display_url(url)} is not at the latest revision {latest}: run `tanhui db upgrade`.",
            )
        )


@db_app.command("backup")
@handles_errors
def db_backup(
    file: Annotated[Path, typer.Argument(help="备份文件（.jsonl.gz）/ backup file to write.")],
    db: DbOpt = None,
) -> None:
    """备份全部数据到可移植文件（SQLite 与 PostgreSQL 通用）/ back up every row to a portable file."""
    from tanhui.db import backup, display_url

    url = _db_url(db)
    with err.status(pick("备份", "backing up")):
        info = backup(url, file)
    out.print(
        pick(
            f"[green]✓[/] 已备份 {display_url(url)} → {file}：{info.total_rows:,} 行，架构版本 {info.schema_revision}，sha256 {info.sha256[:16]}…",
            f"[green]✓[/] Backed up {display_url(url)} → {file}: {info.total_rows:,} rows, schema revision {info.schema_revision}, sha256 {info.sha256[:16]}…",
        )
    )


@db_app.command("restore")
@handles_errors
def db_restore(
    file: Annotated[
        Path, typer.Argument(help="tanhui db backup 写出的文件 / a file from `tanhui db backup`.")
    ],
    db: DbOpt = None,
    upgrade: Annotated[
        bool,
        typer.Option(
            "--upgrade",
            help="目标库没有数据表时先建表 / create the tables first when the target has none.",
        ),
    ] = False,
) -> None:
    """把备份恢复到空数据库（一个事务内完成）/ restore a backup into an empty database (one transaction)."""
    from tanhui.db import display_url, restore

    url = _db_url(db)
    with err.status(pick("恢复", "restoring")):
        info = restore(url, file, upgrade=upgrade)
    out.print(
        pick(
            f"[green]✓[/] 已恢复 {file} → {display_url(url)}：{info.total_rows:,} 行，架构版本 {info.schema_revision}",
            f"[green]✓[/] Restored {file} → {display_url(url)}: {info.total_rows:,} rows, schema revision {info.schema_revision}",
        )
    )


# ---------------------------------------------------------------------------- serve and registry

registry_app = typer.Typer(help="登记簿 / the registry ledger.", no_args_is_help=True)
orgs_app = typer.Typer(help="机构 / organisations.", no_args_is_help=True)
users_app = typer.Typer(help="用户 / users.", no_args_is_help=True)
app.add_typer(registry_app, name="registry")
app.add_typer(orgs_app, name="orgs")
app.add_typer(users_app, name="users")


@app.command("serve")
@handles_errors
def serve_command(
    db: DbOpt = None,
    host: Annotated[
        str, typer.Option("--host", help="监听地址 / address to listen on.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="端口 / port.")] = 8000,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="示范模式：写入示范县登记数据并打印登录账号 / seed the demo county and print logins.",
        ),
    ] = False,
) -> None:
    """启动 API 与网页（默认内置 SQLite）/ serve the API and the web pages (embedded SQLite by default)."""
    from tanhui.api.serve import serve

    serve(db, host=host, port=port, demo=demo)


def _ledger(db: str | None) -> Any:
    from tanhui.db import make_engine
    from tanhui.registry.ledger import Ledger

    return Ledger(make_engine(_db_url(db)))


@registry_app.command("verify")
@handles_errors
def registry_verify(db: DbOpt = None) -> None:
    """从空重放事件日志，核对哈希链与各表，并检查守恒 / replay the event log, check the chain, the
    tables and conservation. Exit 0 when consistent, 1 listing every problem."""
    ledger = _ledger(db)
    with err.status(pick("核对登记簿", "verifying the registry")):
        problems = ledger.verify()
    if problems:
        err.print(
            pick(
                f"[bold red]登记簿不一致[/]（{len(problems)} 处）：",
                f"[bold red]The registry is inconsistent[/] ({len(problems)}):",
            )
        )
        for problem in problems:
            err.print(f"  • {problem}")
        raise typer.Exit(1)
    out.print(
        pick(
            "[green]✓[/] 事件日志哈希链完整，重放结果与各表一致，守恒检查通过。",
            "[green]✓[/] The event log's hash chain holds, its replay equals the tables, and every tonne is accounted for.",
        )
    )


@registry_app.command("lookup")
@handles_errors
def registry_lookup(
    query: Annotated[
        str, typer.Argument(help="序号（段）或注销证明编号 / serial (range) or certificate number.")
    ],
    db: DbOpt = None,
) -> None:
    """按序号或证明编号查询（公开信息）/ look up a serial or a certificate (public information)."""
    out.print_json(json.dumps(_ledger(db).lookup(query), ensure_ascii=False, default=str))


@orgs_app.command("create")
@handles_errors
def orgs_create(
    name: Annotated[str, typer.Argument(help="机构名称 / name.")],
    kind: Annotated[
        str,
        typer.Option(
            "--kind", help="regulator, verifier, issuer, holder, individual, bank, court, market"
        ),
    ],
    region: Annotated[
        str | None, typer.Option("--region", help="6 位行政区划代码 / 6-digit region code.")
    ] = None,
    db: DbOpt = None,
) -> None:
    """新建机构并开立持有账户 / create an organisation and open its holding account."""
    from tanhui.registry.ledger import SystemActor

    made = _ledger(db).create_organisation(SystemActor(), name=name, kind=kind, region_code=region)
    out.print(
        pick(
            f"[green]✓[/] 机构 {made['id']}：{made['name']}，账户 {made['account']}",
            f"[green]✓[/] Organisation {made['id']}: {made['name']}, account {made['account']}",
        )
    )


@orgs_app.command("list")
@handles_errors
def orgs_list(db: DbOpt = None) -> None:
    """列出机构 / list organisations."""
    from tanhui.db import make_engine
    from tanhui.db.uow import UnitOfWork
    from tanhui.registry import identity

    items, total = identity.list_organisations(
        UnitOfWork(make_engine(_db_url(db))), identity.Actor.system(), limit=1000
    )
    table = Table(title=pick(f"机构（{total}）", f"Organisations ({total})"))
    for title in ("id", pick("名称", "name"), pick("类型", "kind"), pick("区划", "region")):
        table.add_column(title)
    for org in items:
        table.add_row(str(org.id), org.name, org.kind, org.region_code or "")
    out.print(table)


@users_app.command("create")
@handles_errors
def users_create(
    username: Annotated[str, typer.Argument(help="用户名 / username.")],
    org: Annotated[int | None, typer.Option("--org", help="机构 id / organisation id.")] = None,
    role: Annotated[
        list[str] | None, typer.Option("--role", help="角色，可重复 / role (repeatable).")
    ] = None,
    password: Annotated[
        str | None,
        typer.Option(
            "--password",
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            help="密码（不填则提示输入）/ password (prompted when omitted).",
        ),
    ] = None,
    db: DbOpt = None,
) -> None:
    """新建用户 / create a user."""
    from tanhui.db import make_engine
    from tanhui.db.uow import UnitOfWork
    from tanhui.registry import identity

    user = identity.create_user(
        UnitOfWork(make_engine(_db_url(db))),
        identity.Actor.system(),
        username,
        password,
        organisation_id=org,
        roles=role or [],
    )
    out.print(
        pick(
            f"[green]✓[/] 用户 {user.username}（{', '.join(user.roles) or '无角色'}）",
            f"[green]✓[/] User {user.username} ({', '.join(user.roles) or 'no roles'})",
        )
    )


@users_app.command("list")
@handles_errors
def users_list(db: DbOpt = None) -> None:
    """列出用户 / list users."""
    from tanhui.db import make_engine
    from tanhui.db.uow import UnitOfWork
    from tanhui.registry import identity

    items, total = identity.list_users(
        UnitOfWork(make_engine(_db_url(db))), identity.Actor.system(), limit=1000
    )
    table = Table(title=pick(f"用户（{total}）", f"Users ({total})"))
    for title in (
        "id",
        pick("用户名", "username"),
        pick("机构", "organisation"),
        pick("角色", "roles"),
        pick("启用", "active"),
    ):
        table.add_column(title)
    for user in items:
        table.add_row(
            str(user.id),
            user.username,
            str(user.organisation_id or ""),
            ", ".join(user.roles),
            "✓" if user.active else "✗",
        )
    out.print(table)


# The development room's commands live in their own module, which reuses this module's consoles,
# error handling and options; it is imported here, once those exist.
from tanhui.cli_develop import develop_app  # noqa: E402

app.add_typer(develop_app, name="develop")


def main() -> None:
    """Console-script entry point."""
    from tanhui._memory import tune_for_arrays

    tune_for_arrays()
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
