"""AR-TOOL14 sample-plot estimation: hand-computed case, discount table, t quantiles, properties."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tanhui.errors import MethodError
from tanhui.measure.plots import (
    PlotEstimate,
    conservative,
    difference,
    discount_share,
    estimate_stock,
    root_shoot_default,
    student_t_cdf,
    student_t_quantile,
)

REL = 1e-9

# ----------------------------------------------------------------------------- Student t


@pytest.mark.parametrize(
    ("df", "expected"),
    [
        (1, 6.313752),
        (2, 2.919986),
        (5, 2.015048),
        (10, 1.812461),
        (30, 1.697261),
        (120, 1.657651),
        (math.inf, 1.644854),
    ],
)
def test_t_quantile_matches_table(df: float, expected: float) -> None:
    assert round(student_t_quantile(0.95, df), 6) == expected


def test_t_quantile_closed_forms_and_symmetry() -> None:
    # df = 1 is Cauchy: tan(π(p − ½)); df = 2: (2p − 1) / sqrt(2p(1 − p)).
    for p in (0.6, 0.9, 0.95, 0.975, 0.999):
        assert student_t_quantile(p, 1) == pytest.approx(math.tan(math.pi * (p - 0.5)), rel=1e-12)
        assert student_t_quantile(p, 2) == pytest.approx(
            (2 * p - 1) / math.sqrt(2 * p * (1 - p)), rel=1e-12
        )
        assert student_t_quantile(1 - p, 7.5) == -student_t_quantile(p, 7.5)
    assert student_t_quantile(0.5, 3) == 0.0
    assert student_t_quantile(0.975, math.inf) == pytest.approx(1.959963984540054, rel=1e-13)
    # Continuous across the switch to the Cornish-Fisher expansion at df = 1e5.
    assert student_t_quantile(0.95, 99_999.0) == pytest.approx(
        student_t_quantile(0.95, 100_000.0), rel=1e-10
    )
    assert student_t_quantile(0.95, 1e300) == pytest.approx(1.6448536269514722, rel=1e-14)
    with pytest.raises(ValueError):
        student_t_quantile(1.0, 3)
    with pytest.raises(ValueError):
        student_t_quantile(0.9, 0)


@settings(max_examples=60, deadline=None)
@given(
    p=st.floats(min_value=1e-6, max_value=1 - 1e-6),
    df=st.floats(min_value=0.5, max_value=5000),
)
def test_t_cdf_inverts_quantile(p: float, df: float) -> None:
    assert student_t_cdf(student_t_quantile(p, df), df) == pytest.approx(p, rel=1e-10, abs=1e-15)


# ----------------------------------------------------------------------------- discount


@pytest.mark.parametrize(
    ("u", "d"),
    [
        (0.0, 0.0),
        (0.10, 0.0),
        (0.10000001, 0.25),
        (0.15, 0.25),
        (0.15000001, 0.5),
        (0.20, 0.5),
        (0.20000001, 0.75),
        (0.30, 0.75),
        (0.30000001, 1.0),
        (2.0, 1.0),
        (math.inf, 1.0),
    ],
)
def test_discount_table_boundaries(u: float, d: float) -> None:
    assert discount_share(u) == d


def test_discount_rejects_nonsense() -> None:
    for u in (-0.01, math.nan):
        with pytest.raises(MethodError):
            discount_share(u)


def test_conservative_sides() -> None:
    # U = 12 % → d = 0.25 → X·(1 ∓ 0.03)
    assert conservative(1000.0, 0.12) == pytest.approx(970.0, rel=1e-12)
    assert conservative(1000.0, 0.12, "baseline") == pytest.approx(1030.0, rel=1e-12)
    assert conservative(1000.0, 0.10) == 1000.0
    # A loss (negative project quantity) is made more negative, never less.
    assert conservative(-1000.0, 0.12) == pytest.approx(-1030.0, rel=1e-12)
    assert conservative(0.0, math.inf) == 0.0
    with pytest.raises(MethodError):
        conservative(1.0, 0.2, "both")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- hand-computed


def test_hand_computed_two_strata() -> None:
    # Stratum A: 60 ha, plots 90, 130, 110 t/ha
    #   Σb = 330, Σb² = 8100 + 16900 + 12100 = 37100, b̄_A = 110
    #   s²_A = (3·37100 − 330²) / (3·2) = (111300 − 108900) / 6 = 400
    # Stratum B: 40 ha, plots 80, 90, 70, 100 t/ha
    #   Σb = 340, Σb² = 6400 + 8100 + 4900 + 10000 = 29400, b̄_B = 85
    #   s²_B = (4·29400 − 340²) / (4·3) = (117600 − 115600) / 12 = 166.666…
    # A = 100 ha, w = (0.6, 0.4); b̄ = 0.6·110 + 0.4·85 = 100 t/ha; B = 10000 t
    # C = 44/12 · 0.47 · 10000 = 17233.333… tCO2e
    # Σ w² s²/n = 0.36·400/3 + 0.16·166.666…/4 = 48 + 6.666… = 54.666… (= 164/3)
    # SE = sqrt(164/3) = 7.393691; df = 7 − 2 = 5; t(0.95, 5) = 2.015048
    # U = 2.015048 · 7.393691 / 100 = 0.148986 → 10 % < U ≤ 15 % → d = 0.25
    # conservative = C · (1 − 0.25 · 0.148986) = 16591.450 tCO2e
    est = estimate_stock(
        ["A", "A", "A", "B", "B", "B", "B"],
        [60, 60, 60, 40, 40, 40, 40],
        [90, 130, 110, 80, 90, 70, 100],
    )
    c = 44 / 12 * 0.47 * 10000
    t5 = student_t_quantile(0.95, 5)
    u = t5 * math.sqrt(164 / 3) / 100
    assert [(s.name, s.area_ha, s.n) for s in est.strata] == [("A", 60.0, 3), ("B", 40.0, 4)]
    assert est.strata[0].mean == pytest.approx(110, rel=REL)
    assert est.strata[0].variance == pytest.approx(400, rel=REL)
    assert est.strata[1].mean == pytest.approx(85, rel=REL)
    assert est.strata[1].variance == pytest.approx(500 / 3, rel=REL)
    assert est.area_ha == 100.0
    assert est.mean_biomass_t_per_ha == pytest.approx(100, rel=REL)
    assert est.biomass_t == pytest.approx(10000, rel=REL)
    assert est.carbon_tco2e == pytest.approx(c, rel=REL)
    assert est.df == 5
    assert est.t_value == pytest.approx(2.015048, abs=1e-6)
    assert est.standard_error_t_per_ha == pytest.approx(math.sqrt(164 / 3), rel=REL)
    assert est.uncertainty == pytest.approx(u, rel=REL)
    assert est.uncertainty == pytest.approx(0.148986, abs=1e-6)
    assert est.discount == 0.25
    assert est.half_width_tco2e == pytest.approx(u * c, rel=REL)
    assert est.conservative_tco2e == pytest.approx(c * (1 - 0.25 * u), rel=REL)
    assert est.conservative_tco2e == pytest.approx(16591.450, abs=1e-3)
    d = est.to_dict()
    assert d["strata"][1]["name"] == "B"
    assert d["carbon_fraction"] == 0.47


def test_confidence_and_carbon_fraction_options() -> None:
    kw = dict(stratum=["A"] * 4, stratum_area_ha=[10] * 4, biomass_t_per_ha=[50, 60, 70, 80])
    e95 = estimate_stock(**kw, confidence=0.95, carbon_fraction=0.5)
    assert e95.t_value == pytest.approx(student_t_quantile(0.975, 3), rel=1e-12)
    assert e95.carbon_tco2e == pytest.approx(44 / 12 * 0.5 * 10 * 65, rel=REL)


def test_above_ground_only_adds_root_biomass() -> None:
    assert root_shoot_default(100.0) == pytest.approx(
        math.exp(-1.085 + 0.9256 * math.log(100.0)) / 100.0, rel=1e-14
    )
    assert np.isnan(root_shoot_default(np.array([0.0, 10.0])))[0]
    agb = np.array([0.0, 40.0, 60.0, 80.0])
    total = agb + np.where(agb > 0, agb * root_shoot_default(np.where(agb > 0, agb, 1.0)), 0.0)
    labels, area = ["A", "A", "B", "B"], [5.0, 5.0, 7.0, 7.0]
    with_roots = estimate_stock(labels, area, agb, above_ground_only=True)
    direct = estimate_stock(labels, area, total)
    assert with_roots.carbon_tco2e == pytest.approx(direct.carbon_tco2e, rel=1e-12)
    assert with_roots.uncertainty == pytest.approx(direct.uncertainty, rel=1e-12)
    assert with_roots.above_ground_only


def test_errors_name_the_stratum() -> None:
    with pytest.raises(MethodError, match="'B' has different areas"):
        estimate_stock(["A", "A", "B", "B"], [1, 1, 2, 3], [1, 2, 3, 4])
    with pytest.raises(MethodError, match="'B' has 1 plot"):
        estimate_stock(["A", "A", "B"], [1, 1, 2], [1, 2, 3])
    with pytest.raises(MethodError, match="differ in length"):
        estimate_stock(["A", "A"], [1, 1], [1, 2, 3])
    with pytest.raises(MethodError, match="non-negative"):
        estimate_stock(["A", "A"], [1, 1], [1, -2])
    with pytest.raises(MethodError, match="positive"):
        estimate_stock(["A", "A"], [0, 0], [1, 2])
    with pytest.raises(MethodError):
        estimate_stock([], [], [])


def test_all_zero_biomass_has_zero_uncertainty() -> None:
    est = estimate_stock(["A", "A"], [3, 3], [0, 0])
    assert est.carbon_tco2e == 0 and est.uncertainty == 0 and est.conservative_tco2e == 0


# ----------------------------------------------------------------------------- difference


def _stock(c: float, u: float) -> PlotEstimate:
    base = estimate_stock(["A", "A"], [1, 1], [1, 1])
    return replace(base, carbon_tco2e=c, uncertainty=u, half_width_tco2e=u * c)


def test_difference_hand_computed() -> None:
    # half-width = sqrt((0.10·1000)² + (0.08·1500)²) = sqrt(100² + 120²) = 156.2050
    # ΔC = 500; U = 156.2050 / 500 = 0.312410 > 30 % → d = 1; conservative = 500 − 156.2050
    diff = difference(_stock(1000, 0.10), _stock(1500, 0.08))
    half = math.sqrt(100**2 + 120**2)
    assert diff.delta_tco2e == 500
    assert diff.half_width_tco2e == pytest.approx(half, rel=1e-12)
    assert diff.uncertainty == pytest.approx(half / 500, rel=1e-12)
    assert diff.discount == 1.0
    assert diff.conservative_tco2e == pytest.approx(500 - half, rel=1e-12)
    assert diff.to_dict()["earlier_uncertainty"] == 0.10

    # Small uncertainties: U = sqrt(10² + 12²)/500 = 0.031241 → no discount.
    small = difference(_stock(1000, 0.01), _stock(1500, 0.008))
    assert small.discount == 0 and small.conservative_tco2e == 500

    # A loss keeps its conservative direction (more negative).
    loss = difference(_stock(1500, 0.08), _stock(1000, 0.10))
    assert loss.delta_tco2e == -500
    assert loss.conservative_tco2e == pytest.approx(-500 - half, rel=1e-12)


def test_difference_of_equal_stocks() -> None:
    diff = difference(_stock(1000, 0.1), _stock(1000, 0.1))
    assert diff.delta_tco2e == 0
    assert diff.uncertainty == math.inf
    assert diff.discount == 1.0
    assert diff.conservative_tco2e == 0.0


# ----------------------------------------------------------------------------- properties


@st.composite
def plots(draw: st.DrawFn, equal: bool = False) -> tuple[list[str], list[float], list[float]]:
    m = draw(st.integers(1, 4))
    labels: list[str] = []
    areas: list[float] = []
    biomass: list[float] = []
    value = st.floats(0.0, 500.0, allow_nan=False)
    for i in range(m):
        n = draw(st.integers(2, 6))
        area = draw(st.floats(0.5, 5000.0))
        same = draw(value)
        labels += [f"层{i}"] * n
        areas += [area] * n
        biomass += [same] * n if equal else draw(st.lists(value, min_size=n, max_size=n))
    return labels, areas, biomass


@settings(max_examples=80, deadline=None)
@given(plots(equal=True))
def test_equal_plots_have_no_uncertainty(case: tuple[list[str], list[float], list[float]]) -> None:
    est = estimate_stock(*case)
    assert est.uncertainty == 0.0
    assert est.discount == 0.0
    assert est.conservative_tco2e == est.carbon_tco2e
    assert all(s.variance == 0.0 for s in est.strata)


@settings(max_examples=80, deadline=None)
@given(plots(), st.randoms(use_true_random=False))
def test_invariant_to_plot_order(case, rnd) -> None:  # type: ignore[no-untyped-def]
    labels, areas, biomass = case
    order = list(range(len(labels)))
    rnd.shuffle(order)
    a = estimate_stock(labels, areas, biomass)
    b = estimate_stock(
        [labels[i] for i in order], [areas[i] for i in order], [biomass[i] for i in order]
    )
    assert [s.name for s in a.strata] == [s.name for s in b.strata]
    for key in ("carbon_tco2e", "uncertainty", "conservative_tco2e", "t_value", "df"):
        assert getattr(b, key) == pytest.approx(getattr(a, key), rel=1e-12, abs=1e-12)


@settings(max_examples=80, deadline=None)
@given(plots(), st.floats(0.01, 100.0))
def test_scaling_biomass_scales_carbon_not_uncertainty(case, k: float) -> None:  # type: ignore[no-untyped-def]
    labels, areas, biomass = case
    a = estimate_stock(labels, areas, biomass)
    b = estimate_stock(labels, areas, [k * x for x in biomass])
    assert b.carbon_tco2e == pytest.approx(k * a.carbon_tco2e, rel=1e-9, abs=1e-12)
    assert b.uncertainty == pytest.approx(a.uncertainty, rel=1e-9, abs=1e-12)
    assert b.discount == discount_share(b.uncertainty)
