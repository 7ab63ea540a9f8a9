"""Shared helpers of the market tests: times, a random command stream, positions, invariants."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from tanhui.market import (
    Cancel,
    CloseDay,
    DayClosed,
    ListedBook,
    OrderCancelled,
    OrderExpired,
    Rejected,
    Side,
    Submit,
    Trade,
)
from tanhui.market.rules import Command, MarketRules

#: Monday 2 March 2026, a working day.
MONDAY = dt.date(2026, 3, 2)


def at(day: dt.date, hh: int, mm: int = 0, ss: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hh, mm, ss)


MON_0930 = at(MONDAY, 9, 30)
MON_1000 = at(MONDAY, 10)


def next_session_start(now: dt.datetime, rules: MarketRules) -> dt.datetime:
    """The next session start strictly after ``now``."""
    day = now.date()
    for _ in range(30):
        if rules.is_working_day(day):
            for start, _end in rules.listed_sessions:
                t = dt.datetime.combine(day, start)
                if t > now:
                    return t
        day += dt.timedelta(days=1)
    raise AssertionError("no session in 30 days")


def random_commands(seed: int, n: int, owners: int = 6) -> Iterator[Command]:
    """A seeded stream of book commands: mostly orders near the last close, some cancels (some by
    the wrong owner or of unknown ids), invalid orders, lunch breaks, closes and weekends."""
    rng = random.Random(seed)
    rules = MarketRules()
    now = MON_0930
    mid = 5000
    ids: list[int] = []
    next_id = 1
    for _ in range(n):
        r = rng.random()
        if r < 0.04:
            step = rng.choice([1, 5, 30, 60, 120, 200])
            now += dt.timedelta(minutes=step)
            if rng.random() < 0.8 and not rules.in_session(now):
                now = next_session_start(now, rules)
        if r < 0.005:
            yield CloseDay(now.replace(hour=15, minute=0, second=0))
            now = next_session_start(now.replace(hour=15, minute=0, second=0), rules)
            continue
        if r < 0.02:
            now += dt.timedelta(seconds=rng.randint(0, 30))
        if r < 0.25 and ids:
            # mostly recent orders (likely still resting), sometimes old or unknown ones
            pool = ids[-30:] if rng.random() < 0.85 else ids
            oid = rng.choice(pool) if rng.random() < 0.97 else 10**9 + rng.randint(0, 5)
            owner = (
                f"o{(oid * 7919) % owners}" if rng.random() < 0.9 else f"o{rng.randrange(owners)}"
            )
            yield Cancel(oid, owner, now)
            continue
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        spread = rng.choice([3, 10, 25, 40, 700])
        # buyers lean low, sellers high, so the book builds depth and takers sweep levels
        lean = -2 if side is Side.BUY else 2
        price = mid + lean + rng.randint(-spread, spread)
        if rng.random() < 0.01:
            price = rng.choice([0, -5])
        quantity = rng.choice([1, 2, 5, 10, 20, 50, rng.randint(1, 400)])
        if rng.random() < 0.03:  # a big taker that sweeps several levels
            quantity = rng.randint(300, 3000)
            price = mid + (rng.randint(20, 400) if side is Side.BUY else -rng.randint(20, 400))
        if rng.random() < 0.01:
            quantity = rng.choice([0, -3, 99_999, 100_000, 250_000])
        oid = next_id
        next_id += 1
        if rng.random() < 0.003 and ids:
            oid = rng.choice(ids)  # duplicate id
        else:
            ids.append(oid)
        owner = f"o{(oid * 7919) % owners}"
        yield Submit(oid, side, price, quantity, owner, f"acct-{owner}", now, f"res-{oid}")


def positions(trades: list[Trade]) -> dict[str, Any]:
    """Per-owner tonnes and cash from a list of trades (buy value + fee out, sell value − fee in)."""
    tonnes: dict[Any, int] = defaultdict(int)
    cash: dict[Any, int] = defaultdict(int)
    exchange = 0
    for t in trades:
        tonnes[t.buyer] += t.quantity
        tonnes[t.seller] -= t.quantity
        cash[t.buyer] -= t.value + t.buyer_fee
        cash[t.seller] += t.value - t.seller_fee
        exchange += t.buyer_fee + t.seller_fee
    return {"tonnes": dict(tonnes), "cash": dict(cash), "exchange": exchange}


def check_conservation(trades: list[Trade]) -> None:
    pos = positions(trades)
    assert sum(pos["tonnes"].values()) == 0
    assert sum(pos["cash"].values()) + pos["exchange"] == 0
    assert sum(t.value for t in trades) == sum(t.price * t.quantity for t in trades)


def check_book(book: ListedBook) -> None:
    """Structural invariants of a book at rest."""
    bid, ask = book.best(Side.BUY), book.best(Side.SELL)
    assert bid is None or ask is None or bid < ask, f"crossed book {bid} >= {ask}"
    for side in (Side.BUY, Side.SELL):
        resting = book.resting(side)
        key = (lambda o: (-o.price, o.seq)) if side is Side.BUY else (lambda o: (o.price, o.seq))
        assert resting == sorted(resting, key=key), "price-then-time priority broken"
        for o in resting:
            assert o.remaining > 0
            assert o.price in book.band
        depth = book.depth(10_000)
        levels = depth.bids if side is Side.BUY else depth.asks
        assert sum(lv.quantity for lv in levels) == sum(o.remaining for o in resting)
        assert sum(lv.orders for lv in levels) == len(resting)
    filled: dict[Any, int] = defaultdict(int)
    for t in book.trades:
        filled[t.buy_order_id] += t.quantity
        filled[t.sell_order_id] += t.quantity
    for o in book.orders():
        assert o.filled + o.remaining == o.quantity
        assert o.filled == filled.get(o.order_id, 0)


class EventChecker:
    """Checks a stream of book events as they come: no fill of an ended order, fills inside the
    band of their day, at the maker's price, never worse than either limit."""

    def __init__(self, book: ListedBook) -> None:
        self.book = book
        self.band = book.band
        self.ended: set[Any] = set()
        self.limits: dict[Any, tuple[Side, int]] = {
            o.order_id: (o.side, o.price) for o in book.orders()
        }

    def feed(self, events: list[Any]) -> None:
        for e in events:
            if isinstance(e, DayClosed):
                self.band = self.book.rules.band(e.close_price)
            elif isinstance(e, (OrderCancelled, OrderExpired)):
                self.ended.add(e.order_id)
            elif isinstance(e, Trade):
                assert e.buy_order_id not in self.ended and e.sell_order_id not in self.ended
                assert self.band.low <= e.price <= self.band.high
                assert e.quantity > 0
                buy, sell = self.book.order(e.buy_order_id), self.book.order(e.sell_order_id)
                assert buy is not None and sell is not None
                assert e.price <= buy.price and e.price >= sell.price
                maker = buy if e.taker_side is Side.SELL else sell
                assert e.price == maker.price
                assert (e.buyer, e.seller) == (buy.owner, sell.owner)
                assert e.buyer != e.seller, "self-trade"
            elif isinstance(e, Rejected):
                pass
