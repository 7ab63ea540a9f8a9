"""收储: a standing offer absorbs unsold tickets (directly, or what an auction or listing did not
sell) within its budget, best price first; the intermediary resells them later."""

from __future__ import annotations

import datetime as dt

import pytest
from market_world import T10, at, build_market

from tanhui.errors import ConflictError, PermissionDenied
from tanhui.market.errors import Refused
from tanhui.market.rules import FeeSchedule
from tanhui.market.storage import affordable

FEES = FeeSchedule(300, 500)


@pytest.fixture
def mw(db_engine):
    return build_market(db_engine)


def test_affordable_is_the_most_that_fits():
    for budget in (0, 1, 999, 1000, 10_000_003, 123_456_789):
        for price in (1, 7, 1000, 1500):
            for fees in (FeeSchedule(), FEES, FeeSchedule(999_999, 0)):
                q = affordable(budget, price, fees)
                assert fees.buy_reservation(price, q) <= budget
                assert fees.buy_reservation(price, q + 1) > budget


def test_a_standing_offer_absorbs_within_its_budget_and_is_resold(mw):
    m, a = mw.market, mw.actors
    offer = m.storage.create_offer(
        a["storer"], price_fen=1000, budget_fen=1_000_000, schemes=["smcer"], now=T10
    )
    assert offer["schemes"] == ["SMCER"]
    assert mw.cash("storer")["frozen"] == 1_000_000
    with pytest.raises(PermissionDenied):
        m.storage.create_offer(a["bank"], price_fen=1000, budget_fen=1, schemes=["SMCER"], now=T10)
    with pytest.raises(Refused):
        m.storage.sell_to_storage(a["storer"], offer_id=offer["id"], quantity=1, now=T10)
    done = m.storage.sell_to_storage(a["farm"], offer_id=offer["id"], quantity=600, now=T10)
    cost = FEES.settle(1000, 600)
    assert done["offer"]["spent_fen"] == cost.buyer_pays
    assert mw.tonnes("storer") == 600
    assert mw.cash("farm")["available"] == 10_000_000 + cost.seller_receives
    with pytest.raises(ConflictError) as e:
        m.storage.sell_to_storage(a["farm2"], offer_id=offer["id"], quantity=500, now=T10)
    assert "399" in e.value.hint_en  # what the rest of the budget still pays for
    # the intermediary resells later, through the book
    m.submit_order(
        a["storer"], scheme="SMCER", side="sell", price_fen=1600, quantity=400, now=at(10, days=1)
    )
    m.submit_order(
        a["buyer"], scheme="SMCER", side="buy", price_fen=1600, quantity=400, now=at(10, 5, days=1)
    )
    pos = m.storage.positions(mw.org("storer"))[0]
    assert (pos["stored_t"], pos["cost_fen"]) == (600, cost.buyer_pays)
    assert (pos["resold_t"], pos["revenue_fen"]) == (400, FEES.settle(1600, 400).seller_receives)
    assert pos["holding"]["available"] == 200
    closed = m.storage.close_offer(a["storer"], offer_id=offer["id"], now=at(11, days=1))
    assert closed["state"] == "closed" and mw.cash("storer")["frozen"] == 0
    assert m.storage.offers() == []
    assert m.verify() == []


def test_unsold_lots_fall_back_to_the_best_offers(mw):
    m, a = mw.market, mw.actors
    low = m.storage.create_offer(
        a["storer"], price_fen=900, budget_fen=10_000_000, schemes=["SMCER"], now=T10
    )
    high = m.storage.create_offer(
        a["buyer2"], price_fen=1000, budget_fen=300_000, schemes=["SMCER", "GZCT"], now=T10
    )
    assert [o["id"] for o in m.storage.offers(scheme="SMCER")] == [high["id"], low["id"]]
    # an auction without bids: the lot goes to storage (the best price first, within budgets)
    auction = m.create_auction(
        a["farm"],
        scheme="SMCER",
        quantity=500,
        start_price_fen=1500,
        opens_at=at(10),
        ends_at=at(11),
        storage_fallback=True,
        now=at(9),
    )["id"]
    m.tick(a["exchange"], now=at(11))
    assert m.auction(auction)["state"] == "failed"
    taken = affordable(300_000, 1000, FEES)
    assert mw.tonnes("buyer2") == taken and mw.tonnes("storer") == 500 - taken
    assert mw.tonnes("farm") == 4500 and mw.tonnes("farm", "RESERVED") == 0
    # a listing nobody came to: lapses into storage too
    lid = m.create_listing(
        a["farm2"],
        scheme="SMCER",
        quantity=200,
        listing_price_fen=1500,
        storage_fallback=True,
        auction_duration=dt.timedelta(hours=1),
        now=T10,
    )["id"]
    m.tick(a["exchange"], now=at(10, days=7))
    assert m.auction(lid)["state"] == "lapsed"
    assert mw.tonnes("storer") == 700 - taken and mw.tonnes("farm2") == 2800
    channels = {d["channel"] for d in m.deals()}
    assert channels == {"storage"}
    assert m.verify() == []
