"""The market's service layer: durable engines, reservations, DvP settlement, one API.

:class:`Market` is what the CLI, the API and the web pages call. It keeps the pure engines of
:mod:`tanhui.market` (listed book, agreement desk, auctions, listings) durable — each engine's
commands in a journal, rebuilt by replay (:mod:`tanhui.market.journal`) — and drives them:

* before a command can make a party owe something, the service **reserves** it: a buy order's
  value plus fee (:meth:`~tanhui.market.rules.FeeSchedule.buy_reservation` at its limit), a sell
  order's tonnes (RESERVED in the registry for the exchange), a proposer's side, an auction lot, a
  bidder's deposit;
* every fill, concluded agreement, paid auction award and negotiated deal is **settled by DvP**
  (:mod:`tanhui.market.settlement`): cash and tonnes in the same transaction, or neither;
* whatever an order, proposal, lot or deposit no longer needs is **released** when it ends
  (filled, cancelled, expired at the close, rejected, declined, withdrawn, lapsed, unsold);
* each call runs in one transaction with an optional **idempotency key** (a repeat returns the
  first answer) and checks the caller's **role** (:mod:`tanhui.registry.permissions`: ``trade``,
  ``list_for_sale``, ``operate_market`` …) and that it acts for its own organisation.

Sub-services: :attr:`Market.cash` (:class:`~tanhui.market.cash.CashService`),
:attr:`Market.storage` (收储, :class:`~tanhui.market.storage.StorageService`), :attr:`Market.stats`
(:class:`~tanhui.market.stats.MarketStats`), :attr:`Market.loans` (pledge loans,
:class:`~tanhui.market.loans.LoanService`).

Decisions:

* **One book per scheme** (SMCER, GZCT, CCER …): tickets of one scheme are fungible in the book; a
  seller's tonnes are taken from its ACTIVE blocks of that scheme, oldest vintage first, unless it
  names a block. The agreement desk of a scheme takes the book's close as its previous close.
* **A book's journal is cut at each explicit close**: the next trading day starts a new stream
  from the close (so a restart replays one day, not the book's life).
* **A listed order is three short transactions**: its *entry* (the order row, its cash or tonnes
  set aside — nothing here waits for the book), its *match* (the book under its row lock, one order
  at a time; fills recorded as pending deals) and the *settlement* of those deals by DvP, outside
  the book's lock. What a match promises is already reserved, so the settlement cannot lack it;
  a settlement that fails or never runs leaves deals pending, and :meth:`Market.settle_pending`
  (run by the operator's :meth:`Market.tick`) completes them — and refuses and releases orders
  entered but never matched within :data:`ENTRY_GRACE`. Other channels (agreements, auctions,
  收储) conclude and settle in one transaction. Concurrent transactions take shared rows in one
  order (book, then deals, holds, reservations, blocks, cash accounts last), so they do not
  deadlock; PostgreSQL deadlocks or serialization failures that other work may still cause are
  retried.
* **Fees** are the scheme book's :class:`~tanhui.market.rules.FeeSchedule` for every channel
  (listed, agreement, auction, negotiated, 收储), rounded down per deal.
* **Auction payment**: the winner pays value + buyer fee from available cash within the deadline;
  its deposit is released at that moment (so it counts towards the payment). Unpaid after the
  deadline, the deposit is **forfeited to the seller** (``forfeit_to="seller"``, the default: the
  seller bore the failed sale) or to the exchange (``forfeit_to="exchange"``); the lot returns to
  the seller, who may list it again (or it goes to 收储 when the listing said so).
* Book commands that the engine refuses are journaled anyway (a refused order still rolls the
  trading day) and recorded as ``rejected`` orders; refusals of other engines raise
  :class:`~tanhui.market.errors.Refused` and change nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, bindparam, func, insert, select, text, update

from tanhui.db.market_tables import (
    ACCOUNTS,
    AUCTIONS,
    BIDDERS,
    BIDS,
    BOOKS,
    CLOSES,
    DEALS,
    HOLDS,
    ORDERS,
    PROPOSALS,
    RESERVATIONS,
    STREAMS,
    MarketAuction,
    MarketBid,
    MarketDeal,
    MarketOrder,
    MarketProposal,
    TonneReservation,
)
from tanhui.db.tables import Block, Organisation
from tanhui.db.uow import UnitOfWork
from tanhui.errors import ConflictError, InputError, PermissionDenied
from tanhui.market import cash, settlement
from tanhui.market.agreement import (
    Accept,
    AgreementConcluded,
    AgreementDesk,
    Decline,
    ProposalDeclined,
    ProposalExpired,
    ProposalMade,
    ProposalWithdrawn,
    Propose,
    SetPreviousClose,
    Withdraw,
)
from tanhui.market.auction import (
    Abandon,
    AscendingAuction,
    AscendingTerms,
    AuctionCalled,
    AuctionExtended,
    AuctionFailed,
    AuctionState,
    BidFilled,
    BidUnfilled,
    Conclude,
    ConfirmBidderPayment,
    ConfirmPayment,
    DepositReleased,
    ExpressIntent,
    Forfeited,
    ListingLapsed,
    ListingState,
    ListingTerms,
    NegotiatedDeal,
    PaymentConfirmed,
    PlaceBid,
    PlaceUniformBid,
    Qualify,
    TransferListing,
    UniformAuction,
    UniformTerms,
    Unsold,
    Won,
)
from tanhui.market.context import ActorLike, Tx, run
from tanhui.market.errors import Refused, market_closed, not_found
from tanhui.market.journal import BEIJING, Engines, Stream, beijing, terms_config
from tanhui.market.orderbook import (
    Cancel,
    CloseDay,
    DayClosed,
    ListedBook,
    OrderCancelled,
    OrderExpired,
    OrderFilled,
    OrderStatus,
    Submit,
    Trade,
)
from tanhui.market.rules import (
    FeeSchedule,
    MarketRules,
    Reason,
    Rejected,
    Side,
    Tick,
    vwap_close,
)
from tanhui.market.settlement import Deal, Settler
from tanhui.registry.ledger import Ledger
from tanhui.registry.permissions import Action, Role, require

#: The exchange's organisation when none is configured (created on first use).
EXCHANGE_ORGANISATION = "碳汇交易中心 tanhui exchange"
_BOOTSTRAP_LOCK = 0x7A6E6879
#: An order entered (its cash or tonnes set aside) but not matched within this time is taken to
#: be abandoned (its process died): :meth:`Market.settle_pending` refuses it and releases them.
ENTRY_GRACE = dt.timedelta(minutes=5)

_ORDER_STATUS = {
    OrderStatus.RESTING: "resting",
    OrderStatus.FILLED: "filled",
    OrderStatus.CANCELLED: "cancelled",
    OrderStatus.EXPIRED: "expired",
}
_LISTING_STATE = {
    ListingState.ANNOUNCING: "open",
    ListingState.NEGOTIATING: "negotiating",
    ListingState.AUCTION: "auction",
    ListingState.AGREED: "agreed",
    ListingState.LAPSED: "lapsed",
}
_AUCTION_STATE = {
    AuctionState.OPEN: "open",
    AuctionState.AWARDED: "awarded",
    AuctionState.SETTLED: "settled",
    AuctionState.DEFAULTED: "defaulted",
    AuctionState.FAILED: "failed",
}
_FINAL_AUCTION_STATES = ("settled", "defaulted", "failed", "lapsed", "agreed")


@dataclass(frozen=True)
class Ids:
    """The exchange's organisation and the system cash accounts."""

    exchange_org: int
    exchange_account: int
    external_account: int


@dataclass(frozen=True)
class BookRow:
    id: int
    scheme: str
    stream_id: int
    desk_stream_id: int
    buyer_fee_ppm: int
    seller_fee_ppm: int
    #: ``(kind, config, last_seq)`` of the book's stream when read under the lock.
    stream_state: tuple[Any, ...] | None = None

    @property
    def fees(self) -> FeeSchedule:
        return FeeSchedule(self.buyer_fee_ppm, self.seller_fee_ppm)


def _positive(value: Any, field: str, zh: str, en: str) -> int:
    if type(value) is not int or value <= 0:
        raise InputError(f"{zh}须为正整数。", f"{en} must be a positive whole number.", field=field)
    return value


