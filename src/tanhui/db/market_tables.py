"""The market's tables: cash accounts and their journal, the engines' command journals, orders,
deals and deliveries, proposals, auctions and bids, 收储 offers, pledge loans.

Same conventions, ``Base`` and ``metadata`` as :mod:`tanhui.db.tables` (money in fen in
``BigInteger`` columns ending in ``_fen``, prices in fen per tonne, tonnes in ``Integer``, states as
short strings under CHECK constraints, aware UTC timestamps). Imported by :mod:`tanhui.db` so that
the metadata, the backups and the migration test see every table; the schema is created by the
migration ``0003_market``. Table names start with ``cash_``, ``market_`` or ``loan``.

Services: :mod:`tanhui.market.cash`, :mod:`tanhui.market.service`, :mod:`tanhui.market.storage`,
:mod:`tanhui.market.stats`, :mod:`tanhui.market.loans`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from tanhui.db import tables as _tables
from tanhui.db.tables import Base, UTCDateTime, metadata, one_of, utcnow

# ------------------------------------------------------------------------------- allowed values

#: ``participant``: an organisation's money (never negative); ``exchange``: the exchange's fee
#: income and forfeited deposits; ``external``: the outside world's banks, the other side of every
#: recorded deposit and withdrawal (its balance is minus the money inside, so the sum over every
#: account is always zero).
CASH_ACCOUNT_KINDS = ("participant", "exchange", "external")
CASH_HOLD_PURPOSES = ("order", "proposal", "auction_deposit", "storage_budget")
CASH_HOLD_STATES = ("open", "closed")
#: Kinds of journal lines (a statement sorts them into its columns).
CASH_ENTRY_KINDS = (
    "deposit",
    "withdrawal",
    "trade",
    "fee",
    "deposit_forfeit",
    "loan_disbursement",
    "loan_repayment",
    "loan_interest",
    "collateral_surplus",
)
STREAM_KINDS = ("book", "desk", "ascending", "uniform", "listing")
ORDER_SIDES = ("buy", "sell")
ORDER_STATUSES = ("new", "resting", "filled", "cancelled", "expired", "rejected")
RESERVATION_STATES = ("open", "closed")
DEAL_CHANNELS = ("listed", "agreement", "block", "auction", "negotiated", "storage")
#: A listed trade is ``pending`` from its match until its DvP settlement (both sides reserved).
DEAL_STATES = ("pending", "settled")
PROPOSAL_STATES = ("new", "open", "accepted", "declined", "withdrawn", "expired", "rejected")
AUCTION_KINDS = ("ascending", "uniform", "listing")
AUCTION_STATES = (
    "open",
    "negotiating",
    "auction",
    "awarded",
    "settled",
    "defaulted",
    "failed",
    "lapsed",
    "agreed",
)
BIDDER_STATUSES = ("qualified", "released", "won", "paid", "forfeited")
BID_STATUSES = ("accepted", "rejected", "filled", "unfilled")
STORAGE_STATES = ("open", "closed")
LOAN_STATES = (
    "requested",
    "active",
    "margin_call",
    "repaid",
    "defaulted",
    "enforced",
    "closed",
)


def _pk() -> Mapped[int]:
    return mapped_column(Integer, primary_key=True)


def _created() -> Mapped[datetime]:
    return mapped_column(UTCDateTime(), default=utcnow, nullable=False)


def _updated() -> Mapped[datetime]:
    return mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow, nullable=False)


# ------------------------------------------------------------------------------------- cash


class CashAccount(Base):
    """An organisation's money at the exchange, in fen: ``available`` to spend and ``frozen``
    for open orders, proposals, auction deposits and 收储 budgets (:class:`CashHold`)."""

    __tablename__ = "cash_accounts"
    __table_args__ = (
        UniqueConstraint("organisation_id", "kind"),
        CheckConstraint(one_of("kind", CASH_ACCOUNT_KINDS), name="kind"),
        CheckConstraint(
            "kind = 'external' OR (available_fen >= 0 AND frozen_fen >= 0)", name="balances"
        ),
        CheckConstraint("kind <> 'external' OR frozen_fen = 0", name="external_frozen"),
    )

    id: Mapped[int] = _pk()
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    kind: Mapped[str] = mapped_column(String(16), default="participant")
    available_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    frozen_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = _created()


class CashHold(Base):
    """Money frozen for one purpose; what is left of it goes back to ``available`` when closed."""

    __tablename__ = "cash_holds"
    __table_args__ = (
        Index("ix_cash_holds_account_state", "account_id", "state"),
        CheckConstraint(one_of("purpose", CASH_HOLD_PURPOSES), name="purpose"),
        CheckConstraint(one_of("state", CASH_HOLD_STATES), name="state"),
        CheckConstraint(
            "amount_fen >= 0 AND remaining_fen >= 0 AND remaining_fen <= amount_fen",
            name="amounts",
        ),
        CheckConstraint("state = 'open' OR remaining_fen = 0", name="closed_empty"),
    )

    id: Mapped[int] = _pk()
    account_id: Mapped[int] = mapped_column(ForeignKey("cash_accounts.id"))
    purpose: Mapped[str] = mapped_column(String(16))
    #: What the money is frozen for, e.g. ``order:12``, ``auction:3``.
    reference: Mapped[str] = mapped_column(String(64))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    remaining_fen: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(8), default="open")
    created_at: Mapped[datetime] = _created()
    closed_at: Mapped[datetime | None] = mapped_column()


class CashEntry(Base):
    """One line of the double-entry cash journal: ``amount_fen`` leaves the debit account and
    enters the credit account (for a participant, a debit lowers its balance). Never updated."""

    __tablename__ = "cash_journal"
    __table_args__ = (
        Index("ix_cash_journal_debit_day", "debit_account_id", "business_day"),
        Index("ix_cash_journal_credit_day", "credit_account_id", "business_day"),
        Index("ix_cash_journal_kind_day", "kind", "business_day"),
        CheckConstraint("amount_fen > 0", name="amount_fen"),
        CheckConstraint("debit_account_id <> credit_account_id", name="two_accounts"),
        CheckConstraint(one_of("kind", CASH_ENTRY_KINDS), name="kind"),
    )

    id: Mapped[int] = _pk()
    debit_account_id: Mapped[int] = mapped_column(ForeignKey("cash_accounts.id"))
    credit_account_id: Mapped[int] = mapped_column(ForeignKey("cash_accounts.id"))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(24))
    #: What the movement is for, e.g. ``deal:7``, ``loan:2``, a bank slip number.
    reference: Mapped[str] = mapped_column(String(64), default="")
    #: The exchange's business day (Beijing time) the movement belongs to.
    business_day: Mapped[date] = mapped_column()
    actor: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = _created()


# -------------------------------------------------------------------- engines and their journals


class MarketStream(Base):
    """One pure market engine (a day of a book, a desk, an auction, a listing): how to build it
    (``config``) and how far its command journal goes (``last_seq``)."""

    __tablename__ = "market_streams"
    __table_args__ = (
        CheckConstraint(one_of("kind", STREAM_KINDS), name="kind"),
        CheckConstraint("last_seq >= 0", name="last_seq"),
    )

    id: Mapped[int] = _pk()
    kind: Mapped[str] = mapped_column(String(16))
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = _created()


class MarketCommand(Base):
    """One command applied to an engine, in order; replaying them rebuilds the engine."""

    __tablename__ = "market_commands"
    __table_args__ = (
        UniqueConstraint("stream_id", "seq"),
        CheckConstraint("seq >= 1", name="seq"),
    )

    id: Mapped[int] = _pk()
    stream_id: Mapped[int] = mapped_column(ForeignKey("market_streams.id"))
    seq: Mapped[int] = mapped_column(BigInteger)
    command: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = _created()


class MarketBook(Base):
    """The listed-agreement book and the agreement desk of one scheme's tickets."""

    __tablename__ = "market_books"
    __table_args__ = (
        CheckConstraint("initial_close_fen > 0", name="initial_close_fen"),
        CheckConstraint(
            "buyer_fee_ppm >= 0 AND buyer_fee_ppm <= 1000000 AND "
            "seller_fee_ppm >= 0 AND seller_fee_ppm <= 1000000",
            name="fees",
        ),
    )

    id: Mapped[int] = _pk()
    scheme: Mapped[str] = mapped_column(String(16), unique=True)
    #: The book's engine of the current trading day (a new stream starts after each close).
    stream_id: Mapped[int] = mapped_column(ForeignKey("market_streams.id"))
    desk_stream_id: Mapped[int] = mapped_column(ForeignKey("market_streams.id"))
    initial_close_fen: Mapped[int] = mapped_column(BigInteger)
    buyer_fee_ppm: Mapped[int] = mapped_column(Integer, default=0)
    seller_fee_ppm: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = _created()


