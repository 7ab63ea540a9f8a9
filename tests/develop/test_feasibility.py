"""Feasibility: a tiny project computed by hand, the timeline, the cost table, ex-ante tonnes."""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import replace

import numpy as np
import pytest

from tanhui.develop import finance
from tanhui.develop.costs import (
    UNIT_KINDS,
    CostItem,
    CostTable,
    CostTableError,
    costs_from_mapping,
    default_costs,
    load_costs,
)
from tanhui.develop.feasibility import (
    CCER_PRICES,
    ROUTE_GROWTH,
    ROUTE_NONE,
    ROUTE_RATE,
    TABLE_COLUMNS,
    TICKET_PRICES,
    FeasibilityInputs,
    PriceScenario,
    Timeline,
    buffer_tonnes,
    default_price_scenarios,
    evaluate,
    evaluate_scenarios,
    ex_ante_tonnes,
    issue,
)
from tanhui.errors import InputError, ParameterError
from tanhui.measure.growth import GrowthCurves
from tanhui.measure.params import default_parameters
from tanhui.measure.stands import Stands

# ----------------------------------------------------------------------------- the hand case
#
# 50 亩, crediting 6 years from 2026, verification every 2 years after the first 2, issuance one
# year later, buffer 10 %, price 20 yuan/t growing 10 % a year, discount rate 10 %.
#
# year (row)          0     1      2      3      4      5      6
# sequestered       10.5  10.5  22.75  22.75   30     30      –
# stock             10.5  21    43.75  66.5   96.5  126.5
# verified (float)   –    21     –     45.5    –     60       –      (rows 1, 3, 5)
# whole tonnes       –     –    21      –     45      –      60     (45.5 rounds down to 45)
# buffer             –     –     2      –      5      –       6     (2.1 → 2, 4.5 → 5 half up)
# issued             –     –    19      –     40      –      54     (rows 2, 4, 6)
# price             20    22    24.2  26.62 29.282 32.2102 35.43122
# revenue            –     –   459.8    –   1171.28   –    1913.28588
# design (project) 1000
# verification (period)  100 in rows 1, 3, 5
# monitoring 2 yuan/亩/period × 50 亩 = 100 in rows 1, 3, 5
# protection 1 yuan/亩/year × 50 亩 = 50 in rows 0 … 5 (not row 6: crediting is over)
# fee 0.5 yuan/issued t: 9.5, 20, 27 in rows 2, 4, 6
# share 10 % of revenue: 45.98, 117.128, 191.328588
# net: −1050, −250, 354.32, −250, 984.152, −250, 1694.957292
# NPV(10 %) = −1050 − 227.2727 + 292.8264 − 187.8287 + 672.1891 − 155.2303 + 956.7592 = 301.44295
# cumulative: −1050, −1300, −945.68, −1195.68, −211.528, −461.528, 1233.429 → payback row 6 (2032)

HAND_FLOWS = [-1050.0, -250.0, 354.32, -250.0, 984.152, -250.0, 1694.957292]


def hand_costs() -> CostTable:
    items = (
        CostItem("design", "项目设计", "design", "per_project", 1000.0),
        CostItem("verification", "核证", "verification", "per_period", 100.0),
        CostItem("monitoring", "监测", "monitoring", "per_mu_per_period", 2.0),
        CostItem("protection", "管护", "protection", "per_mu_per_year", 1.0),
        CostItem("fee", "签发费", "issuance fee", "per_tonne", 0.5),
        CostItem("share", "收益分成", "benefit share", "share_of_revenue", 0.1),
    )
    return CostTable("hand", "1", items)


def hand_inputs(**changes) -> FeasibilityInputs:
    inputs = FeasibilityInputs(
        tonnes=[10.5, 10.5, 22.75, 22.75, 30.0, 30.0],
        area_mu=50.0,
        timeline=Timeline(
            2026, crediting_years=6, monitoring_interval=2, first_verification_after=2
        ),
        price=PriceScenario("test", 20.0, 0.10),
        costs=hand_costs(),
        discount_rate=0.10,
        buffer_share=0.10,
    )
    return replace(inputs, **changes)


