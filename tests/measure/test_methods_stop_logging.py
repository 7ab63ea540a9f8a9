"""``stop-logging``: avoided harvest emissions."""

from __future__ import annotations

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

SL = get_method("stop-logging")


def both(inputs):
    return SL.compute(inputs), SL.compute_naive(inputs)


def test_hand_case_and_negative_credit(params, make_stands):
    # 0: (500 − 100) · 1.1917447 · (1 − 0.3) = 400 · 1.1917447 · 0.7 = 333.688527
    # 1: (300 − 450) · 1.1917447 · 0.7 = −125.133198 (cut more than planned)
    # 2: actual harvest missing → 0: 200 · 1.1917447 · 0.7 = 166.844264
    stands = make_stands(
        area_ha=[10, 10, 10],
        species_group=["杉木"] * 3,
        planned_harvest_m3=[500, 300, 200],
        harvest_m3=[100, 450, None],
    )
    for out in both(MethodInputs(stands, params, MethodOptions(hwp_share=0.3))):
        np.testing.assert_allclose(out.tco2e, [333.688527, -125.133198, 166.844264], atol=1e-6)
        assert out.reasons.tolist() == [0, 0, 0]
        assert out.columns["avoided_harvest_m3"].tolist() == [400.0, -150.0, 200.0]
        assert out.columns["harvest_m3"][2] == 0.0


def test_reasons(params, make_stands):
    stands = make_stands(
        area_ha=[1, 1, 1, 1],
        species_group=["杉木", "杉木", "竹类", None],
        planned_harvest_m3=[10, None, 10, 10],
    )
    for out in both(MethodInputs(stands, params)):
        assert out.reasons.tolist() == [
            0,
            BIT["no_planned_harvest"],
            BIT["no_volume_parameters"],
            BIT["missing_species_group"],
        ]
        assert out.tco2e[0] == pytest.approx(10 * 1.1917447, abs=1e-6)
        assert out.tco2e[1:].tolist() == [0.0, 0.0, 0.0]


def test_plan_from_the_baseline_and_unmatched_rows(params, make_stands):
    # 0 MATCHED, plan only in the baseline: (100 − 0) · 1.1917447 = 119.174474
    # 1 ONLY_CURRENT: not credited
    # 2 ONLY_BASELINE 1 ha 杉木 10 m³/ha: −11.917447
    later = make_stands(
        area_ha=[1, 1, None],
        species_group=["杉木", "杉木", None],
        planned_harvest_m3=[None, 50, None],
    )
    earlier = make_stands(
        area_ha=[1, None, 1],
        volume_m3_per_ha=[30, None, 10],
        species_group=["杉木", None, "杉木"],
        planned_harvest_m3=[100, None, 70],
    )
    match = np.array([MATCHED, ONLY_CURRENT, ONLY_BASELINE], dtype=np.int8)
    for out in both(MethodInputs(later, params, baseline=earlier, match=match)):
        np.testing.assert_allclose(out.tco2e, [119.174474, 0.0, -11.917447], atol=1e-6)
        assert out.reasons.tolist() == [0, BIT["not_in_baseline"], BIT["not_in_current"]]
        assert out.columns["planned_harvest_m3"][0] == 100.0


def test_invalid_hwp_share(params, make_stands):
    stands = make_stands(area_ha=[1], species_group=["杉木"], planned_harvest_m3=[1])
    with pytest.raises(MethodError, match="hwp_share"):
        SL.compute(MethodInputs(stands, params, MethodOptions(hwp_share=-0.1)))