class MarketClose(Base):
    """A trading day's close of a book: the VWAP of its listed trades (else the previous close)."""

    __tablename__ = "market_closes"
    __table_args__ = (
        UniqueConstraint("book_id", "day"),
        CheckConstraint("close_fen > 0 AND previous_close_fen > 0", name="prices"),
        CheckConstraint("volume >= 0 AND value_fen >= 0", name="totals"),
    )

    id: Mapped[int] = _pk()
    book_id: Mapped[int] = mapped_column(ForeignKey("market_books.id"))
    day: Mapped[date] = mapped_column()
    close_fen: Mapped[int] = mapped_column(BigInteger)
    previous_close_fen: Mapped[int] = mapped_column(BigInteger)
    volume: Mapped[int] = mapped_column(BigInteger)
    value_fen: Mapped[int] = mapped_column(BigInteger)
    closed_at: Mapped[datetime] = _created()


class TonneReservation(Base):
    """Tonnes a seller set aside for the market: its blocks are RESERVED in the registry with
    ``lock_ref`` = this id and the exchange as the lock's organisation."""

    __tablename__ = "market_reservations"
    __table_args__ = (
        Index("ix_market_reservations_org_state", "organisation_id", "state"),
        CheckConstraint(one_of("state", RESERVATION_STATES), name="state"),
        CheckConstraint("quantity >= 1 AND remaining >= 0 AND remaining <= quantity", name="qty"),
        CheckConstraint("state = 'open' OR remaining = 0", name="closed_empty"),
    )

    id: Mapped[int] = _pk()
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    scheme: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[int] = mapped_column(Integer)
    remaining: Mapped[int] = mapped_column(Integer)
    #: What the tonnes are set aside for, e.g. ``order:12``, ``auction:3``.
    reference: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(8), default="open")
    created_at: Mapped[datetime] = _created()
    closed_at: Mapped[datetime | None] = mapped_column()


