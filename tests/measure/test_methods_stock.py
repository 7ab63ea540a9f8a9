"""``stock``: the worked check, reasons, additivity."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tanhui.errors import MethodError
from tanhui.measure.methods import get_method
from tanhui.measure.methods.base import MethodInputs

STOCK = get_method("stock")


def test_worked_check_10_ha_fir(params, make_stands):
    # factor = 0.307 · 1.634 · 1.246 · 0.520 · 44/12 = 1.191745 tCO2e/m³
    # C1 = 10 ha · 120 m³/ha · 1.191745 = 1430.094;  C2 = 10 · 150 · 1.191745 = 1787.617
    stands = make_stands(area_ha=[10, 10], volume_m3_per_ha=[120, 150], species_group=["杉木"] * 2)
    out = STOCK.compute(MethodInputs(stands, params))
    assert out.columns["factor"][0] == pytest.approx(1.191745, abs=5e-7)
    assert out.tco2e[0] == pytest.approx(1430.094, abs=5e-4)
    assert out.tco2e[1] == pytest.approx(1787.617, abs=5e-4)
    assert out.reasons.tolist() == [0, 0]
    assert out.total == pytest.approx(1430.094 + 1787.617, abs=1e-3)


def test_pine_hand_case(params, make_stands):
    # 马尾松: 0.380 · 1.472 · 1.187 · 0.460 · 44/12 = 1.1198797 tCO2e/m³
    # 5 ha · 80 m³/ha · 1.1198797 = 447.95190
    stands = make_stands(area_ha=[5], volume_m3_per_ha=[80], species_group=["马尾松"])
    out = STOCK.compute(MethodInputs(stands, params))
    assert out.tco2e[0] == pytest.approx(447.95190, abs=1e-5)


@pytest.mark.parametrize(
    ("row", "code"),
    [
        ({"area_ha": None, "volume_m3_per_ha": 100, "species_group": "杉木"}, "missing_area"),
        ({"area_ha": 1, "volume_m3_per_ha": None, "species_group": "杉木"}, "missing_volume"),
        ({"area_ha": 1, "volume_m3_per_ha": 100, "species_group": None}, "missing_species_group"),
        (
            {"area_ha": 1, "volume_m3_per_ha": 100, "species_group": "毛竹林"},
            "unknown_species_group",
        ),
        ({"area_ha": 1, "volume_m3_per_ha": 100, "species_group": "竹类"}, "no_volume_parameters"),
    ],
)
def test_each_reason_with_a_passing_row(params, make_stands, row, code):
    good = {"area_ha": 2, "volume_m3_per_ha": 50, "species_group": "杉木"}
    stands = make_stands(**{c: [good[c], row[c]] for c in good})
    out = STOCK.compute(MethodInputs(stands, params))
    bit = next(1 << r.bit for r in STOCK.reasons if r.code == code)
    assert out.reasons.tolist() == [0, bit]
    assert out.tco2e[1] == 0.0
    assert out.tco2e[0] > 0
    np.testing.assert_array_equal(
        STOCK.compute_naive(MethodInputs(stands, params)).reasons, out.reasons
    )


def test_refuses_a_baseline(params, make_stands):
    stands = make_stands(area_ha=[1], volume_m3_per_ha=[1], species_group=["杉木"])
    with pytest.raises(MethodError, match="one inventory") as caught:
        STOCK.compute(MethodInputs(stands, params, baseline=stands))
    assert "stock-difference" in caught.value.hint_en


def test_empty_inventory(params, make_stands):
    out = STOCK.compute(MethodInputs(make_stands(area_ha=[]), params))
    assert out.tco2e.shape == (0,) and out.total == 0.0


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 40), cut=st.integers(0, 40))
def test_stock_is_additive(seed, n, cut, random_case):
    """Splitting the rows into two inventories does not change the total."""
    inputs = random_case(seed, n, baseline="no").inputs
    stands = inputs.current
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    first, second = order[: min(cut, n)], order[min(cut, n) :]
    whole = STOCK.compute(inputs).total
    parts = sum(
        STOCK.compute(MethodInputs(stands.take(rows), inputs.params)).total
        for rows in (first, second)
    )
    assert parts == pytest.approx(whole, rel=1e-12, abs=1e-9)