class Market:
    """The market service. One instance per process (thread-safe); see the module docstring."""

    def __init__(
        self,
        engine: Engine,
        *,
        ledger: Ledger | None = None,
        rules: MarketRules | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        operator_organisation_id: int | None = None,
        forfeit_to: str = "seller",
    ) -> None:
        from tanhui.market.loans import LoanService
        from tanhui.market.stats import MarketStats
        from tanhui.market.storage import StorageService

        if forfeit_to not in ("seller", "exchange"):
            raise ValueError("forfeit_to is 'seller' or 'exchange'")
        self.engine = engine
        self.ledger = ledger or Ledger(engine)
        self.rules = rules or MarketRules()
        self.clock = clock or (lambda: dt.datetime.now(BEIJING))
        self.engines = Engines(self.rules)
        self.settler = Settler()
        self.forfeit_to = forfeit_to
        self._operator_org = operator_organisation_id
        self._ids: Ids | None = None
        self._accounts: dict[int, int] = {}
        self._books: dict[str, BookRow] = {}
        self.cash = cash.CashService(self)
        self.storage = StorageService(self)
        self.stats = MarketStats(self)
        self.loans = LoanService(self)

    # ------------------------------------------------------------------------- plumbing

    def now(self, value: dt.datetime | None = None) -> dt.datetime:
        """``value`` (or the clock) as an aware Beijing time."""
        return beijing(value if value is not None else self.clock())

    def ids(self, tx: Tx | None = None) -> Ids:
        if self._ids is None:
            self._bootstrap()
        assert self._ids is not None
        return self._ids

    def known_account(self, organisation_id: int) -> int | None:
        return self._accounts.get(organisation_id)

    def remember_accounts(self, accounts: dict[int, int]) -> None:
        self._accounts.update(accounts)

    def _bootstrap(self) -> None:
        """Create (once) the exchange's organisation, its fee account and the external account."""
        with UnitOfWork(self.engine) as uow:
            s = uow.session
            if uow.dialect_name == "postgresql":
                s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _BOOTSTRAP_LOCK})
            org = self._operator_org
            if org is None:
                org = s.scalar(
                    select(Organisation.id).where(Organisation.name == EXCHANGE_ORGANISATION)
                )
                if org is None:
                    record = Organisation(name=EXCHANGE_ORGANISATION, kind="market")
                    s.add(record)
                    s.flush()
                    org = record.id
            elif s.get(Organisation, org) is None:
                raise not_found("交易机构", "market operator organisation", org)
            ids = []
            for owner, kind in ((org, "exchange"), (None, "external")):
                query = select(ACCOUNTS.c.id).where(ACCOUNTS.c.kind == kind)
                query = query.where(
                    ACCOUNTS.c.organisation_id.is_(None)
                    if owner is None
                    else ACCOUNTS.c.organisation_id == owner
                )
                found = s.scalar(query)
                if found is None:
                    found = s.execute(
                        insert(ACCOUNTS)
                        .values(organisation_id=owner, kind=kind, available_fen=0, frozen_fen=0)
                        .returning(ACCOUNTS.c.id)
                    ).scalar_one()
                ids.append(int(found))
            uow.commit()
        self._ids = Ids(int(org), ids[0], ids[1])

    def _run(
        self,
        actor: ActorLike,
        type_: str,
        request: dict[str, Any],
        idempotency_key: str | None,
        work: Callable[[Tx], Any],
        now: dt.datetime | None,
    ) -> Any:
        self.ids()
        return run(self, actor, type_, request, idempotency_key, work, now=self.now(now))

    @staticmethod
    def _org(actor: ActorLike) -> int:
        if actor.organisation_id is None:
            raise PermissionDenied(
                "请以所属机构的身份交易（当前用户没有所属机构）。",
                "Trade as a member of an organisation (this user belongs to none).",
                action=Action.trade.value,
                roles=tuple(str(r) for r in actor.roles),
            )
        return actor.organisation_id

    def _book_row(
        self, tx: Tx, *, scheme: str | None = None, book_id: int | None = None
    ) -> BookRow:
        """The book of a scheme and its current stream, both rows locked for this transaction (the
        stream is read under the lock: a close may have started a new one)."""
        query = select(
            BOOKS.c.id,
            BOOKS.c.scheme,
            BOOKS.c.stream_id,
            BOOKS.c.desk_stream_id,
            BOOKS.c.buyer_fee_ppm,
            BOOKS.c.seller_fee_ppm,
            STREAMS.c.kind,
            STREAMS.c.config,
            STREAMS.c.last_seq,
        ).join(STREAMS, STREAMS.c.id == BOOKS.c.stream_id)
        query = query.where(
            BOOKS.c.scheme == scheme if scheme is not None else BOOKS.c.id == book_id
        )
        row = tx.session.execute(tx.lock(query)).first()
        if row is None:
            raise market_closed(str(scheme or book_id))
        return BookRow(*row[:6], stream_state=tuple(row[6:]))

    def _fees(self, tx: Tx, scheme: str) -> BookRow:
        """The scheme's book (for its fees and desk), not locked."""
        known = self._books.get(scheme)
        if known is not None:
            return known
        row = tx.session.execute(
            select(
                BOOKS.c.id,
                BOOKS.c.scheme,
                BOOKS.c.stream_id,
                BOOKS.c.desk_stream_id,
                BOOKS.c.buyer_fee_ppm,
                BOOKS.c.seller_fee_ppm,
            ).where(BOOKS.c.scheme == scheme)
        ).first()
        if row is None:
            raise market_closed(scheme)
        book = BookRow(*row)
        self._books[scheme] = book
        return book

    # ------------------------------------------------------------------------------ books

    def open_book(
        self,
        actor: ActorLike,
        *,
        scheme: str,
        previous_close_fen: int,
        buyer_fee_ppm: int = 0,
        seller_fee_ppm: int = 0,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Open the market of one scheme: its listed book and agreement desk, the first day's
        band from ``previous_close_fen`` (fen/t), fees in parts per million of value per side."""
        require(actor.roles, Action.operate_market)
        _positive(previous_close_fen, "previous_close_fen", "前收盘价", "The previous close")
        fees = FeeSchedule(buyer_fee_ppm, seller_fee_ppm)  # validates

        def work(tx: Tx) -> dict[str, Any]:
            if tx.session.scalar(select(BOOKS.c.id).where(BOOKS.c.scheme == scheme)):
                raise ConflictError(
                    f"{scheme} 的市场已开设。", f"The {scheme} market is already open."
                )
            config = {
                "previous_close": previous_close_fen,
                "buyer_ppm": fees.buyer_ppm,
                "seller_ppm": fees.seller_ppm,
            }
            stream = self.engines.create(tx.uow, "book", config)
            desk = self.engines.create(tx.uow, "desk", config)
            book_id = tx.session.execute(
                insert(BOOKS)
                .values(
                    scheme=scheme,
                    stream_id=stream,
                    desk_stream_id=desk,
                    initial_close_fen=previous_close_fen,
                    buyer_fee_ppm=fees.buyer_ppm,
                    seller_fee_ppm=fees.seller_ppm,
                )
                .returning(BOOKS.c.id)
            ).scalar_one()
            return {"id": book_id, "scheme": scheme, "previous_close_fen": previous_close_fen}

        request = {
            "scheme": scheme,
            "close": previous_close_fen,
            "fees": [buyer_fee_ppm, seller_fee_ppm],
        }
        return self._run(actor, "book_opened", request, idempotency_key, work, None)

    # ----------------------------------------------------------------------- listed orders

    def submit_order(
        self,
        actor: ActorLike,
        *,
        scheme: str,
        side: Side | str,
        price_fen: int,
        quantity: int,
        block_id: int | None = None,
        now: dt.datetime | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """A limit order in the listed book (挂牌协议) of ``scheme`` at ``price_fen`` fen/t.

        A buy order freezes its value plus fee at the limit; a sell order reserves its tonnes
        (from ``block_id`` if given). It trades at once against the best five levels; the rest
        rests (or is cancelled, see the book's rules). Each fill is then settled by DvP. Returns
        the order with its ``status`` (``resting``, ``filled``, ``cancelled``, ``rejected`` with
        ``reason``) and its ``fills``. Raises when the cash or tonnes to reserve are not
        available (nothing is recorded then).

        Three short transactions: the entry (the order row, its cash or tonnes reserved), the
        match (the book under its lock, the trades recorded as pending deals) and the settlement
        of those deals by DvP — so that the book's lock is held only for matching. Should the
        settlement fail, the trades stay matched and pending, their cash and tonnes reserved, and
        :meth:`settle_pending` settles them; an order entered but never matched (its process
        died) is refused and released by :meth:`settle_pending` after a grace period.
        """
        require(actor.roles, Action.trade)
        org = self._org(actor)
        side = Side(side)

        def reserve(tx: Tx, order_id: int) -> tuple[int | None, int | None]:
            if side is Side.BUY:
                fees = self._fees(tx, scheme).fees
                hold = cash.freeze(
                    tx,
                    cash.open_account(tx, org),
                    fees.buy_reservation(price_fen, quantity),
                    "order",
                    f"order:{order_id}",
                    what=("买入委托", "the buy order"),
                )
                return hold, None
            return None, settlement.reserve_tonnes(
                tx, actor, org, scheme, quantity, f"order:{order_id}", block_id=block_id
            )

        def enter(tx: Tx) -> dict[str, Any]:
            """1. The order row and what it gives — a buyer's cash, a seller's tonnes — set aside
            (committed before the book is touched: nothing here waits for the book's lock)."""
            book_id = self._fees(tx, scheme).id
            order_id = int(
                tx.session.execute(
                    insert(ORDERS)
                    .values(
                        book_id=book_id,
                        organisation_id=org,
                        side=side.value,
                        price_fen=price_fen if type(price_fen) is int and price_fen > 0 else 1,
                        quantity=quantity if type(quantity) is int and quantity > 0 else 1,
                        filled=0,
                        status="new",
                        actor=tx.who,
                        created_at=tx.now,
                        updated_at=tx.now,
                    )
                    .returning(ORDERS.c.id)
                ).scalar_one()
            )
            # this process's last copy of the book (not locked: a guess only) says whether the
            # book will refuse the order for its band or its close: then nothing is set aside
            hint_stream = self._fees(tx, scheme).stream_id
            hint = self.engines.hint(hint_stream) or self.engines.peek(
                tx.uow, hint_stream, lambda engine: engine
            )
            likely = _order_plausible(self.rules, price_fen, quantity, tx.now) and (
                _order_may_pass(hint, side, price_fen, quantity, org, tx.now, self_trade=False)
            )
            hold, reservation = reserve(tx, order_id) if likely else (None, None)
            if likely:
                tx.session.execute(
                    update(ORDERS)
                    .where(ORDERS.c.id == order_id)
                    .values(cash_hold_id=hold, reservation_id=reservation)
                )
            return {"order_id": order_id, "hold": hold, "reservation": reservation}

        def match(tx: Tx) -> dict[str, Any]:
            """2. The book, under its lock: one order at a time."""
            order_id = entered["order_id"]
            status = tx.session.scalar(
                tx.lock(select(ORDERS.c.status).where(ORDERS.c.id == order_id))
            )
            if status != "new":  # matched already (a repeated request), or abandoned
                return {"order": {}, "pending": [], "ended": []}
            hold, reservation = entered["hold"], entered["reservation"]
            book = self._book_row(tx, scheme=scheme)
            stream = tx.stream(book.stream_id, book.stream_state)
            may = _order_plausible(self.rules, price_fen, quantity, tx.now) and _order_may_pass(
                stream.engine, side, price_fen, quantity, org, tx.now
            )
            if may and hold is None and reservation is None:  # the guess was wrong
                hold, reservation = reserve(tx, order_id)
            events = stream.apply(
                Submit(order_id, side, price_fen, quantity, org, org, tx.now, hold or reservation)
            )
            new = _NewOrder(order_id, side, hold, reservation)
            return self._book_events(tx, book, stream, events, new)

        request = {
            "scheme": scheme,
            "side": side.value,
            "price_fen": price_fen,
            "quantity": quantity,
            "block_id": block_id,
            "org": org,
        }
        entered = self._run(actor, "order", request, idempotency_key, enter, now)
        try:
            matched = self._run(actor, "match", {}, None, match, now)
        except ConflictError:  # what it gives could not be set aside after all: refused
            self._abandon(actor, [entered["order_id"]], "not_reserved", now)
            raise
        self._settle(actor, matched, now)
        if not matched["order"]:  # a repeated request: the order as it stands
            return {**self.order(actor, entered["order_id"]), "fills": []}
        return {
            **matched["order"],
            "organisation_id": org,
            "price_fen": price_fen,
            "quantity": quantity,
            "created_at": self.now(now).isoformat(),
        }

    def cancel_order(
        self,
        actor: ActorLike,
        *,
        order_id: int,
        now: dt.datetime | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Cancel the unfilled rest of one's resting order; its reservation is released."""
        require(actor.roles, Action.trade)
        org = self._org(actor)

        def work(tx: Tx) -> dict[str, Any]:
            row = tx.session.execute(
                select(ORDERS.c.book_id, ORDERS.c.organisation_id, ORDERS.c.status).where(
                    ORDERS.c.id == order_id
                )
            ).first()
            if row is None:
                raise not_found("委托", "order", order_id)
            if row.organisation_id != org:
                raise Refused(Reason.NOT_OWNER)
            if row.status == "rejected":  # never in the book
                raise Refused(Reason.UNKNOWN_ORDER)
            if row.status != "resting":  # filled, cancelled or expired (possibly an earlier day's)
                raise Refused(Reason.NOT_ACTIVE)
            book = self._book_row(tx, book_id=row.book_id)
            stream = tx.stream(book.stream_id, book.stream_state)
            events = stream.apply(Cancel(order_id, org, tx.now))
            matched = self._book_events(tx, book, stream, events, None)
            refused = [e for e in events if isinstance(e, Rejected) and e.subject == order_id]
            if refused:
                matched["refused"] = refused[0].reason.value
            return matched

        matched = self._run(actor, "cancel", {"order_id": order_id}, idempotency_key, work, now)
        self._settle(actor, matched, now)
        answer = self.order(actor, order_id)
        if "refused" in matched:
            answer["refused"] = matched["refused"]
        return answer

    def close_day(
        self,
        actor: ActorLike,
        *,
        scheme: str,
        now: dt.datetime | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """The close of ``scheme``'s book: resting orders expire (reservations released) and the
        close (the day's VWAP, else the previous close) sets the next day's band."""
        require(actor.roles, Action.operate_market)

        def work(tx: Tx) -> dict[str, Any]:
            book = self._book_row(tx, scheme=scheme)
            return self._close(tx, book, tx.now)

        matched = self._run(actor, "close_day", {"scheme": scheme}, idempotency_key, work, now)
        self._settle(actor, matched, now)
        return matched["close"]

    def settle_pending(self, actor: ActorLike, *, now: dt.datetime | None = None) -> dict[str, Any]:
        """Settle every pending listed trade and release what ended orders still hold (after a
        settlement failed or a process died between a match and its settlement). The operator's
        ``tick`` runs it first."""
        require(actor.roles, Action.operate_market)

        def work(tx: Tx) -> dict[str, Any]:
            settled = self.settler.settle_pending(tx, everything=True)
            ended = tx.session.execute(
                select(ORDERS.c.id, ORDERS.c.side, ORDERS.c.cash_hold_id, ORDERS.c.reservation_id)
                .outerjoin(HOLDS, HOLDS.c.id == ORDERS.c.cash_hold_id)
                .outerjoin(RESERVATIONS, RESERVATIONS.c.id == ORDERS.c.reservation_id)
                .where(
                    ORDERS.c.status.in_(("filled", "cancelled", "expired", "rejected")),
                    (HOLDS.c.state == "open") | (RESERVATIONS.c.state == "open"),
                )
            ).all()
            for _oid, side, hold, res in ended:
                self._release_order(tx, Side(side), hold if side == "buy" else res)
            # orders entered but never matched (their process died in between)
            stale = tx.session.scalars(
                select(ORDERS.c.id).where(
                    ORDERS.c.status == "new", ORDERS.c.created_at < tx.now - ENTRY_GRACE
                )
            ).all()
            abandoned = self._abandon_in(tx, list(stale), "abandoned")
            return {"settled": settled, "released": [r.id for r in ended], "abandoned": abandoned}

        return self._run(actor, "settle_pending", {}, None, work, now)

    def _abandon(
        self, actor: ActorLike, order_ids: list[int], reason: str, now: dt.datetime | None
    ) -> None:
        """Refuse entered orders that never reached the book and release what they set aside."""

        def work(tx: Tx) -> None:
            self._abandon_in(tx, order_ids, reason)

        self._run(actor, "abandon_orders", {}, None, work, now)

    def _abandon_in(self, tx: Tx, order_ids: list[int], reason: str) -> list[int]:
        rows = tx.session.execute(
            tx.lock(
                select(ORDERS.c.id, ORDERS.c.side, ORDERS.c.cash_hold_id, ORDERS.c.reservation_id)
                .where(ORDERS.c.id.in_(order_ids), ORDERS.c.status == "new")
                .order_by(ORDERS.c.id)
            )
        ).all()
        for r in rows:
            self._release_order(tx, Side(r.side), r.cash_hold_id or r.reservation_id)
        if rows:
            tx.session.execute(
                update(ORDERS)
                .where(ORDERS.c.id.in_([r.id for r in rows]))
                .values(status="rejected", reason=reason, updated_at=tx.now)
            )
        return [r.id for r in rows]

    def _settle(self, actor: ActorLike, matched: dict[str, Any], now: dt.datetime | None) -> None:
        """The settlement after a match: its pending deals by DvP, then the releases of the
        orders that ended (after their own pending deals, whoever matched them)."""
        pending, ended = matched.get("pending", []), matched.get("ended", [])
        if not pending and not ended:
            return

        def work(tx: Tx) -> None:
            self.settler.settle_pending(
                tx, deal_ids=pending, orders=[oid for oid, _side, _handle in ended]
            )
            for _oid, side, handle in ended:
                self._release_order(tx, Side(side), handle)

        self._run(actor, "settle", {}, None, work, now)

    def _close(self, tx: Tx, book: BookRow, when: dt.datetime) -> dict[str, Any]:
        stream = tx.stream(book.stream_id, book.stream_state)
        engine: ListedBook = stream.engine
        events = stream.apply(CloseDay(when))
        matched = self._book_events(tx, book, stream, events, None)
        refused = [e for e in events if isinstance(e, Rejected)]
        closes = [e for e in events if isinstance(e, DayClosed)]
        if not engine.is_open and engine.day is not None and closes:
            # the next trading day starts a fresh stream from the close
            config = {
                "previous_close": engine.previous_close,
                "buyer_ppm": book.buyer_fee_ppm,
                "seller_ppm": book.seller_fee_ppm,
                "closed_at": dt.datetime.combine(engine.day, dt.time(15, 0), BEIJING).isoformat(),
            }
            fresh = self.engines.create(tx.uow, "book", config)
            tx.session.execute(update(BOOKS).where(BOOKS.c.id == book.id).values(stream_id=fresh))
            stream.retired = True
        out: dict[str, Any] = {"scheme": book.scheme}
        if closes:
            last = closes[-1]
            out.update(
                day=last.day.isoformat(),
                close_fen=last.close_price,
                previous_close_fen=last.previous_close,
                volume=last.volume,
                value_fen=last.value,
            )
        if refused and not closes:
            out["refused"] = refused[0].reason.value
        return {**matched, "close": out}

    def _book_events(
        self, tx: Tx, book: BookRow, stream: Stream, events: list[Any], new: _NewOrder | None
    ) -> dict[str, Any]:
        """Under the book's lock: record the trades as pending deals, the orders' new states and
        the closes. Returns the new order (if any) with its fills, the pending deals' ids and the
        orders that ended ``(id, side, hold or reservation)`` for :meth:`_settle`."""
        engine: ListedBook = stream.engine
        touched: dict[int, str | None] = {}
        deals: list[Deal] = []
        closes: list[DayClosed] = []
        ended: list[tuple[int, str, Any]] = []
        rejected_new = False
        for e in events:
            kind = type(e)
            if kind is Trade:
                buy, sell = engine.order(e.buy_order_id), engine.order(e.sell_order_id)
                assert buy is not None and sell is not None
                deals.append(
                    Deal(
                        "listed",
                        book.scheme,
                        f"order:{e.buy_order_id}/{e.sell_order_id}",
                        e.buyer,
                        e.seller,
                        e.price,
                        e.quantity,
                        e.buyer_fee,
                        e.seller_fee,
                        buy.reservation,
                        sell.reservation,
                        e.buy_order_id,
                        e.sell_order_id,
                    )
                )
                touched.setdefault(e.buy_order_id, None)
                touched.setdefault(e.sell_order_id, None)
            elif kind is OrderFilled or kind is OrderCancelled or kind is OrderExpired:
                view = engine.order(e.order_id)
                assert view is not None
                if view.side is Side.BUY or kind is not OrderFilled:
                    # (a filled sell's reservation closes itself with its last delivery)
                    ended.append((e.order_id, view.side.value, view.reservation))
                if kind is OrderFilled:
                    touched.setdefault(e.order_id, None)
                else:
                    touched[e.order_id] = (
                        e.reason.value if kind is OrderCancelled else Reason.DAY_END.value
                    )
            elif kind is Rejected:
                if new is not None and e.subject == new.order_id:
                    rejected_new = True
                    ended.append((new.order_id, new.side.value, new.hold or new.reservation))
                    touched[new.order_id] = e.reason.value
            elif kind is DayClosed:
                closes.append(e)
            else:
                oid = getattr(e, "order_id", None)
                if oid is not None:
                    touched.setdefault(oid, None)
        pending = self.settler.record(tx, deals)
        answer: dict[str, Any] = {}
        if new is not None:
            if engine.order(new.order_id) is None and not rejected_new:
                raise RuntimeError(f"order {new.order_id}: the book neither took nor refused it")
            touched.setdefault(new.order_id, None)
        rows = []
        for oid, reason in touched.items():
            view = engine.order(oid)
            row = {"oid": oid, "st": "rejected", "fl": 0, "rs": reason, "h": None, "r": None}
            if view is not None:
                row.update(st=_ORDER_STATUS[view.status], fl=view.filled)
            if new is not None and oid == new.order_id:
                row.update(h=new.hold, r=new.reservation)
                answer = {
                    "id": oid,
                    "book_id": book.id,
                    "side": new.side.value,
                    "status": row["st"],
                    "reason": reason,
                    "filled": row["fl"],
                    "remaining": view.remaining
                    if view is not None and row["st"] == "resting"
                    else 0,
                    "fills": [
                        {
                            "deal_id": deal_id,
                            "price_fen": d.price,
                            "quantity": d.quantity,
                            "buy_order_id": d.buy_order_id,
                            "sell_order_id": d.sell_order_id,
                        }
                        for deal_id, d in zip(pending, deals, strict=True)
                    ],
                }
            rows.append(row)
        if rows:
            tx.session.execute(
                update(ORDERS)
                .where(ORDERS.c.id == bindparam("oid"))
                .values(
                    status=bindparam("st"),
                    filled=bindparam("fl"),
                    reason=func.coalesce(bindparam("rs"), ORDERS.c.reason),
                    cash_hold_id=func.coalesce(bindparam("h"), ORDERS.c.cash_hold_id),
                    reservation_id=func.coalesce(bindparam("r"), ORDERS.c.reservation_id),
                    updated_at=tx.now,
                ),
                rows,
                execution_options={"synchronize_session": False},
            )
        for c in closes:
            self._record_close(tx, book, c)
        return {"order": answer, "pending": pending, "ended": ended}

    def _release_order(self, tx: Tx, side: Side, reservation: Any) -> None:
        if reservation is None:
            return
        if side is Side.BUY:
            cash.release(tx, reservation)
        else:
            settlement.release_tonnes(tx, reservation)

    def _record_close(self, tx: Tx, book: BookRow, close: DayClosed) -> None:
        tx.session.execute(
            insert(CLOSES).values(
                book_id=book.id,
                day=close.day,
                close_fen=close.close_price,
                previous_close_fen=close.previous_close,
                volume=close.volume,
                value_fen=close.value,
                closed_at=tx.now,
            )
        )
        desk = tx.stream(book.desk_stream_id)
        events = desk.apply(SetPreviousClose(close.close_price, tx.now))
        self._desk_events(tx, book, desk, events)

    def order(self, actor: ActorLike, order_id: int) -> dict[str, Any]:
        """One of the actor's organisation's orders."""
        require(actor.roles, Action.trade)
        org = self._org(actor)
        with UnitOfWork(self.engine, read_only=True) as uow:
            row = uow.session.execute(
                select(MarketOrder).where(ORDERS.c.id == order_id)
            ).scalar_one_or_none()
            if row is None or row.organisation_id != org:
                raise not_found("委托", "order", order_id)
            return _order_dict(row)

    # --------------------------------------------------------------- agreements (协议转让)

    def propose(
        self,
        actor: ActorLike,
        *,
        scheme: str,
        side: Side | str,
        counterparty_organisation_id: int,
        quantity: int,
        price_fen: int,
        expires_at: dt.datetime,
        block_id: int | None = None,
        now: dt.datetime | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Propose an agreement transfer (协议转让; ≥ 100,000 t: a block agreement, 大宗协议) to a
        named counterparty: ``side`` is the proposer's (``sell`` or ``buy``). The proposer's side is
        reserved now (tonnes, or value + fee), the counterparty's when it accepts."""
        require(actor.roles, Action.trade)
        org = self._org(actor)
        side = Side(side)
        seller, buyer = (
            (org, counterparty_organisation_id)
            if side is Side.SELL
            else (counterparty_organisation_id, org)
        )
        expires = self.now(expires_at)

        def work(tx: Tx) -> dict[str, Any]:
            book = self._fees(tx, scheme)
            desk = tx.stream(book.desk_stream_id)
            engine: AgreementDesk = desk.engine
            if tx.session.get(Organisation, counterparty_organisation_id) is None:
                raise not_found("机构", "organisation", counterparty_organisation_id)
            pid = int(
                tx.session.execute(
                    insert(PROPOSALS)
                    .values(
                        book_id=book.id,
                        proposer_organisation_id=org,
                        seller_organisation_id=seller,
                        buyer_organisation_id=buyer,
                        quantity=quantity if type(quantity) is int and quantity > 0 else 1,
                        price_fen=price_fen if type(price_fen) is int and price_fen > 0 else 1,
                        block=type(quantity) is int and quantity >= self.rules.block_min_t,
                        state="new",
                        expires_at=expires,
                        created_at=tx.now,
                        updated_at=tx.now,
                    )
                    .returning(PROPOSALS.c.id)
                ).scalar_one()
            )
            reason = _proposal_problem(engine, seller, buyer, quantity, price_fen, expires, tx.now)
            if reason is not None:
                raise Refused(reason)
            hold, reservation = self._reserve_side(
                tx,
                actor,
                org,
                side,
                scheme,
                quantity,
                price_fen,
                book.fees,
                f"proposal:{pid}",
                block_id,
            )
            tx.session.execute(
                update(PROPOSALS)
                .where(PROPOSALS.c.id == pid)
                .values(cash_hold_id=hold, reservation_id=reservation)
            )
            events = desk.apply(
                Propose(pid, org, seller, buyer, quantity, price_fen, expires, tx.now)
            )
            _raise_refusal(events, pid)
            self._desk_events(tx, book, desk, events)
            return self._proposal_answer(tx, pid)

        request = {
            "scheme": scheme,
            "side": side.value,
            "counterparty": counterparty_organisation_id,
            "quantity": quantity,
            "price_fen": price_fen,
            "expires_at": expires,
            "block_id": block_id,
            "org": org,
        }
        return self._run(actor, "propose", request, idempotency_key, work, now)

    def _reserve_side(
        self,
        tx: Tx,
        actor: ActorLike,
        org: int,
        side: Side,
        scheme: str,
        quantity: int,
        price: int,
        fees: FeeSchedule,
        reference: str,
        block_id: int | None,
    ) -> tuple[int | None, int | None]:
        if side is Side.BUY:
            hold = cash.freeze(
                tx,
                cash.open_account(tx, org),
                fees.buy_reservation(price, quantity),
                "proposal",
                reference,
                what=("协议受让", "the agreement"),
            )
            return hold, None
        return None, settlement.reserve_tonnes(
            tx, actor, org, scheme, quantity, reference, block_id=block_id
        )

    def accept_proposal(
        self,
        actor: ActorLike,
        *,
        proposal_id: int,
        block_id: int | None = None,
        now: dt.datetime | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """The counterparty accepts: its side is reserved and the agreement settles by DvP."""
        return self._answer_proposal(actor, proposal_id, "accept", block_id, now, idempotency_key)

    def decline_proposal(
        self,
        actor: ActorLike,
        *,
        proposal_id: int,
        now: dt.datetime | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """The counterparty declines; the proposer's reservation is released."""
        return self._answer_proposal(actor, proposal_id, "decline", None, now, idempotency_key)

    def withdraw_proposal(
        self,
        actor: ActorLike,
        *,
        proposal_id: int,
        now: dt.datetime | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """The proposer withdraws an open proposal; its reservation is released."""
        return self._answer_proposal(actor, proposal_id, "withdraw", None, now, idempotency_key)

    def _answer_proposal(
        self,
        actor: ActorLike,
        proposal_id: int,
        what: str,
        block_id: int | None,
        now: dt.datetime | None,
        idempotency_key: str | None,
    ) -> dict[str, Any]:
        require(actor.roles, Action.trade)
        org = self._org(actor)

        def work(tx: Tx) -> dict[str, Any]:
            p = tx.session.execute(
                select(MarketProposal)
                .execution_options(populate_existing=True)
                .where(PROPOSALS.c.id == proposal_id)
            ).scalar_one_or_none()
            if p is None:
                raise not_found("协议提议", "proposal", proposal_id)
            book = self._fees(tx, _scheme_of(tx, p.book_id))
            desk = tx.stream(book.desk_stream_id)
            engine: AgreementDesk = desk.engine
            view = engine.proposals.get(proposal_id)
            if view is None:
                raise Refused(Reason.UNKNOWN_PROPOSAL)
            if what == "accept":
                if org != view.counterparty:
                    raise Refused(Reason.NOT_COUNTERPARTY)
                if view.state.value != "open" or view.expires_at <= tx.now:
                    raise Refused(Reason.PROPOSAL_CLOSED)
                side = Side.BUY if org == p.buyer_organisation_id else Side.SELL
                hold, reservation = self._reserve_side(
                    tx,
                    actor,
                    org,
                    side,
                    book.scheme,
                    p.quantity,
                    p.price_fen,
                    book.fees,
                    f"proposal:{proposal_id}",
                    block_id,
                )
                tx.session.execute(
                    update(PROPOSALS)
                    .where(PROPOSALS.c.id == proposal_id)
                    .values(
                        cash_hold_id=hold if hold is not None else PROPOSALS.c.cash_hold_id,
                        reservation_id=reservation
                        if reservation is not None
                        else PROPOSALS.c.reservation_id,
                    )
                )
                command: Any = Accept(proposal_id, org, tx.now)
            elif what == "decline":
                command = Decline(proposal_id, org, tx.now)
            else:
                command = Withdraw(proposal_id, org, tx.now)
            events = desk.apply(command)
            _raise_refusal(events, proposal_id)
            self._desk_events(tx, book, desk, events)
            return self._proposal_answer(tx, proposal_id)

        return self._run(
            actor,
            what,
            {"proposal_id": proposal_id, "block_id": block_id},
            idempotency_key,
            work,
            now,
        )

    def _desk_events(self, tx: Tx, book: BookRow, desk: Stream, events: list[Any]) -> None:
        for e in events:
            kind = type(e)
            if kind is ProposalMade:
                self._proposal_state(tx, e.proposal_id, "open")
            elif kind is AgreementConcluded:
                p = tx.session.execute(
                    select(PROPOSALS.c.cash_hold_id, PROPOSALS.c.reservation_id).where(
                        PROPOSALS.c.id == e.proposal_id
                    )
                ).one()
                self.settler.settle(
                    tx,
                    Deal(
                        "block" if e.block else "agreement",
                        book.scheme,
                        f"proposal:{e.proposal_id}",
                        e.buyer,
                        e.seller,
                        e.price,
                        e.quantity,
                        e.buyer_fee,
                        e.seller_fee,
                        p.cash_hold_id,
                        p.reservation_id,
                    ),
                )
                cash.release(tx, p.cash_hold_id)  # an exact reservation: nothing is left
                self._proposal_state(tx, e.proposal_id, "accepted")
            elif kind in (ProposalDeclined, ProposalWithdrawn, ProposalExpired):
                p = tx.session.execute(
                    select(PROPOSALS.c.cash_hold_id, PROPOSALS.c.reservation_id).where(
                        PROPOSALS.c.id == e.proposal_id
                    )
                ).one()
                if p.cash_hold_id is not None:
                    cash.release(tx, p.cash_hold_id)
                settlement.release_tonnes(tx, p.reservation_id)
                state = {
                    ProposalDeclined: "declined",
                    ProposalWithdrawn: "withdrawn",
                    ProposalExpired: "expired",
                }[kind]
                self._proposal_state(tx, e.proposal_id, state)

    def _proposal_state(self, tx: Tx, proposal_id: Any, state: str) -> None:
        tx.session.execute(
            update(PROPOSALS)
            .where(PROPOSALS.c.id == proposal_id)
            .values(state=state, updated_at=tx.now)
        )

    def _proposal_answer(self, tx: Tx, proposal_id: int) -> dict[str, Any]:
        p = tx.session.execute(
            select(MarketProposal)
            .execution_options(populate_existing=True)
            .where(PROPOSALS.c.id == proposal_id)
        ).scalar_one()
        return _proposal_dict(p)

    # ----------------------------------------------------------- auctions and listings

    def create_auction(
        self,
        actor: ActorLike,
        *,
        scheme: str,
        quantity: int,
        start_price_fen: int,
        opens_at: dt.datetime,
        ends_at: dt.datetime,
        kind: str = "ascending",
        reserve_price_fen: int | None = None,
        increment_ticks: int = 1,
        deposit_fen: int = 0,
        countdown: dt.timedelta = dt.timedelta(minutes=5),
        payment_days: int = 3,
        min_bid_t: int = 1000,
        bidder_cap_ppm: int = 500_000,
        block_id: int | None = None,
        storage_fallback: bool = False,
        now: dt.datetime | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """A one-way auction (单向竞价) of the seller's tonnes, which are reserved at once.

        ``kind="ascending"``: one lot of ``quantity`` t; the first bid may equal
        ``start_price_fen``, each next one beats the best by ``increment_ticks``; every bid
        restarts the ``countdown``; no sale below ``reserve_price_fen`` (default: the start).
        ``kind="uniform"``: ``quantity`` t in sealed bids of at least ``min_bid_t``, one bidder at
        most ``bidder_cap_ppm`` of the supply, cleared at one price (the lowest winning bid, not
        below ``reserve_price_fen``, default the start price) when ``ends_at`` comes.
        Bidders qualify by freezing ``deposit_fen``; winners pay within ``payment_days`` working days.
        """
        require(actor.roles, Action.list_for_sale)
        org = self._org(actor)
        if kind not in ("ascending", "uniform"):
            raise InputError(
                "竞价方式为 ascending 或 uniform。", "kind is ascending or uniform.", field="kind"
            )
        reserve = start_price_fen if reserve_price_fen is None else reserve_price_fen
        opens, ends = self.now(opens_at), self.now(ends_at)
        _positive(quantity, "quantity", "数量", "The quantity")

        def terms_for(auction_id: int) -> Any:
            if kind == "ascending":
                return AscendingTerms(
                    auction_id,
                    org,
                    quantity,
                    start_price_fen,
                    reserve,
                    increment_ticks,
                    deposit_fen,
                    opens,
                    ends,
                    countdown,
                    payment_days,
                )
            return UniformTerms(
                auction_id,
                org,
                quantity,
                reserve,
                deposit_fen,
                opens,
                ends,
                min_bid_t,
                bidder_cap_ppm,
                payment_days,
            )

        def work(tx: Tx) -> dict[str, Any]:
            self._fees(tx, scheme)  # the scheme's market must be open
            terms_for(0).validate(self.rules)
            return self._create_auction(
                tx,
                actor,
                org,
                scheme,
                kind,
                quantity,
                start_price_fen if kind == "ascending" else reserve,
                deposit_fen,
                opens,
                ends,
                terms_for,
                block_id,
                storage_fallback,
                None,
            )

        request = {
            "scheme": scheme,
            "kind": kind,
            "quantity": quantity,
            "start": start_price_fen,
            "reserve": reserve,
            "increment": increment_ticks,
            "deposit": deposit_fen,
            "opens_at": opens,
            "ends_at": ends,
            "countdown": countdown.total_seconds(),
            "payment_days": payment_days,
            "min_bid_t": min_bid_t,
            "cap": bidder_cap_ppm,
            "block_id": block_id,
            "storage_fallback": storage_fallback,
            "org": org,
        }
        return self._run(actor, "auction", request, idempotency_key, work, now)

    def create_listing(
        self,
        actor: ActorLike,
        *,
        scheme: str,
        quantity: int,
        listing_price_fen: int,
        deposit_fen: int = 0,
        increment_ticks: int = 1,
        auction_duration: dt.timedelta = dt.timedelta(hours=1),
        countdown: dt.timedelta = dt.timedelta(minutes=5),
        announce_days: int = 7,
        payment_days: int = 3,
        block_id: int | None = None,
        storage_fallback: bool = False,
        now: dt.datetime | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """An agreement-transfer listing (协议转让 挂牌), announced from now for ``announce_days``
        (≥ 7). Intended buyers register with a deposit; at the end: none → it lapses (or goes to
        收储 with ``storage_fallback``), one → negotiation at ≥ the listing price, two or more →
        an ascending auction among them starting at the listing price."""
        require(actor.roles, Action.list_for_sale)
        org = self._org(actor)
        _positive(quantity, "quantity", "数量", "The quantity")

        def work(tx: Tx) -> dict[str, Any]:
            self._fees(tx, scheme)

            def terms_for(listing_id: int) -> ListingTerms:
                return ListingTerms(
                    listing_id,
                    org,
                    quantity,
                    listing_price_fen,
                    tx.now,
                    deposit_fen,
                    increment_ticks,
                    auction_duration,
                    countdown,
                    announce_days,
                    payment_days,
                )

            terms_for(0).validate(self.rules)
            ends = terms_for(0).announcement_ends
            return self._create_auction(
                tx,
                actor,
                org,
                scheme,
                "listing",
                quantity,
                listing_price_fen,
                deposit_fen,
                tx.now,
                ends,
                terms_for,
                block_id,
                storage_fallback,
                None,
            )

        request = {
            "scheme": scheme,
            "quantity": quantity,
            "price": listing_price_fen,
            "deposit": deposit_fen,
            "increment": increment_ticks,
            "duration": auction_duration.total_seconds(),
            "countdown": countdown.total_seconds(),
            "announce_days": announce_days,
            "payment_days": payment_days,
            "block_id": block_id,
            "storage_fallback": storage_fallback,
            "org": org,
        }
        return self._run(actor, "listing", request, idempotency_key, work, now)

    def _create_auction(
        self,
        tx: Tx,
        actor: ActorLike,
        org: int,
        scheme: str,
        kind: str,
        quantity: int,
        price: int,
        deposit: int,
        opens: dt.datetime,
        ends: dt.datetime,
        terms_for: Callable[[int], Any],
        block_id: int | None,
        storage_fallback: bool,
        loan_id: int | None,
    ) -> dict[str, Any]:
        stream_kind = kind
        stream_id = self.engines.create(tx.uow, stream_kind, terms_config(terms_for(0)))
        auction_id = int(
            tx.session.execute(
                insert(AUCTIONS)
                .values(
                    kind=kind,
                    scheme=scheme,
                    seller_organisation_id=org,
                    stream_id=stream_id,
                    quantity=quantity,
                    price_fen=price,
                    deposit_fen=deposit,
                    opens_at=opens,
                    ends_at=ends,
                    state="open",
                    storage_fallback=storage_fallback,
                    loan_id=loan_id,
                    created_at=tx.now,
                    updated_at=tx.now,
                )
                .returning(AUCTIONS.c.id)
            ).scalar_one()
        )
        tx.session.execute(
            update(STREAMS)
            .where(STREAMS.c.id == stream_id)
            .values(config=terms_config(terms_for(auction_id)))
        )
        reservation = settlement.reserve_tonnes(
            tx, actor, org, scheme, quantity, f"auction:{auction_id}", block_id=block_id
        )
        tx.session.execute(
            update(AUCTIONS).where(AUCTIONS.c.id == auction_id).values(reservation_id=reservation)
        )
        return self._auction_answer(tx, auction_id)

    def qualify(
        self,
        actor: ActorLike,
        *,
        auction_id: int,
        now: dt.datetime | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Become a qualified bidder (an auction) or an intended buyer (a listing, during its
        announcement): the deposit is frozen from available cash."""
        require(actor.roles, Action.trade)
        org = self._org(actor)

        def work(tx: Tx) -> dict[str, Any]:
            a, stream = self._auction(tx, auction_id)
            if org == a.seller_organisation_id:
                raise Refused(Reason.SELLER_CANNOT_BID)
            account = cash.open_account(tx, org)
            hold = cash.freeze(
                tx,
                account,
                a.deposit_fen,
                "auction_deposit",
                f"auction:{auction_id}",
                what=("竞买保证金", "the deposit"),
            )
            known = tx.session.scalar(
                select(BIDDERS.c.id).where(
                    BIDDERS.c.auction_id == auction_id, BIDDERS.c.organisation_id == org
                )
            )
            if known is not None:
                raise Refused(Reason.ALREADY_QUALIFIED)
            tx.session.execute(
                insert(BIDDERS).values(
                    auction_id=auction_id,
                    organisation_id=org,
                    deposit_hold_id=hold,
                    status="qualified",
                    created_at=tx.now,
                    updated_at=tx.now,
                )
            )
            command: Any = (
                ExpressIntent(org, tx.now) if a.kind == "listing" else Qualify(org, tx.now)
            )
            events = stream.apply(command)
            _raise_refusal(events, org)
            self._auction_events(tx, a, stream, events)
            return self._auction_answer(tx, auction_id)

        return self._run(
            actor, "qualify", {"auction_id": auction_id, "org": org}, idempotency_key, work, now
        )

    def bid(
        self,
        actor: ActorLike,
        *,
        auction_id: int,
        price_fen: int,
        quantity: int | None = None,
        now: dt.datetime | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """A bid: for the whole lot at ``price_fen`` (ascending auction, or the auction among a
        listing's intended buyers), or for ``quantity`` t at up to ``price_fen`` (uniform price,
        irrevocable). Raises :class:`~tanhui.market.errors.Refused` for an invalid bid."""
        require(actor.roles, Action.trade)
        org = self._org(actor)

        def work(tx: Tx) -> dict[str, Any]:
            a, stream = self._auction(tx, auction_id)
            uniform = a.kind == "uniform"
            q = quantity if uniform else a.quantity
            if uniform and (type(q) is not int or q <= 0):
                raise Refused(Reason.BAD_QUANTITY)
            bid_id = int(
                tx.session.execute(
                    insert(BIDS)
                    .values(
                        auction_id=auction_id,
                        organisation_id=org,
                        price_fen=price_fen if type(price_fen) is int and price_fen > 0 else 1,
                        quantity=q,
                        filled=0,
                        status="accepted",
                        created_at=tx.now,
                    )
                    .returning(BIDS.c.id)
                ).scalar_one()
            )
            command: Any = (
                PlaceUniformBid(bid_id, org, price_fen, q, tx.now)
                if uniform
                else PlaceBid(bid_id, org, price_fen, tx.now)
            )
            events = stream.apply(command)
            _raise_refusal(events, bid_id)
            self._auction_events(tx, a, stream, events)
            engine = stream.engine
            best = getattr(engine, "best", None)
            if isinstance(engine, TransferListing) and engine.auction is not None:
                best, engine = engine.auction.best, engine.auction
            return {
                "auction_id": auction_id,
                "bid_id": bid_id,
                "price_fen": price_fen,
                "quantity": q,
                "state": _engine_state(stream.engine),
                "ends_at": beijing(getattr(engine, "ends_at", a.ends_at)).isoformat(),
                "best_bid_fen": best.price if best is not None else None,
                "min_next_bid_fen": getattr(engine, "min_next_price", None),
            }

        request = {
            "auction_id": auction_id,
            "price_fen": price_fen,
            "quantity": quantity,
            "org": org,
        }
        return self._run(actor, "bid", request, idempotency_key, work, now)

    def pay(
        self,
        actor: ActorLike,
        *,
        auction_id: int,
        now: dt.datetime | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """The winner pays (value + buyer fee, from available cash; its deposit is released into
        it first) and receives the tonnes: one DvP settlement. Before the deadline only."""
        require(actor.roles, Action.trade)
        org = self._org(actor)

        def work(tx: Tx) -> dict[str, Any]:
            a, stream = self._auction(tx, auction_id)
            bidder = tx.session.execute(
                select(BIDDERS.c.status, BIDDERS.c.payment_due).where(
                    BIDDERS.c.auction_id == auction_id, BIDDERS.c.organisation_id == org
                )
            ).first()
            if bidder is None or bidder.status != "won":
                raise Refused(Reason.NOT_AWARDED)
            if bidder.payment_due is not None and tx.day > bidder.payment_due:
                raise Refused(Reason.PAYMENT_OVERDUE)
            command: Any = (
                ConfirmBidderPayment(org, tx.now) if a.kind == "uniform" else ConfirmPayment(tx.now)
            )
            events = stream.apply(command)
            _raise_refusal(events, org if a.kind == "uniform" else auction_id)
            self._auction_events(tx, a, stream, events)
            return self._auction_answer(tx, auction_id)

        return self._run(
            actor, "pay", {"auction_id": auction_id, "org": org}, idempotency_key, work, now
        )

    def conclude_listing(
        self,
        actor: ActorLike,
        *,
        auction_id: int,
        price_fen: int,
        now: dt.datetime | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """The one intended buyer of a listing concludes the negotiation at ``price_fen`` (≥ the
        listing price, the seller's standing terms): it pays value + fee (its deposit released into
        it) and receives the tonnes, by DvP."""
        require(actor.roles, Action.trade)
        org = self._org(actor)

        def work(tx: Tx) -> dict[str, Any]:
            a, stream = self._auction(tx, auction_id)
            if a.kind != "listing":
                raise Refused(Reason.WRONG_STATE)
            events = stream.apply(Conclude(org, price_fen, tx.now))
            _raise_refusal(events, auction_id)
            self._auction_events(tx, a, stream, events)
            return self._auction_answer(tx, auction_id)

        request = {"auction_id": auction_id, "price_fen": price_fen, "org": org}
        return self._run(actor, "conclude", request, idempotency_key, work, now)

    def abandon_listing(
        self,
        actor: ActorLike,
        *,
        auction_id: int,
        now: dt.datetime | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """The negotiation of a listing failed (the seller, the intended buyer or the operator
        says so): the listing lapses, the deposit and the tonnes are released."""
        require(
            actor.roles,
            Action.trade if Role.market_operator not in actor.roles else Action.operate_market,
        )
        org = actor.organisation_id

        def work(tx: Tx) -> dict[str, Any]:
            a, stream = self._auction(tx, auction_id)
            if a.kind != "listing":
                raise Refused(Reason.WRONG_STATE)
            parties = {a.seller_organisation_id, *self._bidders(tx, auction_id)}
            if Role.market_operator not in actor.roles and org not in parties:
                raise Refused(Reason.NOT_PARTY)
            events = stream.apply(Abandon(tx.now))
            _raise_refusal(events, auction_id)
            self._auction_events(tx, a, stream, events)
            return self._auction_answer(tx, auction_id)

        return self._run(actor, "abandon", {"auction_id": auction_id}, idempotency_key, work, now)

    def _bidders(self, tx: Tx, auction_id: int) -> list[int]:
        return list(
            tx.session.scalars(
                select(BIDDERS.c.organisation_id).where(BIDDERS.c.auction_id == auction_id)
            )
        )

    def _auction(self, tx: Tx, auction_id: int) -> tuple[Any, Stream]:
        a = tx.session.execute(
            select(MarketAuction)
            .execution_options(populate_existing=True)
            .where(AUCTIONS.c.id == auction_id)
        ).scalar_one_or_none()
        if a is None:
            raise not_found("竞价", "auction", auction_id)
        return a, tx.stream(a.stream_id)

    def _auction_events(self, tx: Tx, a: Any, stream: Stream, events: list[Any]) -> None:
        """Apply an auction's or listing's events: deposits, awards, forfeits, unsold tonnes and
        (after the deposits are released) the settlements."""
        engine = stream.engine
        fees = self._fees(tx, a.scheme).fees
        values: dict[str, Any] = {}
        releases: list[Any] = []
        filled: list[dict[str, Any]] = []
        unfilled = False
        settle: list[Any] = []
        unsold: list[int] = []
        won: list[dict[str, Any]] = []
        for e in events:
            kind = type(e)
            if kind is AuctionExtended:
                values["ends_at"] = e.ends_at
            elif kind is Won:
                won.append(
                    {
                        "org": e.bidder,
                        "q": e.quantity,
                        "p": e.price,
                        "v": e.value,
                        "due": e.payment_due,
                    }
                )
            elif kind is BidFilled:
                filled.append({"bid": e.bid_id, "q": e.quantity})
            elif kind is BidUnfilled:
                unfilled = True
            elif kind is AuctionFailed:
                values["reason"] = e.reason.value
                unsold.append(a.quantity)
            elif kind is Unsold:
                unsold.append(e.quantity)
                values["reason"] = e.reason.value
            elif kind is DepositReleased:
                releases.append(e.bidder)
            elif kind is Forfeited:
                self._forfeit(tx, a, e.bidder)
            elif kind is PaymentConfirmed or kind is NegotiatedDeal:
                settle.append(e)
            elif kind is ListingLapsed:
                values["reason"] = e.reason.value
                unsold.append(a.quantity)
            elif kind is AuctionCalled:
                values["ends_at"] = e.ends_at
        if won:
            tx.session.execute(
                update(BIDDERS)
                .where(BIDDERS.c.auction_id == a.id, BIDDERS.c.organisation_id == bindparam("org"))
                .values(
                    status="won",
                    won_quantity=bindparam("q"),
                    won_price_fen=bindparam("p"),
                    won_value_fen=bindparam("v"),
                    payment_due=bindparam("due"),
                    updated_at=tx.now,
                ),
                won,
                execution_options={"synchronize_session": False},
            )
        if releases:
            self._release_deposits(tx, a.id, releases)
        if filled:
            tx.session.execute(
                update(BIDS)
                .where(BIDS.c.id == bindparam("bid"))
                .values(status="filled", filled=bindparam("q")),
                filled,
                execution_options={"synchronize_session": False},
            )
        if unfilled:
            reserve = getattr(engine.terms, "reserve_price", 0)
            for cond, why in (
                (BIDS.c.price_fen < reserve, Reason.BELOW_RESERVE),
                (BIDS.c.price_fen >= reserve, Reason.OUTBID),
            ):
                tx.session.execute(
                    update(BIDS)
                    .where(BIDS.c.auction_id == a.id, BIDS.c.status == "accepted", cond)
                    .values(status="unfilled", reason=why.value),
                    execution_options={"synchronize_session": False},
                )
        for e in settle:
            self._settle_award(tx, a, engine, fees, e)
        for q in unsold:
            self._unsold(tx, a, q)
        state = _engine_state(engine)
        if state != a.state:
            values["state"] = state
        if values:
            values["updated_at"] = tx.now
            tx.session.execute(update(AUCTIONS).where(AUCTIONS.c.id == a.id).values(**values))

    def _release_deposits(self, tx: Tx, auction_id: int, bidders: list[Any]) -> None:
        rows = tx.session.execute(
            select(BIDDERS.c.id, BIDDERS.c.deposit_hold_id, BIDDERS.c.status).where(
                BIDDERS.c.auction_id == auction_id,
                BIDDERS.c.organisation_id.in_(bidders),
            )
        ).all()
        cash.release_many(tx, [r.deposit_hold_id for r in rows if r.deposit_hold_id is not None])
        ids = [r.id for r in rows if r.status == "qualified"]
        if ids:
            tx.session.execute(
                update(BIDDERS)
                .where(BIDDERS.c.id.in_(ids))
                .values(status="released", updated_at=tx.now)
            )

    def _forfeit(self, tx: Tx, a: Any, bidder: Any) -> None:
        row = tx.session.execute(
            select(BIDDERS.c.id, BIDDERS.c.deposit_hold_id).where(
                BIDDERS.c.auction_id == a.id, BIDDERS.c.organisation_id == bidder
            )
        ).one()
        if row.deposit_hold_id is not None:
            hold = tx.session.execute(
                select(cash.HOLDS.c.remaining_fen, cash.HOLDS.c.account_id).where(
                    cash.HOLDS.c.id == row.deposit_hold_id
                )
            ).one()
            to = (
                cash.open_account(tx, a.seller_organisation_id)
                if self.forfeit_to == "seller"
                else self.ids(tx).exchange_account
            )
            cash.post(
                tx,
                [
                    (
                        hold.account_id,
                        to,
                        int(hold.remaining_fen),
                        "deposit_forfeit",
                        f"auction:{a.id}",
                    )
                ],
                hold=row.deposit_hold_id,
                from_frozen=int(hold.remaining_fen),
            )
            cash.release(tx, row.deposit_hold_id)
        tx.session.execute(
            update(BIDDERS)
            .where(BIDDERS.c.id == row.id)
            .values(status="forfeited", updated_at=tx.now)
        )

    def _settle_award(self, tx: Tx, a: Any, engine: Any, fees: FeeSchedule, e: Any) -> None:
        if isinstance(e, NegotiatedDeal):
            buyer, price, quantity, channel = e.buyer, e.price, e.quantity, "negotiated"
        else:
            won = tx.session.execute(
                select(BIDDERS.c.won_quantity, BIDDERS.c.won_price_fen).where(
                    BIDDERS.c.auction_id == a.id, BIDDERS.c.organisation_id == e.bidder
                )
            ).one()
            buyer, price, quantity, channel = (
                e.bidder,
                won.won_price_fen,
                won.won_quantity,
                "auction",
            )
            tx.session.execute(
                update(BIDDERS)
                .where(BIDDERS.c.auction_id == a.id, BIDDERS.c.organisation_id == e.bidder)
                .values(status="paid", updated_at=tx.now)
            )
        money = fees.settle(price, quantity)
        deal_id = self.settler.settle(
            tx,
            Deal(
                channel,
                a.scheme,
                f"auction:{a.id}",
                buyer,
                a.seller_organisation_id,
                price,
                quantity,
                money.buyer_fee,
                money.seller_fee,
                None,
                a.reservation_id,
            ),
        )
        if a.loan_id is not None:
            self.loans.apply_proceeds(tx, a.loan_id, money.seller_receives, deal_id)

    def _unsold(self, tx: Tx, a: Any, quantity: int) -> None:
        if a.storage_fallback:
            quantity -= self.storage.absorb(
                tx,
                a.reservation_id,
                quantity,
                a.scheme,
                a.seller_organisation_id,
                f"auction:{a.id}",
            )
        if quantity:
            settlement.release_tonnes(tx, a.reservation_id, quantity)

    def _auction_answer(self, tx: Tx, auction_id: int) -> dict[str, Any]:
        return _auction_view(tx.session, auction_id, self.rules)

    # ---------------------------------------------------------------------------- time

    def tick(self, actor: ActorLike, *, now: dt.datetime | None = None) -> dict[str, Any]:
        """The operator's clock (run it every minute or so): closes the books whose session has
        ended, expires proposals, closes auctions whose countdown ran out, forfeits unpaid awards,
        ends listings' announcements. Each object is handled in its own transaction."""
        require(actor.roles, Action.operate_market)
        when = self.now(now)
        self.ids()
        done: dict[str, list[Any]] = {"books": [], "desks": [], "auctions": []}
        self.settle_pending(actor, now=when)
        last_end = max(end for _start, end in self.rules.listed_sessions)
        with UnitOfWork(self.engine, read_only=True) as uow:
            books = uow.session.execute(
                select(BOOKS.c.scheme, BOOKS.c.stream_id, BOOKS.c.desk_stream_id)
            ).all()
            auctions = list(
                uow.session.scalars(
                    select(AUCTIONS.c.id).where(AUCTIONS.c.state.not_in(_FINAL_AUCTION_STATES))
                )
            )
        for scheme, _stream, _desk in books:

            def close(tx: Tx, scheme: str = scheme) -> Any:
                book = self._book_row(tx, scheme=scheme)
                engine: ListedBook = tx.stream(book.stream_id, book.stream_state).engine
                if (
                    engine.is_open
                    and engine.day is not None
                    and (engine.day < tx.day or tx.now.time() >= last_end)
                ):
                    at = (
                        tx.now
                        if engine.day == tx.day
                        else dt.datetime.combine(engine.day, last_end, BEIJING)
                    )
                    return self._close(tx, book, at)
                return None

            result = run(self, actor, "tick_book", {}, None, close, now=when)
            if result:
                self._settle(actor, result, when)
                done["books"].append(result["close"])

            def expire(tx: Tx, scheme: str = scheme) -> Any:
                book = self._fees(tx, scheme)
                desk = tx.stream(book.desk_stream_id)
                engine: AgreementDesk = desk.engine
                if any(engine.proposals[p].expires_at <= tx.now for p in engine._open):
                    events = desk.apply(Tick(tx.now))
                    self._desk_events(tx, book, desk, events)
                    return [e.proposal_id for e in events if isinstance(e, ProposalExpired)]
                return None

            result = run(self, actor, "tick_desk", {}, None, expire, now=when)
            if result:
                done["desks"].extend(result)
        for auction_id in auctions:

            def due(tx: Tx, auction_id: int = auction_id) -> Any:
                a, stream = self._auction(tx, auction_id)
                if not _auction_due(stream.engine, tx.now):
                    return None
                events = stream.apply(Tick(tx.now))
                self._auction_events(tx, a, stream, events)
                return {"auction_id": auction_id, "events": [type(e).__name__ for e in events]}

            result = run(self, actor, "tick_auction", {}, None, due, now=when)
            if result:
                done["auctions"].append(result)
        return done

    # --------------------------------------------------------------------------- reading

    def book(self, scheme: str, levels: int = 5) -> dict[str, Any]:
        """Public: the book's best ``levels`` price levels each side, the band and the close."""
        with UnitOfWork(self.engine, read_only=True) as uow:
            row = uow.session.execute(
                select(BOOKS.c.stream_id).where(BOOKS.c.scheme == scheme)
            ).first()
            if row is None:
                raise market_closed(scheme)
            return self.engines.peek(uow, row.stream_id, lambda b: _book_view(scheme, b, levels))

    def orders(
        self,
        actor: ActorLike,
        *,
        status: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """The actor's organisation's orders, newest first."""
        require(actor.roles, Action.trade)
        org = self._org(actor)
        with UnitOfWork(self.engine, read_only=True) as uow:
            query = (
                select(MarketOrder)
                .execution_options(populate_existing=True)
                .where(ORDERS.c.organisation_id == org)
            )
            if status is not None:
                query = query.where(ORDERS.c.status == status)
            rows = uow.session.scalars(
                query.order_by(ORDERS.c.id.desc()).limit(limit).offset(offset)
            )
            return [_order_dict(r) for r in rows]

    def proposals(self, actor: ActorLike, *, state: str | None = None) -> list[dict[str, Any]]:
        """Proposals the actor's organisation made or received, newest first."""
        require(actor.roles, Action.trade)
        org = self._org(actor)
        with UnitOfWork(self.engine, read_only=True) as uow:
            query = (
                select(MarketProposal)
                .execution_options(populate_existing=True)
                .where(
                    (PROPOSALS.c.seller_organisation_id == org)
                    | (PROPOSALS.c.buyer_organisation_id == org)
                )
            )
            if state is not None:
                query = query.where(PROPOSALS.c.state == state)
            return [
                _proposal_dict(p)
                for p in uow.session.scalars(query.order_by(PROPOSALS.c.id.desc()))
            ]

    def auction(self, auction_id: int) -> dict[str, Any]:
        """Public: an auction room — terms, state, the best bid, the next minimum, the end time
        and the bids (bidders shown by number, not name)."""
        with UnitOfWork(self.engine, read_only=True) as uow:
            return _auction_view(uow.session, auction_id, self.rules, bids=True)

    def auctions(
        self, *, state: str | None = None, scheme: str | None = None
    ) -> list[dict[str, Any]]:
        """Public: auctions and listings, newest first."""
        with UnitOfWork(self.engine, read_only=True) as uow:
            query = select(AUCTIONS.c.id)
            if state is not None:
                query = query.where(AUCTIONS.c.state == state)
            if scheme is not None:
                query = query.where(AUCTIONS.c.scheme == scheme)
            ids = list(uow.session.scalars(query.order_by(AUCTIONS.c.id.desc())))
            return [_auction_view(uow.session, i, self.rules) for i in ids]

    def deals(
        self,
        *,
        scheme: str | None = None,
        organisation_id: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Settled deals, newest first (public without ``organisation_id``: no parties shown)."""
        with UnitOfWork(self.engine, read_only=True) as uow:
            query = select(MarketDeal)
            if scheme is not None:
                query = query.where(DEALS.c.scheme == scheme)
            if organisation_id is not None:
                query = query.where(
                    (DEALS.c.buyer_organisation_id == organisation_id)
                    | (DEALS.c.seller_organisation_id == organisation_id)
                )
            rows = uow.session.scalars(
                query.order_by(DEALS.c.id.desc()).limit(limit).offset(offset)
            )
            out = []
            for d in rows:
                item = {
                    "id": d.id,
                    "state": d.state,
                    "channel": d.channel,
                    "scheme": d.scheme,
                    "price_fen": d.price_fen,
                    "quantity": d.quantity,
                    "value_fen": d.value_fen,
                    "day": d.trade_day.isoformat(),
                    "at": beijing(d.traded_at).isoformat(),
                }
                if organisation_id is not None:
                    item.update(
                        buyer=d.buyer_organisation_id,
                        seller=d.seller_organisation_id,
                        buyer_fee_fen=d.buyer_fee_fen,
                        seller_fee_fen=d.seller_fee_fen,
                    )
                out.append(item)
            return out

    # ---------------------------------------------------------------------------- verify

    def verify(self) -> list[str]:
        """Check the market against its journals and the registry: every engine replayed from its
        journal agrees with the order, bid and bidder tables; cash is conserved
        (:meth:`~tanhui.market.cash.CashService.check`); each open tonne reservation is exactly
        covered by RESERVED blocks (and a closed one by none); pending deals are covered by their
        holds and reservations; the registry verifies. Empty: fine."""
        problems = list(self.cash.check())
        with UnitOfWork(self.engine, read_only=True) as uow:
            s = uow.session
            exchange = self.ids().exchange_org
            held = dict(
                s.execute(
                    select(Block.lock_ref, func.sum(Block.quantity))
                    .where(
                        Block.state == "RESERVED",
                        Block.lock_kind == "reservation",
                        Block.lock_organisation_id == exchange,
                    )
                    .group_by(Block.lock_ref)
                ).all()
            )
            for r in s.scalars(select(TonneReservation)):
                if int(held.pop(r.id, 0)) != r.remaining:
                    problems.append(f"reservation {r.id}: {r.remaining} t open, blocks differ")
            if held:
                problems.append(f"blocks reserved for unknown reservations {sorted(held)[:5]}")
            # pending deals are covered by what was set aside for them
            owed_cash = s.execute(
                select(
                    DEALS.c.buyer_hold_id,
                    func.sum(DEALS.c.value_fen + DEALS.c.buyer_fee_fen),
                    HOLDS.c.remaining_fen,
                )
                .join(HOLDS, HOLDS.c.id == DEALS.c.buyer_hold_id)
                .where(DEALS.c.state == "pending")
                .group_by(DEALS.c.buyer_hold_id, HOLDS.c.remaining_fen)
            ).all()
            problems += [
                f"hold {h}: {rest} fen left for {owed} fen of pending deals"
                for h, owed, rest in owed_cash
                if owed > rest
            ]
            owed_tonnes = s.execute(
                select(
                    DEALS.c.seller_reservation_id,
                    func.sum(DEALS.c.quantity),
                    RESERVATIONS.c.remaining,
                )
                .join(RESERVATIONS, RESERVATIONS.c.id == DEALS.c.seller_reservation_id)
                .where(DEALS.c.state == "pending")
                .group_by(DEALS.c.seller_reservation_id, RESERVATIONS.c.remaining)
            ).all()
            problems += [
                f"reservation {r}: {rest} t left for {owed} t of pending deals"
                for r, owed, rest in owed_tonnes
                if owed > rest
            ]
            orders = {
                o.id: o
                for o in s.scalars(select(MarketOrder).execution_options(populate_existing=True))
            }
            for stream_id, kind in s.execute(select(STREAMS.c.id, STREAMS.c.kind)).all():
                engine = self.engines.replay(uow, stream_id)
                if kind == "book":
                    for view in engine.orders():
                        row = orders.get(view.order_id)
                        if row is None or (row.status, row.filled) != (
                            _ORDER_STATUS[view.status],
                            view.filled,
                        ):
                            problems.append(f"order {view.order_id}: table differs from its book")
        problems += self.ledger.verify()
        return problems


# ----------------------------------------------------------------------------- helpers


@dataclass(frozen=True)
class _NewOrder:
    order_id: int
    side: Side
    hold: int | None
    reservation: int | None


def _order_plausible(rules: MarketRules, price: Any, quantity: Any, now: dt.datetime) -> bool:
    """The book's checks that need no state: size, tick, session."""
    return (
        rules.quantity_ok(quantity)
        and quantity < rules.block_min_t
        and rules.price_problem(price) is None
        and rules.in_session(now)
    )


def _order_may_pass(
    book: ListedBook,
    side: Side,
    price: Any,
    quantity: Any,
    owner: int,
    now: dt.datetime,
    *,
    self_trade: bool = True,
) -> bool:
    """``False`` only when the book is sure to refuse the order (then nothing is reserved): the
    book's own checks, on the state the order would meet (after a day roll if one is due)."""
    rules = book.rules
    if not rules.quantity_ok(quantity) or quantity >= rules.block_min_t:
        return False
    if rules.price_problem(price) is not None or not rules.in_session(now):
        return False
    today = now.date()
    if book.day is not None and today < book.day:
        return False
    if book.day == today:
        if not book.is_open or price not in book.band:
            return False
        return not (self_trade and book._would_self_trade(side, price, quantity, owner))
    band = book.band
    if book.day is not None and book.is_open:  # the order first closes the past day
        close = vwap_close(book._day_value, book._day_volume, book.previous_close, rules.tick_fen)
        band = rules.band(close)
    return price in band  # a new day: the book is empty, no self-trade


def _proposal_problem(
    desk: AgreementDesk,
    seller: int,
    buyer: int,
    quantity: Any,
    price: Any,
    expires: dt.datetime,
    now: dt.datetime,
) -> Reason | None:
    """The desk's checks of a proposal, before anything is reserved."""
    rules = desk.rules
    if seller == buyer:
        return Reason.SAME_PARTY
    if not rules.quantity_ok(quantity):
        return Reason.BAD_QUANTITY
    if expires <= now:
        return Reason.BAD_EXPIRY
    block = quantity >= rules.block_min_t
    if not rules.in_session(now, block=block):
        return Reason.OUTSIDE_SESSION
    reason = rules.price_problem(price)
    if reason is None and price not in rules.band(desk.previous_close, block=block):
        reason = Reason.OUTSIDE_BAND
    return reason


def _raise_refusal(events: list[Any], subject: Any) -> None:
    for e in events:
        if isinstance(e, Rejected) and e.subject == subject:
            raise Refused(e.reason)


def _scheme_of(tx: Tx, book_id: int) -> str:
    return str(tx.session.scalar(select(BOOKS.c.scheme).where(BOOKS.c.id == book_id)))


def _auction_due(engine: Any, now: dt.datetime) -> bool:
    """Whether a tick at ``now`` would change the auction or listing."""
    if isinstance(engine, TransferListing):
        if engine.state is ListingState.ANNOUNCING:
            return now >= engine.terms.announcement_ends
        return engine.auction is not None and _auction_due(engine.auction, now)
    if engine.state is AuctionState.OPEN:
        ends = engine.ends_at if isinstance(engine, AscendingAuction) else engine.terms.closes_at
        return now >= ends
    if engine.payment_due is None:
        return False
    if isinstance(engine, UniformAuction):
        return bool(engine.pending) and now.date() > engine.payment_due
    return engine.state is AuctionState.AWARDED and now.date() > engine.payment_due


def _engine_state(engine: Any) -> str:
    """The auction row's state, from its engine."""
    if isinstance(engine, TransferListing):
        if engine.state is ListingState.AUCTION and engine.auction is not None:
            inner = _engine_state(engine.auction)
            return "auction" if inner == "open" else inner
        return _LISTING_STATE[engine.state]
    if isinstance(engine, UniformAuction) and engine.state is AuctionState.AWARDED:
        return "awarded" if engine.pending else "settled"
    return _AUCTION_STATE[engine.state]


def _order_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "book_id": row.book_id,
        "organisation_id": row.organisation_id,
        "side": row.side,
        "price_fen": row.price_fen,
        "quantity": row.quantity,
        "filled": row.filled,
        "remaining": row.quantity - row.filled if row.status == "resting" else 0,
        "status": row.status,
        "reason": row.reason,
        "created_at": beijing(row.created_at).isoformat(),
    }


def _proposal_dict(p: Any) -> dict[str, Any]:
    return {
        "id": p.id,
        "proposer": p.proposer_organisation_id,
        "seller": p.seller_organisation_id,
        "buyer": p.buyer_organisation_id,
        "quantity": p.quantity,
        "price_fen": p.price_fen,
        "block": p.block,
        "state": p.state,
        "expires_at": beijing(p.expires_at).isoformat(),
    }


def _book_view(scheme: str, book: ListedBook, levels: int) -> dict[str, Any]:
    depth = book.depth(levels)
    return {
        "scheme": scheme,
        "day": book.day.isoformat() if book.day else None,
        "open": book.is_open,
        "previous_close_fen": book.previous_close,
        "band_fen": [book.band.low, book.band.high],
        "bids": [dataclasses.asdict(lv) for lv in depth.bids],
        "asks": [dataclasses.asdict(lv) for lv in depth.asks],
    }


def _auction_view(
    session: Any, auction_id: int, rules: MarketRules, bids: bool = False
) -> dict[str, Any]:
    a = session.execute(
        select(MarketAuction)
        .execution_options(populate_existing=True)
        .where(AUCTIONS.c.id == auction_id)
    ).scalar_one_or_none()
    if a is None:
        raise not_found("竞价", "auction", auction_id)
    config = session.scalar(select(STREAMS.c.config).where(STREAMS.c.id == a.stream_id))
    bidders = session.execute(
        select(
            BIDDERS.c.organisation_id,
            BIDDERS.c.status,
            BIDDERS.c.won_quantity,
            BIDDERS.c.won_price_fen,
            BIDDERS.c.payment_due,
        )
        .where(BIDDERS.c.auction_id == auction_id)
        .order_by(BIDDERS.c.id)
    ).all()
    number = {b.organisation_id: i + 1 for i, b in enumerate(bidders)}
    best = session.execute(
        select(BIDS.c.price_fen, BIDS.c.organisation_id)
        .where(BIDS.c.auction_id == auction_id, BIDS.c.status.in_(("accepted", "filled")))
        .order_by(BIDS.c.price_fen.desc(), BIDS.c.id)
        .limit(1)
    ).first()
    increment = int(config.get("increment_ticks", 1)) * rules.tick_fen
    out: dict[str, Any] = {
        "id": a.id,
        "kind": a.kind,
        "scheme": a.scheme,
        "seller": a.seller_organisation_id,
        "quantity": a.quantity,
        "price_fen": a.price_fen,
        "deposit_fen": a.deposit_fen,
        "opens_at": beijing(a.opens_at).isoformat(),
        "ends_at": beijing(a.ends_at).isoformat(),
        "state": a.state,
        "reason": a.reason,
        "loan_id": a.loan_id,
        "bidders": len(bidders),
        "best_bid_fen": best.price_fen if best else None,
        "best_bidder_no": number.get(best.organisation_id) if best else None,
        "min_next_bid_fen": (best.price_fen + increment) if best else a.price_fen,
        "winners": [
            {
                "bidder_no": number[b.organisation_id],
                "organisation_id": b.organisation_id,
                "quantity": b.won_quantity,
                "price_fen": b.won_price_fen,
                "status": b.status,
                "payment_due": b.payment_due.isoformat() if b.payment_due else None,
            }
            for b in bidders
            if b.status in ("won", "paid", "forfeited")
        ],
    }
    if bids:
        out["bids"] = [
            {
                "bidder_no": number.get(b.organisation_id),
                "price_fen": b.price_fen,
                "quantity": b.quantity,
                "filled": b.filled,
                "status": b.status,
                "at": beijing(b.created_at).isoformat(),
            }
            for b in session.scalars(
                select(MarketBid)
                .where(BIDS.c.auction_id == auction_id, BIDS.c.status != "rejected")
                .order_by(BIDS.c.id.desc())
                .limit(200)
            )
        ]
    return out
