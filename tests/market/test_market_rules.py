"""Hand cases of the rule arithmetic: bands, ticks, sessions, working days, the close, fees."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from market_helpers import MONDAY, at

from tanhui.market import (
    FeeSchedule,
    InvalidTerms,
    MarketRules,
    PriceBand,
    Reason,
    closing_price,
    price_band,
)
from tanhui.market.rules import round_half_up


@pytest.mark.parametrize(
    ("prev", "bp", "tick", "band"),
    [
        (5000, 1000, 1, (4500, 5500)),  # exact
        (1001, 1000, 1, (901, 1101)),  # 900.9 → 901 (up), 1101.1 → 1101 (down)
        (1009, 1000, 1, (909, 1109)),  # 908.1 → 909, 1109.9 → 1109
        (1009, 3000, 1, (707, 1311)),  # 706.3 → 707, 1311.7 → 1311
        (1005, 1000, 10, (910, 1100)),  # 904.5 → 910, 1105.5 → 1100 on a 0.10-yuan tick
        (1, 1000, 1, (1, 1)),  # never below one tick
        (7080, 3000, 1, (4956, 9204)),  # CCER 2025 average 70.80 yuan, block band
    ],
)
def test_band_limits_are_rounded_inward(prev, bp, tick, band):
    assert price_band(prev, bp, tick) == PriceBand(*band)


@given(st.integers(1, 10**7), st.integers(0, 9999), st.sampled_from([1, 5, 10, 100]))
def test_band_is_inside_the_exact_band_and_on_ticks(prev, bp, tick):
    b = price_band(prev, bp, tick)
    assert b.low % tick == 0 and b.high % tick == 0
    assert b.low >= tick
    # inward: the limits are inside the exact band (low may be lifted to one tick)
    assert b.low * 10000 >= prev * (10000 - bp) or b.low == tick
    assert b.high * 10000 <= prev * (10000 + bp)
    # and no whole tick inside the exact band was lost
    assert (b.low - tick) * 10000 < prev * (10000 - bp) or b.low == tick
    assert (b.high + tick) * 10000 > prev * (10000 + bp)


def test_band_membership_and_rules_bands():
    rules = MarketRules()
    assert 4500 in rules.band(5000) and 4499 not in rules.band(5000)
    assert rules.band(5000, block=True) == PriceBand(3500, 6500)
    assert "5000" not in rules.band(5000)


def test_bad_rules_are_refused():
    with pytest.raises(InvalidTerms):
        MarketRules(tick_fen=0)
    with pytest.raises(InvalidTerms):
        MarketRules(listed_sessions=((dt.time(11), dt.time(10)),))
    with pytest.raises(ValueError, match="positive"):
        price_band(0, 1000)


def test_price_problems():
    rules = MarketRules(tick_fen=10)
    assert rules.price_problem(0) is Reason.BAD_PRICE
    assert rules.price_problem(-10) is Reason.BAD_PRICE
    assert rules.price_problem(1005) is Reason.BAD_TICK
    assert rules.price_problem(1010) is None


def test_sessions_are_half_open_on_working_days():
    rules = MarketRules()
    assert not rules.in_session(at(MONDAY, 9, 29, 59))
    assert rules.in_session(at(MONDAY, 9, 30))
    assert rules.in_session(at(MONDAY, 11, 29, 59))
    assert not rules.in_session(at(MONDAY, 11, 30))
    assert not rules.in_session(at(MONDAY, 12, 0))
    assert rules.in_session(at(MONDAY, 13, 0))
    assert not rules.in_session(at(MONDAY, 15, 0))
    saturday = MONDAY + dt.timedelta(days=5)
    assert not rules.in_session(at(saturday, 10))
    # block agreements: afternoon only
    assert not rules.in_session(at(MONDAY, 10), block=True)
    assert rules.in_session(at(MONDAY, 14), block=True)


def test_injected_holiday_calendar():
    holidays = {MONDAY}
    rules = MarketRules(is_working_day=lambda d: d.weekday() < 5 and d not in holidays)
    assert not rules.in_session(at(MONDAY, 10))
    assert rules.in_session(at(MONDAY + dt.timedelta(days=1), 10))
    # Friday + 3 working days skips the weekend and the holiday Monday
    friday = MONDAY - dt.timedelta(days=3)
    assert rules.add_working_days(friday, 3) == MONDAY + dt.timedelta(days=3)
    assert rules.add_working_days(friday, 0) == friday
    never = MarketRules(is_working_day=lambda d: False)
    with pytest.raises(ValueError, match="no working days"):
        never.add_working_days(MONDAY, 1)


@pytest.mark.parametrize(
    ("trades", "close"),
    [
        ([], 4321),  # no trade: previous close
        ([(1000, 1), (1001, 1)], 1001),  # 10.005 → 10.01 (half up)
        ([(1000, 3), (1001, 1)], 1000),  # 10.0025 → 10.00
        ([(1000, 1), (1001, 2)], 1001),  # 10.00667 → 10.01
        ([(5000, 10), (5010, 5)], 5003),  # 50.0333 → 50.03
        ([(1234, 7)], 1234),
    ],
)
def test_close_is_vwap_rounded_half_up(trades, close):
    assert closing_price(trades, 4321) == close


def test_close_on_a_coarser_tick():
    assert closing_price([(1000, 1), (1010, 1)], 900, tick=10) == 1010  # 1005 → 1010
    assert closing_price([(1000, 3), (1010, 1)], 900, tick=10) == 1000  # 1002.5 → 1000


def test_round_half_up():
    assert [round_half_up(n, 2) for n in range(6)] == [0, 1, 1, 2, 2, 3]


@pytest.mark.parametrize(
    ("price", "qty", "bp", "fee"),
    [
        (1500, 1, 5, 0),  # 15 yuan × 0.05 % = 0.75 fen → 0 (round down)
        (1500, 100, 5, 75),  # 1,500 yuan → 75 fen
        (1500, 133, 5, 99),  # 199,500 fen × 0.0005 = 99.75 → 99
        (7080, 20_000, 10, 141_600),  # 1,416,000 yuan × 0.1 %
    ],
)
def test_fees_round_down_to_a_fen(price, qty, bp, fee):
    fees = FeeSchedule.from_bp(bp, bp)
    s = fees.settle(price, qty)
    assert s.value == price * qty
    assert s.buyer_fee == s.seller_fee == fee


@given(
    st.integers(1, 10**6),
    st.integers(1, 99_999),
    st.integers(0, 10**6),
    st.integers(0, 10**6),
)
def test_fee_money_is_conserved(price, qty, b, s):
    fees = FeeSchedule(b, s)
    m = fees.settle(price, qty)
    assert m.buyer_pays == m.seller_receives + m.exchange_gets
    assert m.buyer_pays == m.value + m.buyer_fee
    assert 0 <= m.seller_fee <= m.value


@given(
    st.integers(1, 10**6),
    st.lists(st.tuples(st.integers(1, 10**6), st.integers(1, 1000)), min_size=1, max_size=20),
    st.integers(0, 10**5),
)
def test_buy_reservation_covers_every_split_into_fills(limit, fills, ppm):
    """Round-down fees are superadditive: Σ fee(fill) ≤ fee(order value at the limit)."""
    fees = FeeSchedule(ppm, 0)
    fills = [(min(p, limit), q) for p, q in fills]
    quantity = sum(q for _, q in fills)
    cost = sum(fees.settle(p, q).buyer_pays for p, q in fills)
    assert cost <= fees.buy_reservation(limit, quantity)


def test_fee_schedule_refuses_impossible_rates():
    with pytest.raises(InvalidTerms):
        FeeSchedule(-1, 0)
    with pytest.raises(InvalidTerms):
        FeeSchedule(0, 1_000_001)


def test_reasons_are_bilingual_and_unique():
    codes = [r.value for r in Reason]
    assert len(codes) == len(set(codes))
    for r in Reason:
        assert r.zh and r.en and r.zh != r.en
        assert r.text("zh") == r.zh and r.text("en") == r.en
