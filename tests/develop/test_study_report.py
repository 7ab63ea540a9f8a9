"""A candidate project's study end to end (screening → tonnes → cash flows → risk) and its
report as HTML, PDF and Excel."""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser

import numpy as np
import pytest
from python_calamine import CalamineWorkbook

from tanhui.develop.feasibility import PriceScenario
from tanhui.develop.report import render_html, render_pdf, render_xlsx
from tanhui.develop.study import Selection, study_file
from tanhui.errors import InputError

#: Three eligible 杉木 stands without volume (so the shipped default rate applies: 0.4 t/亩·a)
#: in two villages, and one stand that is not forest land (未成林造林地) for SMCER.
INVENTORY = (
    "小班号,面积(亩),树种组,地类,权属,村\n"
    "A-1,100,杉木,乔木林地,集体,上村\n"
    "A-2,50,杉木,乔木林地,集体,上村\n"
    "B-1,30,杉木,乔木林地,个人,下村\n"
    "B-2,40,杉木,未成林造林地,个人,下村\n"
)
RATE = 0.4


@pytest.fixture
def inventory(tmp_path):
    path = tmp_path / "xb.csv"
    path.write_text(INVENTORY, "utf-8")
    return path


def study(path, **options):
    options = {
        "start_year": 2026,
        "crediting_years": 20,
        "growth_family": None,
        "paths": 200,
        "seed": 1,
        **options,
    }
    return study_file(path, "smcer", **options)


def test_tonnes_come_from_the_default_rate_of_the_eligible_stands(inventory):
    s = study(inventory)
    assert s.selected_ids == ["A-1", "A-2", "B-1"]
    assert s.inputs.area_mu == pytest.approx(180)
    assert s.ex_ante.tonnes == pytest.approx(np.full(20, 180 * RATE))
    totals = s.result.totals()
    assert totals["tonnes_sequestered"] == pytest.approx(180 * RATE * 20)
    # verified every 5 years: 4 issuances of 360 t each, whole tonnes, no buffer by default
    assert totals["tonnes_issued"] == 4 * 360
    # the base scenario of the tickets is 15 yuan/t: revenue = 1440 t × 15
    assert totals["revenue"] == pytest.approx(1440 * 15)
    assert s.headline()["recommended_buffer_share"] is not None


def test_selection_narrows_the_project(inventory, tmp_path):
    by_village = study(inventory, selection=Selection(villages=("下村",)), paths=0)
    assert by_village.selected_ids == ["B-1"] and by_village.risk is None
    by_ids = study(inventory, selection=Selection(ids=("A-2", "B-1")), paths=0)
    assert by_ids.inputs.area_mu == pytest.approx(80)
    with pytest.raises(InputError, match="Z-9"):
        study(inventory, selection=Selection(ids=("A-1", "Z-9")))
    with pytest.raises(InputError):  # B-2 is not eligible, so nothing is left
        study(inventory, selection=Selection(ids=("B-2",)))


def test_price_scenarios_and_buffer_change_the_money_as_expected(inventory):
    prices = [PriceScenario("low", 10.0), PriceScenario("base", 20.0)]
    s = study(inventory, prices=prices, paths=0)
    assert set(s.scenarios) == {"low", "base"} and s.base == "base"
    low, base = s.scenarios["low"], s.scenarios["base"]
    assert base.totals()["revenue"] == pytest.approx(2 * low.totals()["revenue"])
    buffered = study(inventory, prices=prices, paths=0, buffer_share=0.1)
    assert buffered.result.totals()["tonnes_issued"] == 4 * 324  # 10 % of 360 withheld
    assert buffered.result.npv < base.npv


def test_same_seed_same_risk_and_the_study_records_its_provenance(inventory):
    a, b = study(inventory), study(inventory)
    assert a.risk.npv.tolist() == b.risk.npv.tolist()
    assert a.provenance["risk"] == {"paths": 200, "seed": 1, "settings": a.risk.settings.describe()}
    assert a.provenance["inventory_hash"] == b.provenance["inventory_hash"]
    assert a.provenance["inputs"]["costs"]["hash"]
    assert study(inventory, seed=2).risk.npv.tolist() != a.risk.npv.tolist()


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.svgs = 0

    def handle_starttag(self, tag, attrs):
        self.svgs += tag == "svg"

    def handle_data(self, data):
        self.text.append(data)


