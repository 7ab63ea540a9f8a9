"""Rule sets as data: every shipped rule with a passing and a failing sub-compartment, the
missing-data policy, the agreement with the measurement code, hashes, and file validation."""

from __future__ import annotations

import math
from importlib.resources import files

import numpy as np
import pytest

from tanhui.develop import rules as r
from tanhui.develop.rules import (
    RuleError,
    build_rule_set,
    load_rule_file,
    load_scheme,
    parse_rules,
    scheme_names,
)
from tanhui.develop.screening import (
    example_problems,
    rule_bits,
    screen,
    screen_naive,
    stands_from_rows,
)
from tanhui.errors import ParameterError
from tanhui.measure.methods import METHODS
from tanhui.measure.methods import ccer_afforestation as ccer
from tanhui.measure.params import default_parameters

SCHEMES = ("ccer-afforestation", "forest-management", "guizhou-ticket", "smcer", "stop-logging")
PARAMS = default_parameters()


def all_rules():
    for scheme in scheme_names():
        for rule in load_scheme(scheme).rules:
            yield pytest.param(scheme, rule.id, id=f"{scheme}:{rule.id}")


def bits_of(rule_set, row):
    """Reason bits of one example row, through both engines (they must agree)."""
    stands = stands_from_rows([row])
    registered = np.array([bool(row.get("registered", False))])
    start = row.get("start_year")
    fast = screen(stands, rule_set, PARAMS, registered=registered, start_year=start)
    slow = screen_naive(stands, rule_set, PARAMS, registered=registered, start_year=start)
    assert fast.reasons.tolist() == slow.reasons.tolist()
    return int(fast.reasons[0])


def test_shipped_schemes():
    assert scheme_names() == SCHEMES
    for scheme in SCHEMES:
        rs = load_scheme(scheme)
        assert rs.scheme == scheme and rs.version and rs.source
        assert rs.methodology in METHODS
        assert rs.title_zh and rs.title_en
        assert rs.origin == f"shipped {scheme}.toml"
        assert 0 < len(rs) <= 64
        assert len(set(rs.ids)) == len(rs.ids)


def test_rule_files_are_package_data():
    folder = files("tanhui.develop").joinpath("rules")
    assert sorted(p.name for p in folder.iterdir() if p.name.endswith(".toml")) == [
        f"{s}.toml" for s in SCHEMES
    ]


@pytest.mark.parametrize(("scheme", "rule_id"), list(all_rules()))
def test_each_rule_has_a_passing_and_a_failing_sub_compartment(scheme, rule_id):
    rs = load_scheme(scheme)
    bit = rs.index_of(rule_id)
    rule = rs.rules[bit]
    assert rule.examples.get("pass"), f"{scheme}:{rule_id} has no pass example"
    assert rule.examples.get("fail"), f"{scheme}:{rule_id} has no fail example"
    assert rule.status in ("verified", "to confirm", "inference")
    assert rule.source and rule.zh and rule.en
    for fragment in rule.examples["pass"]:
        assert not bits_of(rs, {**rs.example, **fragment}) >> bit & 1, fragment
    for fragment in rule.examples["fail"]:
        assert bits_of(rs, {**rs.example, **fragment}) >> bit & 1, fragment


@pytest.mark.parametrize("scheme", SCHEMES)
def test_scheme_example_is_eligible_and_examples_behave(scheme):
    rs = load_scheme(scheme)
    assert bits_of(rs, rs.example) == 0
    assert example_problems(rs) == []


@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_missing_value_never_passes_silently(scheme):
    """Blank each column the rules read, one at a time, on the eligible example: the row must
    fail, and with a rule of its own that says the value is missing."""
    rs = load_scheme(scheme)
    for column in rs.columns():
        blank = "" if column in r.CATEGORY_COLUMNS else math.nan
        bits = bits_of(rs, {**rs.example, column: blank})
        assert bits, f"{scheme}: a missing {column} passes"
        failed = [rs.rules[b] for b in range(len(rs)) if bits >> b & 1]
        assert any(names_missing(x.check, column) for x in failed), (
            f"{scheme}: a missing {column} fails only {[x.id for x in failed]}"
        )


def names_missing(check, column):
    """Whether the check has a part that fails because ``column`` is missing."""
    if check.checks:
        return any(names_missing(c, column) for c in check.checks)
    return check.column == column and (check.op == "missing" or check.when_missing == "fail")


