"""Hand cases of the listed-agreement book: priority, maker price, five levels, pre-trade checks,
self-trade, cancel, expiry at the close, the close price, day roll, depth, journal replay."""

from __future__ import annotations

import datetime as dt

import pytest
from market_helpers import MON_1000, MONDAY, at, check_book

from tanhui.market import (
    Cancel,
    CloseDay,
    DayClosed,
    FeeSchedule,
    Level,
    ListedBook,
    MarketRules,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderFilled,
    OrderRested,
    OrderStatus,
    Reason,
    Rejected,
    Side,
    Submit,
    Trade,
)
from tanhui.market.orderbook import replay

BUY, SELL = Side.BUY, Side.SELL
T = MON_1000


def book(**kw) -> ListedBook:
    return ListedBook(5000, **kw)


def sub(b: ListedBook, oid, side, price, qty, owner="x", now=T):
    return b.submit(oid, side, price, qty, owner, f"acct-{owner}", now)


def trades(events):
    return [e for e in events if isinstance(e, Trade)]


def reason(events):
    (rejection,) = [e for e in events if isinstance(e, Rejected)]
    return rejection.reason


def test_resting_order_events():
    b = book()
    ev = b.submit(1, SELL, 5010, 10, "s", "acct-s", T, reservation="r1")
    assert ev == [
        OrderAccepted(1, SELL, 5010, 10, "s", "acct-s", "r1", T),
        OrderRested(1, 5010, 10, T),
    ]
    assert b.order(1).status is OrderStatus.RESTING
    assert b.order(1).reservation == "r1"
    assert b.best(SELL) == 5010 and b.best(BUY) is None


def test_price_then_time_priority_and_maker_price():
    b = book()
    sub(b, 1, SELL, 5010, 5, "a")
    sub(b, 2, SELL, 5000, 5, "b")
    sub(b, 3, SELL, 5000, 5, "c")  # same price as 2, later
    ev = sub(b, 4, BUY, 5020, 12, "d")
    fills = [(t.sell_order_id, t.price, t.quantity) for t in trades(ev)]
    # best price first (5000), within it arrival order (2 before 3), then 5010; maker's price
    assert fills == [(2, 5000, 5), (3, 5000, 5), (1, 5010, 2)]
    assert ev[-1] == OrderFilled(4, T)
    assert b.order(1).remaining == 3
    assert [t.trade_id for t in b.trades] == [1, 2, 3]
    check_book(b)


def test_sell_taker_trades_at_the_bid():
    b = book()
    sub(b, 1, BUY, 4990, 5, "a")
    sub(b, 2, BUY, 5005, 5, "b")
    ev = sub(b, 3, SELL, 4950, 7, "c")
    assert [(t.buy_order_id, t.price) for t in trades(ev)] == [(2, 5005), (1, 4990)]
    assert all(t.taker_side is SELL for t in trades(ev))
    assert trades(ev)[0].maker_order_id == 2


def test_remainder_rests_at_its_limit():
    b = book()
    sub(b, 1, SELL, 5000, 5, "a")
    ev = sub(b, 2, BUY, 5001, 8, "b")
    assert ev[-1] == OrderRested(2, 5001, 3, T)
    assert b.best(BUY) == 5001 and b.best(SELL) is None


def test_taker_sweeps_at_most_five_levels_then_cancels_the_crossing_rest():
    b = book()
    for i in range(7):
        sub(b, i + 1, SELL, 5000 + i, 1, f"s{i}")
    ev = sub(b, 10, BUY, 5010, 10, "b")
    assert [t.price for t in trades(ev)] == [5000, 5001, 5002, 5003, 5004]
    # levels 6 and 7 (5005, 5006) still cross the limit 5010: the rest is cancelled
    assert ev[-1] == OrderCancelled(10, 5, Reason.BEYOND_LEVELS, T)
    assert b.best(SELL) == 5005 and b.best(BUY) is None
    check_book(b)


