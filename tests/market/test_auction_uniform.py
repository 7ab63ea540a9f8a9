"""Multi-unit uniform-price auction (Guangdong / Shanghai allowance auctions): hand cases, and the
clearing against the naive tonne-by-tonne reference."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from market_helpers import MONDAY, at

from tanhui.market import (
    AuctionCleared,
    AuctionFailed,
    AuctionState,
    Bid,
    BidAccepted,
    BidFilled,
    BidUnfilled,
    ConfirmBidderPayment,
    DepositReleased,
    Forfeited,
    InvalidTerms,
    PaymentConfirmed,
    PlaceUniformBid,
    Qualify,
    Reason,
    Rejected,
    Tick,
    UniformAuction,
    UniformTerms,
    Unsold,
    Won,
    clear_uniform,
)
from tanhui.market.reference import reference_uniform

OPEN = at(MONDAY, 9, 30)
CLOSE = at(MONDAY, 11)
TERMS = UniformTerms(
    auction_id="U1",
    seller="bureau",
    supply=10_000,
    reserve_price=2000,
    deposit=50_000,
    opens_at=OPEN,
    closes_at=CLOSE,
)
BIDDERS = ("p", "q", "r", "s", "t")


def auction(**changes) -> UniformAuction:
    u = UniformAuction(dataclasses.replace(TERMS, **changes))
    for b in BIDDERS:
        u.qualify(b, OPEN)
    return u


def reason(events):
    (r,) = [e for e in events if isinstance(e, Rejected)]
    return r.reason


def fills(events):
    return [(e.bid_id, e.quantity) for e in events if isinstance(e, BidFilled)]


def test_demand_below_supply_all_fill_at_the_lowest_bid():
    u = auction()
    u.bid(1, "p", 2500, 3000, OPEN)
    u.bid(2, "q", 2100, 2000, OPEN)
    u.bid(3, "r", 2300, 1000, OPEN)
    ev = u.tick(CLOSE)
    assert ev[0] == AuctionCleared("U1", 2100, 6000, 4000, CLOSE)
    assert fills(ev) == [(1, 3000), (3, 1000), (2, 2000)]
    assert all(e.price == 2100 for e in ev if isinstance(e, BidFilled))
    assert Unsold("U1", 4000, Reason.UNDERSUBSCRIBED, CLOSE) in ev


def test_oversubscribed_fills_in_rank_order_with_a_partial_marginal_bid():
    u = auction()
    u.bid(1, "p", 2500, 4000, OPEN)
    u.bid(2, "q", 2400, 3000, OPEN)
    u.bid(3, "r", 2300, 5000, OPEN)  # marginal: 3,000 of 5,000
    u.bid(4, "s", 2200, 5000, OPEN)  # out
    ev = u.tick(CLOSE)
    assert ev[0] == AuctionCleared("U1", 2300, 10_000, 0, CLOSE)  # the lowest winning bid
    assert fills(ev) == [(1, 4000), (2, 3000), (3, 3000)]
    assert BidFilled("U1", 3, "r", 2300, 3000, 5000, CLOSE) in ev
    assert BidUnfilled("U1", 4, "s", Reason.OUTBID, CLOSE) in ev
    due = MONDAY + dt.timedelta(days=3)
    won = [e for e in ev if isinstance(e, Won)]
    assert won == [
        Won("U1", "p", 4000, 2300, 4000 * 2300, due, CLOSE),
        Won("U1", "q", 3000, 2300, 3000 * 2300, due, CLOSE),
        Won("U1", "r", 3000, 2300, 3000 * 2300, due, CLOSE),
    ]
    released = [e.bidder for e in ev if isinstance(e, DepositReleased)]
    assert released == ["s", "t"]


def test_earlier_bid_wins_a_tie_at_the_margin():
    u = auction()
    u.bid(1, "p", 2500, 5000, OPEN)
    u.bid(2, "q", 2300, 3000, OPEN)
    u.bid(3, "r", 2300, 3000, OPEN + dt.timedelta(minutes=1))
    ev = u.tick(CLOSE)
    assert fills(ev) == [(1, 5000), (2, 3000), (3, 2000)]


def test_no_fill_below_reserve():
    u = auction()
    u.bid(1, "p", 2500, 2000, OPEN)
    u.bid(2, "q", 1999, 5000, OPEN)  # accepted (the reserve is not shown) but never fills
    ev = u.tick(CLOSE)
    assert ev[0] == AuctionCleared("U1", 2500, 2000, 8000, CLOSE)
    assert BidUnfilled("U1", 2, "q", Reason.BELOW_RESERVE, CLOSE) in ev
    assert fills(ev) == [(1, 2000)]


def test_everything_below_reserve_fails():
    u = auction()
    u.bid(1, "p", 1500, 2000, OPEN)
    ev = u.tick(CLOSE)
    assert ev[0] == AuctionFailed("U1", Reason.BELOW_RESERVE, CLOSE)
    assert u.state is AuctionState.FAILED
    assert [e.bidder for e in ev if isinstance(e, DepositReleased)] == list(BIDDERS)


def test_no_bids_fails():
    assert auction().tick(CLOSE)[0] == AuctionFailed("U1", Reason.NO_BIDS, CLOSE)


def test_bid_checks():
    u = auction()
    assert reason(u.bid(1, "p", 2500, 999, OPEN)) is Reason.BELOW_MIN_SIZE
    assert reason(u.bid(1, "p", 2500, 0, OPEN)) is Reason.BAD_QUANTITY
    assert reason(u.bid(1, "p", 0, 1000, OPEN)) is Reason.BAD_PRICE
    assert reason(u.bid(1, "nobody", 2500, 1000, OPEN)) is Reason.NOT_QUALIFIED
    assert reason(u.bid(1, "p", 2500, 1000, OPEN - dt.timedelta(seconds=1))) is Reason.NOT_OPEN
    # 50 % cap over all of one bidder's bids
    assert reason(u.bid(1, "p", 2500, 5001, OPEN)) is Reason.OVER_BIDDER_CAP
    assert u.bid(2, "p", 2500, 3000, OPEN) == [BidAccepted("U1", 2, "p", 2500, 3000, OPEN)]
    assert u.bid(3, "p", 2400, 2000, OPEN) == [BidAccepted("U1", 3, "p", 2400, 2000, OPEN)]
    assert reason(u.bid(4, "p", 2600, 1000, OPEN)) is Reason.OVER_BIDDER_CAP
    assert reason(u.bid(2, "q", 2500, 1000, OPEN)) is Reason.DUPLICATE_ID
    # irrevocable
    assert reason(u.cancel_bid(2, "p", OPEN)) is Reason.IRREVOCABLE
    assert len(u.bids) == 2
    # after the close
    u.tick(CLOSE)
    assert reason(u.bid(9, "q", 2500, 1000, CLOSE)) is Reason.AUCTION_CLOSED
    assert reason(u.qualify("late", CLOSE)) is Reason.AUCTION_CLOSED


def test_cap_is_rounded_down_and_configurable():
    t = dataclasses.replace(TERMS, supply=10_001, bidder_cap_ppm=300_000)
    assert t.bidder_cap_t == 3000
    u = UniformAuction(t)
    u.qualify("p", OPEN)
    assert reason(u.bid(1, "p", 2500, 3001, OPEN)) is Reason.OVER_BIDDER_CAP
    assert not any(isinstance(e, Rejected) for e in u.bid(2, "p", 2500, 3000, OPEN))


def test_payment_and_forfeiture_per_bidder():
    u = auction()
    u.bid(1, "p", 2500, 5000, OPEN)
    u.bid(2, "q", 2400, 5000, OPEN)
    u.tick(CLOSE)
    thu = at(MONDAY + dt.timedelta(days=3), 16)
    assert u.confirm_payment("p", thu) == [
        PaymentConfirmed("U1", "p", 5000 * 2400, thu),
        DepositReleased("U1", "p", 50_000, thu),
    ]
    assert reason(u.confirm_payment("p", thu)) is Reason.NOT_AWARDED
    assert reason(u.confirm_payment("s", thu)) is Reason.NOT_AWARDED
    fri = at(MONDAY + dt.timedelta(days=4), 9)
    assert u.tick(fri) == [
        Forfeited("U1", "q", 50_000, fri),
        Unsold("U1", 5000, Reason.PAYMENT_OVERDUE, fri),
    ]
    assert reason(u.confirm_payment("q", fri)) is Reason.NOT_AWARDED


@pytest.mark.parametrize(
    "changes",
    [
        {"supply": 0},
        {"reserve_price": 0},
        {"closes_at": OPEN},
        {"min_bid_t": 0},
        {"bidder_cap_ppm": 0},
        {"supply": 1500},  # cap 750 t < minimum bid 1,000 t: nobody could bid
        {"deposit": -1},
    ],
)
def test_impossible_terms(changes):
    with pytest.raises(InvalidTerms):
        UniformAuction(dataclasses.replace(TERMS, **changes))


def test_journal_replay():
    journal = [
        Qualify("p", OPEN),
        Qualify("q", OPEN),
        PlaceUniformBid(1, "p", 2500, 5000, OPEN),
        PlaceUniformBid(2, "q", 2300, 5000, OPEN),
        PlaceUniformBid(3, "q", 2600, 1000, OPEN),
        Tick(CLOSE),
        ConfirmBidderPayment("p", CLOSE),
    ]
    runs = []
    for _ in range(2):
        u = UniformAuction(TERMS)
        runs.append(([e for c in journal for e in u.apply(c)], u.allocation, u.pending))
    assert runs[0] == runs[1]


bid_lists = st.lists(
    st.tuples(st.integers(1, 12), st.integers(1, 40)),  # (price, quantity): many equal prices
    max_size=30,
)


@settings(max_examples=int(os.environ.get("TANHUI_MARKET_EXAMPLES", 60)) * 3, deadline=None)
@given(bid_lists, st.integers(1, 300), st.integers(1, 12))
def test_clearing_equals_the_tonne_by_tonne_reference(raw, supply, reserve):
    bids = [Bid(i, f"b{i % 4}", p, q, i, OPEN) for i, (p, q) in enumerate(raw)]
    got = clear_uniform(bids, supply, reserve)
    want = reference_uniform([(b.bid_id, b.price, b.quantity) for b in bids], supply, reserve)
    assert got == want
    # the rules, stated directly
    eligible = [b for b in bids if b.price >= reserve]
    sold = sum(q for _, q in got.fills)
    assert sold + got.unsold == supply
    assert sold == min(supply, sum(b.quantity for b in eligible))
    if got.fills:
        by_id = {b.bid_id: b for b in bids}
        winners = [by_id[i] for i, _ in got.fills]
        assert got.price == min(b.price for b in winners)  # the lowest winning bid
        assert got.price >= reserve  # no fill below the reserve
        assert all(by_id[i].quantity >= q > 0 for i, q in got.fills)
        # everyone strictly better than the price fills completely
        filled = dict(got.fills)
        for b in eligible:
            if b.price > got.price:
                assert filled.get(b.bid_id) == b.quantity
        # at most one bid (the marginal one) is partial
        assert sum(1 for i, q in got.fills if q < by_id[i].quantity) <= 1
    else:
        assert got.price is None and sold == 0


def test_close_with_ten_thousand_bids():
    """Scale: 10,000 bids clear (the benchmark times it; here only correctness)."""
    import random

    rng = random.Random(5)
    t = dataclasses.replace(TERMS, supply=5_000_000, min_bid_t=1000, bidder_cap_ppm=500_000)
    u = UniformAuction(t)
    for b in range(2000):
        u.qualify(f"b{b}", OPEN)
    for i in range(10_000):
        u.bid(i, f"b{i % 2000}", rng.randint(1800, 3000), rng.randint(1000, 1500), OPEN)
    ev = u.tick(CLOSE)
    (cleared,) = [e for e in ev if isinstance(e, AuctionCleared)]
    assert cleared.sold == 5_000_000 and cleared.unsold == 0
    assert sum(e.quantity for e in ev if isinstance(e, BidFilled)) == 5_000_000
    assert sum(e.quantity for e in ev if isinstance(e, Won)) == 5_000_000
    assert all(e.price == cleared.price for e in ev if isinstance(e, BidFilled | Won))
