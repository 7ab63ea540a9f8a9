"""Acquisition and storage (收储): an intermediary's standing offer for tickets nobody buys yet.

An intermediary (in Sanming a state-owned forestry investment company took the first tickets at
10 yuan/t into storage while others sold at 15) posts a **standing offer**: a price (fen/t), a
budget (fen, frozen from its available cash at once) and the schemes it takes. The offer
**absorbs** tickets

* that a holder sells to it directly (:meth:`StorageService.sell_to_storage`), or
* that an auction or listing created with ``storage_fallback=True`` did not sell (no bid, below
  reserve, no intended buyer, a failed negotiation, a winner who did not pay, the unsold part of a
  uniform auction): the best eligible offer — highest price, then earliest — takes as much as its
  budget pays for, the rest returns to the seller.

Each absorption is a deal of channel ``storage`` settled by DvP from the offer's budget (value plus
the buyer's fee, the scheme book's fees). The stored tickets are the intermediary's like any others:
it **resells** them later through the book, a proposal, an auction or a listing.
:meth:`StorageService.positions` reports per intermediary what it took in (tonnes, cost), what it
sold since (tonnes, revenue) and the registry balance it holds.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select, update

from tanhui.db.market_tables import (
    DEALS,
    OFFERS,
    StorageOffer,
)
from tanhui.db.uow import UnitOfWork
from tanhui.errors import ConflictError, InputError
from tanhui.market import cash, settlement
from tanhui.market.context import ActorLike, Tx
from tanhui.market.errors import Refused, not_found
from tanhui.market.journal import beijing
from tanhui.market.rules import PPM, FeeSchedule, Reason
from tanhui.market.settlement import Deal
from tanhui.registry.permissions import Action, require

if TYPE_CHECKING:
    from tanhui.market.service import Market


def affordable(budget: int, price: int, fees: FeeSchedule) -> int:
    """The most tonnes whose value plus buyer fee fit in ``budget`` fen."""
    if price <= 0 or budget <= 0:
        return 0
    q = budget * PPM // (price * (PPM + fees.buyer_ppm))
    while fees.buy_reservation(price, q + 1) <= budget:
        q += 1
    while q > 0 and fees.buy_reservation(price, q) > budget:
        q -= 1
    return q


class StorageService:
    """收储 standing offers (``Market.storage``)."""

    def __init__(self, market: Market) -> None:
        self.market = market

    def create_offer(
        self,
        actor: ActorLike,
        *,
        price_fen: int,
        budget_fen: int,
        schemes: list[str] | tuple[str, ...],
        now: dt.datetime | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Post a standing offer: buy eligible unsold tickets at ``price_fen`` until ``budget_fen``
        (frozen now) is spent."""
        require(actor.roles, Action.offer_storage)
        org = self.market._org(actor)
        for value, field in ((price_fen, "price_fen"), (budget_fen, "budget_fen")):
            if type(value) is not int or value <= 0:
                raise InputError(
                    "价格和预算须为正整数（分）。",
                    "Price and budget must be positive whole numbers of fen.",
                    field=field,
                )
        names = sorted({s.strip().upper() for s in schemes if s.strip()})
        if not names:
            raise InputError(
                "请列出收储的品种。", "List the schemes the offer takes.", field="schemes"
            )

        def work(tx: Tx) -> dict[str, Any]:
            offer_id = int(
                tx.session.execute(
                    insert(OFFERS)
                    .values(
                        storer_organisation_id=org,
                        price_fen=price_fen,
                        budget_fen=budget_fen,
                        spent_fen=0,
                        schemes=",".join(names),
                        state="open",
                        created_at=tx.now,
                    )
                    .returning(OFFERS.c.id)
                ).scalar_one()
            )
            hold = cash.freeze(
                tx,
                cash.open_account(tx, org),
                budget_fen,
                "storage_budget",
                f"storage:{offer_id}",
                what=("收储预算", "the storage budget"),
            )
            tx.session.execute(
                update(OFFERS).where(OFFERS.c.id == offer_id).values(cash_hold_id=hold)
            )
            return self._answer(tx, offer_id)

        request = {"price_fen": price_fen, "budget_fen": budget_fen, "schemes": names, "org": org}
        return self.market._run(actor, "storage_offer", request, idempotency_key, work, now)

    def close_offer(
        self,
        actor: ActorLike,
        *,
        offer_id: int,
        now: dt.datetime | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Withdraw the offer; what is left of the budget is released."""
        require(actor.roles, Action.offer_storage)
        org = self.market._org(actor)

        def work(tx: Tx) -> dict[str, Any]:
            offer = self._locked(tx, offer_id)
            if offer.storer_organisation_id != org:
                raise Refused(Reason.NOT_OWNER)
            if offer.state == "open":
                cash.release(tx, offer.cash_hold_id)
                tx.session.execute(
                    update(OFFERS)
                    .where(OFFERS.c.id == offer_id)
                    .values(state="closed", closed_at=tx.now)
                )
            return self._answer(tx, offer_id)

        return self.market._run(
            actor, "storage_close", {"offer_id": offer_id}, idempotency_key, work, now
        )

    def sell_to_storage(
        self,
        actor: ActorLike,
        *,
        offer_id: int,
        quantity: int,
        block_id: int | None = None,
        scheme: str | None = None,
        now: dt.datetime | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Sell ``quantity`` t to a standing offer at its price (DvP). ``scheme``: which of the
        offer's schemes (default: its first one the seller holds enough of)."""
        require(actor.roles, Action.trade)
        org = self.market._org(actor)
        if type(quantity) is not int or quantity <= 0:
            raise Refused(Reason.BAD_QUANTITY)

        def work(tx: Tx) -> dict[str, Any]:
            offer = self._locked(tx, offer_id)
            if offer.state != "open":
                raise Refused(Reason.WRONG_STATE)
            if offer.storer_organisation_id == org:
                raise Refused(Reason.SAME_PARTY)
            eligible = offer.schemes.split(",")
            chosen = scheme
            if chosen is None:
                chosen = next(
                    (s for s in eligible if settlement.available_tonnes(tx, org, s) >= quantity),
                    eligible[0],
                )
            if chosen not in eligible:
                raise ConflictError(
                    f"该收储报价不收 {chosen}。", f"This storage offer does not take {chosen}."
                )
            fees = self.market._fees(tx, chosen).fees
            left = offer.budget_fen - offer.spent_fen
            if fees.buy_reservation(offer.price_fen, quantity) > left:
                raise ConflictError(
                    f"收储预算余额 {cash.yuan(left)} 元，不足收购 {quantity} 吨。",
                    f"The offer's budget left ({cash.yuan(left)} yuan) does not cover {quantity} t.",
                    hint_zh=f"最多可售 {affordable(left, offer.price_fen, fees)} 吨。",
                    hint_en=f"At most {affordable(left, offer.price_fen, fees)} t.",
                )
            reservation = settlement.reserve_tonnes(
                tx, actor, org, chosen, quantity, f"storage:{offer_id}", block_id=block_id
            )
            deal = self._take(
                tx, offer, reservation, quantity, chosen, org, fees, f"storage:{offer_id}"
            )
            return {"offer": self._answer(tx, offer_id), "deal_id": deal, "quantity": quantity}

        request = {
            "offer_id": offer_id,
            "quantity": quantity,
            "block_id": block_id,
            "scheme": scheme,
            "org": org,
        }
        return self.market._run(actor, "storage_sell", request, idempotency_key, work, now)

    def absorb(
        self, tx: Tx, reservation_id: int, quantity: int, scheme: str, seller: int, source: str
    ) -> int:
        """Inside a transaction: the best eligible offers take up to ``quantity`` reserved tonnes
        (an unsold lot); returns the tonnes absorbed (the caller releases the rest)."""
        fees = self.market._fees(tx, scheme).fees
        offers = (
            tx.session.execute(
                tx.lock(
                    select(StorageOffer)
                    .execution_options(populate_existing=True)
                    .where(OFFERS.c.state == "open", OFFERS.c.storer_organisation_id != seller)
                    .order_by(OFFERS.c.price_fen.desc(), OFFERS.c.id)
                )
            )
            .scalars()
            .all()
        )
        taken = 0
        for offer in offers:
            if taken == quantity:
                break
            if scheme not in offer.schemes.split(","):
                continue
            q = min(
                quantity - taken,
                affordable(offer.budget_fen - offer.spent_fen, offer.price_fen, fees),
            )
            if q <= 0:
                continue
            self._take(tx, offer, reservation_id, q, scheme, seller, fees, source)
            taken += q
        return taken

    def _take(
        self,
        tx: Tx,
        offer: Any,
        reservation: int,
        quantity: int,
        scheme: str,
        seller: int,
        fees: FeeSchedule,
        source: str,
    ) -> int:
        money = fees.settle(offer.price_fen, quantity)
        deal = self.market.settler.settle(
            tx,
            Deal(
                "storage",
                scheme,
                source,
                offer.storer_organisation_id,
                seller,
                offer.price_fen,
                quantity,
                money.buyer_fee,
                money.seller_fee,
                offer.cash_hold_id,
                reservation,
            ),
        )
        spent = offer.spent_fen + money.buyer_pays
        tx.session.execute(update(OFFERS).where(OFFERS.c.id == offer.id).values(spent_fen=spent))
        offer.spent_fen = spent
        return deal

    def _locked(self, tx: Tx, offer_id: int) -> Any:
        offer = tx.session.execute(
            tx.lock(
                select(StorageOffer)
                .execution_options(populate_existing=True)
                .where(OFFERS.c.id == offer_id)
            )
        ).scalar_one_or_none()
        if offer is None:
            raise not_found("收储报价", "storage offer", offer_id)
        return offer

    def _answer(self, tx: Tx, offer_id: int) -> dict[str, Any]:
        offer = tx.session.execute(
            select(StorageOffer)
            .execution_options(populate_existing=True)
            .where(OFFERS.c.id == offer_id)
        ).scalar_one()
        return _offer_dict(offer)

    def offers(
        self, *, scheme: str | None = None, state: str | None = "open"
    ) -> list[dict[str, Any]]:
        """Public: standing offers, best price first."""
        with UnitOfWork(self.market.engine, read_only=True) as uow:
            query = select(StorageOffer).execution_options(populate_existing=True)
            if state is not None:
                query = query.where(OFFERS.c.state == state)
            rows = uow.session.scalars(query.order_by(OFFERS.c.price_fen.desc(), OFFERS.c.id))
            out = [_offer_dict(o) for o in rows]
        if scheme is not None:
            out = [o for o in out if scheme in o["schemes"]]
        return out

    def positions(self, storer_organisation_id: int | None = None) -> list[dict[str, Any]]:
        """Per intermediary: tonnes and cost taken into storage, tonnes and revenue sold since
        (any channel), and its live registry balance."""
        with UnitOfWork(self.market.engine, read_only=True) as uow:
            s = uow.session
            storers = set(s.scalars(select(OFFERS.c.storer_organisation_id)))
            if storer_organisation_id is not None:
                storers &= {storer_organisation_id}
            out = []
            for org in sorted(storers):
                bought = s.execute(
                    select(
                        func.coalesce(func.sum(DEALS.c.quantity), 0),
                        func.coalesce(func.sum(DEALS.c.value_fen + DEALS.c.buyer_fee_fen), 0),
                        func.min(DEALS.c.traded_at),
                    ).where(DEALS.c.channel == "storage", DEALS.c.buyer_organisation_id == org)
                ).one()
                sold = s.execute(
                    select(
                        func.coalesce(func.sum(DEALS.c.quantity), 0),
                        func.coalesce(func.sum(DEALS.c.value_fen - DEALS.c.seller_fee_fen), 0),
                    ).where(DEALS.c.seller_organisation_id == org)
                ).one()
                out.append(
                    {
                        "storer": org,
                        "stored_t": int(bought[0]),
                        "cost_fen": int(bought[1]),
                        "first_at": beijing(bought[2]).isoformat() if bought[2] else None,
                        "resold_t": int(sold[0]),
                        "revenue_fen": int(sold[1]),
                        "holding": self.market.ledger.balance(org),
                    }
                )
            return out


def _offer_dict(o: Any) -> dict[str, Any]:
    return {
        "id": o.id,
        "storer": o.storer_organisation_id,
        "price_fen": o.price_fen,
        "budget_fen": o.budget_fen,
        "spent_fen": o.spent_fen,
        "left_fen": o.budget_fen - o.spent_fen if o.state == "open" else 0,
        "schemes": o.schemes.split(","),
        "state": o.state,
        "created_at": beijing(o.created_at).isoformat(),
    }
