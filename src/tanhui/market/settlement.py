"""Delivery versus payment: tonnes move in the registry and cash moves in the journal, in one
database transaction, or neither.

Before an order rests (or a proposal is made, a lot is auctioned, a 收储 offer stands) the service
reserves what the party gives:

* the buyer's **cash** — a :class:`~tanhui.db.market_tables.CashHold` (:mod:`tanhui.market.cash`);
* the seller's **tonnes** — a :class:`~tanhui.db.market_tables.TonneReservation` whose registry
  blocks are RESERVED for the exchange (:meth:`tanhui.registry.ledger.Ledger.reserve`, the block's
  ``lock_ref`` = the reservation's id, its lock organisation = the exchange). Blocks are taken from
  the seller's ACTIVE blocks of the scheme, oldest first (or from the one block it names); a block
  larger than needed is split, the reserved piece holding its last serials.

:class:`Settler` then runs the two legs of a deal inside one transaction:

1. **cash**: the buyer pays value + buyer fee (from its hold, else from available cash), the seller
   receives value − seller fee, the exchange both fees (:func:`tanhui.market.cash.settle_cash`);
2. **tonnes**: the exchange, holding the reservation, transfers the reserved pieces to the buyer's
   holding account (:meth:`~tanhui.registry.ledger.Ledger.transfer` through
   :meth:`~tanhui.registry.ledger.Ledger.within`, one registry event per piece).

Any failure in either leg — or between them (:attr:`Settler.between_legs`, a hook the tests use to
inject one) — raises, and the transaction rolls back: no cash moved, no tonne moved, the
reservations are as they were. The registry's events are appended when the transaction commits.

Agreements, auctions and 收储 record and settle a deal in the transaction that concludes it
(:meth:`Settler.settle`). A listed trade is matched under the book's lock and recorded
``pending`` there (:meth:`Settler.record`); its settlement follows in the next transaction,
outside that lock (:meth:`Settler.settle_pending`). Between the two nothing can take what pays for
it (the buyer's hold, the seller's reservation), so a settlement that fails — or a process that
dies — leaves the trade matched and owed, and the next settlement completes it.

Unused reservations are released (:func:`release_tonnes`: the exchange unreserves the pieces, they
return ACTIVE to the seller) when an order ends, a proposal closes, a lot does not sell.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, insert, or_, select, update

from tanhui.db.market_tables import (
    DEALS,
    DELIVERIES,
    HOLDS,
    RESERVATIONS,
)
from tanhui.db.tables import Account, Block
from tanhui.errors import ConflictError
from tanhui.market import cash
from tanhui.market.context import ActorLike, Tx


def _for_update(stmt: Any, tx: Tx) -> Any:
    return stmt.with_for_update(of=Block) if tx.dialect == "postgresql" else stmt


def available_tonnes(tx: Tx, organisation_id: int, scheme: str) -> int:
    from sqlalchemy import func

    return int(
        tx.session.scalar(
            select(func.coalesce(func.sum(Block.quantity), 0))
            .join(Account, Account.id == Block.account_id)
            .where(
                Account.organisation_id == organisation_id,
                Account.kind == "holding",
                Block.state == "ACTIVE",
                Block.scheme == scheme,
            )
        )
        or 0
    )


def reserve_tonnes(
    tx: Tx,
    seller: ActorLike,
    organisation_id: int,
    scheme: str,
    quantity: int,
    reference: str,
    *,
    block_id: int | None = None,
) -> int:
    """Reserve ``quantity`` t of ``scheme`` held by ``organisation_id`` for the exchange; returns
    the reservation's id. ``seller`` acts in the registry (the holder reserves its own blocks)."""
    exchange = tx.market.ids(tx).exchange_org
    reservation = int(
        tx.session.execute(
            insert(RESERVATIONS)
            .values(
                organisation_id=organisation_id,
                scheme=scheme,
                quantity=quantity,
                remaining=quantity,
                reference=reference,
                state="open",
                created_at=tx.now,
            )
            .returning(RESERVATIONS.c.id)
        ).scalar_one()
    )
    query = (
        select(Block.id, Block.quantity)
        .join(Account, Account.id == Block.account_id)
        .where(
            Account.organisation_id == organisation_id,
            Account.kind == "holding",
            Block.state == "ACTIVE",
            Block.scheme == scheme,
        )
        .order_by(Block.period_start, Block.id)
    )
    if block_id is not None:
        query = query.where(Block.id == block_id)
    left = quantity
    blocks = tx.session.execute(_for_update(query, tx)).all()
    if sum(b.quantity for b in blocks) < quantity:
        raise _short(scheme, sum(b.quantity for b in blocks), quantity, block_id)
    ledger = tx.ledger
    for b in blocks:
        if left == 0:
            break
        take = min(left, b.quantity)
        ledger.reserve(
            seller,
            block_id=b.id,
            quantity=take,
            reference=reservation,
            for_organisation_id=exchange,
        )
        left -= take
    return reservation


