"""``forest-management``: measured project change minus projected unmanaged growth."""

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

FM = get_method("forest-management")


def both(inputs):
    return FM.compute(inputs), FM.compute_naive(inputs)


def options(fake_growth, params, **kw):
    growth = fake_growth(params, {"杉木": 5.0})  # Schumacher b = 5 for fir, no curve otherwise
    return MethodOptions(year_from=2016, year_to=2021, growth=growth, **kw)


def test_hand_case(params, make_stands, fake_growth):
    # 10 ha 杉木, age 10, 100 → 160 m³/ha over 5 years.
    # project ΔC  = 10 · 160 · 1.1917447 − 10 · 100 · 1.1917447 = 715.046845
    # Vb = 100 · exp(−5 · (1/15 − 1/10)) = 100 · exp(1/6) = 118.136041 m³/ha
    # baseline ΔC = 10 · 18.136041 · 1.1917447 = 216.135318
    # credit      = 715.046845 − 216.135318 = 498.911526
    later = make_stands(area_ha=[10], volume_m3_per_ha=[160], species_group=["杉木"])
    earlier = make_stands(
        area_ha=[10], volume_m3_per_ha=[100], species_group=["杉木"], age_years=[10]
    )
    inputs = MethodInputs(later, params, options(fake_growth, params), earlier, np.array([MATCHED]))
    for out in both(inputs):
        c = out.columns
        assert c["project_delta"][0] == pytest.approx(715.046845, abs=1e-6)
        assert c["baseline_volume"][0] == pytest.approx(118.136041, abs=1e-6)
        assert c["baseline_increment"][0] == pytest.approx(18.136041, abs=1e-6)
        assert c["baseline_delta"][0] == pytest.approx(216.135318, abs=1e-6)
        assert out.tco2e[0] == pytest.approx(498.911526, abs=1e-6)
        assert out.reasons[0] == 0


def test_baseline_growth_factor(params, make_stands, fake_growth):
    # bgf 0.8: baseline ΔC = 10 · (0.8 · 18.136041) · 1.1917447 = 172.908255
    # credit = 715.046845 − 172.908255 = 542.138590
    later = make_stands(area_ha=[10], volume_m3_per_ha=[160], species_group=["杉木"])
    earlier = make_stands(
        area_ha=[10], volume_m3_per_ha=[100], species_group=["杉木"], age_years=[10]
    )
    opts = options(fake_growth, params, baseline_growth_factor=0.8)
    out = FM.compute(MethodInputs(later, params, opts, earlier))
    assert out.tco2e[0] == pytest.approx(542.138590, abs=1e-6)


def test_not_projectable_and_unmatched(params, make_stands, fake_growth):
    # 0 杉木 age missing → not_projectable
    # 1 马尾松 has no growth curve in the fake → not_projectable
    # 2 杉木 baseline volume missing → missing_volume only (nothing to project from)
    # 3 ONLY_CURRENT → not_in_baseline
    # 4 ONLY_BASELINE 杉木 1 ha 10 m³/ha → −11.917447, not_in_current
    later = make_stands(
        area_ha=[1, 1, 1, 1, None],
        volume_m3_per_ha=[50, 50, 50, 50, None],
        species_group=["杉木", "马尾松", "杉木", "杉木", None],
    )
    earlier = make_stands(
        area_ha=[1, 1, 1, None, 1],
        volume_m3_per_ha=[40, 40, None, None, 10],
        species_group=["杉木", "马尾松", "杉木", None, "杉木"],
        age_years=[None, 10, 10, None, 10],
    )
    match = np.array([MATCHED, MATCHED, MATCHED, ONLY_CURRENT, ONLY_BASELINE], dtype=np.int8)
    inputs = MethodInputs(later, params, options(fake_growth, params), earlier, match)
    for out in both(inputs):
        assert out.reasons.tolist() == [
            BIT["not_projectable"],
            BIT["not_projectable"],
            BIT["missing_volume"],
            BIT["not_in_baseline"],
            BIT["not_in_current"],
        ]
        np.testing.assert_allclose(out.tco2e, [0, 0, 0, 0, -11.917447], atol=1e-6)
        assert math.isnan(out.columns["baseline_volume"][0])


def test_growth_is_called_once_on_projectable_rows(params, make_stands, fake_growth):
    calls = []
    real = fake_growth(params, {"杉木": 5.0})

    class Spy:
        def project(self, group_index, age0, volume0, age1):
            calls.append(len(group_index))
            assert (group_index >= 0).all() and (age0 > 0).all()
            return real.project(group_index, age0, volume0, age1)

    later = make_stands(area_ha=[1, 1, 1], volume_m3_per_ha=[5, 5, 5], species_group=["杉木"] * 3)
    earlier = make_stands(
        area_ha=[1, 1, 1],
        volume_m3_per_ha=[4, 4, 4],
        species_group=["杉木", None, "杉木"],
        age_years=[5, 5, 0],
    )
    FM.compute(MethodInputs(later, params, MethodOptions(2016, 2021, growth=Spy()), earlier))
    assert calls == [1]


def test_errors(params, make_stands, fake_growth):
    stands = make_stands(area_ha=[1], volume_m3_per_ha=[1], species_group=["杉木"], age_years=[5])
    with pytest.raises(MethodError, match="baseline"):
        FM.compute(MethodInputs(stands, params, options(fake_growth, params)))
    with pytest.raises(MethodError, match="growth curves") as caught:
        FM.compute(MethodInputs(stands, params, MethodOptions(2016, 2021), stands))
    assert "--growth" in caught.value.hint_en
    no_period = MethodOptions(growth=fake_growth(params, {}))
    with pytest.raises(MethodError, match="period"):
        FM.compute(MethodInputs(stands, params, no_period, stands))
    with pytest.raises(MethodError, match="baseline_growth_factor"):
        opts = options(fake_growth, params, baseline_growth_factor=-1.0)
        FM.compute(MethodInputs(stands, params, opts, stands))