class MarketOrder(Base):
    """An order of the listed book, with what became of it."""

    __tablename__ = "market_orders"
    __table_args__ = (
        Index("ix_market_orders_org_status", "organisation_id", "status"),
        Index("ix_market_orders_book_status", "book_id", "status"),
        CheckConstraint(one_of("side", ORDER_SIDES), name="side"),
        CheckConstraint(one_of("status", ORDER_STATUSES), name="status"),
        CheckConstraint(
            "price_fen > 0 AND quantity >= 1 AND filled >= 0 AND filled <= quantity",
            name="numbers",
        ),
    )

    id: Mapped[int] = _pk()
    book_id: Mapped[int] = mapped_column(ForeignKey("market_books.id"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    side: Mapped[str] = mapped_column(String(4))
    price_fen: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int] = mapped_column(Integer)
    filled: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="new")
    #: Why it was rejected or ended unfilled (a :class:`tanhui.market.Reason` code).
    reason: Mapped[str | None] = mapped_column(String(32))
    cash_hold_id: Mapped[int | None] = mapped_column(ForeignKey("cash_holds.id"))
    reservation_id: Mapped[int | None] = mapped_column(ForeignKey("market_reservations.id"))
    actor: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class MarketProposal(Base):
    """An agreement transfer (协议转让) or block agreement (大宗协议) proposal."""

    __tablename__ = "market_proposals"
    __table_args__ = (
        CheckConstraint(one_of("state", PROPOSAL_STATES), name="state"),
        CheckConstraint("price_fen > 0 AND quantity >= 1", name="numbers"),
        CheckConstraint("seller_organisation_id <> buyer_organisation_id", name="parties"),
    )

    id: Mapped[int] = _pk()
    book_id: Mapped[int] = mapped_column(ForeignKey("market_books.id"))
    proposer_organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    seller_organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    buyer_organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    price_fen: Mapped[int] = mapped_column(BigInteger)
    block: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(16), default="new")
    reason: Mapped[str | None] = mapped_column(String(32))
    expires_at: Mapped[datetime] = mapped_column()
    cash_hold_id: Mapped[int | None] = mapped_column(ForeignKey("cash_holds.id"))
    reservation_id: Mapped[int | None] = mapped_column(ForeignKey("market_reservations.id"))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class MarketAuction(Base):
    """A one-way auction (单向竞价: ascending single lot, or uniform price) or an agreement-transfer
    listing (协议转让 挂牌), with the seller's tonnes reserved for it."""

    __tablename__ = "market_auctions"
    __table_args__ = (
        Index("ix_market_auctions_state", "state"),
        CheckConstraint(one_of("kind", AUCTION_KINDS), name="kind"),
        CheckConstraint(one_of("state", AUCTION_STATES), name="state"),
        CheckConstraint("quantity >= 1 AND price_fen > 0 AND deposit_fen >= 0", name="numbers"),
    )

    id: Mapped[int] = _pk()
    kind: Mapped[str] = mapped_column(String(16))
    scheme: Mapped[str] = mapped_column(String(16))
    seller_organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    stream_id: Mapped[int] = mapped_column(ForeignKey("market_streams.id"), unique=True)
    quantity: Mapped[int] = mapped_column(Integer)
    #: Start price (ascending), reserve price (uniform) or listing price (listing), fen/t.
    price_fen: Mapped[int] = mapped_column(BigInteger)
    deposit_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    opens_at: Mapped[datetime] = mapped_column()
    #: When bidding (or the announcement) is due to end; moves with the countdown.
    ends_at: Mapped[datetime] = mapped_column()
    state: Mapped[str] = mapped_column(String(16), default="open")
    reason: Mapped[str | None] = mapped_column(String(32))
    reservation_id: Mapped[int | None] = mapped_column(ForeignKey("market_reservations.id"))
    #: Unsold tonnes go to the best eligible 收储 offer instead of back to the seller.
    storage_fallback: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The pledge loan whose enforced collateral this auction sells.
    loan_id: Mapped[int | None] = mapped_column(ForeignKey("loans.id"), index=True)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class MarketBidder(Base):
    """A qualified bidder (deposit frozen) or an intended buyer of a listing, and its outcome."""

    __tablename__ = "market_bidders"
    __table_args__ = (
        UniqueConstraint("auction_id", "organisation_id"),
        CheckConstraint(one_of("status", BIDDER_STATUSES), name="status"),
        CheckConstraint("won_quantity >= 0 AND won_value_fen >= 0", name="numbers"),
    )

    id: Mapped[int] = _pk()
    auction_id: Mapped[int] = mapped_column(ForeignKey("market_auctions.id"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    deposit_hold_id: Mapped[int | None] = mapped_column(ForeignKey("cash_holds.id"))
    status: Mapped[str] = mapped_column(String(16), default="qualified")
    won_quantity: Mapped[int] = mapped_column(Integer, default=0)
    won_price_fen: Mapped[int | None] = mapped_column(BigInteger)
    won_value_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    payment_due: Mapped[date | None] = mapped_column()
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class MarketBid(Base):
    """A bid in an auction (valid or refused), and how much of it filled."""

    __tablename__ = "market_bids"
    __table_args__ = (
        Index("ix_market_bids_auction_status", "auction_id", "status"),
        CheckConstraint(one_of("status", BID_STATUSES), name="status"),
        CheckConstraint(
            "price_fen > 0 AND quantity >= 1 AND filled >= 0 AND filled <= quantity",
            name="numbers",
        ),
    )

    id: Mapped[int] = _pk()
    auction_id: Mapped[int] = mapped_column(ForeignKey("market_auctions.id"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    price_fen: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int] = mapped_column(Integer)
    filled: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="accepted")
    reason: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = _created()


class StorageOffer(Base):
    """An intermediary's standing 收储 offer: it buys eligible unsold tickets at ``price_fen``
    until its budget (frozen in a :class:`CashHold`) runs out."""

    __tablename__ = "market_storage_offers"
    __table_args__ = (
        CheckConstraint(one_of("state", STORAGE_STATES), name="state"),
        CheckConstraint(
            "price_fen > 0 AND budget_fen >= 0 AND spent_fen >= 0 AND spent_fen <= budget_fen",
            name="numbers",
        ),
    )

    id: Mapped[int] = _pk()
    storer_organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    price_fen: Mapped[int] = mapped_column(BigInteger)
    budget_fen: Mapped[int] = mapped_column(BigInteger)
    spent_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Comma-separated schemes it takes (e.g. ``SMCER,GZCT``).
    schemes: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(8), default="open")
    cash_hold_id: Mapped[int | None] = mapped_column(ForeignKey("cash_holds.id"))
    created_at: Mapped[datetime] = _created()
    closed_at: Mapped[datetime | None] = mapped_column()


class MarketDeal(Base):
    """A trade of any channel, settled by DvP: tonnes and cash moved together. A listed trade is
    recorded ``pending`` when matched (the buyer's hold and the seller's reservation pay for it)
    and ``settled`` when its cash and tonnes moved."""

    __tablename__ = "market_deals"
    __table_args__ = (
        Index("ix_market_deals_scheme_day", "scheme", "trade_day"),
        Index("ix_market_deals_buyer", "buyer_organisation_id"),
        Index("ix_market_deals_seller", "seller_organisation_id"),
        Index("ix_market_deals_state", "state"),
        CheckConstraint(one_of("channel", DEAL_CHANNELS), name="channel"),
        CheckConstraint(one_of("state", DEAL_STATES), name="state"),
        CheckConstraint("state = 'pending' OR settled_at IS NOT NULL", name="settled_at"),
        CheckConstraint(
            "price_fen > 0 AND quantity >= 1 AND value_fen = price_fen * quantity AND "
            "buyer_fee_fen >= 0 AND seller_fee_fen >= 0",
            name="numbers",
        ),
    )

    id: Mapped[int] = _pk()
    channel: Mapped[str] = mapped_column(String(16))
    scheme: Mapped[str] = mapped_column(String(16))
    #: Where it came from, e.g. ``order:12/15``, ``proposal:3``, ``auction:4``, ``storage:2``.
    source: Mapped[str] = mapped_column(String(64))
    buyer_organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    seller_organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    price_fen: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int] = mapped_column(Integer)
    value_fen: Mapped[int] = mapped_column(BigInteger)
    buyer_fee_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    seller_fee_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    buy_order_id: Mapped[int | None] = mapped_column(ForeignKey("market_orders.id"))
    sell_order_id: Mapped[int | None] = mapped_column(ForeignKey("market_orders.id"))
    #: What pays for a pending deal: the buyer's hold and the seller's tonne reservation.
    buyer_hold_id: Mapped[int | None] = mapped_column(ForeignKey("cash_holds.id"))
    seller_reservation_id: Mapped[int | None] = mapped_column(ForeignKey("market_reservations.id"))
    state: Mapped[str] = mapped_column(String(8), default="settled")
    trade_day: Mapped[date] = mapped_column()
    traded_at: Mapped[datetime] = _created()
    settled_at: Mapped[datetime | None] = mapped_column()