def _short(scheme: str, have: int, quantity: int, block_id: int | None) -> ConflictError:
    where_zh = f"序号段 {block_id} " if block_id is not None else ""
    where_en = f" in block {block_id}" if block_id is not None else ""
    return ConflictError(
        f"{where_zh}可用的 {scheme} 碳票为 {have} 吨，不足 {quantity} 吨。",
        f"{have} t of available {scheme} tickets{where_en}, not {quantity} t.",
        hint_zh="已质押、冻结或已挂单的碳票不可再次出售。",
        hint_en="Pledged, frozen or already listed tickets cannot be sold again.",
    )


def _reserved_blocks(tx: Tx, reservation_id: int) -> list[Any]:
    exchange = tx.market.ids(tx).exchange_org
    return list(
        tx.session.execute(
            _for_update(
                select(Block.id, Block.quantity, Block.project_id, Block.region_code)
                .where(
                    Block.lock_kind == "reservation",
                    Block.lock_ref == reservation_id,
                    Block.lock_organisation_id == exchange,
                    Block.state == "RESERVED",
                )
                .order_by(Block.id),
                tx,
            )
        ).all()
    )


def release_tonnes(tx: Tx, reservation_id: int | None, quantity: int | None = None) -> int:
    """Return ``quantity`` (default: all that is left) reserved tonnes ACTIVE to the seller;
    closes the reservation when nothing is left. Returns the tonnes released."""
    if reservation_id is None:
        return 0
    row = tx.session.execute(
        select(RESERVATIONS.c.remaining, RESERVATIONS.c.state).where(
            RESERVATIONS.c.id == reservation_id
        )
    ).one()
    if row.state != "open":
        return 0
    want = row.remaining if quantity is None else min(quantity, row.remaining)
    left = want
    ledger, operator = tx.ledger, tx.operator
    for b in reversed(_reserved_blocks(tx, reservation_id)):
        if left == 0:
            break
        take = min(left, b.quantity)
        ledger.unreserve(operator, block_id=b.id, quantity=take, reference=reservation_id)
        left -= take
    if left:
        raise ConflictError(
            f"预留 {reservation_id} 的序号段不足 {want} 吨；未作任何更改。",
            f"Reservation {reservation_id} holds less than {want} t; nothing was changed.",
        )
    _shrink(tx, reservation_id, row.remaining - want)
    return want


def _shrink(tx: Tx, reservation_id: int, remaining: int) -> None:
    values: dict[str, Any] = {"remaining": remaining}
    if remaining == 0:
        values.update(state="closed", closed_at=tx.now)
    tx.session.execute(
        update(RESERVATIONS).where(RESERVATIONS.c.id == reservation_id).values(**values)
    )


