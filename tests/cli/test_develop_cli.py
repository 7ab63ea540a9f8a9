"""`tanhui develop rules|screen` end to end, as a county analyst runs them."""

from __future__ import annotations

import datetime as dt
import json

from python_calamine import CalamineWorkbook
from test_measure_cli import tanhui, write_csv

#: Three sub-compartments: an eligible 杉木 stand (10 ha), an economic forest (经济林) and a tiny
#: parcel (0.03 ha = 300 m² < 400 m²); all on land without forest for ≥ 3 years.
INVENTORY = (
    "小班号,面积(公顷),树种组,平均年龄,每公顷蓄积,林种,地类,造林前地类,无林年限,权属,村\n"
    "A-1,10,杉木,3,5,用材林,乔木林地,宜林地,5,集体,上村\n"
    "A-2,4,杉木,3,5,经济林,乔木林地,宜林地,5,集体,上村\n"
    "A-3,0.03,杉木,3,5,用材林,乔木林地,宜林地,5,集体,下村\n"
)
FIR_RATE = 0.4  # tCO2e/亩·a, the shipped default rate of 杉木 (species_params.csv)


def test_rules_lists_every_scheme_and_shows_sources():
    listed = tanhui("develop", "rules", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    schemes = {s["scheme"] for s in json.loads(listed.stdout)}
    assert {"smcer", "ccer-afforestation", "forest-management", "stop-logging"} <= schemes
    shown = tanhui("develop", "rules", "ccer-afforestation", lang="zh")
    assert shown.returncode == 0, shown.stderr
    assert "parcel_too_small" in shown.stdout and "CCER-14-001-V01" in shown.stdout
    unknown = tanhui("develop", "rules", "no-such-scheme")
    assert unknown.returncode == 2 and "no-such-scheme" in unknown.stderr


def test_screen_reports_each_reason_and_hand_computed_totals(tmp_path):
    path = write_csv(tmp_path / "xb.csv", INVENTORY, "gbk")
    done = tanhui(
        "develop",
        "screen",
        path,
        "--scheme",
        "ccer-afforestation",
        "--start-year",
        "2026",
        "--years",
        "20",
        "--format",
        "json",
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    rows = {r["id"]: r for r in doc["rows"]}
    assert rows["A-1"]["eligible"] and rows["A-1"]["reasons"] == ""
    assert rows["A-2"]["reasons"] == "economic_forest"
    assert rows["A-3"]["reasons"] == "parcel_too_small"
    totals = doc["totals"]
    assert totals["eligible_rows"] == 1 and totals["eligible_area_mu"] == 150
    assert totals["tco2e_per_yr"] == 150 * FIR_RATE
    assert totals["tco2e_crediting_period"] == 150 * FIR_RATE * 20
    assert doc["by_village"]["上村"]["eligible_rows"] == 1
    assert doc["by_village"]["下村"]["eligible_rows"] == 0
    assert doc["provenance"]["rules"]["hash"]
    table = tanhui("develop", "screen", path, "--scheme", "ccer-afforestation", lang="zh")
    assert table.returncode == 0, table.stderr
    assert "经济林" in table.stdout and "合格 1 个" in table.stdout


def test_registered_land_from_a_file_and_from_the_registry(tmp_path):
    path = write_csv(tmp_path / "xb.csv", INVENTORY)
    ids = tmp_path / "registered.txt"
    ids.write_text("A-1\n", "utf-8")
    done = tanhui(
        "develop", "screen", path, "--scheme", "smcer", "--registered", ids, "--format", "json"
    )
    assert done.returncode == 0, done.stderr
    rows = {r["id"]: r for r in json.loads(done.stdout)["rows"]}
    assert rows["A-1"]["reasons"] == "registered_elsewhere" and rows["A-2"]["eligible"]

    from tanhui.db import make_engine, upgrade
    from tanhui.registry.ledger import Ledger, SystemActor

    url = f"sqlite:///{tmp_path / 'registry.db'}"
    upgrade(url)
    Ledger(make_engine(url)).record_external_issuance(
        SystemActor(),
        scheme="CCER",
        region_code="350499",
        project_ref="CCER-0001",
        reference="CCER-0001-M1",
        subcompartments=["A-2"],
        period_start=dt.date(2020, 1, 1),
        period_end=dt.date(2027, 12, 31),
    )
    args = ("develop", "screen", path, "--scheme", "smcer", "--check-registry", "--db", url)
    missing_year = tanhui(*args)
    assert missing_year.returncode == 2 and "--start-year" in missing_year.stderr
    done = tanhui(*args, "--start-year", "2026", "--years", "5", "--format", "json")
    assert done.returncode == 0, done.stderr
    rows = {r["id"]: r for r in json.loads(done.stdout)["rows"]}
    assert rows["A-2"]["reasons"] == "registered_elsewhere" and rows["A-1"]["eligible"]
    later = tanhui(*args, "--start-year", "2028", "--format", "json")  # after the claim ends
    assert {r["id"] for r in json.loads(later.stdout)["rows"] if r["eligible"]} >= {"A-1", "A-2"}


def test_csv_and_xlsx_outputs(tmp_path):
    path = write_csv(tmp_path / "xb.csv", INVENTORY)
    done = tanhui("develop", "screen", path, "--format", "csv", lang="zh")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("\ufeff小班号,是否合格") and len(lines) == 4
    book_path = tmp_path / "screen.xlsx"
    done = tanhui("develop", "screen", path, "--format", "xlsx", "--out", book_path)
    assert done.returncode == 0, done.stderr
    book = CalamineWorkbook.from_path(str(book_path))
    assert book.sheet_names[0] == "Summary" and "Rows" in book.sheet_names
    rows = book.get_sheet_by_name("Rows").to_python()
    assert [r[0] for r in rows[1:]] == ["A-1", "A-2", "A-3"]
    assert tanhui("develop", "screen", path, "--format", "xlsx").returncode == 2
    assert tanhui("develop", "screen", path, "--format", "pdf").returncode == 2


def test_a_bad_inventory_lists_its_problems_and_exits_2(tmp_path):
    path = write_csv(tmp_path / "bad.csv", "小班号,面积(公顷),树种组\nA-1,-3,杉木\nA-1,2,杉木\n")
    done = tanhui("develop", "screen", path)
    assert done.returncode == 2
    assert "A-1" in done.stderr and "-3" in done.stderr


def test_feasibility_json_and_table(tmp_path):
    path = write_csv(tmp_path / "xb.csv", INVENTORY)
    args = (
        "develop",
        "feasibility",
        path,
        "--scheme",
        "ccer-afforestation",
        "--start-year",
        "2026",
    )
    done = tanhui(*args, "--growth", "", "--paths", "300", "--format", "json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["headline"]["sub_compartments"] == 1
    assert doc["headline"]["area_mu"] == 150
    # CCER: 30-year crediting period by default, CCER prices (base 70.8 yuan/t)
    base = doc["scenarios"]["base"]
    assert len(base["rows"]) == 31 and base["inputs"]["price"]["start_price"] == 70.8
    assert doc["risk"]["paths"] == 300
    table = tanhui(*args, "--growth", "", "--paths", "0", "--price", "base=20@0.02", lang="zh")
    assert table.returncode == 0, table.stderr
    assert "低价" not in table.stdout and "基准" in table.stdout and "20.00" in table.stdout
    bad = tanhui(*args, "--price", "cheap")
    assert bad.returncode == 2 and "NAME=YUAN" in bad.stderr
    short = tanhui(*args, "--years", "10")  # CCER needs 20–40 years
    assert short.returncode == 2 and "20" in short.stderr


def test_report_files_and_cost_overrides(tmp_path):
    path = write_csv(tmp_path / "xb.csv", INVENTORY)
    base_args = ("develop", "report", path, "--start-year", "2026", "--paths", "200")
    html = tmp_path / "r.html"
    done = tanhui(*base_args, "--out", html, "--name", "上村项目", lang="zh")
    assert done.returncode == 0, done.stderr
    assert "上村项目" in html.read_text("utf-8")
    book = tmp_path / "r.xlsx"
    assert tanhui(*base_args, "--out", book).returncode == 0
    assert "Cash flow" in CalamineWorkbook.from_path(str(book)).sheet_names
    wrong = tanhui(*base_args, "--out", tmp_path / "r.docx")
    assert wrong.returncode == 2 and ".pdf" in wrong.stderr

    template = tmp_path / "costs.toml"
    assert tanhui("develop", "costs", "--export", template).returncode == 0
    text = template.read_text("utf-8")
    assert "[[item]]" in text
    feas = (
        "develop",
        "feasibility",
        path,
        "--start-year",
        "2026",
        "--paths",
        "0",
        "--format",
        "json",
    )
    before = json.loads(tanhui(*feas).stdout)["headline"]["npv"]
    cheaper = tmp_path / "cheaper.toml"
    cheaper.write_text('[[item]]\nkey = "project_design"\namount = 0\n', "utf-8")
    after = json.loads(tanhui(*feas, "--costs", cheaper).stdout)["headline"]["npv"]
    assert after > before
    broken = tmp_path / "broken.toml"
    broken.write_text('[[item]]\nkey = "project_design"\namount = "lots"\n', "utf-8")
    refused = tanhui(*feas, "--costs", broken)
    assert refused.returncode == 2 and "amount" in refused.stderr
    shown = tanhui("develop", "costs", lang="zh")
    assert shown.returncode == 0 and "to confirm" in shown.stdout


def test_project_library_from_the_command_line(tmp_path):
    from tanhui.db import make_engine, upgrade
    from tanhui.develop import demo_seed
    from tanhui.registry import seed as registry_seed

    url = f"sqlite:///{tmp_path / 'library.db'}"
    upgrade(url)
    engine = make_engine(url)
    registry = registry_seed.seed(engine, tmp_path / "data")
    seeded = demo_seed.seed(engine, tmp_path / "data", registry)
    pooled, farm = seeded.projects["pooled"], seeded.projects["farm"]

    listed = tanhui("develop", "projects", "list", "--db", url, lang="zh")
    assert listed.returncode == 0, listed.stderr
    assert "共 3 个" in listed.stdout and "候选" in listed.stdout

    shown = tanhui("develop", "projects", "show", pooled, "--db", url)
    assert shown.returncode == 0, shown.stderr
    assert "Lacking consent" in shown.stdout
    assert "no authorization" in shown.stdout and "expired" in shown.stdout

    ids = tmp_path / "ids.txt"
    ids.write_text("XB-1,2.5\nXB-2,1\n", "utf-8")
    no_area = tmp_path / "no_area.txt"
    no_area.write_text("XB-1,2.5\nXB-2\n", "utf-8")
    owner = registry.organisations["farm"]
    created = tanhui(
        "develop",
        "projects",
        "create",
        "新项目",
        "--scheme",
        "SMCER",
        "--methodology",
        "smcer",
        "--region",
        "350499",
        "--owner",
        owner,
        "--ids",
        ids,
        "--db",
        url,
    )
    assert created.returncode == 0, created.stderr
    assert "2 sub-compartments" in created.stdout
    refused = tanhui(
        "develop",
        "projects",
        "create",
        "x",
        "--scheme",
        "SMCER",
        "--methodology",
        "smcer",
        "--region",
        "350499",
        "--owner",
        owner,
        "--ids",
        no_area,
        "--db",
        url,
    )
    assert refused.returncode == 2 and "Line 2" in refused.stderr

    advanced = tanhui("develop", "projects", "advance", farm, "--note", "PDD", "--db", url)
    assert advanced.returncode == 0 and "validation" in advanced.stdout
    assert (
        tanhui(
            "develop", "projects", "withdraw", farm, "--reason", "资金不足", "--db", url
        ).returncode
        == 0
    )
    again = tanhui("develop", "projects", "advance", farm, "--db", url)
    assert again.returncode == 2  # a withdrawn project moves no more
    assert tanhui("develop", "projects", "advance", 999, "--db", url).returncode == 2

    stats = tanhui("develop", "projects", "stats", "--region", "350499", "--db", url)
    assert stats.returncode == 0, stats.stderr
    # four projects; the reserve (not yet registered: the pooled candidate and the new one) is 2
    assert "│ 4 " in stats.stdout and "2/2" in stats.stdout
