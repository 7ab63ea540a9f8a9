"""The demo county screened end to end from real files (GBK CSV, GeoPackage) through the
screening service, and the service's rule-file, registry and report handling."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from tanhui.develop.rules import RuleError, load_scheme, scheme_names
from tanhui.develop.screening import BREAKDOWN_KEYS, screen_naive
from tanhui.develop.screening_service import (
    ScreeningReport,
    list_schemes,
    load_rule_set,
    registered_mask,
    rule_table,
    screen_file,
    screen_inventory,
)
from tanhui.errors import InputError
from tanhui.inventory import read_inventory
from tanhui.measure.methods import ccer_afforestation as ccer
from tanhui.measure.params import default_parameters


@pytest.fixture(scope="module")
def csv_2016(demo_small):
    return read_inventory(demo_small.csv_2016)


@pytest.mark.parametrize("fmt", ["csv_2016", "gpkg_2016", "gpkg_2021"])
@pytest.mark.parametrize("scheme", scheme_names())
def test_demo_county_end_to_end(demo_small, fmt, scheme):
    path = getattr(demo_small, fmt)
    report = screen_file(path, scheme, registered_ids=[], crediting_years=20, start_year=2016)
    assert isinstance(report, ScreeningReport)
    s = report.screening
    rows = demo_small.rows_2016 if fmt.endswith("2016") else demo_small.rows_2021
    assert len(report) == rows == len(report.ids)
    if fmt == "csv_2016":
        assert report.inventory["encoding"] in ("gbk", "gb18030")
    # The vectorized engine and the naive loop agree on the real county.
    slow = screen_naive(
        s.stands,
        s.rules,
        default_parameters(),
        registered=np.zeros(rows, bool),
        crediting_years=20,
        start_year=2016,
    )
    assert s.reasons.tolist() == slow.reasons.tolist()
    assert np.array_equal(s.expected_tco2e_per_yr, slow.expected_tco2e_per_yr, equal_nan=True)
    # Totals are consistent with the rows.
    total = report.totals()
    assert total["rows"] == rows and total["eligible_rows"] == int(s.eligible.sum())
    assert total["eligible_area_ha"] == pytest.approx(float(s.area_ha[s.eligible].sum()))
    assert total["tco2e_crediting_period"] == pytest.approx(total["tco2e_per_yr"] * 20)
    for key in BREAKDOWN_KEYS:
        by = report.totals_by(key)
        assert sum(e["rows"] for e in by.values()) == rows
        assert sum(e["eligible_area_ha"] for e in by.values()) == pytest.approx(
            total["eligible_area_ha"]
        )
    # Every ineligible row says why, and only eligible rows carry tonnes.
    codes = report.row_table()["reasons"]
    assert all((code == "") == ok for code, ok in zip(codes, s.eligible.tolist(), strict=True))
    assert (s.expected_tco2e_per_yr[~s.eligible] == 0).all()


def test_the_demo_has_eligible_and_ineligible_rows_for_each_scheme(demo_small):
    for scheme in scheme_names():
        s = screen_file(demo_small.gpkg_2021, scheme, registered_ids=[]).screening
        assert 0 < s.eligible.sum() < len(s), scheme


@pytest.mark.parametrize("fmt", ["csv_2016", "gpkg_2016", "gpkg_2021"])
@pytest.mark.parametrize("start_year", [None, 2016])
def test_ccer_screening_agrees_with_the_method_on_the_demo(demo_small, fmt, start_year):
    report = screen_file(
        getattr(demo_small, fmt), "ccer-afforestation", registered_ids=[], start_year=start_year
    )
    s = report.screening
    method_bits = ccer.METHOD.eligibility_bits(s.stands, start_year)
    for reason in ccer.METHOD.reasons:
        if reason.code in s.rules.ids:
            theirs = (method_bits & np.uint32(1 << reason.bit)) != 0
            ours = s.failed(reason.code)
            if reason.code == "tenure_unclear":
                ours = ours | s.failed("tenure_unknown")
            assert ours.tolist() == theirs.tolist(), reason.code
    # On the demo every column the method reads is filled in, so eligibility is the same.
    assert s.eligible.tolist() == (method_bits == 0).tolist()
    assert s.eligible.sum() > 0
    counts = s.reason_counts()
    assert counts["land_history_unknown"] > 0 and counts["economic_forest"] > 0


def test_registered_ids_come_from_the_caller(demo_small, csv_2016):
    base = screen_inventory(csv_2016, "smcer", registered_ids=[])
    eligible = base.eligible_ids()
    taken = eligible[:3]
    report = screen_inventory(csv_2016, "smcer", registered_ids=[*taken, " ", "no-such-id"])
    assert report.eligible_ids() == eligible[3:]
    assert report.reason_counts()["registered_elsewhere"] == 3
    registered = report.provenance["registered"]
    assert registered["ids"] == 4 and registered["matched_rows"] == 3
    assert len(registered["hash"]) == 64
    unknown = screen_inventory(csv_2016, "smcer")
    assert unknown.screening.unchecked == ("registered_elsewhere",)
    assert unknown.provenance["registered"] is None
    assert unknown.summary()["unchecked"] == ["registered_elsewhere"]


def test_registered_mask():
    ids = pa.array(["a", "b", "c"])
    assert registered_mask(ids, None) is None
    assert registered_mask(ids, []).tolist() == [False] * 3
    assert registered_mask(ids, iter(["c ", "a"])).tolist() == [True, False, True]
    assert registered_mask(pa.array([], pa.string()), ["a"]).tolist() == []


def test_report_documents(csv_2016):
    report = screen_inventory(csv_2016, "ccer-afforestation", registered_ids=[], start_year=2016)
    doc = report.to_dict(lang="zh")
    text = json.dumps(doc, ensure_ascii=False)  # JSON-ready, NaN as null
    assert "NaN" not in text
    assert doc["scheme"] == "ccer-afforestation" and len(doc["rows"]) == len(report)
    for key in ("by_village", "by_owner", "by_species_group", "by_township"):
        assert doc[key]
    provenance = doc["provenance"]
    assert provenance["inventory_hash"] == csv_2016.content_hash
    assert provenance["rules"]["hash"] == load_scheme("ccer-afforestation").hash
    assert provenance["params"]["hash"] == default_parameters().hash
    assert provenance["options"]["start_year"] == 2016
    row = next(r for r in doc["rows"] if not r["eligible"])
    assert row["reasons"] and row["reason_texts"]
    assert set(row) >= {"id", "area_ha", "area_mu", "expected_tco2e_per_yr", "estimate", "village"}
    eligible = [r for r in doc["rows"] if r["eligible"]]
    assert eligible and all(r["reasons"] == "" for r in eligible)
    summary = report.summary("en")
    assert "rows" not in summary and summary["inventory"]["rows"] == len(report)
    assert report.to_dict(include_rows=False).keys() == summary.keys()


def test_growth_fitted_on_the_inventory(demo_small):
    report = screen_file(
        demo_small.gpkg_2021, "forest-management", registered_ids=[], growth_family="richards"
    )
    counts = report.screening.estimate_counts()
    assert counts["growth"] > 0
    assert report.provenance["growth"]["hash"]


def test_rule_sets_for_the_service(tmp_path):
    assert [s["scheme"] for s in list_schemes("en")] == list(scheme_names())
    table = rule_table(load_scheme("ccer-afforestation"), "zh")
    assert table[1]["id"] == "parcel_too_small" and "400" in table[1]["check"]
    with pytest.raises(InputError):
        load_rule_set()
    bad = tmp_path / "bad.toml"
    bad.write_text(
        """
