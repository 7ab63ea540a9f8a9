"""``ccer-afforestation``: removals with and without a baseline, each eligibility condition."""

from __future__ import annotations

import numpy as np
import pytest

from tanhui.measure.kernels import BIT
from tanhui.measure.methods import get_method
from tanhui.measure.methods.base import (
    MATCHED,
    ONLY_BASELINE,
    ONLY_CURRENT,
    MethodInputs,
    MethodOptions,
)

CCER = get_method("ccer-afforestation")

GOOD = {
    "area_ha": 2.0,
    "volume_m3_per_ha": 60.0,
    "species_group": "杉木",
    "forest_type": "防护林",
    "land_type": "乔木林地",
    "prior_land_type": "宜林地",
    "nonforest_years": 10.0,
    "tenure": "集体",
}


def rows(make_stands, *changes):
    """Stands of one eligible row followed by one row per dict of changes."""
    all_rows = [GOOD] + [{**GOOD, **c} for c in changes]
    return make_stands(**{col: [r[col] for r in all_rows] for col in GOOD})


def both(inputs):
    return CCER.compute(inputs), CCER.compute_naive(inputs)


def test_without_baseline_start_stock_is_zero(params, make_stands):
    # 2 ha 杉木 60 m³/ha: 2 · 60 · 1.1917447 = 143.009369 − 0 (non-forest land at the start)
    for out in both(MethodInputs(rows(make_stands), params)):
        assert out.tco2e[0] == pytest.approx(143.009369, abs=1e-6)
        assert out.columns["stock_t1"][0] == 0.0
        assert out.columns["baseline_removals"][0] == 0.0 and out.columns["leakage"][0] == 0.0
        assert out.reasons[0] == 0
        assert out.notes


def test_with_baseline(params, make_stands):
    # C2 − C1 = 2 · 60 · 1.1917447 − 2 · 5 · 1.1917447 = 143.009369 − 11.917447 = 131.091921
    later = rows(make_stands)
    earlier = make_stands(area_ha=[2], volume_m3_per_ha=[5], species_group=["杉木"])
    inputs = MethodInputs(later, params, baseline=earlier, match=np.array([MATCHED]))
    for out in both(inputs):
        assert out.tco2e[0] == pytest.approx(131.091921, abs=1e-6)
        assert out.columns["project_removals"][0] == out.tco2e[0]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"forest_type": "经济林"}, "economic_forest"),
        ({"land_type": "城市绿化用地"}, "urban_greening"),
        ({"land_type": "道路"}, "urban_greening"),
        ({"prior_land_type": None}, "land_history_unknown"),
        ({"prior_land_type": "乔木林地"}, "was_forest"),
        ({"prior_land_type": "有林地"}, "was_forest"),
        ({"prior_land_type": "竹林地"}, "was_forest"),
        ({"prior_land_type": "特殊灌木林地"}, "was_forest"),
        ({"nonforest_years": 2.0}, "forest_within_3_years"),
        ({"tenure": None}, "tenure_unclear"),
        ({"tenure": "权属不清"}, "tenure_unclear"),
        ({"tenure": "有争议"}, "tenure_unclear"),
        ({"tenure": "未确权"}, "tenure_unclear"),
        ({"land_type": "湿地"}, "wetland"),
        ({"prior_land_type": "沿海湿地"}, "wetland"),
        ({"area_ha": 0.03}, "parcel_too_small"),
        ({"area_ha": None}, "missing_area"),
        ({"volume_m3_per_ha": None}, "missing_volume"),
        ({"species_group": "竹类"}, "no_volume_parameters"),
    ],
)
def test_each_condition_fails_alone(params, make_stands, change, code):
    for out in both(MethodInputs(rows(make_stands, change), params)):
        assert out.reasons.tolist() == [0, BIT[code]]
        assert out.tco2e[0] > 0 and out.tco2e[1] == 0.0


@pytest.mark.parametrize(
    "prior",
    ["宜林地", "无立木林地", "耕地", "草地", "荒山荒地", "其他宜林地", "未利用地", "疏林地"],
)
def test_non_forest_prior_land_passes(params, make_stands, prior):
    out = CCER.compute(MethodInputs(rows(make_stands, {"prior_land_type": prior}), params))
    assert out.reasons.tolist() == [0, 0]


def test_nonforest_years_boundary_and_missing(params, make_stands):
    stands = rows(make_stands, {"nonforest_years": 3.0}, {"nonforest_years": None})
    assert CCER.compute(MethodInputs(stands, params)).reasons.tolist() == [0, 0, 0]


@pytest.mark.parametrize(
    ("area_ha", "year_from", "small"),
    [
        (0.04, None, False),  # exactly 400 m²
        (0.0399, None, True),
        (0.05, 2020, False),
        (0.05, 2019, True),  # started in or before 2019: 667 m²
        (0.0667, 2019, False),
        (0.0666, 2015, True),
    ],
)
def test_parcel_size_threshold(params, make_stands, area_ha, year_from, small):
    stands = rows(make_stands, {"area_ha": area_ha})
    options = MethodOptions(year_from=year_from)
    for out in both(MethodInputs(stands, params, options)):
        assert out.reasons[1] == (BIT["parcel_too_small"] if small else 0)


def test_several_failures_set_several_bits(params, make_stands):
    stands = rows(make_stands, {"forest_type": "经济林", "tenure": None, "area_ha": 0.01})
    out = CCER.compute(MethodInputs(stands, params))
    want = BIT["economic_forest"] | BIT["tenure_unclear"] | BIT["parcel_too_small"]
    assert out.reasons[1] == want


def test_unmatched_rows(params, make_stands):
    # 0 MATCHED eligible: 131.091921 (as above)
    # 1 ONLY_CURRENT: not credited
    # 2 ONLY_BASELINE, an eligible project parcel in the baseline, 1 ha 杉木 10 m³/ha, lost:
    #   −1 · 10 · 1.1917447 = −11.917447
    # 3 ONLY_BASELINE, a forest that was never afforestation land (prior 有林地): outside the
    #   project, counts 0
    later = make_stands(**{c: [GOOD[c], GOOD[c], None, None] for c in GOOD})
    earlier_rows = [
        {**GOOD, "area_ha": 2, "volume_m3_per_ha": 5},
        dict.fromkeys(GOOD),
        {**GOOD, "area_ha": 1, "volume_m3_per_ha": 10},
        {**GOOD, "area_ha": 1, "volume_m3_per_ha": 10, "prior_land_type": "有林地"},
    ]
    earlier = make_stands(**{c: [r[c] for r in earlier_rows] for c in GOOD})
    match = np.array([MATCHED, ONLY_CURRENT, ONLY_BASELINE, ONLY_BASELINE], dtype=np.int8)
    for out in both(MethodInputs(later, params, baseline=earlier, match=match)):
        np.testing.assert_allclose(out.tco2e, [131.091921, 0.0, -11.917447, 0.0], atol=1e-6)
        assert out.reasons.tolist() == [
            0,
            BIT["not_in_baseline"],
            BIT["not_in_current"],
            BIT["not_in_current"] | BIT["was_forest"],
        ]
