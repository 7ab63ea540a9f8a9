"""Auction settlement rules through the service: deposits, the countdown, the award, payment
within the deadline (DvP), forfeiture to the seller or the exchange, unsold lots back to the
seller; the uniform-price auction's awards one by one; the agreement-transfer listing's three ends."""

from __future__ import annotations

import datetime as dt

import pytest
from market_world import T10, at, build_market

from tanhui.market.errors import Refused
from tanhui.market.rules import FeeSchedule

FEES = FeeSchedule(300, 500)
THURSDAY, FRIDAY = at(16, days=3), at(9, days=4)


@pytest.fixture
def mw(db_engine):
    return build_market(db_engine)


def ascending(mw, **kw):
    terms = dict(
        scheme="SMCER",
        quantity=500,
        start_price_fen=1500,
        reserve_price_fen=1550,
        increment_ticks=10,
        deposit_fen=100_000,
        opens_at=at(10),
        ends_at=at(11),
        countdown=dt.timedelta(minutes=5),
        now=at(9),
    )
    terms.update(kw)
    return mw.market.create_auction(mw.actors["farm"], **terms)["id"]


def test_ascending_auction_from_listing_to_settlement(mw):
    m, a = mw.market, mw.actors
    auction = ascending(mw)
    assert mw.tonnes("farm", "RESERVED") == 500  # the lot is frozen on listing
    with pytest.raises(Refused) as e:
        m.bid(a["buyer"], auction_id=auction, price_fen=1500, now=at(10, 1))
    assert e.value.code == "not_qualified"
    with pytest.raises(Refused) as e:
        m.qualify(a["farm"], auction_id=auction, now=at(9, 30))
    assert e.value.code == "seller_cannot_bid"
    for who in ("buyer", "buyer2", "storer"):
        m.qualify(a[who], auction_id=auction, now=at(9, 30))
        assert mw.cash(who)["frozen"] == 100_000
    with pytest.raises(Refused) as e:
        m.bid(a["buyer"], auction_id=auction, price_fen=1500, now=at(9, 59))
    assert e.value.code == "not_open"
    m.bid(a["buyer"], auction_id=auction, price_fen=1500, now=at(10, 1))
    for price, code in (
        (1500, "equal_bid_later"),
        (1505, "below_increment"),
        (1490, "bid_too_low"),
    ):
        with pytest.raises(Refused) as e:
            m.bid(a["buyer2"], auction_id=auction, price_fen=price, now=at(10, 2))
        assert e.value.code == code
    with pytest.raises(Refused) as e:
        m.bid(a["buyer"], auction_id=auction, price_fen=1520, now=at(10, 2))
    assert e.value.code == "already_best"
    m.bid(a["buyer2"], auction_id=auction, price_fen=1510, now=at(10, 58))
    room = m.bid(a["buyer"], auction_id=auction, price_fen=1560, now=at(10, 59))
    assert room["ends_at"] == at(11, 4).isoformat()  # the countdown restarted
    assert room["best_bid_fen"] == 1560 and room["min_next_bid_fen"] == 1570
    assert m.tick(a["exchange"], now=at(11, 1))["auctions"] == []  # still running
    done = m.tick(a["exchange"], now=at(11, 4))["auctions"][0]
    assert "Won" in done["events"]
    room = m.auction(auction)
    assert room["state"] == "awarded"
    assert room["winners"][0]["organisation_id"] == mw.org("buyer")
    assert room["winners"][0]["payment_due"] == "2026-03-05"  # 3 working days after Monday
    assert mw.cash("buyer2") == {"available": 10_000_000, "frozen": 0}  # losers released
    assert mw.cash("storer")["frozen"] == 0
    assert mw.cash("buyer")["frozen"] == 100_000  # the winner's deposit waits for payment
    with pytest.raises(Refused):
        m.pay(a["buyer2"], auction_id=auction, now=THURSDAY)
    m.pay(a["buyer"], auction_id=auction, now=THURSDAY)
    money = FEES.settle(1560, 500)
    assert mw.cash("buyer") == {"available": 10_000_000 - money.buyer_pays, "frozen": 0}
    assert mw.cash("farm")["available"] == 10_000_000 + money.seller_receives
    assert mw.tonnes("buyer") == 500 and mw.tonnes("farm", "RESERVED") == 0
    assert m.auction(auction)["state"] == "settled"
    assert m.deals()[0]["channel"] == "auction"
    assert m.verify() == []


