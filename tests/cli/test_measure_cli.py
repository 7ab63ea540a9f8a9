"""End to end through the `tanhui` command, as an analyst runs it: exit codes, outputs, provenance."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from python_calamine import CalamineWorkbook

FIR_FACTOR = 0.307 * 1.634 * (1 + 0.246) * 0.520 * 44 / 12  # tCO2e per m³, reference worked check


def tanhui(*args: object, lang: str = "en", cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "TANHUI_LANG": lang, "COLUMNS": "160"}
    return subprocess.run(
        [sys.executable, "-m", "tanhui", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )


def write_csv(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


@pytest.fixture
def fir_pair(tmp_path):
    """The reference case: 10 ha 杉木, 120 → 150 m³/ha over 2016 → 2021 (areas in 亩 in 2016)."""
    earlier = write_csv(
        tmp_path / "2016.csv",
        "小班号,面积(亩),优势树种,每公顷蓄积,调查年度\nA-1,150,杉木,120,2016\n",
        "gbk",
    )
    later = write_csv(
        tmp_path / "2021.csv",
        "小班号,面积(公顷),树种组,每公顷蓄积,调查年度\nA-1,10,杉木,150,2021\n",
    )
    return earlier, later


def test_reference_fir_case_through_the_cli(fir_pair):
    earlier, later = fir_pair
    done = tanhui(
        "measure", later, "--baseline", earlier, "--method", "stock-difference", "--format", "json"
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    # C1 = 10 · 120 · 1.191745 = 1430.094; C2 = 10 · 150 · 1.191745 = 1787.617; ΔC = 357.523
    assert doc["total_tco2e"] == pytest.approx(10 * 30 * FIR_FACTOR, rel=1e-12)
    assert round(doc["total_tco2e"], 3) == 357.523
    [row] = doc["rows"]
    assert row["id"] == "A-1"
    assert round(row["stock_t1"], 3) == 1430.094 and round(row["stock_t2"], 3) == 1787.617
    assert round(row["annual"], 3) == 71.505
    assert doc["by_group"] == {"杉木": pytest.approx(doc["total_tco2e"])}


def test_json_contract_and_consistency(demo_small):
    done = tanhui(
        "measure",
        demo_small.csv_2021,
        "--baseline",
        demo_small.csv_2016,
        "--method",
        "smcer",
        "--format",
        "json",
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    for key in ("method", "total_tco2e", "by_group", "provenance", "rows"):
        assert key in doc
    assert doc["method"] == "smcer"
    assert isinstance(doc["total_tco2e"], float)
    rows_sum = sum(r["tco2e"] for r in doc["rows"])
    assert doc["total_tco2e"] == pytest.approx(rows_sum - sum(doc["deductions"].values()), rel=1e-9)
    for key in ("by_group", "by_township", "by_village", "by_age_class"):
        assert sum(doc[key].values()) == pytest.approx(rows_sum, rel=1e-9), key
    ids = [r["id"] for r in doc["rows"]]
    assert len(ids) == len(set(ids))
    # unmatched rows are reported both ways, never dropped
    unmatched = doc["unmatched"]
    assert unmatched["only_in_current"]["count"] == demo_small.only_2021
    assert unmatched["only_in_baseline"]["count"] == demo_small.only_2016
    assert len(doc["rows"]) == demo_small.matched + demo_small.only_2016 + demo_small.only_2021
    prov = doc["provenance"]
    assert prov["method"] == {"name": "smcer", "version": "1"}
    assert set(prov["inputs"]) == {"current", "baseline"}
    assert len(prov["parameters"]["hash"]) == 64


def test_summary_leaves_out_rows(demo_small):
    done = tanhui(
        "measure", demo_small.parquet_2021, "--method", "stock", "--format", "json", "--summary"
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert "rows" not in doc and doc["total_tco2e"] > 0


def test_check_passes_then_names_what_changed(demo_small, tmp_path):
    result = tmp_path / "smcer.json"
    args = ["--baseline", demo_small.csv_2016, "--method", "smcer"]
    done = tanhui("measure", demo_small.csv_2021, *args, "--format", "json", "--out", result)
    assert done.returncode == 0, done.stderr
    # the same survey in another format is the same input
    ok = tanhui("measure", demo_small.parquet_2021, *args, "--check", result)
    assert ok.returncode == 0, ok.stderr + ok.stdout

    # change one volume in one row
    lines = demo_small.csv_2021.read_text("utf-8-sig").splitlines()
    header = lines[0].split(",")
    col = header.index("每公顷蓄积")
    for i in range(1, len(lines)):
        cells = lines[i].split(",")
        if cells[col]:
            cells[col] = str(float(cells[col]) + 1)
            lines[i] = ",".join(cells)
            break
    edited = write_csv(tmp_path / "edited.csv", "\n".join(lines) + "\n")
    changed = tanhui("measure", edited, *args, "--check", result)
    assert changed.returncode == 1
    assert "inputs.current.content_hash" in changed.stderr
    assert "result.total_tco2e" in changed.stderr

    # change one parameter
    params = write_csv(tmp_path / "p.csv", "group_zh,bef\n杉木,1.7\n")
    changed = tanhui("measure", demo_small.csv_2021, *args, "--params", params, "--check", result)
    assert changed.returncode == 1
    assert "parameters.hash" in changed.stderr

    # change an option
    changed = tanhui(
        "measure", demo_small.csv_2021, *args, "--reserve-share", "0.1", "--check", result
    )
    assert changed.returncode == 1 and "options.reserve_share" in changed.stderr


def test_csv_and_xlsx_outputs(demo_small, tmp_path):
    csv_out = tmp_path / "stock.csv"
    done = tanhui(
        "measure", demo_small.xlsx_2021, "--method", "stock", "--format", "csv", "--out", csv_out
    )
    assert done.returncode == 0, done.stderr
    raw = csv_out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel on Chinese Windows needs the BOM
    lines = raw.decode("utf-8-sig").splitlines()
    assert lines[0].startswith('"id","tco2e"')
    assert len(lines) == demo_small.rows_2021 + 1

    xlsx_out = tmp_path / "stock.xlsx"
    done = tanhui(
        "measure", demo_small.gpkg_2021, "--method", "stock", "--format", "xlsx", "--out", xlsx_out
    )
    assert done.returncode == 0, done.stderr
    book = CalamineWorkbook.from_path(str(xlsx_out))
    assert book.sheet_names == [
        "Summary",
        "by species group",
        "by township",
        "by village",
        "by age class",
        "Rows",
        "Provenance",
    ]
    rows = book.get_sheet_by_name("Rows").to_python()
    assert len(rows) == demo_small.rows_2021 + 1
    summary = dict(r[:2] for r in book.get_sheet_by_name("Summary").to_python())
    total = sum(r[1] for r in rows[1:])
    assert summary["total (tCO2e)"] == pytest.approx(total, rel=1e-9)


def test_chinese_sheet_names_with_chinese_locale(demo_small, tmp_path):
    xlsx_out = tmp_path / "stock.xlsx"
    done = tanhui(
        "measure",
        demo_small.csv_2021,
        "--method",
        "stock",
        "--format",
        "xlsx",
        "--out",
        xlsx_out,
        lang="zh_CN.UTF-8",
    )
    assert done.returncode == 0, done.stderr
    assert CalamineWorkbook.from_path(str(xlsx_out)).sheet_names[:2] == ["汇总", "按树种组"]


def test_table_output_is_readable(demo_small):
    done = tanhui(
        "measure",
        demo_small.csv_2021,
        "--baseline",
        demo_small.csv_2016,
        "--method",
        "smcer",
        lang="zh_CN.UTF-8",
    )
    assert done.returncode == 0, done.stderr
    assert "合计" in done.stdout and "按树种组" in done.stdout and "杉木" in done.stdout


@pytest.mark.parametrize(
    ("args", "needle_en", "needle_zh"),
    [
        (["--method", "nope"], "stock-difference", "stock-difference"),
        (["--method", "stock-difference"], "--baseline", "--baseline"),
        (["--method", "stock", "--format", "xlsx"], "--out", "--out"),
    ],
)
def test_user_errors_exit_2_with_a_message(demo_small, args, needle_en, needle_zh):
    for lang, needle in (("en", needle_en), ("zh_CN.UTF-8", needle_zh)):
        done = tanhui("measure", demo_small.csv_2021, *args, lang=lang)
        assert done.returncode == 2, done.stderr
        assert needle in done.stderr
        assert "Traceback" not in done.stderr


def test_check_with_a_file_that_is_not_a_result(demo_small, tmp_path):
    bogus = write_csv(tmp_path / "x.json", '{"a": 1}')
    done = tanhui("measure", demo_small.csv_2021, "--method", "stock", "--check", bogus)
    assert done.returncode == 2 and "provenance" in done.stderr


def test_bad_inventory_exits_2_listing_every_problem(tmp_path):
    bad = write_csv(
        tmp_path / "bad.csv",
        "小班号,面积(公顷),优势树种,每公顷蓄积\nA,1,杉木,100\nB,-2,杉木,100\nA,1,银杏树,abc\n",
        "gbk",
    )
    done = tanhui("measure", bad, "--method", "stock")
    assert done.returncode == 2
    for needle in ("面积(公顷)", "优势树种", "每公顷蓄积", "银杏树", "abc"):
        assert needle in done.stderr
    checked = tanhui("inventory", "check", bad, "--format", "json")
    assert checked.returncode == 2
    doc = json.loads(checked.stdout)
    assert doc["ok"] is False
    where = {(p["row"], p["column"]) for p in doc["problems"]}
    assert {(3, "面积(公顷)"), (4, "小班号"), (4, "优势树种"), (4, "每公顷蓄积")} <= where


def test_inventory_check_ok(demo_small):
    done = tanhui("inventory", "check", demo_small.shp_2021)
    assert done.returncode == 0, done.stderr
    assert f"{demo_small.rows_2021:,}" in done.stdout
    doc = json.loads(tanhui("inventory", "check", demo_small.csv_2016, "--format", "json").stdout)
    assert doc["ok"] is True and doc["summary"]["rows"] == demo_small.rows_2016


def test_plots_json(demo_small):
    done = tanhui("plots", demo_small.plots_2021, "--carbon-fraction", "0.47", "--format", "json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    for key in ("carbon_tco2e", "uncertainty", "discount", "conservative_tco2e"):
        assert isinstance(doc[key], float)
    assert 0 <= doc["uncertainty"] < 1 and doc["conservative_tco2e"] <= doc["carbon_tco2e"]


def test_methods_and_params_commands(tmp_path):
    listed = tanhui("methods")
    assert listed.returncode == 0
    for name in (
        "stock",
        "stock-difference",
        "smcer",
        "ccer-afforestation",
        "forest-management",
        "stop-logging",
    ):
        assert name in listed.stdout
    exported = tmp_path / "params.csv"
    assert tanhui("params", "export", exported).returncode == 0
    assert exported.read_text("utf-8").startswith("group_zh,")
    shown = tanhui("params", "show", "--params", exported)
    assert shown.returncode == 0 and "1.1917" in shown.stdout


def test_demo_command_runs_the_whole_chain(tmp_path):
    done = tanhui("demo", "--dir", tmp_path / "demo", "--rows", "600")
    assert done.returncode == 0, done.stderr
    assert "recomputation verified" in done.stdout
    assert (tmp_path / "demo" / "smcer_2016_2021.json").exists()
    again = tanhui("demo", "--dir", tmp_path / "demo", "--rows", "600")  # reuses the files
    assert again.returncode == 0 and again.stdout == done.stdout


def test_version():
    done = tanhui("--version")
    assert done.returncode == 0 and done.stdout.startswith("tanhui ")


def test_growth_fit_and_project(demo_small, tmp_path):
    fitted = tanhui("growth", "fit", demo_small.csv_2021, "--format", "json")
    assert fitted.returncode == 0, fitted.stderr
    report = json.loads(fitted.stdout)["report"]
    fir = next(g for g in report["groups"] if g["group"] == "杉木")
    assert fir["family"] in ("richards", "schumacher") and fir["n"] > 50

    done = tanhui(
        "growth", "project", demo_small.parquet_2021, "--years", "0,10,20", "--format", "json"
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["years"] == [0.0, 10.0, 20.0]
    s0, s10, s20 = doc["stock_tco2e"]
    assert 0 < s0 < s10 < s20

    # projecting 0 years reproduces each projectable row's observed stock exactly
    zero = tmp_path / "zero.csv"
    assert (
        tanhui(
            "growth",
            "project",
            demo_small.csv_2021,
            "--years",
            "0",
            "--format",
            "csv",
            "--out",
            zero,
        ).returncode
        == 0
    )
    projected = {}
    for line in zero.read_text("utf-8-sig").splitlines()[1:]:
        id_, _volume, stock0 = line.split(",")
        if stock0:
            projected[id_.strip('"')] = float(stock0)
    rows = json.loads(
        tanhui("measure", demo_small.csv_2021, "--method", "stock", "--format", "json").stdout
    )["rows"]
    observed = {r["id"]: r["tco2e"] for r in rows}
    assert len(projected) > 0.7 * len(observed)  # bamboo and small groups have no curve
    for id_, value in projected.items():
        assert value == pytest.approx(observed[id_], rel=1e-12)
    assert sum(projected.values()) == pytest.approx(s0, rel=1e-9)

    out = tmp_path / "p.csv"
    assert (
        tanhui(
            "growth",
            "project",
            demo_small.csv_2021,
            "--years",
            "5",
            "--format",
            "csv",
            "--out",
            out,
        ).returncode
        == 0
    )
    header = out.read_text("utf-8-sig").splitlines()[0]
    assert header == '"id","volume_m3_per_ha_+5","stock_tco2e_+5"'
    bad = tanhui("growth", "project", demo_small.csv_2021, "--years", "five")
    assert bad.returncode == 2 and "--years" in bad.stderr
