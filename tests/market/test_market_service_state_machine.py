"""The market service as a Hypothesis state machine, stepped together with the pure reference.

Each step is a service call — an order, a cancel, the close, a deposit or a withdrawal — on a
SQLite market (a copy of one world per example); the same command goes to the naive
:class:`~tanhui.market.reference.ReferenceBook`. After every step: the two books are equal, every
party's cash (available and frozen) and tonnes (ACTIVE and RESERVED) are what the reference's
trades and resting orders imply, cash and tonnes are conserved. ``verify()`` at the end.

Deeper runs: ``TANHUI_MARKET_SERVICE_EXAMPLES=50 TANHUI_MARKET_SERVICE_STEPS=60``.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections import defaultdict

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from market_world import at
from registry_world import add_organisation, build_world, issue
from sqlalchemy import select

from tanhui.db import make_engine, upgrade
from tanhui.db.market_tables import MarketBook
from tanhui.db.uow import UnitOfWork
from tanhui.market import Cancel, CloseDay, FeeSchedule, Rejected, Side, Submit
from tanhui.market.errors import Refused
from tanhui.market.reference import ReferenceBook
from tanhui.market.service import Market
from tanhui.registry.permissions import Role

EXAMPLES = int(os.environ.get("TANHUI_MARKET_SERVICE_EXAMPLES", 8))
STEPS = int(os.environ.get("TANHUI_MARKET_SERVICE_STEPS", 25))
FEES = FeeSchedule(300, 500)
OWNERS = ("p0", "p1", "p2")
CASH, TONNES = 2_000_000, 400


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A world saved once: three holders with tickets and cash, an open book."""
    path = tmp_path_factory.mktemp("market-sm") / "world.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    engine = make_engine(url)
    world = build_world(engine)
    exchange = add_organisation(world, "exchange", "碳汇交易中心", "market", Role.market_operator)
    market = Market(engine, ledger=world.ledger, operator_organisation_id=world.org_id("exchange"))
    for i, key in enumerate(OWNERS):
        add_organisation(world, key, f"参与人 {i}", "holder", Role.holder)
        issue(world, float(TONNES), owner=key, subcompartments=[f"SM{i}-1"])
    market.open_book(
        exchange,
        scheme="SMCER",
        previous_close_fen=1500,
        buyer_fee_ppm=FEES.buyer_ppm,
        seller_fee_ppm=FEES.seller_ppm,
    )
    for key in OWNERS:
        market.cash.deposit(exchange, organisation_id=world.org_id(key), amount_fen=CASH, now=at(9))
    engine.dispose()
    return path, world


