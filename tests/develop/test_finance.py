"""NPV, IRR and payback against cases computed by hand, and their properties."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tanhui.develop import finance
from tanhui.errors import InputError


def test_npv_two_payments():
    # −100 + 60/1.1 + 60/1.21 = −100 + 54.545454… + 49.586776… = 4.132231…
    assert finance.npv(0.10, [-100, 60, 60]) == pytest.approx(4.1322314049586, abs=1e-12)
    # at 0 %: the plain sum
    assert finance.npv(0.0, [-100, 60, 60]) == pytest.approx(20.0)


def test_irr_two_payments():
    # −100 + 60x + 60x² = 0 with x = 1/(1+r): x = (−60 + √27600)/120 = 0.884432…
    # r = 1/x − 1 = 0.130662… (13.07 %)
    x = (-60 + math.sqrt(27600)) / 120
    result = finance.solve_irr([-100, 60, 60])
    assert result.reason is None
    assert result.rate == pytest.approx(1 / x - 1, rel=1e-12)
    assert result.rate == pytest.approx(0.1306624, abs=1e-7)
    assert finance.npv(result.rate, [-100, 60, 60]) == pytest.approx(0.0, abs=1e-10)


def test_irr_one_period():
    # −100 + 110/(1+r) = 0 → r = 10 %; leading and trailing zeros change nothing
    assert finance.irr([-100, 110]) == pytest.approx(0.10, rel=1e-12)
    assert finance.irr([0, 0, -100, 110, 0]) == pytest.approx(0.10, rel=1e-12)


def test_irr_loss_is_negative():
    # −100 + 90/(1+r) = 0 → r = −10 %
    assert finance.irr([-100, 90]) == pytest.approx(-0.10, rel=1e-12)


def test_irr_textbook_four_years():
    # −1000 + 300x + 400x² + 500x³ = 0:
    # NPV(8 %) = −1000 + 277.778 + 342.936 + 396.916 = 17.63 > 0
    # NPV(9 %) = −1000 + 275.229 + 336.672 + 386.092 = −2.01 < 0
    # linear interpolation: 8 % + 17.63 / (17.63 + 2.01) × 1 % ≈ 8.898 %; the exact root 8.896 %.
    flows = [-1000, 300, 400, 500]
    assert finance.npv(0.08, flows) > 0 > finance.npv(0.09, flows)
    assert finance.irr(flows) == pytest.approx(0.08896, abs=1e-5)


def test_irr_none_without_sign_change():
    for flows in ([100, 50], [-100, -50], [0, 0, 0], [0, 10, 0]):
        result = finance.solve_irr(flows)
        assert result.rate is None and result.reason == "no_sign_change"
        assert result.message("en") and result.message("zh")


def test_irr_multiple_roots():
    # −100 + 230x − 132x² = 0 → x = 1/1.1 or 1/1.2: NPV is zero at 10 % and at 20 %
    # (check: −100 + 209.0909 − 109.0909 = 0 and −100 + 191.6667 − 91.6667 = 0).
    result = finance.solve_irr([-100, 230, -132])
    assert result.rate is None and result.reason == "multiple"
    assert result.roots == pytest.approx((0.10, 0.20), abs=1e-9)
    assert finance.irr([-100, 230, -132]) is None


def test_irr_no_real_root():
    # 1 − x + x² > 0 for every x: the flows change sign twice but NPV never reaches zero.
    result = finance.solve_irr([1, -1, 1])
    assert result.rate is None and result.reason == "no_real_root"


def test_irr_double_root():
    # 1 − 2x + x² = (1 − x)²: NPV touches zero at x = 1 (r = 0) without crossing it.
    assert finance.irr([1, -2, 1]) == pytest.approx(0.0, abs=1e-9)


def test_irr_several_sign_changes_but_one_root():
    # A project pattern: upfront cost, yearly costs, revenue every second year. Several sign
    # changes, yet NPV(r) crosses zero once; the root found must zero the NPV.
    flows = [-1050, -250, 354.32, -250, 984.152, -250, 1694.957292]
    result = finance.solve_irr(flows)
    assert result.reason is None
    assert finance.npv(result.rate, flows) == pytest.approx(0.0, abs=1e-8)


def test_payback():
    # cumulative −100, −40, 20 → in the black from year 2
    assert finance.payback_year([-100, 60, 60]) == 2
    # discounted at 10 %: −100, −45.45, 4.13 → year 2
    assert finance.discounted_payback_year(0.10, [-100, 60, 60]) == 2
    # discounted at 20 %: −100, −50, −8.33 → never
    assert finance.discounted_payback_year(0.20, [-100, 60, 60]) is None
    # cumulative −100, 50, −50, 10: positive in year 1, back in the red in year 2 → pays back in 3
    assert finance.payback_year([-100, 150, -100, 60]) == 3
    # never negative → year 0; ends negative → None
    assert finance.payback_year([0, 10]) == 0
    assert finance.payback_year([-100, 10, 10]) is None


def test_cumulative_and_discounted():
    assert finance.cumulative([-100, 60, 60]).tolist() == [-100, -40, 20]
    np.testing.assert_allclose(
        finance.discounted(0.10, [-100, 60, 60]), [-100, 60 / 1.1, 60 / 1.21], rtol=1e-15
    )


def test_bad_inputs():
    with pytest.raises(InputError):
        finance.npv(-1.0, [1, 2])
    with pytest.raises(InputError):
        finance.npv(0.1, [1, float("nan")])
    with pytest.raises(InputError):
        finance.npv(0.1, [[1, 2]])


flows_strategy = st.lists(st.integers(-1000, 1000), min_size=2, max_size=30)


@settings(max_examples=300, deadline=None)
@given(flows_strategy)
def test_irr_zeroes_npv(flows):
    result = finance.solve_irr(flows)
    if result.rate is None:
        return
    r = result.rate
    # NPV relative to the size of the discounted flows (rates near −100 % amplify late flows).
    scale = sum(abs(c) * (1 + r) ** -t for t, c in enumerate(flows))
    assert abs(finance.npv(r, flows)) <= 1e-8 * scale


conventional = st.tuples(
    st.integers(1, 10_000), st.lists(st.integers(0, 1000), min_size=1, max_size=40)
).filter(lambda x: any(x[1]))


@settings(max_examples=200, deadline=None)
@given(conventional)
def test_conventional_flows_have_one_irr_and_npv_falls_with_rate(case):
    cost, gains = case
    flows = [-cost, *gains]
    result = finance.solve_irr(flows)
    assert result.reason is None  # one sign change: exactly one IRR (Descartes)
    rates = [-0.5, -0.1, 0.0, 0.05, 0.1, 0.3, 1.0, 5.0]
    values = [finance.npv(r, flows) for r in rates]
    assert all(a >= b for a, b in itertools.pairwise(values))
    # NPV is positive below the IRR and negative above it (1 % of 1 + r either side)
    below, above = result.rate - 0.01 * (1 + result.rate), result.rate + 0.01 * (1 + result.rate)
    assert finance.npv(below, flows) > 0 > finance.npv(above, flows)