extends = "smcer"

[[rules]]
id = "small_parcel"
zh = "地块小于 1 亩。"
en = "Smaller than 1 mu."
source = "示例"
status = "inference"
check = { op = "lt", column = "area_ha", value = 1, unit = "mu", when_missing = "pass" }
examples = { pass = { area_ha = 0.05 }, fail = { area_ha = 0.5 } }
""",
        encoding="utf-8",
    )
    with pytest.raises(RuleError) as caught:
        load_rule_set("smcer", bad)
    assert [p.code for p in caught.value.problems] == [
        "example_pass_misbehaves",
        "example_fail_misbehaves",
    ]
    good = tmp_path / "good.toml"
    good.write_text(
        bad.read_text("utf-8").replace(
            "0.05 }, fail = { area_ha = 0.5", "0.5 }, fail = { area_ha = 0.05"
        ),
        encoding="utf-8",
    )
    rs = load_rule_set("smcer", good)
    assert rs.ids[-1] == "small_parcel"


def test_screen_file_with_a_user_rule_file(demo_small, tmp_path):
    path = tmp_path / "strict.toml"
    path.write_text(
        """
extends = "smcer"
version = "mingxi-1"

[example]
forest_category = "商品林"

[[rules]]
id = "public_welfare"
zh = "公益林暂不纳入。"
en = "Public-welfare forest is left out for now."
source = "示例"
status = "inference"
check = { op = "contains_any", column = "forest_category", values = ["公益"], when_missing = "fail" }
examples = { pass = { forest_category = "商品林" }, fail = [{ forest_category = "公益林" }, { forest_category = "" }] }
""",
        encoding="utf-8",
    )
    report = screen_file(demo_small.csv_2016, rules_file=path, registered_ids=[])
    assert report.rules.version == "mingxi-1" and report.rules.ids[-1] == "public_welfare"
    plain = screen_file(demo_small.csv_2016, "smcer", registered_ids=[])
    assert report.totals()["eligible_rows"] < plain.totals()["eligible_rows"]
    assert report.provenance["rules"]["origin"].endswith("file strict.toml")
