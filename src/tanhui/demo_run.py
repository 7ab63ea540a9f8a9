"""The main job on the demo county: build its files once, then run the measurement chain.

``tanhui demo`` calls :func:`run_demo`. Each step uses the same services a user's command does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tanhui import __version__
from tanhui.i18n import pick

MARKER = "demo.json"


def ensure_demo(directory: Path, *, rows: int, seed: int, status: Console) -> dict[str, Path]:
    """Build the demo files unless ``directory`` already holds the same build (rows, seed)."""
    from tanhui import demo

    marker = directory / MARKER
    wanted = {"rows": rows, "seed": seed, "tanhui": __version__}
    if marker.exists() and json.loads(marker.read_text("utf-8")).get("build") == wanted:
        return {k: directory / v for k, v in json.loads(marker.read_text("utf-8"))["files"].items()}
    directory.mkdir(parents=True, exist_ok=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=status,
        transient=True,
    ) as bar:
        task = bar.add_task(pick("生成示范县数据", "building the demo county"), total=None)

        def progress(stage: str, done: int, total: int) -> None:
            bar.update(
                task,
                description=pick(f"生成示范县数据：{stage}", f"building the demo county: {stage}"),
                completed=done,
                total=total,
            )

        built = demo.build_demo(directory, n=rows, seed=seed, progress=progress)
    keys = (
        "csv_2016",
        "gpkg_2016",
        "csv_2021",
        "xlsx_2021",
        "parquet_2021",
        "gpkg_2021",
        "shp_2021",
        "plots_2021",
    )
    files = {k: getattr(built, k).name for k in keys}
    marker.write_text(
        json.dumps({"build": wanted, "files": files}, ensure_ascii=False, indent=1), "utf-8"
    )
    return {k: directory / v for k, v in files.items()}


def run_demo(
    directory: Path, *, rows: int, seed: int, build_only: bool, console: Console, status: Console
) -> None:
    """Build (if needed) and tour: check every file, measure under each method, verify provenance."""
    from tanhui.inventory import read_inventory
    from tanhui.inventory.plotfile import read_plots
    from tanhui.measure.methods import get_method
    from tanhui.measure.methods.base import MethodOptions
    from tanhui.measure.params import default_parameters
    from tanhui.measure.plots import estimate_stock
    from tanhui.measure.service import measure_inventories, verify

    files = ensure_demo(directory, rows=rows, seed=seed, status=status)
    console.print(
        pick(
            f"示范县数据在 {directory}/（虚构县，随机种子 {seed}）",
            f"Demo county files in {directory}/ (fictional county, seed {seed})",
        )
    )
    if build_only:
        return

    params = default_parameters()
    table = Table(title=pick("1. 读取并校验清查文件", "1. Read and validate the inventory files"))
    for title in (
        pick("文件", "file"),
        pick("格式", "format"),
        pick("编码", "encoding"),
        pick("小班数", "rows"),
        pick("面积(公顷)", "area (ha)"),
        pick("内容哈希", "content hash"),
    ):
        table.add_column(title)
    inventories = {}
    with status.status(pick("读取清查文件", "reading inventories")):
        for key in ("csv_2016", "csv_2021", "xlsx_2021", "gpkg_2021", "shp_2021", "parquet_2021"):
            inventory = read_inventory(files[key], known_groups=params.groups)
            inventories[key] = inventory
            table.add_row(
                files[key].name,
                inventory.source.format,
                inventory.source.encoding or "—",
                f"{len(inventory):,}",
                f"{inventory.summary()['total_area_ha']:,.2f}",
                inventory.content_hash[:12],
            )
    console.print(table)
    console.print(
        pick(
            "同一期数据无论何种格式，内容哈希相同。",
            "The same survey gives the same content hash whatever the format.",
        ),
        style="dim",
    )

    later, earlier = inventories["parquet_2021"], inventories["csv_2016"]
    runs = [
        ("stock", None, MethodOptions()),
        ("stock-difference", earlier, MethodOptions()),
        ("smcer", earlier, MethodOptions()),
        ("ccer-afforestation", None, MethodOptions(year_from=2016, year_to=2021)),
        ("forest-management", earlier, MethodOptions()),
        ("stop-logging", None, MethodOptions()),
    ]
    table = Table(
        title=pick(
            "2. 按方法学计量（2016 → 2021）", "2. Measure under each methodology (2016 → 2021)"
        )
    )
    for title in (
        pick("方法", "method"),
        "tCO2e",
        pick("计入小班", "rows credited"),
        pick("最大树种组", "largest group"),
    ):
        table.add_column(title)
    results = {}
    for name, baseline, options in runs:
        method = get_method(name)
        with status.status(pick(f"计量 {name}", f"measuring {name}")):
            result = measure_inventories(
                later, method=method, params=params, baseline=baseline, options=options
            )
        results[name] = result
        groups = result.totals_by("by_group")
        top = next(iter(groups.items()), ("—", 0.0))
        summary = result.summary()
        table.add_row(
            name,
            f"{result.total_tco2e:,.0f}",
            f"{summary['rows_credited']:,}/{summary['rows_measured']:,}",
            f"{top[0]} {top[1]:,.0f}",
        )
    console.print(table)
    console.print(
        pick(
            "方法学说明见 `tanhui methods`。forest-management 为负：示范县 3% 的小班在期间皆伐、1% 受灾，"
            "其蓄积下降超过了基线（不经营）生长；未采伐未受灾的小班为正。",
            "See `tanhui methods` for the methodologies. forest-management is negative: 3 % of the demo's "
            "sub-compartments were clear-cut and 1 % disturbed during the period, losing more than the "
            "unmanaged baseline growth; undisturbed stands are positive.",
        ),
        style="dim",
    )

    smcer = results["smcer"]
    path = directory / "smcer_2016_2021.json"
    path.write_text(json.dumps(smcer.to_dict(), ensure_ascii=False, indent=1), "utf-8")
    again = measure_inventories(later, method=get_method("smcer"), params=params, baseline=earlier)
    verify(again, json.loads(path.read_text("utf-8")))
    console.print(
        pick(
            f"3. 三明碳票计量结果已写入 {path}；重算校验一致 ✓",
            f"3. The SMCER result is in {path}; recomputation verified ✓",
        )
    )

    plots = read_plots(files["plots_2021"])
    estimate = estimate_stock(plots.stratum, plots.stratum_area_ha, plots.biomass_t_per_ha)
    console.print(
        pick(
            f"4. 样地法（AR-TOOL14）：碳储量 {estimate.carbon_tco2e:,.0f} tCO2e，不确定性 {100 * estimate.uncertainty:.1f}%，"
            f"扣减 {100 * estimate.discount:.0f}%，保守值 {estimate.conservative_tco2e:,.0f} tCO2e",
            f"4. Sample plots (AR-TOOL14): stock {estimate.carbon_tco2e:,.0f} tCO2e, uncertainty {100 * estimate.uncertainty:.1f} %, "
            f"discount {100 * estimate.discount:.0f} %, conservative {estimate.conservative_tco2e:,.0f} tCO2e",
        )
    )
    console.print(
        pick(
            f"试试：tanhui measure {files['parquet_2021']} --baseline {files['csv_2016']} --method smcer --check {path}",
            f"Try: tanhui measure {files['parquet_2021']} --baseline {files['csv_2016']} --method smcer --check {path}",
        ),
        style="dim",
    )
    _develop_step(directory, files, later, params, console, status)


def _develop_step(
    directory: Path,
    files: dict[str, Path],
    inventory: Any,
    params: Any,
    console: Console,
    status: Console,
) -> None:
    """5. Development: screen the county for the Sanming ticket, study its best village, report."""
    from tanhui.develop.report import render_html
    from tanhui.develop.screening_service import screen_inventory
    from tanhui.develop.study import Selection, study_inventory

    with status.status(pick("资源筛查", "screening")):
        report = screen_inventory(inventory, "smcer", params)
    totals = report.totals()
    villages = report.totals_by("village")
    best = max(villages, key=lambda v: villages[v]["tco2e_per_yr"] or 0.0)
    console.print(
        pick(
            f"5. 资源筛查（三明碳票）：{totals['eligible_rows']:,}/{totals['rows']:,} 个小班合格，"
            f"{totals['eligible_area_mu']:,.0f} 亩；合格资源最多的村：{best}",
            f"5. Screening (Sanming ticket): {totals['eligible_rows']:,} of {totals['rows']:,} "
            f"sub-compartments eligible, {totals['eligible_area_mu']:,.0f} mu; richest village: {best}",
        )
    )
    with status.status(pick(f"{best} 可行性与风险", f"feasibility and risk of {best}")):
        study = study_inventory(
            inventory,
            "smcer",
            name=pick(f"{best}林业碳票项目", f"{best} forestry carbon ticket project"),
            selection=Selection(villages=(best,)),
            params=params,
            start_year=2026,
            paths=2_000,
            seed=2026,
        )
    h = study.headline()
    path = directory / "feasibility_report.html"
    path.write_text(render_html(study), "utf-8")
    irr = "—" if h["irr"] is None else f"{100 * h['irr']:.1f}%"
    console.print(
        pick(
            f"6. {best} 可行性：{h['area_mu']:,.0f} 亩，20 年签发 {h['tonnes_issued']:,} t，"
            f"基准价净现值 {h['npv']:,.0f} 元（IRR {irr}），盈亏平衡价 {h['break_even_price']:,.2f} 元/吨，"
            f"亏损概率 {100 * h['probability_of_loss']:.0f}%，建议缓冲 {100 * h['recommended_buffer_share']:.0f}%。"
            f"报告：{path}",
            f"6. Feasibility of {best}: {h['area_mu']:,.0f} mu, {h['tonnes_issued']:,} t issued over "
            f"20 years, NPV at the base price {h['npv']:,.0f} yuan (IRR {irr}), break-even "
            f"{h['break_even_price']:,.2f} yuan/t, P(loss) {100 * h['probability_of_loss']:.0f} %, "
            f"recommended buffer {100 * h['recommended_buffer_share']:.0f} %. Report: {path}",
        )
    )
    console.print(
        pick(
            f"试试：tanhui develop report {files['gpkg_2021']} --scheme smcer --village {best} --out 报告.pdf",
            f"Try: tanhui develop report {files['gpkg_2021']} --scheme smcer --village {best} --out report.pdf",
        ),
        style="dim",
    )