def test_registered_elsewhere_without_an_id_set_is_reported_unchecked():
    for scheme in SCHEMES:
        rs = load_scheme(scheme)
        result = screen(stands_from_rows([rs.example]), rs, PARAMS)
        assert result.unchecked == ("registered_elsewhere",)
        assert result.eligible.tolist() == [True]  # when_missing = "pass", and reported
        checked = screen(stands_from_rows([rs.example]), rs, PARAMS, registered=np.array([True]))
        assert checked.unchecked == ()
        assert checked.reasons_of() == [["registered_elsewhere"]]


def test_guizhou_rules_are_marked_to_confirm():
    rs = load_scheme("guizhou-ticket")
    assert "[I] design inference" in rs.source
    for rule in rs.rules:
        assert rule.status == "to confirm"
        assert "[I] design inference" in rule.source


def test_the_issue_reasons_exist():
    """Forest category, land history, parcel size, tenure unclear, already registered elsewhere,
    age class, wetland: each is a reason of some scheme."""
    ids = {rule_id for s in SCHEMES for rule_id in load_scheme(s).ids}
    for rule_id in (
        "not_commercial_forest",
        "land_history_unknown",
        "was_forest",
        "parcel_too_small",
        "tenure_unclear",
        "registered_elsewhere",
        "not_young_or_middle_aged",
        "wetland",
    ):
        assert rule_id in ids


# ------------------------------------------------------------------------ agreement with the code


def test_ccer_rules_use_the_method_constants():
    rs = load_scheme("ccer-afforestation")
    by_id = {x.id: x.check for x in rs.rules}
    assert set(by_id["was_forest"].values) == set(ccer.FOREST_LAND)
    assert by_id["economic_forest"].values == ccer.ECONOMIC_WORDS
    assert by_id["urban_greening"].values == ccer.URBAN_WORDS
    assert by_id["tenure_unclear"].values == ccer.TENURE_UNCLEAR_WORDS
    for check in by_id["wetland"].checks:
        assert check.values == ccer.WETLAND_WORDS
    small = by_id["parcel_too_small"]
    for year in (None, 2010, 2019, 2019.5, 2020, 2030):
        assert small.threshold(year) == ccer.min_area_ha(year)
    assert by_id["forest_within_3_years"].threshold(None) == ccer.MIN_NONFOREST_YEARS
    assert r.TOLERANCE == ccer.AREA_TOLERANCE_HA


def test_column_tables_mirror_the_inventory_schema():
    from tanhui.inventory import schema

    numbers = {c.name: c.unit for c in schema.COLUMNS if c.kind == "float"}
    assert numbers == r.NUMBER_COLUMNS
    assert set(schema.CATEGORY_COLUMNS) == set(r.CATEGORY_COLUMNS)
    assert r.AREA_UNITS["mu"] == schema.MU_PER_HA


def test_units_convert_to_the_column_unit():
    def threshold(unit, value):
        doc = one_rule({"op": "lt", "column": "area_ha", "value": value, "unit": unit})
        return build_rule_set(doc).rules[0].check.threshold(None)

    assert threshold("m2", 400) == 0.04
    assert threshold("平方米", 667) == 0.0667
    assert threshold("mu", 1) == 1 / 15
    assert threshold("亩", 3) == 0.2
    assert threshold("ha", 2) == 2.0


# ------------------------------------------------------------------------ hash and provenance


def test_hash_is_stable_and_covers_what_decides_a_result():
    a, b = load_scheme("smcer"), load_scheme("smcer")
    assert a.hash == b.hash and len(a.hash) == 64
    assert a.describe() == {
        "scheme": "smcer",
        "version": a.version,
        "methodology": "smcer",
        "origin": "shipped smcer.toml",
        "hash": a.hash,
    }
    hashes = {load_scheme(s).hash for s in SCHEMES}
    assert len(hashes) == len(SCHEMES)
    text = files("tanhui.develop").joinpath("rules", "smcer.toml").read_text("utf-8")
    # Examples are not hashed; the order, texts and checks are.
    changed_example = text.replace(
        "examples = { pass = { area_ha = 0.1 }", "examples = { pass = { area_ha = 0.2 }"
    )
    assert changed_example != text
    assert parse_rules(changed_example, origin="x").hash == a.hash
    changed_text = text.replace("缺少小班面积：请补充面积。", "缺少面积。")
    assert parse_rules(changed_text, origin="x").hash != a.hash


