"""``smcer``: volume route, default-rate route, unmatched rows, reserve, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tanhui.errors import MethodError
from tanhui.measure.kernels import BIT
from tanhui.measure.methods import get_method
from tanhui.measure.methods.base import (
    MATCHED,
    ONLY_BASELINE,
    ONLY_CURRENT,
    MethodInputs,
    MethodOptions,
)

SMCER = get_method("smcer")
FIVE_YEARS = MethodOptions(year_from=2016, year_to=2021)


def both(inputs):
    """Run the kernel and the reference; the hand values must hold for both."""
    return SMCER.compute(inputs), SMCER.compute_naive(inputs)


def test_bamboo_default_rate(params, make_stands):
    # 100 亩 = 100/15 ha of 竹类 × 0.33 tCO2e/亩·a × 5 years = 165 tCO2e
    stands = make_stands(area_ha=[100 / 15], species_group=["竹类"])
    for out in both(MethodInputs(stands, params, FIVE_YEARS)):
        assert out.tco2e[0] == pytest.approx(165.0, rel=1e-12)
        assert out.columns["default_rate"][0] == 0.33
        assert out.columns["harvest_loss"][0] == 0.0
        assert out.reasons[0] == 0
        assert out.deductions == {"reserve": 0.0}
        assert out.notes  # no baseline: every row uses the default rate


def test_fir_default_rate_with_disturbance_and_harvest(params, make_stands):
    # 2 ha = 30 亩 杉木, no volumes: 0.4 · 30 · 5 · (1 − 0.1) = 54
    # harvest 20 m³ · 1.1917447 = 23.834895;  54 − 23.834895 = 30.165105
    stands = make_stands(
        area_ha=[2], species_group=["杉木"], disturbance_share=[0.1], harvest_m3=[20]
    )
    for out in both(MethodInputs(stands, params, FIVE_YEARS)):
        assert out.columns["default_increment"][0] == pytest.approx(54.0, rel=1e-12)
        assert out.columns["harvest_loss"][0] == pytest.approx(23.834895, abs=1e-6)
        assert out.tco2e[0] == pytest.approx(30.165105, abs=1e-6)


def test_volume_route_does_not_deduct_harvest_again(params, make_stands):
    # 2 ha 杉木 100 → 130 m³/ha: 2 · 130 · 1.1917447 − 2 · 100 · 1.1917447 = 71.504684
    # The 50 m³ harvested already shows in the lower later volume: not deducted.
    later = make_stands(
        area_ha=[2], volume_m3_per_ha=[130], species_group=["杉木"], harvest_m3=[50]
    )
    earlier = make_stands(area_ha=[2], volume_m3_per_ha=[100], species_group=["杉木"])
    inputs = MethodInputs(later, params, baseline=earlier, match=np.array([MATCHED]))
    for out in both(inputs):  # no period needed: no row uses a default rate
        assert out.tco2e[0] == pytest.approx(71.504684, abs=1e-6)
        assert out.columns["delta"][0] == out.tco2e[0]
        assert math.isnan(out.columns["default_rate"][0])


def test_routes_and_unmatched_rows(params, make_stands):
    # 0 MATCHED 杉木 2 ha 100 → 130: volume route, 71.504684
    # 1 MATCHED 杉木 30 亩, later volume missing: default rate 0.4 · 30 · 5 = 60
    # 2 MATCHED 竹类 100 亩 (no volume parameters): 0.33 · 100 · 5 = 165
    # 3 MATCHED 桉树, volume missing, no default rate: 0, missing_volume | no_default_rate
    # 4 ONLY_CURRENT: 0, not_in_baseline
    # 5 ONLY_BASELINE 杉木 2 ha 100 m³/ha: −2 · 100 · 1.1917447 = −238.348948, not_in_current
    later = make_stands(
        area_ha=[2, 2, 100 / 15, 1, 5, None],
        volume_m3_per_ha=[130, None, None, None, 80, None],
        species_group=["杉木", "杉木", "竹类", "桉树", "杉木", None],
    )
    earlier = make_stands(
        area_ha=[2, 2, 100 / 15, 1, None, 2],
        volume_m3_per_ha=[100, 90, None, 40, None, 100],
        species_group=["杉木", "杉木", "竹类", "桉树", None, "杉木"],
    )
    match = np.array([MATCHED] * 4 + [ONLY_CURRENT, ONLY_BASELINE], dtype=np.int8)
    inputs = MethodInputs(later, params, FIVE_YEARS, baseline=earlier, match=match)
    for out in both(inputs):
        np.testing.assert_allclose(
            out.tco2e, [71.504684, 60.0, 165.0, 0.0, 0.0, -238.348948], atol=1e-6
        )
        assert out.reasons.tolist() == [
            0,
            0,
            0,
            BIT["missing_volume"] | BIT["no_default_rate"],
            BIT["not_in_baseline"],
            BIT["not_in_current"],
        ]
        assert out.columns["unmatched_effect"][5] == pytest.approx(-238.348948, abs=1e-6)


def test_harvested_without_factor(params, make_stands):
    # 竹类 with 10 m³ harvested: the harvest cannot be converted → 0, harvested_no_factor;
    # the same bamboo without harvest passes: 0.33 · 15 · 5 = 24.75
    stands = make_stands(area_ha=[1, 1], species_group=["竹类", "竹类"], harvest_m3=[10, None])
    for out in both(MethodInputs(stands, params, FIVE_YEARS)):
        assert out.reasons.tolist() == [BIT["harvested_no_factor"], 0]
        assert out.tco2e.tolist() == [0.0, pytest.approx(24.75)]


def test_group_reasons_on_the_default_route(params, make_stands):
    stands = make_stands(area_ha=[1, 1, None, 1], species_group=[None, "未知树种", "杉木", "杉木"])
    for out in both(MethodInputs(stands, params, FIVE_YEARS)):
        assert out.reasons.tolist() == [
            BIT["missing_species_group"],
            BIT["unknown_species_group"],
            BIT["missing_area"],
            0,
        ]
        assert out.tco2e[3] == pytest.approx(0.4 * 15 * 5)


def test_reserve_deduction(params, make_stands):
    # gross 165 (bamboo above); reserve 10 % = 16.5; total 148.5
    stands = make_stands(area_ha=[100 / 15], species_group=["竹类"])
    options = MethodOptions(year_from=2016, year_to=2021, reserve_share=0.1)
    for out in both(MethodInputs(stands, params, options)):
        assert out.deductions["reserve"] == pytest.approx(16.5)
        assert out.total == pytest.approx(148.5)


def test_reserve_is_zero_on_a_net_loss(params, make_stands):
    # 杉木 2 ha 100 → 50 m³/ha: a loss; the reserve applies to max(gross, 0) = 0
    later = make_stands(area_ha=[2], volume_m3_per_ha=[50], species_group=["杉木"])
    earlier = make_stands(area_ha=[2], volume_m3_per_ha=[100], species_group=["杉木"])
    options = MethodOptions(reserve_share=0.2)
    out = SMCER.compute(MethodInputs(later, params, options, baseline=earlier))
    assert out.gross < 0 and out.deductions["reserve"] == 0.0


def test_period_required_only_when_a_default_rate_is_used(params, make_stands):
    bamboo = make_stands(area_ha=[1], species_group=["竹类"])
    for compute in (SMCER.compute, SMCER.compute_naive):
        with pytest.raises(MethodError, match="period"):
            compute(MethodInputs(bamboo, params))
        with pytest.raises(MethodError, match="period"):
            compute(MethodInputs(bamboo, params, MethodOptions(year_from=2021, year_to=2016)))
    # eucalyptus without a rate: 0 with a reason, no period needed
    out = SMCER.compute(MethodInputs(make_stands(area_ha=[1], species_group=["桉树"]), params))
    assert out.reasons[0] == BIT["no_default_rate"]


def test_invalid_reserve_share(params, make_stands):
    stands = make_stands(area_ha=[1], species_group=["竹类"])
    with pytest.raises(MethodError, match="reserve_share"):
        SMCER.compute(MethodInputs(stands, params, MethodOptions(2016, 2021, reserve_share=1.5)))