def deliver(tx: Tx, reservation_id: int, quantity: int, buyer_org: int) -> list[dict[str, Any]]:
    """The tonnes leg: move ``quantity`` reserved tonnes to the buyer; returns the pieces."""
    left = RESERVATIONS.c.remaining - quantity
    taken = tx.session.execute(
        update(RESERVATIONS)
        .where(
            RESERVATIONS.c.id == reservation_id,
            RESERVATIONS.c.state == "open",
            RESERVATIONS.c.remaining >= quantity,
        )
        .values(
            remaining=left,
            state=case((left == 0, "closed"), else_=RESERVATIONS.c.state),
            closed_at=case((left == 0, tx.now), else_=RESERVATIONS.c.closed_at),
        )
    )
    if taken.rowcount != 1:
        raise ConflictError(
            f"预留 {reservation_id} 剩余不足交割 {quantity} 吨；未作任何更改。",
            f"Reservation {reservation_id} has less than {quantity} t left to deliver; "
            "nothing was changed.",
        )
    left = quantity
    pieces = []
    ledger, operator = tx.ledger, tx.operator
    for b in _reserved_blocks(tx, reservation_id):
        if left == 0:
            break
        take = min(left, b.quantity)
        moved = ledger.transfer(
            operator, block_id=b.id, quantity=take, to_organisation_id=buyer_org
        )
        pieces.append(
            {
                "block_id": moved["id"],
                "project_id": b.project_id,
                "region_code": b.region_code,
                "quantity": take,
            }
        )
        left -= take
    if left:
        raise ConflictError(
            f"预留 {reservation_id} 的序号段不足 {quantity} 吨；未作任何更改。",
            f"Reservation {reservation_id}'s blocks hold less than {quantity} t; nothing was changed.",
        )
    return pieces


@dataclass(frozen=True)
class Deal:
    """What :func:`settle` needs to know about a deal (money in fen, price fen/t)."""

    channel: str
    scheme: str
    source: str
    buyer: int
    seller: int
    price: int
    quantity: int
    buyer_fee: int
    seller_fee: int
    #: The buyer's hold to pay from (``None``: from available cash).
    buyer_hold: int | None
    #: The seller's tonne reservation the tonnes come from.
    seller_reservation: int
    buy_order_id: int | None = None
    sell_order_id: int | None = None