def test_after_five_levels_a_non_crossing_rest_rests():
    b = book()
    for i in range(7):
        sub(b, i + 1, SELL, 5000 + i, 1, f"s{i}")
    ev = sub(b, 10, BUY, 5004, 10, "b")  # only five levels cross
    assert len(trades(ev)) == 5
    assert ev[-1] == OrderRested(10, 5004, 5, T)
    check_book(b)


def test_levels_count_prices_not_orders():
    b = book()
    for i in range(6):
        sub(b, i + 1, SELL, 5000, 1, f"s{i}")  # six orders on one level
    ev = sub(b, 10, BUY, 5000, 6, "b")
    assert len(trades(ev)) == 6 and ev[-1] == OrderFilled(10, T)


@pytest.mark.parametrize(
    ("side", "price", "qty", "why"),
    [
        (BUY, 5000, 0, Reason.BAD_QUANTITY),
        (BUY, 5000, -1, Reason.BAD_QUANTITY),
        (BUY, 5000, 100_000, Reason.OVER_SIZE_LIMIT),
        (SELL, 5000, 250_000, Reason.OVER_SIZE_LIMIT),
        (BUY, 0, 1, Reason.BAD_PRICE),
        (BUY, 4499, 1, Reason.OUTSIDE_BAND),
        (SELL, 5501, 1, Reason.OUTSIDE_BAND),
    ],
)
def test_pre_trade_rejections(side, price, qty, why):
    b = book()
    ev = sub(b, 1, side, price, qty)
    assert ev == [Rejected(1, why, T)]
    assert b.order(1) is None
    assert ev[0].message("zh") == why.zh


def test_side_as_text_and_non_integer_amounts():
    b = book()
    assert isinstance(b.submit(1, "sell", 5000, 1, "a", "A", T)[-1], OrderRested)
    assert b.order(1).side is SELL
    assert reason(sub(b, 2, BUY, 5000.0, 1)) is Reason.BAD_TICK
    assert reason(sub(b, 3, BUY, 5000, 1.0)) is Reason.BAD_QUANTITY
    with pytest.raises(ValueError):
        b.submit(4, "long", 5000, 1, "a", "A", T)


def test_band_edges_and_largest_order_are_accepted():
    b = book()
    assert isinstance(sub(b, 1, BUY, 4500, 99_999, "a")[-1], OrderRested)
    assert isinstance(sub(b, 2, SELL, 5500, 1, "b")[-1], OrderRested)


def test_bad_tick_with_a_coarser_tick():
    b = ListedBook(5000, rules=MarketRules(tick_fen=10))
    assert reason(sub(b, 1, BUY, 5005, 1)) is Reason.BAD_TICK
    assert isinstance(sub(b, 2, BUY, 5010, 1)[-1], OrderRested)


@pytest.mark.parametrize(
    "when",
    [at(MONDAY, 9, 29), at(MONDAY, 11, 30), at(MONDAY, 12), at(MONDAY, 15), at(MONDAY, 20)],
)
def test_outside_session(when):
    assert reason(sub(book(), 1, BUY, 5000, 1, now=when)) is Reason.OUTSIDE_SESSION


def test_weekend_is_outside_session():
    saturday = MONDAY + dt.timedelta(days=5)
    assert reason(sub(book(), 1, BUY, 5000, 1, now=at(saturday, 10))) is Reason.OUTSIDE_SESSION


def test_duplicate_order_id():
    b = book()
    sub(b, 1, BUY, 5000, 1, "a")
    assert reason(sub(b, 1, BUY, 5000, 1, "a")) is Reason.DUPLICATE_ID
    # a rejected id is not taken
    sub(b, 2, BUY, 0, 1, "a")
    assert isinstance(sub(b, 2, BUY, 5000, 1, "a")[-1], OrderRested)


