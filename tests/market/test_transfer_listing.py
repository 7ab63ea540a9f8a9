"""The listing rule of agreement transfer (协议转让): ≥ 7 days' announcement; one intended buyer →
negotiation at ≥ the listing price; two or more → an ascending auction among them."""

from __future__ import annotations

import datetime as dt

import pytest
from market_helpers import MONDAY, at

from tanhui.market import (
    Abandon,
    AuctionCalled,
    AuctionState,
    BidAccepted,
    BidderQualified,
    CloseDay,
    Conclude,
    DepositReleased,
    ExpressIntent,
    IntentRegistered,
    InvalidTerms,
    ListingLapsed,
    ListingState,
    ListingTerms,
    NegotiatedDeal,
    NegotiationOpened,
    PlaceBid,
    Reason,
    Rejected,
    Tick,
    TransferListing,
    Won,
)

START = at(MONDAY, 9)
ENDS = START + dt.timedelta(days=7)
TERMS = ListingTerms(
    listing_id="L1",
    seller="jiangle",
    quantity=20_000,  # Jiangle → Shanghai, 2023: 20,000 t for 300,000 yuan
    listing_price=1500,
    announced_at=START,
    deposit=30_000,
    increment_ticks=5,
    auction_duration=dt.timedelta(hours=1),
    countdown=dt.timedelta(minutes=5),
)


def listing() -> TransferListing:
    return TransferListing(TERMS)


def reason(events):
    (r,) = [e for e in events if isinstance(e, Rejected)]
    return r.reason


def test_intents_during_the_announcement_only():
    li = listing()
    assert reason(li.express_intent("b1", START - dt.timedelta(seconds=1))) is Reason.NOT_ANNOUNCING
    assert li.express_intent("b1", START) == [IntentRegistered("L1", "b1", START)]
    assert reason(li.express_intent("b1", START)) is Reason.ALREADY_QUALIFIED
    assert reason(li.express_intent("jiangle", START)) is Reason.SELLER_CANNOT_BID
    # 7 full days: the last second still counts, the end itself does not
    assert li.express_intent("b2", ENDS - dt.timedelta(seconds=1))[-1] == IntentRegistered(
        "L1", "b2", ENDS - dt.timedelta(seconds=1)
    )
    ev = li.express_intent("b3", ENDS)
    assert isinstance(ev[0], AuctionCalled) and ev[-1] == Rejected(
        "b3", Reason.NOT_ANNOUNCING, ENDS
    )


def test_no_buyer_lapses():
    li = listing()
    assert li.tick(ENDS - dt.timedelta(seconds=1)) == []
    assert li.tick(ENDS) == [ListingLapsed("L1", Reason.NO_INTENDED_BUYER, ENDS)]
    assert li.state is ListingState.LAPSED


def test_one_buyer_negotiates_at_or_above_the_listing_price():
    li = listing()
    li.express_intent("shanghai", START + dt.timedelta(days=1))
    assert li.tick(ENDS) == [NegotiationOpened("L1", "shanghai", 1500, ENDS)]
    assert reason(li.conclude("other", 1600, ENDS)) is Reason.NOT_INTENDED_BUYER
    assert reason(li.conclude("shanghai", 1499, ENDS)) is Reason.BELOW_LISTING_PRICE
    assert reason(li.bid(1, "shanghai", 1500, ENDS)) is Reason.WRONG_STATE
    ev = li.conclude("shanghai", 1500, ENDS)
    assert ev == [
        NegotiatedDeal("L1", "jiangle", "shanghai", 20_000, 1500, 300_000_00, ENDS),
        DepositReleased("L1", "shanghai", 30_000, ENDS),
    ]
    assert li.state is ListingState.AGREED and li.deal == ev[0]
    assert reason(li.conclude("shanghai", 1500, ENDS)) is Reason.WRONG_STATE


def test_failed_negotiation_lapses():
    li = listing()
    li.express_intent("b1", START)
    li.tick(ENDS)
    assert li.abandon(ENDS) == [
        ListingLapsed("L1", Reason.NEGOTIATION_FAILED, ENDS),
        DepositReleased("L1", "b1", 30_000, ENDS),
    ]
    assert reason(li.abandon(ENDS)) is Reason.WRONG_STATE


def test_two_buyers_go_to_auction():
    li = listing()
    li.express_intent("b1", START)
    li.express_intent("b2", START + dt.timedelta(days=2))
    ev = li.tick(ENDS)
    assert ev == [
        AuctionCalled("L1", ("b1", "b2"), ENDS, ENDS + dt.timedelta(hours=1), ENDS),
        BidderQualified("L1", "b1", 30_000, ENDS),
        BidderQualified("L1", "b2", 30_000, ENDS),
    ]
    assert li.state is ListingState.AUCTION
    assert li.auction is not None and li.auction.terms.reserve_price == 1500
    assert reason(li.conclude("b1", 1600, ENDS)) is Reason.WRONG_STATE
    assert reason(li.bid(1, "b1", 1499, ENDS)) is Reason.BELOW_START
    assert li.bid(2, "b1", 1500, ENDS) == [BidAccepted("L1", 2, "b1", 1500, 20_000, ENDS)]
    later = ENDS + dt.timedelta(minutes=10)
    li.bid(3, "b2", 1505, later)
    ev = li.tick(ENDS + dt.timedelta(hours=2))
    assert isinstance(ev[0], Won) and ev[0].bidder == "b2" and ev[0].price == 1505
    assert ev[1] == DepositReleased("L1", "b1", 30_000, ENDS + dt.timedelta(hours=2))
    assert li.confirm_payment(ENDS + dt.timedelta(hours=3))[0].amount == 1505 * 20_000
    assert li.auction.state is AuctionState.SETTLED


def test_confirm_payment_without_auction_is_refused():
    assert reason(listing().confirm_payment(START)) is Reason.WRONG_STATE


def test_announcement_shorter_than_seven_days_is_refused():
    import dataclasses

    with pytest.raises(InvalidTerms):
        TransferListing(dataclasses.replace(TERMS, announce_days=6))
    with pytest.raises(InvalidTerms):
        TransferListing(dataclasses.replace(TERMS, listing_price=0))


def test_journal_replay():
    journal = [
        ExpressIntent("b1", START),
        ExpressIntent("b2", START),
        Tick(ENDS),
        PlaceBid(1, "b2", 1500, ENDS),
        PlaceBid(2, "b1", 1510, ENDS + dt.timedelta(minutes=58)),
        Tick(ENDS + dt.timedelta(hours=1, minutes=4)),
        Tick(ENDS + dt.timedelta(hours=1, minutes=5)),
    ]
    runs = []
    for _ in range(2):
        li = listing()
        events = [e for c in journal for e in li.apply(c)]
        runs.append((events, li.state, li.auction.state, li.auction.bids))
    assert runs[0] == runs[1]
    assert any(isinstance(e, Won) and e.bidder == "b1" for e in runs[0][0])
    li = listing()
    assert li.apply(Abandon(START)) == [Rejected("L1", Reason.WRONG_STATE, START)]
    assert li.apply(Conclude("b", 1600, START)) == [Rejected("L1", Reason.WRONG_STATE, START)]
    with pytest.raises(TypeError):
        li.apply(CloseDay(START))
