"""Seeded random replay: thousands of commands through the market service (database, registry,
cash) against the naive pure reference model.

The command stream of the pure replay test (:func:`market_helpers.random_commands`: orders near the
touch, sweeps, cancels by the right and the wrong owner, unknown ids, bad prices and sizes, lunch
breaks, closes, missed closes, weekends) drives both :class:`~tanhui.market.reference.ReferenceBook`
and :class:`~tanhui.market.service.Market` (six holders with tickets and cash). Afterwards:

* the service's book (rebuilt from its journal by a fresh ``Market``) equals the reference's book,
  level by level and order by order; every order's status and fill equal; the same trades;
* each holder's cash (available, frozen) and registry tonnes (ACTIVE, RESERVED) equal what the
  reference's trades and resting orders imply — frozen = the resting buy orders' reservations less
  what their fills spent, RESERVED = the resting sell orders' remainders;
* cash and tonnes are conserved, and ``Market.verify()`` (journals ↔ tables, cash identities,
  reservations ↔ blocks, the registry's event replay) finds nothing.

``TANHUI_MARKET_SERVICE_COMMANDS`` (default 2,500) and ``TANHUI_MARKET_SERVICE_SEEDS`` (default
2026) make longer runs.
"""

from __future__ import annotations

import os
from collections import defaultdict

import pytest
from market_helpers import random_commands
from market_world import T10
from registry_world import add_organisation, build_world, issue

from tanhui.market import Cancel, CloseDay, FeeSchedule, Reason, Rejected, Side, Submit
from tanhui.market.errors import Refused
from tanhui.market.reference import ReferenceBook
from tanhui.market.service import Market
from tanhui.registry.permissions import Role

COMMANDS = int(os.environ.get("TANHUI_MARKET_SERVICE_COMMANDS", 2500))
SEEDS = [int(s) for s in os.environ.get("TANHUI_MARKET_SERVICE_SEEDS", "2026").split(",")]
FEES = FeeSchedule(buyer_ppm=250, seller_ppm=450)
OWNERS = 6
CASH = 10**12  # fen: enough for any order of the stream
TONNES = 1_000_000


def build(engine):
    world = build_world(engine)
    exchange = add_organisation(world, "exchange", "碳汇交易中心", "market", Role.market_operator)
    market = Market(engine, ledger=world.ledger, operator_organisation_id=world.org_id("exchange"))
    owners = {}
    for i in range(OWNERS):
        key = f"o{i}"
        owners[key] = add_organisation(world, key, f"持有人 {i}", "holder", Role.holder)
        issue(world, float(TONNES), owner=key, subcompartments=[f"R{i}-1", f"R{i}-2"])
    market.open_book(
        exchange,
        scheme="SMCER",
        previous_close_fen=5000,
        buyer_fee_ppm=FEES.buyer_ppm,
        seller_fee_ppm=FEES.seller_ppm,
    )
    for key in owners:
        market.cash.deposit(exchange, organisation_id=world.org_id(key), amount_fen=CASH, now=T10)
    return world, market, exchange, owners


