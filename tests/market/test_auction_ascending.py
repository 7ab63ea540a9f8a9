"""Single-lot ascending auction (单向竞价, Guangzhou / rural property exchange rules): hand cases
and a small state machine."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from market_helpers import MONDAY, at

from tanhui.market import (
    AscendingAuction,
    AscendingTerms,
    AuctionExtended,
    AuctionFailed,
    AuctionState,
    BidAccepted,
    BidderQualified,
    CloseDay,
    ConfirmPayment,
    DepositReleased,
    Forfeited,
    InvalidTerms,
    MarketRules,
    PaymentConfirmed,
    PlaceBid,
    Qualify,
    Reason,
    Rejected,
    Tick,
    Unsold,
    Won,
)

OPEN = at(MONDAY, 10)
END = at(MONDAY, 11)
MIN = dt.timedelta(minutes=1)
TERMS = AscendingTerms(
    auction_id="A1",
    seller="farm",
    quantity=6250,  # Guizhou's first trades, about 6,250 t
    start_price=1500,  # 15 yuan/t, Sanming's first tickets
    reserve_price=1600,
    increment_ticks=10,  # 0.10 yuan
    deposit=100_000,
    opens_at=OPEN,
    ends_at=END,
    countdown=5 * MIN,
)


def auction(**changes) -> AscendingAuction:
    a = AscendingAuction(dataclasses.replace(TERMS, **changes))
    for bidder in ("b1", "b2", "b3"):
        a.qualify(bidder, OPEN - MIN)
    return a


def reason(events):
    (r,) = [e for e in events if isinstance(e, Rejected)]
    return r.reason


def test_qualification():
    a = AscendingAuction(TERMS)
    assert a.qualify("b1", OPEN - MIN) == [BidderQualified("A1", "b1", 100_000, OPEN - MIN)]
    assert reason(a.qualify("b1", OPEN)) is Reason.ALREADY_QUALIFIED
    assert reason(a.qualify("farm", OPEN)) is Reason.SELLER_CANNOT_BID
    assert reason(a.bid("x", "nobody", 1500, OPEN)) is Reason.NOT_QUALIFIED
    assert reason(a.bid("x", "farm", 1500, OPEN)) is Reason.NOT_QUALIFIED


def test_first_bid_may_equal_the_start_and_the_next_must_add_the_increment():
    a = auction()
    assert reason(a.bid(1, "b1", 1499, OPEN)) is Reason.BELOW_START
    assert a.bid(2, "b1", 1500, OPEN) == [BidAccepted("A1", 2, "b1", 1500, 6250, OPEN)]
    assert a.min_next_price == 1510
    assert reason(a.bid(3, "b2", 1490, OPEN)) is Reason.BID_TOO_LOW
    assert reason(a.bid(4, "b2", 1500, OPEN)) is Reason.EQUAL_BID_LATER  # the earlier keeps it
    assert reason(a.bid(5, "b2", 1509, OPEN)) is Reason.BELOW_INCREMENT
    assert reason(a.bid(6, "b1", 1600, OPEN)) is Reason.ALREADY_BEST
    assert isinstance(a.bid(7, "b2", 1510, OPEN)[0], BidAccepted)
    assert isinstance(a.bid(8, "b1", 1537, OPEN)[0], BidAccepted)  # any amount ≥ the increment
    assert reason(a.bid(8, "b2", 1600, OPEN)) is Reason.DUPLICATE_ID
    assert a.best.bidder == "b1" and a.best.price == 1537


def test_bids_before_the_opening_and_bad_prices_are_refused():
    a = auction()
    assert reason(a.bid(1, "b1", 1500, OPEN - MIN)) is Reason.NOT_OPEN
    b = AscendingAuction(TERMS, MarketRules(tick_fen=10))
    b.qualify("b1", OPEN)
    assert reason(b.bid(2, "b1", 1505, OPEN)) is Reason.BAD_TICK
    assert reason(b.bid(3, "b1", 0, OPEN)) is Reason.BAD_PRICE


def test_countdown_restarts_on_each_valid_bid():
    a = auction()
    # early bids leave the end alone (the countdown would end before it)
    assert a.bid(1, "b1", 1500, OPEN) == [BidAccepted("A1", 1, "b1", 1500, 6250, OPEN)]
    late = END - 2 * MIN
    ev = a.bid(2, "b2", 1600, late)
    assert ev[-1] == AuctionExtended("A1", late + 5 * MIN, late)
    assert a.ends_at == END + 3 * MIN
    # a refused bid does not extend
    assert reason(a.bid(3, "b3", 1600, END)) is Reason.EQUAL_BID_LATER
    assert a.ends_at == END + 3 * MIN
    # the old end has passed but the countdown has not: still open
    assert a.tick(END + MIN) == []
    ev = a.bid(4, "b3", 1700, END + 2 * MIN)
    assert ev[-1] == AuctionExtended("A1", END + 7 * MIN, END + 2 * MIN)


def test_last_valid_bid_wins_and_losers_deposits_are_released():
    a = auction()
    a.bid(1, "b1", 1500, OPEN)
    a.bid(2, "b2", 1600, OPEN + MIN)
    a.bid(3, "b1", 1700, OPEN + 2 * MIN)
    assert a.tick(END - MIN) == []
    due = MONDAY + dt.timedelta(days=3)  # Thursday: 3 working days
    assert a.tick(END) == [
        Won("A1", "b1", 6250, 1700, 1700 * 6250, due, END),
        DepositReleased("A1", "b2", 100_000, END),
        DepositReleased("A1", "b3", 100_000, END),
    ]
    assert a.state is AuctionState.AWARDED and a.winner == "b1"
    # after the close every bid is refused, even a higher one
    assert reason(a.bid(4, "b2", 9000, END)) is Reason.AUCTION_CLOSED
    assert reason(a.qualify("late", END)) is Reason.AUCTION_CLOSED


def test_bid_arriving_after_expiry_closes_first_then_is_refused():
    a = auction()
    a.bid(1, "b1", 1600, OPEN)
    ev = a.bid(2, "b2", 1700, END + MIN)  # nobody ticked at END
    assert isinstance(ev[0], Won) and ev[0].bidder == "b1"
    assert ev[-1] == Rejected(2, Reason.AUCTION_CLOSED, END + MIN)


def test_no_sale_below_reserve():
    a = auction()
    a.bid(1, "b1", 1500, OPEN)
    a.bid(2, "b2", 1590, OPEN)
    ev = a.tick(END)
    assert ev[0] == AuctionFailed("A1", Reason.BELOW_RESERVE, END)
    assert [e.bidder for e in ev[1:]] == ["b1", "b2", "b3"]  # every deposit back
    assert a.state is AuctionState.FAILED and a.winner is None


def test_no_bids():
    a = auction()
    assert a.tick(END)[0] == AuctionFailed("A1", Reason.NO_BIDS, END)


def test_payment_in_time_settles_and_releases_the_winners_deposit():
    a = auction()
    a.bid(1, "b2", 1650, OPEN)
    a.tick(END)
    thursday_evening = at(MONDAY + dt.timedelta(days=3), 23, 59)
    assert a.confirm_payment(thursday_evening) == [
        PaymentConfirmed("A1", "b2", 1650 * 6250, thursday_evening),
        DepositReleased("A1", "b2", 100_000, thursday_evening),
    ]
    assert a.state is AuctionState.SETTLED
    assert reason(a.confirm_payment(thursday_evening)) is Reason.NOT_AWARDED


def test_unpaid_winner_forfeits_and_the_lot_is_relisted():
    a = auction()
    a.bid(1, "b2", 1650, OPEN)
    a.tick(END)
    friday = at(MONDAY + dt.timedelta(days=4), 0, 0)
    assert a.tick(at(MONDAY + dt.timedelta(days=3), 23)) == []
    assert a.tick(friday) == [
        Forfeited("A1", "b2", 100_000, friday),
        Unsold("A1", 6250, Reason.PAYMENT_OVERDUE, friday),
    ]
    assert a.state is AuctionState.DEFAULTED
    assert reason(a.confirm_payment(friday)) is Reason.PAYMENT_OVERDUE
    nxt = a.relisted(
        "A2", at(MONDAY + dt.timedelta(days=7), 10), at(MONDAY + dt.timedelta(days=7), 11)
    )
    assert nxt.terms.auction_id == "A2" and nxt.terms.quantity == 6250
    assert nxt.state is AuctionState.OPEN and nxt.bids == []


def test_payment_deadline_skips_the_weekend_and_holidays():
    holidays = {MONDAY + dt.timedelta(days=7)}
    rules = MarketRules(is_working_day=lambda d: d.weekday() < 5 and d not in holidays)
    friday_end = at(MONDAY + dt.timedelta(days=4), 11)
    a = AscendingAuction(dataclasses.replace(TERMS, ends_at=friday_end), rules)
    a.qualify("b1", OPEN)
    a.bid(1, "b1", 1600, OPEN)
    (won,) = a.tick(friday_end)
    assert won.payment_due == MONDAY + dt.timedelta(days=10)  # Tue, Wed, Thu of the next week


def test_relisting_an_active_lot_is_refused():
    with pytest.raises(InvalidTerms):
        auction().relisted("A2", OPEN, END)


@pytest.mark.parametrize(
    "changes",
    [
        {"quantity": 0},
        {"start_price": 0},
        {"increment_ticks": 0},
        {"deposit": -1},
        {"ends_at": OPEN},
        {"countdown": dt.timedelta(0)},
        {"payment_days": -1},
    ],
)
def test_impossible_terms(changes):
    with pytest.raises(InvalidTerms):
        AscendingAuction(dataclasses.replace(TERMS, **changes))


def test_journal_replay():
    journal = [
        Qualify("b1", OPEN - MIN),
        Qualify("b2", OPEN - MIN),
        PlaceBid(1, "b1", 1500, OPEN),
        PlaceBid(2, "b2", 1520, END - MIN),
        PlaceBid(3, "b1", 1600, END + 3 * MIN),
        Tick(END + 9 * MIN),
        ConfirmPayment(END + 10 * MIN),
    ]
    runs = []
    for _ in range(2):
        a = AscendingAuction(TERMS)
        events = [e for c in journal for e in a.apply(c)]
        runs.append((events, a.state, a.bids, a.ends_at))
    assert runs[0] == runs[1]
    assert runs[0][1] is AuctionState.SETTLED
    with pytest.raises(TypeError):
        AscendingAuction(TERMS).apply(CloseDay(OPEN))


class AscendingMachine(RuleBasedStateMachine):
    """Random bids and time: the best bid only rises by ≥ the increment, the winner is the last
    valid bid, no award below the reserve, every qualified bidder's deposit is released or kept
    exactly once."""

    def __init__(self) -> None:
        super().__init__()
        self.a = AscendingAuction(TERMS)
        self.now = OPEN - MIN
        self.accepted: list[BidAccepted] = []
        self.released: list = []
        self.kept: list = []
        self.bid_id = 0
        self.events: list = []

    def feed(self, events):
        self.events.extend(events)
        for e in events:
            if isinstance(e, BidAccepted):
                if self.accepted:
                    assert e.price >= self.accepted[-1].price + 10
                    assert e.bidder != self.accepted[-1].bidder
                else:
                    assert e.price >= TERMS.start_price
                self.accepted.append(e)
            elif isinstance(e, Won):
                assert self.accepted and e.bidder == self.accepted[-1].bidder
                assert e.price == self.accepted[-1].price >= TERMS.reserve_price
            elif isinstance(e, AuctionFailed):
                assert not self.accepted or self.accepted[-1].price < TERMS.reserve_price
            elif isinstance(e, DepositReleased):
                self.released.append(e.bidder)
            elif isinstance(e, Forfeited):
                self.kept.append(e.bidder)

    @rule(bidder=st.sampled_from(["b1", "b2", "b3", "b4"]))
    def qualify(self, bidder):
        self.feed(self.a.qualify(bidder, self.now))

    @rule(bidder=st.sampled_from(["b1", "b2", "b3", "b4"]), raise_by=st.integers(-20, 150))
    def bid(self, bidder, raise_by):
        self.bid_id += 1
        base = self.a.best.price if self.a.best else TERMS.start_price
        self.feed(self.a.bid(self.bid_id, bidder, base + raise_by, self.now))

    @rule(minutes=st.sampled_from([0, 1, 4, 6, 30, 60 * 24, 60 * 24 * 3]))
    def wait(self, minutes):
        self.now += dt.timedelta(minutes=minutes)
        self.feed(self.a.tick(self.now))

    @rule()
    def pay(self):
        self.feed(self.a.confirm_payment(self.now))

    @invariant()
    def deposits_once(self):
        assert len(self.released) == len(set(self.released))
        assert not set(self.released) & set(self.kept)
        if self.a.state is not AuctionState.OPEN and self.a.state is not AuctionState.AWARDED:
            assert sorted(self.released + self.kept) == sorted(self.a.qualified)

    @invariant()
    def the_end_never_moves_earlier(self):
        assert self.a.ends_at >= TERMS.ends_at


def test_ascending_state_machine():
    run_state_machine_as_test(
        AscendingMachine,
        settings=settings(
            max_examples=int(os.environ.get("TANHUI_MARKET_EXAMPLES", 60)),
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
