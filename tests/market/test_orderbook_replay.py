"""Seeded random replay: many thousand book commands against the naive reference model.

The fast :class:`ListedBook` and the naive :class:`ReferenceBook` take the same command stream
(:func:`market_helpers.random_commands`: orders, cancels, bad orders, duplicate ids, lunch breaks,
closes, missed closes, weekends) and must produce identical events after every command and
identical final books, trades and per-owner positions; tonnes and cash are conserved. Then the
journal is replayed on a fresh book and must give the same events and state.

``TANHUI_MARKET_REPLAY_COMMANDS=1000000 TANHUI_MARKET_REPLAY_SEEDS=1,2,3`` runs longer streams
(default: 20,000 commands, seed 2026).
"""

from __future__ import annotations

import os
from collections import Counter

import pytest
from market_helpers import (
    EventChecker,
    check_book,
    check_conservation,
    positions,
    random_commands,
)

from tanhui.market import (
    DayClosed,
    FeeSchedule,
    ListedBook,
    OrderCancelled,
    Reason,
    Rejected,
    Trade,
)
from tanhui.market.orderbook import replay
from tanhui.market.reference import ReferenceBook

COMMANDS = int(os.environ.get("TANHUI_MARKET_REPLAY_COMMANDS", 20_000))
SEEDS = [int(s) for s in os.environ.get("TANHUI_MARKET_REPLAY_SEEDS", "2026").split(",")]
FEES = FeeSchedule(buyer_ppm=250, seller_ppm=450)


@pytest.mark.parametrize("seed", SEEDS)
def test_seeded_replay_against_reference(seed):
    book = ListedBook(5000, fees=FEES)
    ref = ReferenceBook(5000, fees=FEES)
    checker = EventChecker(book)
    journal = list(random_commands(seed, COMMANDS))
    all_events = []
    for i, command in enumerate(journal):
        got = book.apply(command)
        want = ref.apply(command)
        assert got == want, f"command {i}: {command}"
        checker.feed(got)
        all_events.extend(got)
        if i % 2503 == 0:
            check_book(book)

    assert book.snapshot() == ref.snapshot()
    assert book.trades == ref.trades
    assert positions(book.trades) == positions(ref.trades)
    check_book(book)
    check_conservation(book.trades)

    # the stream really exercised the engine
    kinds = Counter(type(e).__name__ for e in all_events)
    reasons = Counter(e.reason for e in all_events if isinstance(e, Rejected | OrderCancelled))
    assert kinds["Trade"] > COMMANDS // 10
    assert kinds["DayClosed"] >= 3 and kinds["OrderExpired"] > 0
    for why in (
        Reason.SELF_TRADE,
        Reason.OUTSIDE_BAND,
        Reason.OUTSIDE_SESSION,
        Reason.BAD_QUANTITY,
        Reason.OWNER_CANCEL,
        Reason.NOT_OWNER,
        Reason.NOT_ACTIVE,
    ):
        assert reasons[why] > 0, why
    closes = [e for e in all_events if isinstance(e, DayClosed)]
    assert len({c.close_price for c in closes}) > 1

    # the journal replays to the same events and the same state
    again = ListedBook(5000, fees=FEES)
    assert replay(again, journal) == all_events
    assert again.snapshot() == book.snapshot()
    assert [t for t in all_events if isinstance(t, Trade)] == again.trades
