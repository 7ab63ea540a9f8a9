"""``stock-difference``: the worked check, unmatched rows, identical inventories."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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

SD = get_method("stock-difference")


def fir(make_stands, volume, survey_year=None):
    return make_stands(
        survey_year=survey_year, area_ha=[10], volume_m3_per_ha=[volume], species_group=["杉木"]
    )


def test_worked_check_from_survey_years(params, make_stands):
    # C1 = 10 · 120 · 1.191745 = 1430.094; C2 = 10 · 150 · 1.191745 = 1787.617
    # ΔC = 357.523 tCO2e over 2015 → 2020 = 5 years: 71.505 tCO2e/yr
    inputs = MethodInputs(
        fir(make_stands, 150, 2020.0),
        params,
        baseline=fir(make_stands, 120, 2015.0),
        match=np.array([MATCHED], dtype=np.int8),
    )
    for out in (SD.compute(inputs), SD.compute_naive(inputs)):
        c = out.columns
        assert c["stock_t1"][0] == pytest.approx(1430.094, abs=5e-4)
        assert c["stock_t2"][0] == pytest.approx(1787.617, abs=5e-4)
        assert c["delta"][0] == pytest.approx(357.523, abs=5e-4)
        assert c["annual"][0] == pytest.approx(71.505, abs=5e-4)
        assert out.tco2e[0] == pytest.approx(357.523, abs=5e-4)
        assert out.reasons[0] == 0


def test_period_from_options_and_unknown_period(params, make_stands):
    later, earlier = fir(make_stands, 150), fir(make_stands, 120)
    out = SD.compute(MethodInputs(later, params, MethodOptions(2016, 2021), baseline=earlier))
    assert out.columns["annual"][0] == pytest.approx(71.505, abs=5e-4)
    out = SD.compute(MethodInputs(later, params, baseline=earlier))  # no match: all MATCHED
    assert out.tco2e[0] == pytest.approx(357.523, abs=5e-4)
    assert math.isnan(out.columns["annual"][0]) and out.notes


def test_each_stock_uses_its_own_group(params, make_stands):
    # Earlier 5 ha 马尾松 80 m³/ha: 5 · 80 · 1.1198797 = 447.95190
    # Later  5 ha 杉木 100 m³/ha:  5 · 100 · 1.1917447 = 595.87237;  ΔC = 147.92047
    earlier = make_stands(area_ha=[5], volume_m3_per_ha=[80], species_group=["马尾松"])
    later = make_stands(area_ha=[5], volume_m3_per_ha=[100], species_group=["杉木"])
    out = SD.compute(MethodInputs(later, params, baseline=earlier))
    assert out.tco2e[0] == pytest.approx(147.92047, abs=1e-5)


def test_unmatched_rows(params, make_stands):
    # row 0 matched: 10 ha 杉木 120 → 150: +357.523
    # row 1 only in the current (new id): not credited
    # row 2 only in the baseline (disappeared): 2 ha · 100 · 1.191745 = 238.349 counted as −238.349
    # row 3 only in the baseline, volume missing: cannot compute the loss → 0 with reasons
    later = make_stands(
        area_ha=[10, 3, None, None],
        volume_m3_per_ha=[150, 90, None, None],
        species_group=["杉木", "杉木", None, None],
    )
    earlier = make_stands(
        area_ha=[10, None, 2, 4],
        volume_m3_per_ha=[120, None, 100, None],
        species_group=["杉木", None, "杉木", "杉木"],
    )
    match = np.array([MATCHED, ONLY_CURRENT, ONLY_BASELINE, ONLY_BASELINE], dtype=np.int8)
    inputs = MethodInputs(later, params, MethodOptions(2016, 2021), baseline=earlier, match=match)
    out = SD.compute(inputs)
    np.testing.assert_allclose(out.tco2e, [357.523, 0.0, -238.349, 0.0], atol=5e-4)
    assert out.reasons.tolist() == [
        0,
        BIT["not_in_baseline"],
        BIT["not_in_current"],
        BIT["not_in_current"] | BIT["missing_volume"],
    ]
    assert out.columns["unmatched_effect"][2] == pytest.approx(-238.349, abs=5e-4)
    assert np.isnan(out.columns["unmatched_effect"][[0, 1, 3]]).all()
    assert out.columns["stock_t2"][1] == pytest.approx(3 * 90 * 1.191745, rel=1e-6)
    assert np.isnan(out.columns["stock_t1"][1]) and np.isnan(out.columns["delta"][1])
    assert out.columns["annual"][2] == pytest.approx(-238.349 / 5, abs=1e-4)


def test_reasons_of_either_inventory(params, make_stands):
    later = make_stands(area_ha=[1, 1], volume_m3_per_ha=[None, 10], species_group=["杉木", "杉木"])
    earlier = make_stands(area_ha=[1, 1], volume_m3_per_ha=[10, 10], species_group=["杉木", "竹类"])
    out = SD.compute(MethodInputs(later, params, baseline=earlier))
    assert out.reasons.tolist() == [BIT["missing_volume"], BIT["no_volume_parameters"]]
    assert out.tco2e.tolist() == [0.0, 0.0]


def test_needs_a_baseline(params, make_stands):
    with pytest.raises(MethodError, match="baseline"):
        SD.compute(MethodInputs(fir(make_stands, 1), params))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 40))
def test_identical_inventories_give_zero(seed, n, random_case):
    stands = random_case(seed, n, baseline="no").inputs.current
    inputs = MethodInputs(
        stands, random_case(seed, n).inputs.params, baseline=stands, match=np.zeros(n, np.int8)
    )
    out = SD.compute(inputs)
    assert np.all(out.tco2e == 0.0)
    assert out.total == 0.0