@pytest.mark.parametrize("forfeit_to", ["seller", "exchange"])
def test_an_unpaid_award_forfeits_the_deposit_and_returns_the_lot(db_engine, forfeit_to):
    mw = build_market(db_engine, forfeit_to=forfeit_to)
    m, a = mw.market, mw.actors
    auction = ascending(mw)
    m.qualify(a["buyer"], auction_id=auction, now=at(9, 30))
    m.bid(a["buyer"], auction_id=auction, price_fen=1600, now=at(10, 30))
    m.tick(a["exchange"], now=at(11))
    assert m.tick(a["exchange"], now=THURSDAY)["auctions"] == []  # the deadline is the day's end
    farm_before = mw.cash("farm")["available"]
    done = m.tick(a["exchange"], now=FRIDAY)["auctions"][0]
    assert {"Forfeited", "Unsold"} <= set(done["events"])
    assert mw.cash("buyer") == {"available": 10_000_000 - 100_000, "frozen": 0}
    if forfeit_to == "seller":
        assert mw.cash("farm")["available"] == farm_before + 100_000
    else:
        assert mw.cash("farm")["available"] == farm_before
        assert m.cash.balance(a["exchange"])["available_fen"] == 100_000
    assert mw.tonnes("farm", "RESERVED") == 0 and mw.tonnes("farm") == 5000
    room = m.auction(auction)
    assert room["state"] == "defaulted" and room["winners"][0]["status"] == "forfeited"
    with pytest.raises(Refused) as e:
        m.pay(a["buyer"], auction_id=auction, now=FRIDAY)
    assert e.value.code == "not_awarded"
    assert m.verify() == []


def test_no_sale_below_the_reserve_or_without_bids(mw):
    m, a = mw.market, mw.actors
    below = ascending(mw)
    empty = ascending(mw, quantity=100)
    m.qualify(a["buyer"], auction_id=below, now=at(9, 30))
    m.bid(a["buyer"], auction_id=below, price_fen=1500, now=at(10, 30))
    m.tick(a["exchange"], now=at(11))
    assert (m.auction(below)["state"], m.auction(below)["reason"]) == ("failed", "below_reserve")
    assert (m.auction(empty)["state"], m.auction(empty)["reason"]) == ("failed", "no_bids")
    assert mw.cash("buyer") == {"available": 10_000_000, "frozen": 0}
    assert mw.tonnes("farm") == 5000
    assert m.verify() == []


def test_uniform_price_auction_awards_and_payments(mw):
    m, a = mw.market, mw.actors
    auction = m.create_auction(
        a["farm"],
        kind="uniform",
        scheme="SMCER",
        quantity=4000,
        start_price_fen=1400,
        deposit_fen=50_000,
        opens_at=at(10),
        ends_at=at(11),
        min_bid_t=500,
        bidder_cap_ppm=500_000,
        now=at(9),
    )["id"]
    for who in ("buyer", "buyer2", "storer", "farm2"):
        m.qualify(a[who], auction_id=auction, now=at(9, 30))
    m.bid(a["buyer"], auction_id=auction, price_fen=1600, quantity=1500, now=at(10, 1))
    m.bid(a["buyer2"], auction_id=auction, price_fen=1550, quantity=2000, now=at(10, 2))
    m.bid(a["storer"], auction_id=auction, price_fen=1500, quantity=1000, now=at(10, 3))
    m.bid(a["farm2"], auction_id=auction, price_fen=1300, quantity=1000, now=at(10, 4))  # < reserve
    with pytest.raises(Refused) as e:
        m.bid(a["buyer"], auction_id=auction, price_fen=1600, quantity=600, now=at(10, 5))
    assert e.value.code == "over_bidder_cap"
    with pytest.raises(Refused) as e:
        m.bid(a["storer"], auction_id=auction, price_fen=1600, quantity=100, now=at(10, 5))
    assert e.value.code == "below_min_size"
    m.tick(a["exchange"], now=at(11))
    room = m.auction(auction)
    assert room["state"] == "awarded"
    won = {w["organisation_id"]: (w["quantity"], w["price_fen"]) for w in room["winners"]}
    # 4,000 t: 1,500 + 2,000 + 500 of 1,000 at the lowest winning bid, 15.00 yuan
    assert won == {
        mw.org("buyer"): (1500, 1500),
        mw.org("buyer2"): (2000, 1500),
        mw.org("storer"): (500, 1500),
    }
    assert mw.cash("farm2")["frozen"] == 0  # below the reserve: deposit released
    m.pay(a["buyer"], auction_id=auction, now=at(10, days=1))
    m.pay(a["storer"], auction_id=auction, now=at(10, days=2))
    assert m.auction(auction)["state"] == "awarded"  # buyer2 has not paid yet
    m.tick(a["exchange"], now=FRIDAY)  # buyer2 forfeits; its 2,000 t go back
    assert m.auction(auction)["state"] == "settled"
    assert mw.tonnes("buyer") == 1500 and mw.tonnes("storer") == 500 and mw.tonnes("buyer2") == 0
    assert mw.tonnes("farm") == 5000 - 2000 and mw.tonnes("farm", "RESERVED") == 0
    assert mw.cash("buyer2") == {"available": 10_000_000 - 50_000, "frozen": 0}
    assert m.verify() == []