def test_hand_case_tonnes():
    result = evaluate(hand_inputs())
    t = result.table
    assert tuple(t) == TABLE_COLUMNS
    assert t["year"].tolist() == [2026, 2027, 2028, 2029, 2030, 2031, 2032]
    assert t["tonnes_verified"].tolist() == [0, 21, 0, 45.5, 0, 60, 0]
    assert t["tonnes_buffer"].tolist() == [0, 0, 2, 0, 5, 0, 6]
    assert t["tonnes_issued"].tolist() == [0, 0, 19, 0, 40, 0, 54]
    assert t["tonnes_issued"].dtype.kind == "i"
    assert result.totals()["tonnes_issued"] == 113
    assert result.totals()["tonnes_buffer"] == 13


def test_hand_case_cost_lines_per_unit_kind():
    lines = evaluate(hand_inputs()).cost_lines
    assert lines["design"].tolist() == [1000, 0, 0, 0, 0, 0, 0]
    assert lines["verification"].tolist() == [0, 100, 0, 100, 0, 100, 0]
    assert lines["monitoring"].tolist() == [0, 100, 0, 100, 0, 100, 0]
    assert lines["protection"].tolist() == [50, 50, 50, 50, 50, 50, 0]
    assert lines["fee"].tolist() == [0, 0, 9.5, 0, 20, 0, 27]
    np.testing.assert_allclose(lines["share"], [0, 0, 45.98, 0, 117.128, 0, 191.328588])


def test_hand_case_money():
    result = evaluate(hand_inputs())
    np.testing.assert_allclose(result.table["revenue"], [0, 0, 459.8, 0, 1171.28, 0, 1913.28588])
    np.testing.assert_allclose(result.flows, HAND_FLOWS, rtol=1e-13)
    assert result.npv == pytest.approx(301.44295003107, rel=1e-12)
    assert result.npv == pytest.approx(finance.npv(0.10, HAND_FLOWS), rel=1e-12)
    assert result.table["cumulative"][-1] == pytest.approx(1233.429292)
    assert result.payback_year == 6
    assert result.discounted_payback_year == 6
    assert result.irr.rate == pytest.approx(finance.irr(HAND_FLOWS), rel=1e-12)
    assert result.to_dict()["payback_year"] == 2032


def test_hand_case_per_mu_and_break_even():
    result = evaluate(hand_inputs())
    per_mu = result.per_mu()
    assert per_mu["npv"] == pytest.approx(301.44295003107 / 50)
    assert per_mu["tonnes_sequestered"] == pytest.approx(126.5 / 50)
    assert per_mu["tonnes_issued"] == pytest.approx(113 / 50)
    assert per_mu["cost"] == pytest.approx(sum(result.table["total_cost"]) / 50)
    # NPV is linear in the start price: at the break-even price it is zero.
    p = result.break_even_price
    assert p is not None and 0 < p < 20
    at_break_even = evaluate(hand_inputs(price=PriceScenario("b", p, 0.10)))
    assert at_break_even.npv == pytest.approx(0.0, abs=1e-9)


def test_nothing_issued_has_no_break_even_and_no_irr():
    result = evaluate(hand_inputs(tonnes=[0.0] * 6))
    assert result.break_even_price is None
    assert result.irr.rate is None and result.irr.reason == "no_sign_change"
    assert result.payback_year is None


def test_sensitivity_is_monotone():
    result = evaluate(hand_inputs())
    by = {}
    for row in result.sensitivity:
        by.setdefault(row.factor, []).append((row.change, row.npv))
    assert set(by) == {"price", "growth", "cost"}
    for factor, values in by.items():
        changes = [c for c, _ in values]
        assert changes == [-0.2, -0.1, 0.0, 0.1, 0.2]
        npvs = [v for _, v in values]
        assert npvs[2] == pytest.approx(result.npv)
        pairs = list(itertools.pairwise(npvs))
        if factor == "cost":
            assert all(a > b for a, b in pairs), factor
        else:
            assert all(a < b for a, b in pairs), factor
    # price: NPV is linear in the price → equal steps
    price = [v for c, v in by["price"]]
    steps = np.diff(price)
    np.testing.assert_allclose(steps, steps[0], rtol=1e-9)