class Settler:
    """Runs the two legs of deals. ``between_legs`` (default: nothing) is called after the cash
    leg and before the tonnes leg — the tests raise from it to prove atomicity.

    :meth:`settle` records and settles a deal in one go (agreements, auctions, 收储). A listed
    trade is :meth:`record`-ed ``pending`` where it is matched (under the book's lock) and settled
    by :meth:`settle_pending` right after, outside that lock — its buyer's hold and its seller's
    reservation are already set aside, so nothing can take them in between, and a settlement that
    fails (or a process that dies) leaves the deal pending, to be settled again."""

    def __init__(self) -> None:
        self.between_legs: Callable[[Deal], None] | None = None

    def settle(self, tx: Tx, deal: Deal) -> int:
        """Record ``deal`` and settle it inside ``tx`` (DvP); returns the deal's id."""
        deal_id = self._insert(tx, [deal], "settled")[0]
        pieces = self._legs(tx, deal_id, deal)
        tx.session.execute(insert(DELIVERIES), pieces)
        return deal_id

    def record(self, tx: Tx, deals: list[Deal]) -> list[int]:
        """Record matched deals as ``pending`` (one statement); returns their ids in order."""
        return self._insert(tx, deals, "pending") if deals else []

    def settle_pending(
        self,
        tx: Tx,
        *,
        deal_ids: Iterable[int] = (),
        orders: Iterable[int] = (),
        everything: bool = False,
    ) -> list[int]:
        """Settle the pending deals among ``deal_ids``, those of ``orders``, or all of them; each
        by DvP (a deal another transaction is settling is waited for, then skipped; with
        ``everything`` it is left to that transaction). Returns the ids settled here.

        Concurrent settlements take their rows in one order — the deals, the buyers' holds and
        the sellers' reservations, each by id; then the blocks of those reservations (no two
        settlements share one); the parties' cash accounts last, in id order, with all the
        transaction's balance changes at once (:func:`tanhui.market.cash.flush`) — so they never
        deadlock, and settlements of unrelated deals run side by side."""
        ids, oids = sorted(set(deal_ids)), sorted(set(orders))
        if not (ids or oids or everything):
            return []
        query = select(DEALS).where(DEALS.c.state == "pending").order_by(DEALS.c.id)
        if not everything:
            cond = []
            if ids:
                cond.append(DEALS.c.id.in_(ids))
            if oids:
                cond += [DEALS.c.buy_order_id.in_(oids), DEALS.c.sell_order_id.in_(oids)]
            query = query.where(or_(*cond))
        if everything and tx.dialect == "postgresql":
            query = query.with_for_update(key_share=True, skip_locked=True)
        else:
            query = tx.lock(query)
        rows = tx.session.execute(query).all()
        if not rows:
            return []
        holds = sorted({r.buyer_hold_id for r in rows if r.buyer_hold_id is not None})
        reservations = sorted({r.seller_reservation_id for r in rows})
        for table, ids in ((HOLDS, holds), (RESERVATIONS, reservations)):
            if ids:
                tx.session.execute(
                    tx.lock(select(table.c.id).where(table.c.id.in_(ids)).order_by(table.c.id))
                ).all()
        pieces: list[dict[str, Any]] = []
        for r in rows:
            deal = Deal(
                r.channel,
                r.scheme,
                r.source,
                r.buyer_organisation_id,
                r.seller_organisation_id,
                r.price_fen,
                r.quantity,
                r.buyer_fee_fen,
                r.seller_fee_fen,
                r.buyer_hold_id,
                r.seller_reservation_id,
                r.buy_order_id,
                r.sell_order_id,
            )
            pieces += self._legs(tx, r.id, deal)
        if rows:
            tx.session.execute(
                update(DEALS)
                .where(DEALS.c.id.in_([r.id for r in rows]))
                .values(state="settled", settled_at=tx.now)
            )
            tx.session.execute(insert(DELIVERIES), pieces)
        return [r.id for r in rows]

    def _insert(self, tx: Tx, deals: list[Deal], state: str) -> list[int]:
        rows = [
            {
                "channel": d.channel,
                "scheme": d.scheme,
                "source": d.source,
                "buyer_organisation_id": d.buyer,
                "seller_organisation_id": d.seller,
                "price_fen": d.price,
                "quantity": d.quantity,
                "value_fen": d.price * d.quantity,
                "buyer_fee_fen": d.buyer_fee,
                "seller_fee_fen": d.seller_fee,
                "buy_order_id": d.buy_order_id,
                "sell_order_id": d.sell_order_id,
                "buyer_hold_id": d.buyer_hold,
                "seller_reservation_id": d.seller_reservation,
                "state": state,
                "trade_day": tx.day,
                "traded_at": tx.now,
                "settled_at": tx.now if state == "settled" else None,
            }
            for d in deals
        ]
        if len(rows) == 1:
            return [
                int(
                    tx.session.execute(
                        insert(DEALS).values(**rows[0]).returning(DEALS.c.id)
                    ).scalar_one()
                )
            ]
        result = tx.session.execute(
            insert(DEALS).returning(DEALS.c.id, sort_by_parameter_order=True), rows
        )
        return [int(i) for i in result.scalars()]

    def _legs(self, tx: Tx, deal_id: int, deal: Deal) -> list[dict[str, Any]]:
        """Cash, then tonnes; returns the delivered pieces (rows of ``market_deliveries``)."""
        value = deal.price * deal.quantity
        cash.settle_cash(
            tx,
            buyer=cash.open_account(tx, deal.buyer),
            seller=cash.open_account(tx, deal.seller),
            value=value,
            buyer_fee=deal.buyer_fee,
            seller_fee=deal.seller_fee,
            reference=f"deal:{deal_id}",
            hold=deal.buyer_hold,
        )
        if self.between_legs is not None:
            self.between_legs(deal)
        pieces = deliver(tx, deal.seller_reservation, deal.quantity, deal.buyer)
        return [{"deal_id": deal_id, **p} for p in pieces]
