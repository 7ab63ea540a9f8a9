"""Concurrent orders from several real connections, each through its own ``Market`` (its own
in-memory engines, as separate processes would have): no tonne and no fen is promised twice.

On PostgreSQL the racers overlap (the book's row lock orders the book; block rows ``FOR UPDATE``;
cash rows are updated with a guard ``available >= amount``; the registry's chain lock at commit);
on SQLite ``BEGIN IMMEDIATE`` serializes them. Whatever the interleaving: the refused ones are
clean "not enough" errors, the accepted ones add up exactly, every engine rebuilt from its journal
agrees with the tables, cash and tonnes are conserved.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from market_world import T10, at, build_market

from tanhui.db import make_engine
from tanhui.errors import ConflictError
from tanhui.market.rules import FeeSchedule
from tanhui.market.service import Market

RACERS = 12
TIMEOUT = 120
FEES = FeeSchedule(300, 500)


@pytest.fixture(params=("sqlite", "postgresql"))
def url(request):
    fixture = {"sqlite": "migrated_sqlite_url", "postgresql": "migrated_postgres_url"}
    return request.getfixturevalue(fixture[request.param])


@pytest.fixture
def mw(url):
    engine = make_engine(url)
    world = build_market(engine, deposit=1_000_000)
    yield world
    engine.dispose()


def race(url, mw, tasks):
    """Run ``task(market)`` for each task in its own thread, engine and Market, released
    together; ``("ok", answer)`` or ``("error", exc)``."""
    barrier = threading.Barrier(len(tasks))
    engines = [make_engine(url) for _ in tasks]
    markets = [Market(e, operator_organisation_id=mw.org("exchange"), ledger=None) for e in engines]

    def go(i):
        barrier.wait(TIMEOUT)
        try:
            return "ok", tasks[i](markets[i])
        except Exception as exc:
            return "error", exc

    try:
        with ThreadPoolExecutor(len(tasks)) as pool:
            return list(pool.map(go, range(len(tasks)), timeout=TIMEOUT))
    finally:
        for e in engines:
            e.dispose()


def test_one_sellers_tonnes_are_never_listed_twice(url, mw):
    a = mw.actors

    def sell(market):
        return market.submit_order(
            a["farm"], scheme="SMCER", side="sell", price_fen=1600, quantity=400, now=T10
        )

    results = race(url, mw, [sell] * RACERS)
    ok = [r for kind, r in results if kind == "ok"]
    errors = [r for kind, r in results if kind == "error"]
    assert len(ok) == 5000 // 400 and all(o["status"] == "resting" for o in ok), errors
    assert all(isinstance(e, ConflictError) and "available" in e.en for e in errors), errors
    assert mw.tonnes("farm", "RESERVED") == 400 * len(ok) and mw.tonnes("farm") == 5000 - 400 * len(
        ok
    )
    assert mw.market.verify() == []


def test_one_buyers_cash_is_never_promised_twice(url, mw):
    a = mw.actors
    each = FEES.buy_reservation(1500, 60)  # 90,027 fen: 11 fit in 1,000,000

    def buy(market):
        return market.submit_order(
            a["buyer"], scheme="SMCER", side="buy", price_fen=1500, quantity=60, now=T10
        )

    results = race(url, mw, [buy] * RACERS)
    ok = [r for kind, r in results if kind == "ok"]
    assert len(ok) == 1_000_000 // each
    assert all(isinstance(r, ConflictError) for kind, r in results if kind == "error")
    assert mw.cash("buyer") == {"available": 1_000_000 - each * len(ok), "frozen": each * len(ok)}
    assert mw.market.verify() == []


def test_crossing_orders_from_many_parties_settle_exactly(url, mw):
    a = mw.actors
    sellers, buyers = ("farm", "farm2"), ("buyer", "buyer2", "storer", "bank")
    tasks = []
    for i in range(RACERS):
        if i % 2:
            who, side, price = sellers[i % 2], "sell", 1500 + i
        else:
            who, side, price = buyers[i % 4], "buy", 1520 - i

        def order(market, who=who, side=side, price=price, i=i):
            out = [
                market.submit_order(
                    a[who],
                    scheme="SMCER",
                    side=side,
                    price_fen=price,
                    quantity=30 + i,
                    now=at(10, i),
                )
            ]
            out.append(
                market.submit_order(
                    a[who],
                    scheme="SMCER",
                    side=side,
                    price_fen=price,
                    quantity=5,
                    now=at(10, i, 30),
                )
            )
            return out

        tasks.append(order)
    results = race(url, mw, tasks)
    assert all(kind == "ok" for kind, _ in results), results
    m = mw.market
    deals = m.deals(limit=1000)
    bought = sum(d["quantity"] for d in deals)
    assert bought > 0
    held = sum(mw.tonnes(k, "balance") for k in (*sellers, *buyers))
    assert held == 5000 + 3000  # conserved
    assert sum(mw.tonnes(k) for k in buyers) == bought
    assert mw.total_cash() == 0
    # the book agrees with what settled: nothing crossed is left resting
    book = m.book("SMCER")
    if book["bids"] and book["asks"]:
        assert book["bids"][0]["price"] < book["asks"][0]["price"]
    assert m.verify() == []
