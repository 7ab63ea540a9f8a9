"""The screening core: hand-computed results, the vectorized engine against the naive reference
on random inventories and random rule sets, expected tonnes, totals and inputs."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tanhui.develop.rules import build_rule_set, load_scheme, scheme_names
from tanhui.develop.screening import (
    ESTIMATE_NONE,
    ESTIMATE_RATE,
    UNKNOWN_LABEL,
    Screening,
    rule_bits,
    screen,
    screen_naive,
    stands_from_rows,
)
from tanhui.errors import InputError
from tanhui.measure.growth import GrowthCurves
from tanhui.measure.methods import ccer_afforestation as ccer
from tanhui.measure.params import default_parameters
from tanhui.measure.stands import Stands

PARAMS = default_parameters()
SCHEMES = scheme_names()
RULE_SETS = {name: load_scheme(name) for name in SCHEMES}
FIR = 0.307 * 1.634 * 1.246 * 0.520 * 44 / 12  # 杉木 tCO2e per m³ (species_params.csv)

# ------------------------------------------------------------------------ a hand-computed table

TINY = [
    # eligible: 2 ha 杉木 at 0.4 t/亩·a = 2 · 15 · 0.4 = 12
    dict(area_ha=2.0, species_group="杉木", land_type="乔木林地", tenure="集体", village="甲村",
         owner="张三", township="城关镇"),
    # eligible: 1 ha 马尾松 = 1 · 15 · 0.4 = 6
    dict(area_ha=1.0, species_group="马尾松", land_type="乔木林地", tenure="个人", village="甲村",
         owner="李四", township="城关镇"),
    # eligible: 3 ha 竹类 at 0.33 = 3 · 15 · 0.33 = 14.85
    dict(area_ha=3.0, species_group="竹类", land_type="竹林地", tenure="国有", village="乙村",
         owner="国有林场", township="城关镇"),
    # eligible, but 桉树 has no default rate: no estimate
    dict(area_ha=4.0, species_group="桉树", land_type="乔木林地", tenure="集体", village="乙村",
         owner="张三", township="城关镇"),
    # not forest land
    dict(area_ha=5.0, species_group="杉木", land_type="未成林造林地", tenure="集体",
         village="乙村", owner="王五", township="城关镇"),
    # tenure missing, village missing
    dict(area_ha=1.0, species_group="杉木", land_type="乔木林地", tenure="", village="",
         owner="李四", township="城关镇"),
    # registered elsewhere; village written with stray spaces
    dict(area_ha=2.0, species_group="杉木", land_type="乔木林地", tenure="集体", village=" 甲村 ",
         owner="张三", township="城关镇"),
]  # fmt: skip
REGISTERED = np.array([False] * 6 + [True])


def tiny(engine=screen, **options) -> Screening:
    return engine(
        stands_from_rows(TINY),
        load_scheme("smcer"),
        PARAMS,
        registered=REGISTERED,
        crediting_years=20,
        **options,
    )


@pytest.mark.parametrize("engine", [screen, screen_naive])
def test_hand_computed_screening(engine):
    s = tiny(engine)
    smcer = load_scheme("smcer")
    assert smcer.ids == (
        "area_unknown",
        "land_type_unknown",
        "not_forest_land",
        "tenure_unknown",
        "tenure_unclear",
        "registered_elsewhere",
    )
    assert s.reasons.dtype == np.uint64
    assert s.reasons.tolist() == [0, 0, 0, 0, 1 << 2, 1 << 3, 1 << 5]
    assert s.eligible.tolist() == [True] * 4 + [False] * 3
    assert s.reasons_of() == [[], [], [], [], ["not_forest_land"], ["tenure_unknown"], ["registered_elsewhere"]]  # fmt: skip
    assert s.reason_counts() == {
        "area_unknown": 0,
        "land_type_unknown": 0,
        "not_forest_land": 1,
        "tenure_unknown": 1,
        "tenure_unclear": 0,
        "registered_elsewhere": 1,
    }
    expected = s.expected_tco2e_per_yr
    assert expected[:3].tolist() == pytest.approx([12.0, 6.0, 14.85], abs=1e-12)
    assert math.isnan(expected[3]) and expected[4:].tolist() == [0.0, 0.0, 0.0]
    assert s.estimate_source.tolist() == [ESTIMATE_RATE] * 3 + [ESTIMATE_NONE] * 4
    assert s.area_mu.tolist() == pytest.approx([30, 15, 45, 60, 75, 15, 30])
    assert s.unchecked == ()


def test_hand_computed_totals():
    s = tiny()
    total = s.totals()
    assert total == pytest.approx(
        {
            "rows": 7,
            "area_ha": 18.0,
            "eligible_rows": 4,
            "eligible_area_ha": 10.0,
            "eligible_area_mu": 150.0,
            "tco2e_per_yr": 32.85,
            "tco2e_crediting_period": 657.0,
            "eligible_rows_without_estimate": 1,
        }
    )
    by_village = s.totals_by("village")
    assert list(by_village) == ["乙村", "甲村", UNKNOWN_LABEL]  # by eligible area
    assert by_village["乙村"] == pytest.approx(
        {
            "rows": 3,
            "area_ha": 12.0,
            "eligible_rows": 2,
            "eligible_area_ha": 7.0,
            "eligible_area_mu": 105.0,
            "tco2e_per_yr": 14.85,
            "tco2e_crediting_period": 297.0,
            "eligible_rows_without_estimate": 1,
        }
    )
    # " 甲村 " and "甲村" are one village
    assert by_village["甲村"] == pytest.approx(
        {
            "rows": 3,
            "area_ha": 5.0,
            "eligible_rows": 2,
            "eligible_area_ha": 3.0,
            "eligible_area_mu": 45.0,
            "tco2e_per_yr": 18.0,
            "tco2e_crediting_period": 360.0,
            "eligible_rows_without_estimate": 0,
        }
    )
    assert by_village[UNKNOWN_LABEL]["rows"] == 1
    assert by_village[UNKNOWN_LABEL]["eligible_rows"] == 0
    by_owner = s.totals_by("owner")
    assert by_owner["张三"]["rows"] == 3 and by_owner["张三"]["eligible_area_ha"] == 6.0
    assert by_owner["张三"]["tco2e_per_yr"] == pytest.approx(12.0)
    assert by_owner["王五"]["eligible_rows"] == 0
    by_group = s.totals_by("species_group")
    assert by_group["杉木"]["rows"] == 4 and by_group["杉木"]["tco2e_per_yr"] == pytest.approx(12)
    assert by_group["桉树"]["eligible_rows_without_estimate"] == 1
    assert s.totals_by("township")["城关镇"]["eligible_area_mu"] == pytest.approx(150.0)
    # The breakdowns add up to the total.
    for key in ("village", "owner", "species_group", "township"):
        entries = s.totals_by(key).values()
        assert sum(e["rows"] for e in entries) == 7
        assert sum(e["tco2e_per_yr"] for e in entries) == pytest.approx(total["tco2e_per_yr"])
    with pytest.raises(InputError):
        s.totals_by("area_ha")


def test_without_a_crediting_period_there_are_no_period_tonnes():
    s = screen(stands_from_rows(TINY), load_scheme("smcer"), PARAMS)
    assert s.totals()["tco2e_crediting_period"] is None
    assert s.unchecked == ("registered_elsewhere",)
    assert s.eligible.sum() == 5  # the registered row passes, reported as not checked


class LinearGrowth:
    """A fake growth model: +10 m³/ha per year for groups with a curve, NaN for the others."""

    def __init__(self, groups_with_curve):
        self.curve = np.array([g in groups_with_curve for g in PARAMS.groups])

    def project(self, group_index, age0, volume0, age1):
        ok = self.curve[group_index]
        return np.where(ok, volume0 + 10.0 * (age1 - age0), np.nan)

    def describe(self):
        return {"family": "linear (test fake)"}


@pytest.mark.parametrize("engine", [screen, screen_naive])
def test_growth_route(engine):
    rows = [
        dict(area_ha=2.0, species_group="杉木", age_years=10.0, volume_m3_per_ha=80.0),
        dict(area_ha=2.0, species_group="杉木", age_years=10.0, volume_m3_per_ha=0.0),  # V = 0
        dict(area_ha=3.0, species_group="竹类", age_years=5.0, volume_m3_per_ha=50.0),  # no f
        dict(area_ha=4.0, species_group="桉树", age_years=4.0, volume_m3_per_ha=60.0),
        dict(area_ha=4.0, species_group="马尾松", age_years=4.0, volume_m3_per_ha=60.0),  # NaN
        dict(area_ha=4.0, species_group="桉树", age_years=math.nan, volume_m3_per_ha=60.0),
    ]
    for row in rows:
        row.update(land_type="乔木林地", tenure="集体")
    growth = LinearGrowth({"杉木", "桉树", "竹类"})
    s = engine(
        stands_from_rows(rows),
        load_scheme("smcer"),
        PARAMS,
        registered=np.zeros(len(rows), bool),
        growth=growth,
        crediting_years=30,
    )
    eucalyptus = 0.578 * 1.263 * 1.221 * 0.525 * 44 / 12
    assert s.expected_tco2e_per_yr[:4] == pytest.approx(
        [10 * 2 * FIR, 2 * 15 * 0.4, 3 * 15 * 0.33, 10 * 4 * eucalyptus], rel=1e-12
    )
    assert s.expected_tco2e_per_yr[4] == pytest.approx(4 * 15 * 0.4)  # curve NaN → rate
    assert math.isnan(s.expected_tco2e_per_yr[5])  # no age, no rate
    assert s.estimate_source.tolist() == [2, 1, 1, 2, 1, 0]
    assert s.growth == {"family": "linear (test fake)"} and s.growth_years == 30
    assert s.estimate_counts() == {"none": 1, "default_rate": 3, "growth": 2}


def test_growth_horizon_is_the_crediting_period_or_twenty_years():
    curves = GrowthCurves.from_coefficients({"杉木": ("richards", 350.0, 0.07, 2.5)}, PARAMS.groups)
    row = dict(area_ha=1.0, species_group="杉木", land_type="乔木林地", tenure="集体",
               age_years=8.0, volume_m3_per_ha=60.0)  # fmt: skip
    stands = stands_from_rows([row])
    reg = np.array([False])
    g = PARAMS.groups.index("杉木")

    def mai(years):
        v1 = curves.project(
            np.array([g]), np.array([8.0]), np.array([60.0]), np.array([8.0 + years])
        )
        return (v1[0] - 60.0) / years * FIR

    rs = load_scheme("smcer")
    default = screen(stands, rs, PARAMS, registered=reg, growth=curves)
    assert default.growth_years == 20 and default.growth["hash"] == curves.hash
    assert default.expected_tco2e_per_yr[0] == pytest.approx(mai(20), rel=1e-12)
    period = screen(stands, rs, PARAMS, registered=reg, growth=curves, crediting_years=40)
    assert period.expected_tco2e_per_yr[0] == pytest.approx(mai(40), rel=1e-12)
    horizon = screen(stands, rs, PARAMS, registered=reg, growth=curves, crediting_years=40,
                     growth_years=10)  # fmt: skip
    assert horizon.expected_tco2e_per_yr[0] == pytest.approx(mai(10), rel=1e-12)
    assert horizon.totals()["tco2e_crediting_period"] == pytest.approx(mai(10) * 40)


def test_parcel_size_depends_on_the_start_year():
    rs = load_scheme("ccer-afforestation")
    example = dict(rs.example)
    areas = [0.0399, 0.04, 0.04 - 2e-9, 0.0666, 0.0667, 0.05]
    stands = stands_from_rows([{**example, "area_ha": a} for a in areas])
    bit = 1 << rs.index_of("parcel_too_small")
    for start, small in (
        (None, [True, False, True, False, False, False]),
        (2020, [True, False, True, False, False, False]),
        (2019, [True, True, True, True, False, True]),
        (2016, [True, True, True, True, False, True]),
    ):
        bits = rule_bits(stands, rs, registered=np.zeros(len(areas), bool), start_year=start)
        assert ((bits & np.uint64(bit)) != 0).tolist() == small, start
        assert (ccer.min_area_ha(start) - 1e-9 > np.array(areas)).tolist() == small


def test_empty_inventory():
    empty = stands_from_rows([])
    for scheme in SCHEMES:
        for engine in (screen, screen_naive):
            s = engine(empty, load_scheme(scheme), PARAMS, registered=np.zeros(0, bool))
            assert len(s) == 0 and s.reasons.dtype == np.uint64
            assert s.totals()["rows"] == 0 and s.totals()["tco2e_per_yr"] == 0.0
            assert s.totals_by("village") == {}
            assert s.reasons_of() == []
            assert all(v == 0 for v in s.reason_counts().values())


def test_absent_columns_are_missing_values():
    """A Stands with area only: every missing-value rule fires, via read-only broadcast views."""
    stands = Stands({"area_ha": np.array([1.0, 2.0])}, {}, {})
    for scheme in SCHEMES:
        rs = load_scheme(scheme)
        fast = screen(stands, rs, PARAMS, registered=np.zeros(2, bool))
        slow = screen_naive(stands, rs, PARAMS, registered=np.zeros(2, bool))
        assert fast.reasons.tolist() == slow.reasons.tolist()
        assert not fast.eligible.any()
        assert "tenure_unknown" in fast.reasons_of()[0]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"registered": [True]}, "registered"),
        ({"registered": np.zeros(3, int)}, "registered"),
        ({"crediting_years": 0}, "crediting_years"),
        ({"crediting_years": math.inf}, "crediting_years"),
        ({"growth_years": -5}, "growth_years"),
        ({"start_year": math.nan}, "start_year"),
    ],
)
def test_invalid_options(kwargs, field):
    stands = stands_from_rows(TINY[:3])
    for engine in (screen, screen_naive):
        with pytest.raises(InputError) as caught:
            engine(stands, load_scheme("smcer"), PARAMS, **kwargs)
        assert caught.value.field == field


def test_summary_is_json_ready():
    import json

    summary = tiny().summary("zh")
    json.dumps(summary, ensure_ascii=False)
    assert summary["scheme"] == "smcer" and summary["title"] == "三明林业碳票（SMCER）"
    assert summary["rules"]["hash"] == load_scheme("smcer").hash
    reasons = {r["id"]: r for r in summary["reasons"]}
    assert reasons["not_forest_land"]["rows"] == 1
    assert reasons["registered_elsewhere"]["status"] == "verified"
    assert reasons["registered_elsewhere"]["checked"] is True
    assert summary["params"]["hash"] == PARAMS.hash
    assert tiny().summary("en")["reasons"][0]["reason"].startswith("The area is missing")


def test_screening_core_is_pure():
    code = (
        "import sys\n"
        "import tanhui.develop.screening, tanhui.develop.rules\n"
        "bad = sorted(m for m in ('pandas', 'pyarrow', 'tanhui.inventory', 'sqlalchemy',"
        " 'fastapi') if m in sys.modules)\n"
        "assert not bad, bad\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


# ------------------------------------------------------------------------ random inventories

POOLS = {
    "species_group": ("杉木", "马尾松", "桉树", "竹类", "未知树种", " 杉木 ", "湿地松", "毛竹"),
    "land_type": (
        "乔木林地",
        "竹林地",
        "未成林造林地",
        "城市绿化用地",
        "湿地",
        "特殊灌木林地",
        " ",
    ),
    "prior_land_type": ("宜林地", "耕地", "疏林地", "乔木林地", "有林地", "沿海湿地", "", "  "),
    "forest_type": ("防护林", "用材林", "经济林", "经济林（果）", "特用林"),
    "forest_category": ("公益林", "商品林", "重点公益林", "一般商品林"),
    "origin": ("人工", "天然", "人工促进天然更新", "飞播"),
    "age_class": ("幼龄林", "中龄林", "近熟林", "成熟林", "过熟林"),
    "tenure": ("集体", "国有", "个人", "权属不清", "有争议", "未确权"),
    "village": ("甲村", "乙村", " 甲村", "丙村"),
    "owner": ("张三", "李四", "王五"),
    "township": ("城关镇", "城关镇 ", "溪口乡"),
}
NUMBERS = {
    "area_ha": (math.nan, 0.0, 0.0399, 0.04, 0.04 - 1e-9, 0.04 - 2e-9, 0.0666, 0.0667, 0.5, 3.3),
    "nonforest_years": (math.nan, 0.0, 2.9, 3.0, 3.0 - 1e-10, 10.0),
    "age_years": (math.nan, 0.0, 1.0, 8.0, 30.0),
    "volume_m3_per_ha": (math.nan, 0.0, 20.0, 150.0),
    "planned_harvest_m3": (math.nan, 0.0, 1e-10, 5.0, 800.0),
    "harvest_m3": (math.nan, 0.0, 12.0),
}


@st.composite
def random_stands(draw) -> Stands:
    n = draw(st.integers(0, 25))
    numbers = {}
    for name, pool in NUMBERS.items():
        if name != "area_ha" and draw(st.booleans()) and draw(st.booleans()):
            continue  # the inventory has no such column
        numbers[name] = np.array(draw(st.lists(st.sampled_from(pool), min_size=n, max_size=n)))
    codes, labels = {}, {}
    for name, pool in POOLS.items():
        if draw(st.integers(0, 9)) == 0:
            continue
        chosen = tuple(draw(st.lists(st.sampled_from(pool), unique=True, max_size=len(pool))))
        codes[name] = np.array(
            draw(st.lists(st.integers(-1, len(chosen) - 1), min_size=n, max_size=n)),
            dtype=np.int32,
        ).reshape(n)
        labels[name] = chosen
    return Stands(numbers, codes, labels)


@st.composite
def options(draw, n):
    registered = draw(st.one_of(st.none(), st.lists(st.booleans(), min_size=n, max_size=n)))
    return {
        "registered": None if registered is None else np.array(registered, dtype=bool),
        "start_year": draw(st.sampled_from([None, 2015.0, 2019.0, 2019.5, 2020.0])),
        "crediting_years": draw(st.sampled_from([None, 20.0, 30.0])),
    }


def assert_same(fast: Screening, slow: Screening, *, rtol: float = 0.0) -> None:
    assert fast.reasons.dtype == slow.reasons.dtype == np.uint64
    assert fast.reasons.tolist() == slow.reasons.tolist()
    assert fast.eligible.tolist() == slow.eligible.tolist()
    assert fast.estimate_source.tolist() == slow.estimate_source.tolist()
    if rtol:
        np.testing.assert_allclose(
            fast.expected_tco2e_per_yr, slow.expected_tco2e_per_yr, rtol=rtol, equal_nan=True
        )
    else:
        assert np.array_equal(
            fast.expected_tco2e_per_yr, slow.expected_tco2e_per_yr, equal_nan=True
        )
    assert fast.unchecked == slow.unchecked
    assert fast.totals() == slow.totals() or (
        fast.totals() == pytest.approx(slow.totals(), nan_ok=True)
    )
    assert fast.reason_counts() == slow.reason_counts()


SLOW = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SLOW
@given(data=st.data(), stands=random_stands(), scheme=st.sampled_from(SCHEMES))
def test_vectorized_equals_naive_on_shipped_schemes(data, stands, scheme):
    opts = data.draw(options(len(stands)))
    rs = RULE_SETS[scheme]
    assert_same(screen(stands, rs, PARAMS, **opts), screen_naive(stands, rs, PARAMS, **opts))


CURVES = GrowthCurves.from_coefficients(
    {
        "杉木": ("richards", 350.0, 0.07, 2.5),
        "马尾松": ("schumacher", 300.0, 12.0),
        "桉树": ("richards", 250.0, 0.25, 2.0),
    },
    PARAMS.groups,
)


@SLOW
@given(data=st.data(), stands=random_stands(), scheme=st.sampled_from(SCHEMES))
def test_vectorized_equals_naive_with_growth(data, stands, scheme):
    opts = data.draw(options(len(stands)))
    rs = RULE_SETS[scheme]
    fast = screen(stands, rs, PARAMS, growth=CURVES, **opts)
    slow = screen_naive(stands, rs, PARAMS, growth=CURVES, **opts)
    assert_same(fast, slow, rtol=1e-12)


# Random rule sets over the whole vocabulary.
CATEGORY_COLUMNS = tuple(POOLS)
WORDS = ("林", "杉木", "湿地", "人工", "公益林", "商品", "不清", "甲村", "x")


def leaf_checks():
    missing = st.sampled_from(["pass", "fail"])
    category = st.builds(
        lambda op, column, values, when: {
            "op": op,
            "column": column,
            "values": values,
            "when_missing": when,
        },
        st.sampled_from(["in", "not_in", "contains_any", "contains_none"]),
        st.sampled_from(CATEGORY_COLUMNS),
        st.lists(st.sampled_from(WORDS + POOLS["land_type"][:3]), min_size=1, max_size=3),
        missing,
    )
    number = st.builds(
        lambda op, column, value, steps, when: {
            "op": op,
            "column": column,
            "value": value,
            "by_start_year": steps,
            "when_missing": when,
        },
        st.sampled_from(["lt", "le", "gt", "ge"]),
        st.sampled_from(tuple(NUMBERS)),
        st.sampled_from([0.0, 0.04, 3.0, 5.0, 400.0]),
        st.sampled_from([[], [{"until": 2019, "value": 0.0667}], [{"until": 2016, "value": 1.0}]]),
        missing,
    )
    area = st.builds(
        lambda op, value, unit, when: {
            "op": op,
            "column": "area_ha",
            "value": value,
            "unit": unit,
            "when_missing": when,
        },
        st.sampled_from(["lt", "le", "gt", "ge"]),
        st.sampled_from([400.0, 667.0, 1.0, 0.04]),
        st.sampled_from(["ha", "m2", "mu"]),
        missing,
    )
    presence = st.builds(
        lambda op, column: {"op": op, "column": column},
        st.sampled_from(["missing", "present"]),
        st.sampled_from(CATEGORY_COLUMNS + tuple(NUMBERS)),
    )
    registered = st.builds(
        lambda when: {"op": "registered_elsewhere", "when_missing": when}, missing
    )
    return st.one_of(category, number, area, presence, registered)


checks = st.recursive(
    leaf_checks(),
    lambda children: st.builds(
        lambda op, subs: {"op": op, "checks": subs},
        st.sampled_from(["all", "any"]),
        st.lists(children, min_size=1, max_size=3),
    ),
    max_leaves=6,
)


def random_rule_set(check_list):
    return build_rule_set(
        {
            "scheme": "random",
            "version": "1",
            "title_zh": "随机",
            "title_en": "random",
            "methodology": "smcer",
            "source": "hypothesis",
            "example": {},
            "rules": [
                {
                    "id": f"rule_{i}",
                    "zh": "x",
                    "en": "x",
                    "source": "x",
                    "status": "inference",
                    "check": check,
                    "examples": {"pass": {}, "fail": {}},
                }
                for i, check in enumerate(check_list)
            ],
        }
    )


@SLOW
@given(data=st.data(), stands=random_stands(), check_list=st.lists(checks, min_size=1, max_size=12))
def test_vectorized_equals_naive_on_random_rule_sets(data, stands, check_list):
    rs = random_rule_set(check_list)
    opts = data.draw(options(len(stands)))
    assert_same(screen(stands, rs, PARAMS, **opts), screen_naive(stands, rs, PARAMS, **opts))


def test_sixty_four_rules_use_every_bit():
    rs = random_rule_set([{"op": "present", "column": "area_ha"}] * 64)
    stands = stands_from_rows([{"area_ha": 1.0}, {"area_ha": math.nan}])
    for engine in (screen, screen_naive):
        s = engine(stands, rs, PARAMS)
        assert s.reasons.tolist() == [2**64 - 1, 0]
        assert s.reason_counts()["rule_63"] == 1


@SLOW
@given(stands=random_stands(), year=st.sampled_from([None, 2016.0, 2019.0, 2023.0]))
def test_ccer_rules_agree_with_the_measurement_method(stands, year):
    """Every reason the ccer-afforestation method checks is set on exactly the same rows; the
    method's tenure_unclear (missing or unclear) is tenure_unknown | tenure_unclear here."""
    rs = RULE_SETS["ccer-afforestation"]
    s = screen(stands, rs, PARAMS, start_year=year)
    method_bits = ccer.METHOD.eligibility_bits(stands, year)
    for reason in ccer.METHOD.reasons:
        if reason.code not in rs.ids:
            continue
        theirs = (method_bits & np.uint32(1 << reason.bit)) != 0
        ours = s.failed(reason.code)
        if reason.code == "tenure_unclear":
            ours = ours | s.failed("tenure_unknown")
        assert ours.tolist() == theirs.tolist(), reason.code