class MarketDelivery(Base):
    """The registry blocks a deal delivered (the pieces that moved), for statistics by region."""

    __tablename__ = "market_deliveries"
    __table_args__ = (CheckConstraint("quantity >= 1", name="quantity"),)

    id: Mapped[int] = _pk()
    deal_id: Mapped[int] = mapped_column(ForeignKey("market_deals.id"), index=True)
    block_id: Mapped[int] = mapped_column(ForeignKey("blocks.id"))
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    region_code: Mapped[str] = mapped_column(String(6))
    quantity: Mapped[int] = mapped_column(Integer)


# -------------------------------------------------------------------------------- pledge loans


class Loan(Base):
    """A pledge loan (质押贷款): a credit line (授信) against pledged tickets, its disbursements
    (放款), repayments, daily re-marking and, on default, enforcement by auction."""

    __tablename__ = "loans"
    __table_args__ = (
        Index("ix_loans_state", "state"),
        CheckConstraint(one_of("state", LOAN_STATES), name="state"),
        CheckConstraint(
            "quantity >= 1 AND reference_price_fen > 0 AND credit_line_fen >= 0 AND "
            "disbursed_fen >= 0 AND principal_fen >= 0 AND interest_fen >= 0 AND "
            "repaid_fen >= 0 AND shortfall_fen >= 0 AND interest_remainder >= 0",
            name="numbers",
        ),
        CheckConstraint(
            "ltv_bp > 0 AND ltv_bp <= 10000 AND margin_call_bp >= ltv_bp AND rate_bp >= 0",
            name="terms",
        ),
        CheckConstraint("principal_fen <= disbursed_fen", name="principal"),
        CheckConstraint("disbursed_fen <= credit_line_fen", name="line"),
    )

    id: Mapped[int] = _pk()
    bank_organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    borrower_organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id"), index=True
    )
    pledge_id: Mapped[int] = mapped_column(ForeignKey("pledges.id"), unique=True)
    scheme: Mapped[str] = mapped_column(String(16))
    region_code: Mapped[str | None] = mapped_column(String(6))
    quantity: Mapped[int] = mapped_column(Integer)
    #: Reference price (VWAP over ``vwap_days``) when the line was granted, fen/t.
    reference_price_fen: Mapped[int] = mapped_column(BigInteger)
    vwap_days: Mapped[int] = mapped_column(Integer)
    ltv_bp: Mapped[int] = mapped_column(Integer)
    margin_call_bp: Mapped[int] = mapped_column(Integer)
    rate_bp: Mapped[int] = mapped_column(Integer)
    credit_line_fen: Mapped[int] = mapped_column(BigInteger)
    disbursed_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    principal_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    interest_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    #: The fraction of a fen of interest not yet accrued (numerator over 10,000 × 365), so that
    #: accruing in pieces gives exactly what accruing at once would.
    interest_remainder: Mapped[int] = mapped_column(BigInteger, default=0)
    repaid_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    shortfall_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    start_day: Mapped[date] = mapped_column()
    maturity_day: Mapped[date] = mapped_column()
    accrued_to: Mapped[date] = mapped_column()
    state: Mapped[str] = mapped_column(String(16), default="requested")
    margin_call_due: Mapped[date | None] = mapped_column()
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class LoanMark(Base):
    """A day's re-marking of a loan's collateral."""

    __tablename__ = "loan_marks"
    __table_args__ = (
        UniqueConstraint("loan_id", "day"),
        CheckConstraint(
            "reference_price_fen > 0 AND collateral_fen >= 0 AND outstanding_fen >= 0 "
            "AND ltv_bp >= 0",
            name="numbers",
        ),
    )

    id: Mapped[int] = _pk()
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"))
    day: Mapped[date] = mapped_column()
    reference_price_fen: Mapped[int] = mapped_column(BigInteger)
    collateral_fen: Mapped[int] = mapped_column(BigInteger)
    outstanding_fen: Mapped[int] = mapped_column(BigInteger)
    ltv_bp: Mapped[int] = mapped_column(Integer)
    margin_call: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str] = mapped_column(Text, default="")
    marked_at: Mapped[datetime] = _created()