def test_cost_growth_escalates_yuan_amounts():
    result = evaluate(hand_inputs(cost_growth=0.05))
    assert result.cost_lines["protection"][3] == pytest.approx(50 * 1.05**3)
    assert result.cost_lines["verification"][5] == pytest.approx(100 * 1.05**5)
    assert result.cost_lines["fee"][4] == pytest.approx(40 * 0.5 * 1.05**4)
    # shares follow revenue, not the escalation
    assert result.cost_lines["share"][4] == pytest.approx(0.1 * result.table["revenue"][4])


def test_to_dict_is_json():
    doc = evaluate(hand_inputs()).to_dict("zh")
    text = json.dumps(doc, ensure_ascii=False)
    assert "rows" in doc and len(doc["rows"]) == 7
    assert doc["rows"][2]["tonnes_issued"] == 19
    assert doc["rows"][2]["costs"]["fee"] == 9.5
    assert doc["sensitivity"][0]["factor_label"] == "碳价"
    assert doc["inputs"]["costs"]["hash"] == hand_costs().hash
    assert "碳价" in text


# ----------------------------------------------------------------------------- issuance rules


def test_issue_high_water_mark_and_reversal():
    # stock 10, 6, 9, 14 at four verifications: 10 credited; the drop to 6 is a reversal of 4
    # (outstanding 10 → 6); 9 is below the high-water mark 10: nothing; 14 → 4 more.
    iss = issue(np.array([10.0, 6.0, 9.0, 14.0]), 0.0)
    assert iss.credited.tolist() == [10, 0, 0, 4]
    assert iss.reversal.tolist() == [0, 4, 0, 0]
    assert iss.issued.tolist() == [10, 0, 0, 4]


def test_buffer_rounds_half_up_like_the_registry():
    assert buffer_tonnes(np.array([21, 45, 60, 0, 7]), 0.1).tolist() == [2, 5, 6, 0, 1]
    assert buffer_tonnes(np.array([100]), 0.0).tolist() == [0]


# ----------------------------------------------------------------------------- timeline


def test_timeline_verification_years():
    assert Timeline(2026).verification_years().tolist() == [4, 9, 14, 19, 24, 29]
    assert Timeline(2026).issuance_rows().tolist() == [5, 10, 15, 20, 25, 30]
    # the end of the crediting period is always verified
    assert Timeline(2026, 32).verification_years().tolist() == [4, 9, 14, 19, 24, 29, 31]
    assert Timeline(2026, 20, 5, 3).verification_years().tolist() == [2, 7, 12, 17, 19]
    assert Timeline(2026, 20, issuance_lag=0).rows == 20


def test_timeline_checks():
    with pytest.raises(InputError) as info:
        Timeline(2026, 15, scheme="CCER").check()
    assert info.value.field == "crediting_years"
    Timeline(2026, 20, scheme="CCER").check()
    Timeline(2026, 40, scheme="ccer").check()
    with pytest.raises(InputError):
        Timeline(2026, 41, scheme="CCER").check()
    with pytest.raises(InputError):
        Timeline(2026, 10, first_verification_after=11).check()
    with pytest.raises(InputError):
        Timeline(2026, 10, monitoring_interval=0).check()
    with pytest.raises(InputError):
        Timeline(2026, 10, issuance_lag=-1).check()


def test_input_checks():
    with pytest.raises(InputError):
        evaluate(hand_inputs(tonnes=[1.0] * 5))  # 5 years for a 6-year period
    with pytest.raises(InputError):
        evaluate(hand_inputs(buffer_share=1.0))
    with pytest.raises(InputError):
        evaluate(hand_inputs(area_mu=0.0))
    with pytest.raises(InputError):
        evaluate(hand_inputs(discount_rate=-1.0))
    with pytest.raises(InputError):
        evaluate(hand_inputs(price=PriceScenario("x", -1.0)))


def test_price_scenarios():
    assert [s.name for s in default_price_scenarios()] == ["low", "base", "high"]
    assert default_price_scenarios("CCER") == CCER_PRICES
    assert [s.start_price for s in TICKET_PRICES] == [10.0, 15.0, 20.0]
    assert CCER_PRICES[1].start_price == 70.8
    assert all(s.source for s in (*TICKET_PRICES, *CCER_PRICES))
    results = evaluate_scenarios(hand_inputs(), TICKET_PRICES)
    assert results["low"].npv < results["base"].npv < results["high"].npv