class ServiceMachine(RuleBasedStateMachine):
    template: tuple = ()
    tmp: object = None
    counter = 0

    @initialize()
    def start(self) -> None:
        path, world = self.template
        ServiceMachine.counter += 1
        copy = self.tmp / f"example-{ServiceMachine.counter}.db"
        shutil.copyfile(path, copy)
        self.engine = make_engine(f"sqlite:///{copy}")
        self.world = world
        self.ledger = type(world.ledger)(self.engine)
        self.market = Market(
            self.engine, ledger=self.ledger, operator_organisation_id=world.org_id("exchange")
        )
        self.exchange = world.actors["exchange"]
        self.ref = ReferenceBook(1500, fees=FEES)
        self.now = at(9, 30)
        self.orders: list[int] = []
        self.deposits: dict[str, int] = defaultdict(int)

    def teardown(self) -> None:
        if hasattr(self, "engine"):
            assert self.market.verify() == []
            self.engine.dispose()

    def tick(self, seconds: int) -> dt.datetime:
        self.now += dt.timedelta(seconds=seconds)
        if self.now.time() >= dt.time(11, 30) and self.now.time() < dt.time(13):
            self.now = self.now.replace(hour=13, minute=0)
        return self.now

    @rule(
        who=st.sampled_from(OWNERS),
        side=st.sampled_from([Side.BUY, Side.SELL]),
        offset=st.integers(-40, 40),
        quantity=st.integers(1, 60),
        wait=st.integers(0, 600),
    )
    def order(self, who, side, offset, quantity, wait):
        now = self.tick(wait)
        price = 1500 + offset
        got = self.market.submit_order(
            self.world.actors[who],
            scheme="SMCER",
            side=side,
            price_fen=price,
            quantity=quantity,
            now=now,
        )
        org = self.world.org_id(who)
        want = self.ref.apply(Submit(got["id"], side, price, quantity, org, org, now, None))
        refused = [e for e in want if isinstance(e, Rejected)]
        assert (got["status"] == "rejected") == bool(refused)
        if refused:
            assert got["reason"] == refused[0].reason.value
        self.orders.append(got["id"])

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), right_owner=st.booleans())
    def cancel(self, data, right_owner):
        oid = data.draw(st.sampled_from(self.orders))
        owner = self.ref.orders[oid].owner if oid in self.ref.orders else None
        if owner is None:
            return
        key = next(k for k in OWNERS if self.world.org_id(k) == owner)
        if not right_owner:
            key = OWNERS[(OWNERS.index(key) + 1) % len(OWNERS)]
        org = self.world.org_id(key)
        early = "not_owner" if org != owner else None
        if early is None and self.ref.orders[oid].status != "resting":
            early = "not_active"
        if early:  # refused before the book is touched (the reference agrees)
            with pytest.raises(Refused) as exc:
                self.market.cancel_order(self.world.actors[key], order_id=oid, now=self.now)
            assert exc.value.code == early
            return
        want = self.ref.apply(Cancel(oid, org, self.now))
        got = self.market.cancel_order(self.world.actors[key], order_id=oid, now=self.now)
        refused = [e.reason.value for e in want if isinstance(e, Rejected)]
        assert got.get("refused") == (refused[0] if refused else None)

    @rule()
    def close(self):
        when = self.now.replace(hour=15, minute=0, second=0)
        self.market.close_day(self.exchange, scheme="SMCER", now=when)
        self.ref.apply(CloseDay(when))
        day = when.date() + dt.timedelta(days=1)
        while day.weekday() >= 5:
            day += dt.timedelta(days=1)
        self.now = when.replace(year=day.year, month=day.month, day=day.day, hour=9, minute=30)

    @rule(who=st.sampled_from(OWNERS), amount=st.integers(1, 50_000), out=st.booleans())
    def cash(self, who, amount, out):
        actor = self.world.actors[who]
        if out:
            available = self.market.cash.balance(actor)["available_fen"]
            if amount > available:
                return
            self.market.cash.withdraw(actor, amount_fen=amount, now=self.now)
            self.deposits[who] -= amount
        else:
            self.market.cash.deposit(actor, amount_fen=amount, now=self.now)
            self.deposits[who] += amount

    @invariant()
    def books_equal(self):
        if not hasattr(self, "engine"):
            return
        with UnitOfWork(self.engine, read_only=True) as uow:
            stream = uow.session.scalar(select(MarketBook.stream_id))
            mine = self.market.engines.peek(uow, stream, lambda b: b.snapshot())
        want = self.ref.snapshot()
        for key in ("bids", "asks", "open", "previous_close"):
            assert mine[key] == want[key], key

    @invariant()
    def cash_and_tonnes_follow_the_reference(self):
        if not hasattr(self, "engine"):
            return
        cash, tonnes, spent = defaultdict(int), defaultdict(int), defaultdict(int)
        for t in self.ref.trades:
            cash[t.buyer] -= t.value + t.buyer_fee
            cash[t.seller] += t.value - t.seller_fee
            tonnes[t.buyer] += t.quantity
            tonnes[t.seller] -= t.quantity
            spent[t.buy_order_id] += t.value + t.buyer_fee
        frozen, reserved = defaultdict(int), defaultdict(int)
        for o in self.ref.orders.values():
            if o.status == "resting":
                if o.side is Side.BUY:
                    frozen[o.owner] += FEES.buy_reservation(o.price, o.quantity) - spent[o.order_id]
                else:
                    reserved[o.owner] += o.remaining
        for key in OWNERS:
            org = self.world.org_id(key)
            balance = self.market.cash.balance(self.exchange, org)
            assert balance["total_fen"] == CASH + self.deposits[key] + cash[org]
            assert balance["frozen_fen"] == frozen[org]
            held = self.ledger.balance(org)
            assert held["balance"] == TONNES + tonnes[org]
            assert held.get("RESERVED", 0) == reserved[org]
        assert self.market.cash.check() == []


def test_service_state_machine(template, tmp_path):
    ServiceMachine.template = template
    ServiceMachine.tmp = tmp_path
    run_state_machine_as_test(
        ServiceMachine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