def test_self_trade_rejects_the_taker_and_leaves_the_book():
    b = book()
    sub(b, 1, SELL, 5000, 5, "a")
    sub(b, 2, SELL, 5001, 5, "me")
    before = b.snapshot()
    ev = sub(b, 3, BUY, 5001, 6, "me")  # would reach my own sell at 5001
    assert ev == [Rejected(3, Reason.SELF_TRADE, T)]
    assert b.snapshot() == before
    # an order that stops before reaching its owner's order is fine
    assert isinstance(sub(b, 4, BUY, 5001, 5, "me")[-1], OrderFilled)
    # and so is resting next to one's own opposite order without crossing
    assert isinstance(sub(b, 5, BUY, 5000, 5, "me")[-1], OrderRested)


def test_cancel():
    b = book()
    sub(b, 1, BUY, 5000, 10, "a")
    assert b.cancel(1, "b", T) == [Rejected(1, Reason.NOT_OWNER, T)]
    assert b.cancel(9, "a", T) == [Rejected(9, Reason.UNKNOWN_ORDER, T)]
    assert b.cancel(1, "a", T) == [OrderCancelled(1, 10, Reason.OWNER_CANCEL, T)]
    assert b.cancel(1, "a", T) == [Rejected(1, Reason.NOT_ACTIVE, T)]
    assert b.best(BUY) is None
    # a cancelled order never fills
    assert isinstance(sub(b, 2, SELL, 5000, 10, "c")[-1], OrderRested)
    assert b.trades == []


def test_cancel_in_the_middle_of_a_level_keeps_fifo():
    b = book()
    for i in range(1, 4):
        sub(b, i, SELL, 5000, 1, f"s{i}")
    b.cancel(2, "s2", T)
    assert b.depth().asks == (Level(5000, 2, 2),)
    ev = sub(b, 9, BUY, 5000, 2, "b")
    assert [t.sell_order_id for t in trades(ev)] == [1, 3]
    assert b.depth().asks == ()
    check_book(b)


def test_partial_cancel_after_fill():
    b = book()
    sub(b, 1, SELL, 5000, 10, "a")
    sub(b, 2, BUY, 5000, 4, "b")
    assert b.cancel(1, "a", T) == [OrderCancelled(1, 6, Reason.OWNER_CANCEL, T)]
    o = b.order(1)
    assert (o.filled, o.remaining, o.status) == (4, 6, OrderStatus.CANCELLED)


def test_depth_of_best_five_levels():
    b = book()
    for i in range(7):
        sub(b, i + 1, BUY, 4990 - i, 1 + i, "a")
        sub(b, 100 + i, SELL, 5010 + i, 10, "b")
    sub(b, 50, BUY, 4990, 4, "c")
    d = b.depth()
    assert d.bids == (
        Level(4990, 5, 2),
        Level(4989, 2, 1),
        Level(4988, 3, 1),
        Level(4987, 4, 1),
        Level(4986, 5, 1),
    )
    assert [lv.price for lv in d.asks] == [5010, 5011, 5012, 5013, 5014]
    assert len(b.depth(7).bids) == 7 and b.depth(0).bids == ()


def test_close_expires_orders_and_sets_the_vwap_close():
    b = book(fees=FeeSchedule.from_bp(5, 5))
    sub(b, 1, SELL, 5000, 10, "a")
    sub(b, 2, SELL, 5010, 10, "a")
    sub(b, 3, BUY, 5010, 15, "b")  # 10 @ 50.00 + 5 @ 50.10
    sub(b, 4, BUY, 4900, 3, "c")
    close_at = at(MONDAY, 15)
    ev = b.close_day(close_at)
    assert ev == [
        OrderExpired(2, 5, close_at),
        OrderExpired(4, 3, close_at),
        DayClosed(MONDAY, 5003, 5000, 15, 75050, close_at),  # 50.0333 → 50.03
    ]
    assert b.previous_close == 5003 and b.band.low == 4503 and b.band.high == 5503
    assert b.depth().bids == () and b.depth().asks == ()
    # the day is closed: no more orders today, and no second close
    assert reason(b.close_day(close_at)) is Reason.MARKET_CLOSED
    assert reason(sub(b, 9, BUY, 5000, 1, now=at(MONDAY, 14, 30))) is Reason.MARKET_CLOSED
    # next day: new band from the new close
    tue = MONDAY + dt.timedelta(days=1)
    assert reason(sub(b, 10, BUY, 4502, 1, now=at(tue, 10))) is Reason.OUTSIDE_BAND
    assert isinstance(sub(b, 11, BUY, 4503, 1, now=at(tue, 10))[-1], OrderRested)