# ----------------------------------------------------------------------------- cost table


def test_default_cost_table():
    table = default_costs()
    keys = [i.key for i in table.items]
    for wanted in (
        "project_design",
        "validation",
        "registration",
        "verification",
        "monitoring",
        "forest_protection",
        "trading_fee",
        "benefit_share_collective",
        "benefit_share_households",
    ):
        assert wanted in keys
    assert {i.unit for i in table.items} == set(UNIT_KINDS)
    assert all(i.status == "to confirm" and i.source for i in table.items)
    assert table.currency == "yuan"
    assert "illustrative" in table.status
    assert 0 < table.revenue_share < 1
    assert len(table.hash) == 64 and table.hash == default_costs().hash


def test_cost_hash_follows_amounts_not_texts():
    table = default_costs()
    renamed = replace(table, items=(replace(table.items[0], name_en="x"), *table.items[1:]))
    assert renamed.hash == table.hash
    assert table.scaled(1.1).hash != table.hash


def test_cost_table_round_trips_through_toml(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(default_costs().to_toml(), "utf-8")
    loaded = load_costs(path)
    assert loaded.hash == default_costs().hash
    assert loaded.items == default_costs().items


def test_user_toml_overrides_and_adds(tmp_path):
    path = tmp_path / "quotes.toml"
    path.write_text(
        """
[[item]]
key = "validation"
amount = 60000

[[item]]
key = "survey"
name_zh = "补充调查"
unit = "per_mu_per_period"
amount = 1.5
""",
        "utf-8",
    )
    table = load_costs(path)
    assert table.item("validation").amount == 60000
    assert table.item("validation").status == "user file quotes.toml"
    assert table.item("project_design").amount == default_costs().item("project_design").amount
    assert table.item("survey").unit == "per_mu_per_period"
    assert table.items[-1].key == "survey"
    assert table.hash != default_costs().hash
    assert "validation.amount=60000.0" in table.overrides
    assert table.name.endswith("quotes.toml")


def test_user_csv_in_gbk(tmp_path):
    path = tmp_path / "成本.csv"
    path.write_bytes("key,amount,name_zh\nverification,50000,核证费\nmonitoring,,\n".encode("gbk"))
    table = load_costs(path)
    assert table.item("verification").amount == 50000
    assert table.item("verification").name_zh == "核证费"
    assert table.item("monitoring").amount == default_costs().item("monitoring").amount


def test_cost_file_problems_are_all_listed(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(
        """
[[item]]
key = "validation"
amount = -5

[[item]]
key = "trading_fee"
amount = 1.5

[[item]]
key = "validation"
amount = 1

[[item]]
key = "new_thing"
amount = 3

[[item]]
key = "other"
unit = "per_hectare"
amount = "lots"
colour = "red"
""",
        "utf-8",
    )
    with pytest.raises(CostTableError) as info:
        load_costs(path)
    codes = sorted(p.code for p in info.value.problems)
    assert codes == sorted(
        [
            "negative_or_not_finite",
            "share_too_large",
            "duplicate_key",
            "missing_field",  # new_thing: no unit
            "unknown_unit",
            "not_a_number",
            "unknown_field",
            "missing_field",  # other: unit and amount both invalid → missing
            "missing_field",
        ]
    )
    assert isinstance(info.value, ParameterError)
    assert "bad.toml" in info.value.message("en")
    assert all(p.reason("zh") and p.reason("en") for p in info.value.problems)


def test_cost_file_syntax_and_missing(tmp_path):
    bad = tmp_path / "broken.toml"
    bad.write_text("[[item]\nkey = ", "utf-8")
    with pytest.raises(CostTableError) as info:
        load_costs(bad)
    assert info.value.problems[0].code == "toml_syntax"
    with pytest.raises(CostTableError) as info:
        load_costs(tmp_path / "nope.toml")
    assert info.value.problems[0].code == "file_not_found"
    with pytest.raises(CostTableError):
        load_costs(tmp_path / "x.xlsx")


def test_shares_may_not_eat_all_revenue():
    with pytest.raises(CostTableError) as info:
        costs_from_mapping(
            {
                "benefit_share_households": {"amount": 0.6},
                "benefit_share_collective": {"amount": 0.5},
            }
        )
    assert [p.code for p in info.value.problems] == ["shares_exceed_revenue"]


# ----------------------------------------------------------------------------- ex-ante tonnes


def stands(**numbers) -> Stands:
    groups = numbers.pop("group")
    labels = tuple(dict.fromkeys(g for g in groups if g is not None))
    codes = np.array([-1 if g is None else labels.index(g) for g in groups], dtype=np.int32)
    cols = {k: np.array(v, dtype=np.float64) for k, v in numbers.items()}
    return Stands(cols, {"species_group": codes}, {"species_group": labels}, survey_year=2024)


def test_ex_ante_default_rates():
    params = default_parameters()
    s = stands(
        group=["杉木", "竹类", "外星树", None],
        area_ha=[2.0, 1.0, 1.0, 1.0],
        age_years=[math.nan] * 4,
        volume_m3_per_ha=[math.nan] * 4,
    )
    ex = ex_ante_tonnes(s, params, years=5)
    # 杉木 0.4 t/亩·a × 30 亩 = 12; 竹类 0.33 × 15 = 4.95; unknown group and no group: 0
    np.testing.assert_allclose(ex.per_stand[:, 0], [12.0, 4.95, 0.0, 0.0])
    assert ex.route.tolist() == [ROUTE_RATE, ROUTE_RATE, ROUTE_NONE, ROUTE_NONE]
    np.testing.assert_allclose(ex.tonnes, [16.95] * 5)
    assert ex.area_mu == pytest.approx(75.0)
    assert ex.summary()["by_route"]["default_rate"]["rows"] == 2


def test_ex_ante_growth_curve_from_the_start_year():
    params = default_parameters()
    curves = GrowthCurves.from_coefficients({"杉木": ("schumacher", 400.0, 20.0)})
    s = stands(
        group=["杉木", "杉木"],
        area_ha=[1.0, 3.0],
        age_years=[10.0, 10.0],
        volume_m3_per_ha=[100.0, 0.0],  # the second has no volume: default rate
    )
    ex = ex_ante_tonnes(s, params, curves, years=3, start_year=2026)  # survey 2024: 2 years on
    assert ex.years_from_survey == 2.0
    assert ex.route.tolist() == [ROUTE_GROWTH, ROUTE_RATE]

    # Schumacher anchored: V(t) = 100 · exp(20/10 − 20/t); f(杉木) = 1.191745 tCO2e/m³ (the
    # worked check of measurement.md); crediting year k covers ages 12 + k → 13 + k.
    def v(t):
        return 100.0 * math.exp(20 / 10 - 20 / t)

    f = params.tco2e_per_m3()[params.index_of("杉木")]
    assert f == pytest.approx(1.191745, abs=1e-6)
    expected = [f * (v(13 + k) - v(12 + k)) for k in range(3)]
    np.testing.assert_allclose(ex.per_stand[0], expected, rtol=1e-12)
    np.testing.assert_allclose(ex.per_stand[1], [0.4 * 45] * 3)
    assert ex.summary()["growth_curves"]["hash"] == curves.aligned(params.groups).hash


def test_ex_ante_feeds_feasibility():
    params = default_parameters()
    s = stands(group=["杉木"] * 3, area_ha=[10.0, 20.0, 30.0])
    ex = ex_ante_tonnes(s, params, years=20)
    result = evaluate(FeasibilityInputs(ex.tonnes, ex.area_mu, Timeline(2026, 20), CCER_PRICES[1]))
    # 900 亩 × 0.4 = 360 t a year; four verifications of 5 × 360 = 1800 t each
    assert result.totals()["tonnes_issued"] == 4 * 1800
    assert result.table["tonnes_issued"][[5, 10, 15, 20]].tolist() == [1800] * 4


def test_ex_ante_refuses_a_start_before_the_survey():
    params = default_parameters()
    s = stands(group=["杉木"], area_ha=[1.0])
    with pytest.raises(InputError):
        ex_ante_tonnes(s, params, years=5, start_year=2020)
    with pytest.raises(InputError):
        ex_ante_tonnes(s, params, years=0)