#: The market's tables, parents first.
MARKET_TABLES = tuple(
    t for t in metadata.sorted_tables if t.name.startswith(("cash_", "market_", "loan"))
)

# ``tables.TABLES`` ("every table, parents first") was computed when tables.py loaded, before the
# market's were declared; it now includes them (``tanhui.db`` imports this module first).
_tables.TABLES = tuple(metadata.sorted_tables)

# Core tables, for set-based and many-row statements (``insert(ORDERS)``, ``ORDERS.c.status``).
ACCOUNTS = CashAccount.__table__
HOLDS = CashHold.__table__
JOURNAL = CashEntry.__table__
STREAMS = MarketStream.__table__
COMMAND_JOURNAL = MarketCommand.__table__
BOOKS = MarketBook.__table__
CLOSES = MarketClose.__table__
RESERVATIONS = TonneReservation.__table__
ORDERS = MarketOrder.__table__
PROPOSALS = MarketProposal.__table__
AUCTIONS = MarketAuction.__table__
BIDDERS = MarketBidder.__table__
BIDS = MarketBid.__table__
OFFERS = StorageOffer.__table__
DEALS = MarketDeal.__table__
DELIVERIES = MarketDelivery.__table__
LOANS = Loan.__table__
MARKS = LoanMark.__table__