# ------------------------------------------------------------------------ user files


def one_rule(check, **extra):
    return {
        "scheme": "mine",
        "version": "1",
        "title_zh": "测试",
        "title_en": "test",
        "methodology": "smcer",
        "source": "test",
        "example": {"area_ha": 1.0},
        "rules": [
            {
                "id": "r1",
                "zh": "不合格",
                "en": "fails",
                "source": "test",
                "status": "inference",
                "check": {"when_missing": "pass", **check},
                "examples": {"pass": {}, "fail": {}},
                **extra,
            }
        ],
    }


BAD_FILE = """
scheme = "My Scheme"
version = "1"
title_zh = "坏的"
methodology = "no-such-method"
source = "test"
colour = "red"

[example]
area_ha = "big"
height = 3

[[rules]]
id = "unknown_column"
zh = "x"
en = "x"
source = "s"
status = "verified"
check = { op = "in", column = "colour", values = ["红"], when_missing = "pass" }
examples = { pass = {}, fail = {} }

[[rules]]
id = "unknown_op"
zh = "x"
en = "x"
source = "s"
status = "maybe"
check = { op = "between", column = "area_ha" }
examples = { pass = {}, fail = {} }

[[rules]]
id = "BadId"
zh = "x"
en = "x"
source = "s"
status = "verified"
check = { op = "in", column = "tenure", values = "集体", when_missing = "pass" }

[[rules]]
id = "number_op_on_category"
zh = "x"
en = "x"
source = "s"
status = "verified"
check = { op = "lt", column = "tenure", value = 3, when_missing = "pass" }
examples = { pass = {}, fail = {} }

[[rules]]
id = "bad_unit_and_missing_policy"
zh = "x"
en = "x"
source = "s"
status = "verified"
check = { op = "lt", column = "area_ha", value = 400, unit = "acre" }
examples = { pass = {}, fail = {} }

[[rules]]
id = "bad_unit_and_missing_policy"
zh = "x"
en = "x"
source = "s"
status = "verified"
check = { op = "any", checks = [{ op = "contains_any", column = "land_type", values_from = "nowhere.LIST", when_missing = "maybe" }] }
examples = { pass = {}, fail = {} }
"""