def test_html_report_shows_the_headline_numbers_and_charts(inventory):
    s = study(inventory, name="上村<碳汇>项目")
    html = render_html(s, "zh")
    parsed = _Collector()
    parsed.feed(html)
    text = "".join(parsed.text)
    assert "上村<碳汇>项目" in text and "<碳汇>" not in html  # escaped
    assert f"{s.result.npv:,.0f}" in text
    assert parsed.svgs >= 3  # tonnes, cash flow, NPV distribution (no map: a CSV has no polygons)
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")  # nothing online
    english = render_html(s, "en")
    assert "Feasibility report" in english and "林业碳汇项目可行性报告" not in english


def test_map_from_polygons(demo_small):
    s = study_file(
        demo_small.gpkg_2021,
        "smcer",
        start_year=2026,
        paths=0,
        growth_family=None,
        selection=Selection(villages=(demo_small_village(demo_small),)),
    )
    categories = {c for _rings, c in s.map_shapes}
    assert "selected" in categories
    assert len(s.map_shapes) >= int(np.count_nonzero(s.selected))
    assert "<path" in render_html(s, "zh")


def demo_small_village(demo):
    from tanhui.inventory import read_inventory

    stands = read_inventory(demo.csv_2021).stands()
    codes, labels = stands.category("village")
    return labels[int(np.bincount(codes[codes >= 0]).argmax())]


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler-utils (pdftotext)")
def test_pdf_report_has_the_chinese_text(inventory, tmp_path):
    pytest.importorskip("weasyprint")
    pdf = render_pdf(study(inventory, name="上村碳汇项目"), "zh")
    assert pdf.startswith(b"%PDF")
    path = tmp_path / "r.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True).stdout
    assert "上村碳汇项目" in text and "可行性报告" in text


def test_xlsx_report_holds_the_same_numbers(inventory, tmp_path):
    s = study(inventory)
    path = tmp_path / "r.xlsx"
    render_xlsx(s, path, "en")
    book = CalamineWorkbook.from_path(str(path))
    assert book.sheet_names[:3] == ["Summary", "Cash flow", "Costs"]
    summary = dict((r[0], r[1]) for r in book.get_sheet_by_name("Summary").to_python())
    assert summary["NPV (yuan)"] == pytest.approx(s.result.npv)
    flows = book.get_sheet_by_name("Cash flow").to_python()
    assert [r[0] for r in flows[1:]] == list(range(2026, 2026 + 21))
    assert sum(r[2] for r in flows[1:]) == s.result.totals()["tonnes_issued"]


def test_recorded_losses_calibrate_the_risk_model(inventory):
    # 180 亩 = 12 ha of project land; one fire struck A-2 (50 亩 = 3.333 ha) in 2021 and burnt
    # half of it, over the 5 years on record (2021 → start 2026): p = 3.333 / (12 × 5), f = 0.5
    # (the library's form: ``area_ha`` is the area lost, ``share_lost`` its share of the stand)
    fire = {
        "subcompartment_id": "A-2",
        "year": 2021,
        "hazard": "fire",
        "share_lost": 0.5,
        "area_ha": 50 / 30,
    }
    # not a simulated hazard: left out of the calibration
    other = {
        "subcompartment_id": "A-1",
        "year": 2022,
        "hazard": "other",
        "share_lost": 0.1,
        "area_ha": 0.5,
    }
    calibrated = study(inventory, loss_history=[fire, other], paths=2000)
    table = {row["kind"]: row for row in calibrated.provenance["loss_calibration"]["table"]}
    assert calibrated.provenance["loss_calibration"]["years"] == 5
    hazards = {h.name: h for h in calibrated.risk.settings.hazards}
    assert hazards["fire"].annual_probability == pytest.approx((50 / 15) / (12 * 5))
    assert hazards["fire"].loss_share == pytest.approx(0.5)
    assert list(table) == ["fire"] and calibrated.provenance["loss_calibration"]["events"] == 1
    default = study(inventory, paths=2000)
    # a fire every 18 years on this land instead of the 0.15 % default: far more lost
    assert (
        calibrated.risk.summary()["expected_lost_tonnes"]
        > 10 * default.risk.summary()["expected_lost_tonnes"]
    )