def test_an_undersubscribed_uniform_auction_returns_the_rest_at_the_close(mw):
    m, a = mw.market, mw.actors
    auction = m.create_auction(
        a["farm"],
        kind="uniform",
        scheme="SMCER",
        quantity=3000,
        start_price_fen=1400,
        opens_at=at(10),
        ends_at=at(11),
        min_bid_t=500,
        now=at(9),
    )["id"]
    m.qualify(a["buyer"], auction_id=auction, now=at(9, 30))
    m.bid(a["buyer"], auction_id=auction, price_fen=1450, quantity=1000, now=at(10, 1))
    m.tick(a["exchange"], now=at(11))
    assert mw.tonnes("farm", "RESERVED") == 1000 and mw.tonnes("farm") == 4000
    m.pay(a["buyer"], auction_id=auction, now=at(11, 30))
    assert m.auction(auction)["state"] == "settled"
    assert mw.tonnes("buyer") == 1000
    assert m.verify() == []


def listing(mw, **kw):
    terms = dict(
        scheme="SMCER",
        quantity=800,
        listing_price_fen=1500,
        deposit_fen=20_000,
        auction_duration=dt.timedelta(hours=1),
        now=T10,
    )
    terms.update(kw)
    return mw.market.create_listing(mw.actors["farm"], **terms)["id"]


def test_a_listing_with_one_intended_buyer_is_negotiated(mw):
    m, a = mw.market, mw.actors
    lid = listing(mw)
    m.qualify(a["buyer"], auction_id=lid, now=at(10, days=2))
    assert mw.cash("buyer")["frozen"] == 20_000
    m.tick(a["exchange"], now=at(10, days=7))
    assert m.auction(lid)["state"] == "negotiating"
    with pytest.raises(Refused) as e:
        m.conclude_listing(a["buyer"], auction_id=lid, price_fen=1490, now=at(11, days=7))
    assert e.value.code == "below_listing_price"
    with pytest.raises(Refused) as e:
        m.conclude_listing(a["buyer2"], auction_id=lid, price_fen=1500, now=at(11, days=7))
    assert e.value.code == "not_intended_buyer"
    m.conclude_listing(a["buyer"], auction_id=lid, price_fen=1520, now=at(11, days=7))
    money = FEES.settle(1520, 800)
    assert mw.cash("buyer") == {"available": 10_000_000 - money.buyer_pays, "frozen": 0}
    assert mw.tonnes("buyer") == 800
    assert m.auction(lid)["state"] == "agreed"
    assert m.deals()[0]["channel"] == "negotiated"
    assert m.verify() == []


def test_a_listing_without_buyers_lapses_and_a_failed_negotiation_too(mw):
    m, a = mw.market, mw.actors
    nobody = listing(mw)
    failed = listing(mw, quantity=100)
    m.qualify(a["buyer"], auction_id=failed, now=at(10, days=1))
    with pytest.raises(Refused):  # intents only during the announcement
        m.qualify(a["buyer2"], auction_id=nobody, now=at(10, 1, days=7))
    m.tick(a["exchange"], now=at(10, 1, days=7))
    assert (m.auction(nobody)["state"], m.auction(nobody)["reason"]) == (
        "lapsed",
        "no_intended_buyer",
    )
    assert m.auction(failed)["state"] == "negotiating"
    with pytest.raises(Refused):
        m.abandon_listing(a["buyer2"], auction_id=failed, now=at(11, days=7))
    m.abandon_listing(a["buyer"], auction_id=failed, now=at(11, days=7))
    assert m.auction(failed)["state"] == "lapsed"
    assert mw.tonnes("farm") == 5000 and mw.cash("buyer")["frozen"] == 0
    assert m.verify() == []


def test_a_listing_with_two_intended_buyers_goes_to_auction(mw):
    m, a = mw.market, mw.actors
    lid = listing(mw, increment_ticks=5)
    m.qualify(a["buyer"], auction_id=lid, now=at(10, days=1))
    m.qualify(a["buyer2"], auction_id=lid, now=at(10, days=2))
    start = at(10, days=7)
    m.tick(a["exchange"], now=start)
    room = m.auction(lid)
    assert room["state"] == "auction" and room["ends_at"] == at(11, days=7).isoformat()
    m.bid(a["buyer2"], auction_id=lid, price_fen=1500, now=at(10, 10, days=7))
    m.bid(a["buyer"], auction_id=lid, price_fen=1505, now=at(10, 20, days=7))
    with pytest.raises(Refused):
        m.bid(a["storer"], auction_id=lid, price_fen=1600, now=at(10, 30, days=7))
    m.tick(a["exchange"], now=at(11, days=7))
    assert m.auction(lid)["state"] == "awarded"
    assert mw.cash("buyer2")["frozen"] == 0
    m.pay(a["buyer"], auction_id=lid, now=at(11, 30, days=7))
    assert m.auction(lid)["state"] == "settled" and mw.tonnes("buyer") == 800
    assert m.verify() == []