def test_close_without_trades_keeps_the_previous_close():
    b = book()
    sub(b, 1, BUY, 5000, 1, "a")
    ev = b.close_day(at(MONDAY, 15))
    assert ev[-1] == DayClosed(MONDAY, 5000, 5000, 0, 0, at(MONDAY, 15))


def test_close_on_a_day_without_orders_and_on_a_holiday():
    b = book()
    assert b.close_day(at(MONDAY, 15)) == [DayClosed(MONDAY, 5000, 5000, 0, 0, at(MONDAY, 15))]
    sunday = at(MONDAY + dt.timedelta(days=6), 15)
    assert reason(b.close_day(sunday)) is Reason.NOT_TRADING_DAY


def test_missed_close_is_done_by_the_next_days_first_command():
    b = book()
    sub(b, 1, SELL, 5000, 10, "a")
    sub(b, 2, BUY, 5000, 4, "b")
    tue = at(MONDAY + dt.timedelta(days=1), 9, 31)
    ev = sub(b, 3, BUY, 5000, 1, "c", now=tue)
    assert ev[:2] == [OrderExpired(1, 6, tue), DayClosed(MONDAY, 5000, 5000, 4, 20000, tue)]
    assert isinstance(ev[2], OrderAccepted)
    assert b.order(1).status is OrderStatus.EXPIRED
    assert b.day == tue.date() and b.is_open


def test_time_before_the_trading_day_is_refused():
    b = book()
    tue = at(MONDAY + dt.timedelta(days=1), 10)
    sub(b, 1, BUY, 5000, 1, "a", now=tue)
    assert reason(sub(b, 2, BUY, 5000, 1, "a", now=T)) is Reason.STALE_TIME
    assert reason(b.cancel(1, "a", T)) is Reason.STALE_TIME
    assert reason(b.close_day(T)) is Reason.STALE_TIME


def test_fees_on_trades_conserve_money():
    b = book(fees=FeeSchedule(buyer_ppm=300, seller_ppm=500))
    sub(b, 1, SELL, 5001, 333, "a")
    (t,) = trades(sub(b, 2, BUY, 5001, 333, "b"))
    assert t.value == 5001 * 333
    assert t.buyer_fee == 5001 * 333 * 300 // 10**6
    assert t.seller_fee == 5001 * 333 * 500 // 10**6


def test_journal_replay_gives_the_same_events_and_state():
    tue = MONDAY + dt.timedelta(days=1)
    journal = [
        Submit(1, SELL, 5000, 10, "a", "A", T, "r1"),
        Submit(2, SELL, 5002, 10, "b", "B", T, "r2"),
        Submit(3, BUY, 5002, 15, "c", "C", T + dt.timedelta(seconds=1), "r3"),
        Cancel(2, "b", T + dt.timedelta(seconds=2)),
        Submit(4, BUY, 4990, 7, "c", "C", T + dt.timedelta(seconds=3), "r4"),
        CloseDay(at(MONDAY, 15)),
        Submit(5, SELL, 4980, 2, "a", "A", at(tue, 9, 45), "r5"),
        Submit(6, BUY, 4985, 2, "b", "B", at(tue, 9, 46), "r6"),
    ]
    first = ListedBook(5000, fees=FeeSchedule.from_bp(3, 3))
    events = replay(first, journal)
    second = ListedBook(5000, fees=FeeSchedule.from_bp(3, 3))
    assert replay(second, journal) == events
    assert second.snapshot() == first.snapshot()
    assert second.trades == first.trades
    with pytest.raises(TypeError):
        first.apply(object())  # type: ignore[arg-type]
