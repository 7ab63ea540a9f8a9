"""A small market world for the service tests: the registry world of the ledger tests, an
exchange, a book per scheme, holders with issued tickets and cash."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from registry_world import World, actor, add_organisation, build_world, issue
from sqlalchemy import func, select

from tanhui.db.market_tables import CashAccount
from tanhui.db.uow import UnitOfWork
from tanhui.market.journal import BEIJING
from tanhui.market.rules import MarketRules
from tanhui.market.service import Market
from tanhui.registry.permissions import Role

#: Monday 2 March 2026, a working day.
MONDAY = dt.date(2026, 3, 2)


def at(hh: int, mm: int = 0, ss: int = 0, *, day: dt.date = MONDAY, days: int = 0) -> dt.datetime:
    d = day + dt.timedelta(days=days)
    return dt.datetime(d.year, d.month, d.day, hh, mm, ss, tzinfo=BEIJING)


T10 = at(10)


@dataclass
class MarketWorld:
    registry: World
    market: Market
    actors: dict[str, Any] = field(default_factory=dict)
    blocks: dict[str, int] = field(default_factory=dict)

    @property
    def ledger(self):
        return self.registry.ledger

    def org(self, key: str) -> int:
        return self.registry.org_id(key)

    def tonnes(self, key: str, state: str = "available") -> int:
        return self.ledger.balance(self.org(key)).get(state, 0)

    def cash(self, key: str) -> dict[str, int]:
        b = self.market.cash.balance(self.actors["exchange"], self.org(key))
        return {"available": b["available_fen"], "frozen": b["frozen_fen"]}

    def total_cash(self) -> int:
        with UnitOfWork(self.market.engine, read_only=True) as uow:
            return int(
                uow.session.scalar(
                    select(func.sum(CashAccount.available_fen + CashAccount.frozen_fen))
                )
                or 0
            )


#: holder key → (name, tonnes issued, subcompartment prefix)
HOLDERS = {
    "farm": ("将乐县常口村", 5000, "XB"),
    "farm2": ("沙县国有林场", 3000, "SX"),
}
BUYERS = {"buyer": "某会展公司", "buyer2": "厦门某制造企业", "storer": "三明市林业投资发展公司"}


def build_market(
    engine,
    *,
    fees: tuple[int, int] = (300, 500),
    previous_close: int = 1500,
    deposit: int = 10_000_000,
    forfeit_to: str = "seller",
    schemes: tuple[str, ...] = ("SMCER",),
    rules: MarketRules | None = None,
) -> MarketWorld:
    world = build_world(engine)
    exchange = add_organisation(world, "exchange", "碳汇交易中心", "market", Role.market_operator)
    add_organisation(world, "farm2", HOLDERS["farm2"][0], "holder", Role.holder)
    for key in ("buyer2", "storer"):
        add_organisation(world, key, BUYERS[key], "holder", Role.holder)
    market = Market(
        engine,
        ledger=world.ledger,
        operator_organisation_id=world.org_id("exchange"),
        forfeit_to=forfeit_to,
        rules=rules,
    )
    mw = MarketWorld(world, market, dict(world.actors))
    mw.actors["exchange"] = exchange
    mw.actors["auditor"] = actor("auditor", None, Role.auditor)
    for i, (key, (_name, tonnes, prefix)) in enumerate(HOLDERS.items()):
        for scheme in schemes:
            done = issue(
                world,
                float(tonnes),
                owner=key,
                scheme=scheme,
                subcompartments=[f"{prefix}{scheme}-{j}" for j in range(1, 3)],
                period=(2016 + i, 2020 + i),
            )
            mw.blocks[f"{key}:{scheme}"] = done["blocks"][0]["id"]
    for scheme in schemes:
        market.open_book(
            exchange,
            scheme=scheme,
            previous_close_fen=previous_close,
            buyer_fee_ppm=fees[0],
            seller_fee_ppm=fees[1],
        )
    for key in ("buyer", "buyer2", "storer", "bank", "farm", "farm2"):
        market.cash.deposit(
            exchange, organisation_id=world.org_id(key), amount_fen=deposit, now=T10
        )
    return mw