def test_a_bad_file_lists_every_problem(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(BAD_FILE, encoding="utf-8")
    with pytest.raises(RuleError) as caught:
        load_rule_file(path)
    error = caught.value
    assert isinstance(error, ParameterError)  # one exception tree
    codes = [p.code for p in error.problems]
    for code in (
        "bad_scheme_id",
        "unknown_methodology",
        "missing_field",  # title_en, and the examples of BadId
        "unknown_field",  # colour
        "bad_value",  # example area "big"; values = "集体"
        "unknown_column",  # colour, example height
        "unknown_op",
        "bad_status",
        "bad_rule_id",
        "missing_examples",
        "op_not_for_column",
        "unknown_unit",
        "missing_when_missing",
        "duplicate_rule_id",
        "unknown_values_from",
        "bad_when_missing",
    ):
        assert code in codes, code
    where = {p.column for p in error.problems}
    assert "title_en" in where and "example.height" in where
    assert any(w and w.startswith("rules[1] (unknown_op).check.op") for w in where)
    # The message names every problem, in both languages.
    assert str(len(error.problems)) in error.en and "colour" in error.en
    assert "colour" in error.zh and error.hint_en


def test_toml_syntax_and_unreadable_files(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text('scheme = "x\n', encoding="utf-8")
    with pytest.raises(RuleError) as caught:
        load_rule_file(path)
    assert caught.value.problems[0].code == "toml_syntax"
    with pytest.raises(RuleError) as caught:
        load_rule_file(tmp_path / "absent.toml")
    assert caught.value.problems[0].code == "unreadable"
    gbk = tmp_path / "gbk.toml"
    gbk.write_bytes('scheme = "林业"'.encode("gbk"))
    with pytest.raises(RuleError) as caught:
        load_rule_file(gbk)
    assert caught.value.problems[0].code == "encoding"
    with pytest.raises(RuleError) as caught:
        load_scheme("vcs")
    assert "smcer" in caught.value.en


def test_a_user_file_replaces_a_scheme(tmp_path):
    doc = one_rule(
        {"op": "lt", "column": "area_ha", "value": 1, "unit": "mu"},
        examples={"pass": {"area_ha": 0.07}, "fail": {"area_ha": 0.06}},
    )
    rs = build_rule_set(doc, origin="file mine.toml")
    assert rs.ids == ("r1",) and rs.scheme == "mine"
    stands = stands_from_rows([{"area_ha": 0.07}, {"area_ha": 0.06}, {"area_ha": 1 / 15}])
    assert rule_bits(stands, rs).tolist() == [0, 1, 0]
    assert example_problems(rs) == []
    with pytest.raises(RuleError) as caught:
        build_rule_set(doc, scheme="smcer")
    assert caught.value.problems[0].code == "scheme_mismatch"


def test_a_user_file_extends_a_scheme(tmp_path):
    path = tmp_path / "mingxi.toml"
    path.write_text(
        """
extends = "ccer-afforestation"
remove = ["registered_elsewhere"]

[[rules]]
id = "parcel_too_small"
zh = "地块小于 1 亩。"
en = "The parcel is smaller than 1 mu."
source = "明溪县内部要求（示例）"
status = "to confirm"
check = { op = "lt", column = "area_ha", value = 1, unit = "亩", when_missing = "pass" }
examples = { pass = { area_ha = 0.07 }, fail = { area_ha = 0.06 } }

[[rules]]
id = "old_stand"
zh = "成熟林、过熟林不纳入。"
en = "Mature and over-mature stands are left out."
source = "示例"
status = "inference"
check = { op = "in", column = "age_class", values = ["成熟林", "过熟林"], when_missing = "pass" }
examples = { pass = { age_class = "幼龄林" }, fail = { age_class = "过熟林" } }
""",
        encoding="utf-8",
    )
    base = load_scheme("ccer-afforestation")
    rs = load_rule_file(path, scheme="ccer-afforestation")
    assert rs.scheme == "ccer-afforestation"
    assert rs.version == f"{base.version}+mingxi.toml"
    assert rs.origin == "shipped ccer-afforestation.toml + file mingxi.toml"
    assert "registered_elsewhere" not in rs.ids
    assert rs.ids[-1] == "old_stand"
    assert rs.index_of("parcel_too_small") == base.index_of("parcel_too_small")  # in place
    assert rs.rules[rs.index_of("parcel_too_small")].status == "to confirm"
    assert rs.hash != base.hash
    assert example_problems(rs) == []
    with pytest.raises(RuleError) as caught:
        load_rule_file(path, scheme="smcer")
    assert caught.value.problems[0].code == "scheme_mismatch"


def test_an_extension_cannot_remove_an_unknown_rule():
    with pytest.raises(RuleError) as caught:
        build_rule_set({"extends": "smcer", "remove": ["nope"]})
    assert [p.code for p in caught.value.problems] == ["unknown_rule"]
    with pytest.raises(RuleError) as caught:
        build_rule_set({"extends": "vcs"})
    assert caught.value.problems[0].code == "unknown_extends"


def test_more_than_64_rules_are_refused():
    doc = one_rule({"op": "missing", "column": "tenure"})
    rule = doc["rules"][0]
    doc["rules"] = [
        {**rule, "id": f"r{i}", "check": {"op": "missing", "column": "tenure"}} for i in range(65)
    ]
    with pytest.raises(RuleError) as caught:
        build_rule_set(doc)
    assert [p.code for p in caught.value.problems] == ["too_many_rules"]


def test_examples_that_misbehave_are_reported():
    doc = one_rule(
        {"op": "lt", "column": "area_ha", "value": 400, "unit": "m2"},
        examples={"pass": {"area_ha": 0.01}, "fail": {"area_ha": 5.0}},
    )
    problems = example_problems(build_rule_set(doc))
    assert [p.code for p in problems] == ["example_pass_misbehaves", "example_fail_misbehaves"]
    doc["example"] = {"area_ha": 0.001}
    problems = example_problems(build_rule_set(doc))
    assert problems[0].code == "example_not_eligible"


def test_a_set_without_rules_is_refused():
    doc = one_rule({"op": "missing", "column": "tenure"})
    doc["rules"] = []
    with pytest.raises(RuleError) as caught:
        build_rule_set(doc)
    assert [p.code for p in caught.value.problems] == ["no_rules"]