@pytest.mark.parametrize("seed", SEEDS)
def test_service_replay_against_the_reference(db_engine, seed):
    world, market, exchange, owners = build(db_engine)
    ref = ReferenceBook(5000, fees=FEES)
    ids: dict[int, int] = {}  # stream order id → the service's order id
    back: dict[int, int] = {}
    for command in random_commands(seed, COMMANDS, owners=OWNERS):
        want = ref.apply(command)
        refused = {e.reason for e in want if isinstance(e, Rejected)}
        if isinstance(command, Submit):
            if Reason.DUPLICATE_ID in refused:
                continue  # the service numbers orders itself: it cannot repeat an id
            got = market.submit_order(
                owners[command.owner],
                scheme="SMCER",
                side=command.side,
                price_fen=command.price,
                quantity=command.quantity,
                now=command.now,
            )
            ids[command.order_id], back[got["id"]] = got["id"], command.order_id
            assert (got["status"] == "rejected") == bool(refused), command
        elif isinstance(command, Cancel):
            mine = ids.get(command.order_id)
            if mine is None or Reason.UNKNOWN_ORDER in refused:
                continue  # never in the reference's book (refused when submitted): nothing to do
            if refused & {Reason.NOT_OWNER, Reason.NOT_ACTIVE}:
                # refused at once from the order's row, or by the book (when the cancel's own
                # day roll is what expired the order)
                try:
                    got = market.cancel_order(owners[command.owner], order_id=mine, now=command.now)
                except Refused as exc:
                    assert exc.reason in refused
                else:
                    assert Reason(got["refused"]) in refused
                continue
            got = market.cancel_order(owners[command.owner], order_id=mine, now=command.now)
            assert ("refused" in got) == bool(refused), command
        else:
            assert isinstance(command, CloseDay)
            market.close_day(exchange, scheme="SMCER", now=command.now)

    # the book, rebuilt from the journal by another instance, equals the reference's
    fresh = Market(
        db_engine, ledger=world.ledger, operator_organisation_id=world.org_id("exchange")
    )
    state = fresh_state(fresh)
    want = ref.snapshot()
    for side in ("bids", "asks"):
        assert [(p, tuple((back[o], q) for o, q in orders)) for p, orders in state[side]] == want[
            side
        ]
    assert (state["open"], state["previous_close"]) == (want["open"], want["previous_close"])
    orders = {back[o["id"]]: o for o in all_orders(fresh, owners)}
    for oid, (status, filled, _remaining) in want["orders"].items():
        assert (orders[oid]["status"], orders[oid]["filled"]) == (status, filled), oid
    deals = fresh.deals(limit=10**6)
    assert len(deals) == len(ref.trades)
    assert sorted((d["price_fen"], d["quantity"]) for d in deals) == sorted(
        (t.price, t.quantity) for t in ref.trades
    )

    # cash and tonnes: what the reference implies
    cash, tonnes = defaultdict(int), defaultdict(int)
    spent = defaultdict(int)  # per resting buy order: what its fills took from its hold
    for t in ref.trades:
        cash[t.buyer] -= t.value + t.buyer_fee
        cash[t.seller] += t.value - t.seller_fee
        tonnes[t.buyer] += t.quantity
        tonnes[t.seller] -= t.quantity
        spent[t.buy_order_id] += t.value + t.buyer_fee
    frozen, reserved = defaultdict(int), defaultdict(int)
    for o in ref.orders.values():
        if o.status == "resting":
            if o.side is Side.BUY:
                frozen[o.owner] += FEES.buy_reservation(o.price, o.quantity) - spent[o.order_id]
            else:
                reserved[o.owner] += o.remaining
    for key in owners:
        balance = market.cash.balance(exchange, world.org_id(key))
        assert balance["total_fen"] == CASH + cash[key], key
        assert balance["frozen_fen"] == frozen[key], key
        held = world.ledger.balance(world.org_id(key))
        assert held["balance"] == TONNES + tonnes[key], key
        assert held.get("RESERVED", 0) == reserved[key], key
    assert sum(cash.values()) + market.cash.balance(exchange)["total_fen"] == 0
    assert market.verify() == []


def fresh_state(market: Market) -> dict:
    from sqlalchemy import select

    from tanhui.db.market_tables import MarketBook
    from tanhui.db.uow import UnitOfWork

    with UnitOfWork(market.engine, read_only=True) as uow:
        stream = uow.session.scalar(
            select(MarketBook.stream_id).where(MarketBook.scheme == "SMCER")
        )
        return market.engines.peek(uow, stream, lambda book: book.snapshot())


def all_orders(market: Market, owners: dict) -> list[dict]:
    out = []
    for who in owners.values():
        out += market.orders(who, limit=10**6)
    return out
