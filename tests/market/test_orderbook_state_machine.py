"""The order book as a Hypothesis state machine, stepped together with the naive reference.

Every step runs the same command on :class:`ListedBook` and :class:`ReferenceBook` and requires the
same events; the invariants of ``shared/reference/market.md`` are checked after every step: the
book is never crossed, FIFO within a level, filled + remaining = original, both sides of a fill
equal (one :class:`Trade` carries both and per-order fills add up), cancelled or expired orders
never fill, every fill is within the day's band at the maker's price, tonnes and cash conserved.

Deeper runs: ``TANHUI_MARKET_EXAMPLES=2000 pytest tests/market/test_orderbook_state_machine.py``.
"""

from __future__ import annotations

import datetime as dt
import os

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from market_helpers import (
    MON_0930,
    EventChecker,
    check_book,
    check_conservation,
    next_session_start,
    positions,
)

from tanhui.market import FeeSchedule, ListedBook, MarketRules, Side
from tanhui.market.reference import ReferenceBook

EXAMPLES = int(os.environ.get("TANHUI_MARKET_EXAMPLES", 40))
STEPS = int(os.environ.get("TANHUI_MARKET_STEPS", 50))
OWNERS = ("a", "b", "c", "d")
FEES = FeeSchedule(buyer_ppm=300, seller_ppm=700)


class BookMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.rules = MarketRules()
        self.book = ListedBook(5000, self.rules, FEES)
        self.ref = ReferenceBook(5000, self.rules, FEES)
        self.checker = EventChecker(self.book)
        self.now = MON_0930
        self.next_id = 1
        self.ids: list[int] = []

    def run(self, method: str, **kwargs) -> list:
        got = getattr(self.book, method)(**kwargs)
        want = getattr(self.ref, method)(**kwargs)
        assert got == want
        self.checker.feed(got)
        return got

    def _submit(self, side, offset, quantity, owner, duplicate=False):
        if duplicate and self.ids:
            oid = self.ids[offset % len(self.ids)]
        else:
            oid = self.next_id
            self.next_id += 1
            self.ids.append(oid)
        self.run(
            "submit",
            order_id=oid,
            side=side,
            price=self.book.previous_close + offset,
            quantity=quantity,
            owner=owner,
            account=f"acct-{owner}",
            now=self.now,
            reservation=f"r{oid}",
        )

    @rule(
        side=st.sampled_from(Side),
        offset=st.integers(-6, 6),
        quantity=st.integers(1, 12),
        owner=st.sampled_from(OWNERS),
    )
    def submit_near_the_touch(self, side, offset, quantity, owner):
        # buyers lean low and sellers high, so depth builds and takers sweep several levels
        self._submit(side, offset + (-2 if side is Side.BUY else 2), quantity, owner)

    @rule(
        side=st.sampled_from(Side),
        offset=st.integers(-12, 12),
        quantity=st.integers(1, 40),
        owner=st.sampled_from(OWNERS),
    )
    def submit_taker(self, side, offset, quantity, owner):
        self._submit(side, offset, quantity, owner)

    @rule(
        side=st.sampled_from(Side),
        offset=st.integers(-700, 700),
        quantity=st.one_of(st.integers(1, 5), st.sampled_from([0, -1, 99_999, 100_000])),
        owner=st.sampled_from(OWNERS),
        duplicate=st.booleans(),
    )
    def submit_anything(self, side, offset, quantity, owner, duplicate):
        self._submit(side, offset, quantity, owner, duplicate)

    @rule(side=st.sampled_from(Side), owner=st.sampled_from(OWNERS))
    def ladder(self, side, owner):
        """Seven one-tonne orders on seven ticks: a later taker meets the five-level limit."""
        for k in range(3, 10):
            self._submit(side, k if side is Side.SELL else -k, 1, owner)

    @precondition(lambda self: self.ids)
    @rule(data=st.data(), right_owner=st.booleans())
    def cancel(self, data, right_owner):
        oid = data.draw(st.sampled_from(self.ids[-10:]))
        order = self.book.order(oid)
        if order is not None and right_owner:
            owner = order.owner
        else:
            owner = data.draw(st.sampled_from(OWNERS))
        self.run("cancel", order_id=oid, owner=owner, now=self.now)

    @rule(
        step=st.sampled_from(
            ["second", "second", "minute", "half_hour", "lunch", "next_session", "close", "skip"]
        )
    )
    def time_passes(self, step):
        """Mostly small steps; sometimes a lunch break, a close, or a missed close (skip)."""
        if step == "close":
            self.now = max(self.now, self.now.replace(hour=15, minute=0, second=0))
            self.run("close_day", now=self.now)
            self.now = next_session_start(self.now, self.rules)
        elif step == "skip":  # the next day without a close: the first command closes
            self.now = next_session_start(self.now.replace(hour=15, minute=0), self.rules)
        elif step == "next_session":
            self.now = next_session_start(self.now, self.rules)
        else:
            seconds = {"second": 1, "minute": 60, "half_hour": 1800, "lunch": 5400}[step]
            self.now += dt.timedelta(seconds=seconds)

    @invariant()
    def same_state_as_reference(self):
        assert self.book.snapshot() == self.ref.snapshot()
        assert self.book.trades == self.ref.trades

    @invariant()
    def book_invariants(self):
        check_book(self.book)
        check_conservation(self.book.trades)
        assert positions(self.book.trades) == positions(self.ref.trades)


def test_book_state_machine():
    run_state_machine_as_test(
        BookMachine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
