"""The market: cash accounts and the double-entry cash journal, the pure engines' command
journals, books and closes, tonne reservations, orders, proposals, auctions, bidders and bids,
收储 offers, deals and their deliveries, pledge loans and their daily marks.

Revision ID: 0003
Revises: 0002
Create Date: 2026-05-11

Written out explicitly (frozen) like 0001: later changes to ``tanhui.db.market_tables`` need a new
revision, and a test checks that the migrated schema equals the models.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Timestamps are timezone-aware UTC (``tanhui.db.tables.UTCDateTime`` in the models).
TIMESTAMP = sa.DateTime(timezone=True)

#: Created in this order (parents first); dropped in reverse.
TABLES = (
    "market_streams",
    "cash_accounts",
    "market_books",
    "market_commands",
    "market_reservations",
    "cash_holds",
    "cash_journal",
    "loans",
    "market_closes",
    "loan_marks",
    "market_auctions",
    "market_orders",
    "market_proposals",
    "market_storage_offers",
    "market_bidders",
    "market_bids",
    "market_deals",
    "market_deliveries",
)


def upgrade() -> None:
    op.create_table(
        "market_streams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "kind IN ('book', 'desk', 'ascending', 'uniform', 'listing')",
            name=op.f("ck_market_streams_kind"),
        ),
        sa.CheckConstraint("last_seq >= 0", name=op.f("ck_market_streams_last_seq")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_streams")),
    )
    op.create_table(
        "cash_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("available_fen", sa.BigInteger(), nullable=False),
        sa.Column("frozen_fen", sa.BigInteger(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "kind <> 'external' OR frozen_fen = 0", name=op.f("ck_cash_accounts_external_frozen")
        ),
        sa.CheckConstraint(
            "kind = 'external' OR (available_fen >= 0 AND frozen_fen >= 0)",
            name=op.f("ck_cash_accounts_balances"),
        ),
        sa.CheckConstraint(
            "kind IN ('participant', 'exchange', 'external')", name=op.f("ck_cash_accounts_kind")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_cash_accounts_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cash_accounts")),
        sa.UniqueConstraint(
            "organisation_id", "kind", name=op.f("uq_cash_accounts_organisation_id_kind")
        ),
    )
    op.create_table(
        "market_books",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scheme", sa.String(length=16), nullable=False),
        sa.Column("stream_id", sa.Integer(), nullable=False),
        sa.Column("desk_stream_id", sa.Integer(), nullable=False),
        sa.Column("initial_close_fen", sa.BigInteger(), nullable=False),
        sa.Column("buyer_fee_ppm", sa.Integer(), nullable=False),
        sa.Column("seller_fee_ppm", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "buyer_fee_ppm >= 0 AND buyer_fee_ppm <= 1000000 AND seller_fee_ppm >= 0 AND seller_fee_ppm <= 1000000",
            name=op.f("ck_market_books_fees"),
        ),
        sa.CheckConstraint("initial_close_fen > 0", name=op.f("ck_market_books_initial_close_fen")),
        sa.ForeignKeyConstraint(
            ["desk_stream_id"],
            ["market_streams.id"],
            name=op.f("fk_market_books_desk_stream_id_market_streams"),
        ),
        sa.ForeignKeyConstraint(
            ["stream_id"],
            ["market_streams.id"],
            name=op.f("fk_market_books_stream_id_market_streams"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_books")),
        sa.UniqueConstraint("scheme", name=op.f("uq_market_books_scheme")),
    )
    op.create_table(
        "market_commands",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stream_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("command", sa.JSON(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint("seq >= 1", name=op.f("ck_market_commands_seq")),
        sa.ForeignKeyConstraint(
            ["stream_id"],
            ["market_streams.id"],
            name=op.f("fk_market_commands_stream_id_market_streams"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_commands")),
        sa.UniqueConstraint("stream_id", "seq", name=op.f("uq_market_commands_stream_id_seq")),
    )
    op.create_table(
        "market_reservations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("scheme", sa.String(length=16), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("remaining", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("closed_at", TIMESTAMP, nullable=True),
        sa.CheckConstraint(
            "state = 'open' OR remaining = 0", name=op.f("ck_market_reservations_closed_empty")
        ),
        sa.CheckConstraint(
            "state IN ('open', 'closed')", name=op.f("ck_market_reservations_state")
        ),
        sa.CheckConstraint(
            "quantity >= 1 AND remaining >= 0 AND remaining <= quantity",
            name=op.f("ck_market_reservations_qty"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_market_reservations_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_reservations")),
    )
    op.create_index(
        "ix_market_reservations_org_state",
        "market_reservations",
        ["organisation_id", "state"],
        unique=False,
    )
    op.create_table(
        "cash_holds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("remaining_fen", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("closed_at", TIMESTAMP, nullable=True),
        sa.CheckConstraint(
            "purpose IN ('order', 'proposal', 'auction_deposit', 'storage_budget')",
            name=op.f("ck_cash_holds_purpose"),
        ),
        sa.CheckConstraint(
            "state = 'open' OR remaining_fen = 0", name=op.f("ck_cash_holds_closed_empty")
        ),
        sa.CheckConstraint("state IN ('open', 'closed')", name=op.f("ck_cash_holds_state")),
        sa.CheckConstraint(
            "amount_fen >= 0 AND remaining_fen >= 0 AND remaining_fen <= amount_fen",
            name=op.f("ck_cash_holds_amounts"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["cash_accounts.id"],
            name=op.f("fk_cash_holds_account_id_cash_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cash_holds")),
    )
    op.create_index(
        "ix_cash_holds_account_state", "cash_holds", ["account_id", "state"], unique=False
    )
    op.create_table(
        "cash_journal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("debit_account_id", sa.Integer(), nullable=False),
        sa.Column("credit_account_id", sa.Integer(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("business_day", sa.Date(), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "kind IN ('deposit', 'withdrawal', 'trade', 'fee', 'deposit_forfeit', 'loan_disbursement', 'loan_repayment', 'loan_interest', 'collateral_surplus')",
            name=op.f("ck_cash_journal_kind"),
        ),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_cash_journal_amount_fen")),
        sa.CheckConstraint(
            "debit_account_id <> credit_account_id", name=op.f("ck_cash_journal_two_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["credit_account_id"],
            ["cash_accounts.id"],
            name=op.f("fk_cash_journal_credit_account_id_cash_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["debit_account_id"],
            ["cash_accounts.id"],
            name=op.f("fk_cash_journal_debit_account_id_cash_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cash_journal")),
    )
    op.create_index(
        "ix_cash_journal_credit_day",
        "cash_journal",
        ["credit_account_id", "business_day"],
        unique=False,
    )
    op.create_index(
        "ix_cash_journal_debit_day",
        "cash_journal",
        ["debit_account_id", "business_day"],
        unique=False,
    )
    op.create_index(
        "ix_cash_journal_kind_day", "cash_journal", ["kind", "business_day"], unique=False
    )
    op.create_table(
        "loans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bank_organisation_id", sa.Integer(), nullable=False),
        sa.Column("borrower_organisation_id", sa.Integer(), nullable=False),
        sa.Column("pledge_id", sa.Integer(), nullable=False),
        sa.Column("scheme", sa.String(length=16), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("reference_price_fen", sa.BigInteger(), nullable=False),
        sa.Column("vwap_days", sa.Integer(), nullable=False),
        sa.Column("ltv_bp", sa.Integer(), nullable=False),
        sa.Column("margin_call_bp", sa.Integer(), nullable=False),
        sa.Column("rate_bp", sa.Integer(), nullable=False),
        sa.Column("credit_line_fen", sa.BigInteger(), nullable=False),
        sa.Column("disbursed_fen", sa.BigInteger(), nullable=False),
        sa.Column("principal_fen", sa.BigInteger(), nullable=False),
        sa.Column("interest_fen", sa.BigInteger(), nullable=False),
        sa.Column("interest_remainder", sa.BigInteger(), nullable=False),
        sa.Column("repaid_fen", sa.BigInteger(), nullable=False),
        sa.Column("shortfall_fen", sa.BigInteger(), nullable=False),
        sa.Column("start_day", sa.Date(), nullable=False),
        sa.Column("maturity_day", sa.Date(), nullable=False),
        sa.Column("accrued_to", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("margin_call_due", sa.Date(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "state IN ('requested', 'active', 'margin_call', 'repaid', 'defaulted', 'enforced', 'closed')",
            name=op.f("ck_loans_state"),
        ),
        sa.CheckConstraint("disbursed_fen <= credit_line_fen", name=op.f("ck_loans_line")),
        sa.CheckConstraint(
            "ltv_bp > 0 AND ltv_bp <= 10000 AND margin_call_bp >= ltv_bp AND rate_bp >= 0",
            name=op.f("ck_loans_terms"),
        ),
        sa.CheckConstraint("principal_fen <= disbursed_fen", name=op.f("ck_loans_principal")),
        sa.CheckConstraint(
            "quantity >= 1 AND reference_price_fen > 0 AND credit_line_fen >= 0 AND disbursed_fen >= 0 AND principal_fen >= 0 AND interest_fen >= 0 AND repaid_fen >= 0 AND shortfall_fen >= 0 AND interest_remainder >= 0",
            name=op.f("ck_loans_numbers"),
        ),
        sa.ForeignKeyConstraint(
            ["bank_organisation_id"],
            ["organisations.id"],
            name=op.f("fk_loans_bank_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["borrower_organisation_id"],
            ["organisations.id"],
            name=op.f("fk_loans_borrower_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["pledge_id"], ["pledges.id"], name=op.f("fk_loans_pledge_id_pledges")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loans")),
        sa.UniqueConstraint("pledge_id", name=op.f("uq_loans_pledge_id")),
    )
    op.create_index(
        op.f("ix_loans_bank_organisation_id"), "loans", ["bank_organisation_id"], unique=False
    )
    op.create_index(
        op.f("ix_loans_borrower_organisation_id"),
        "loans",
        ["borrower_organisation_id"],
        unique=False,
    )
    op.create_index("ix_loans_state", "loans", ["state"], unique=False)
    op.create_table(
        "market_closes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("book_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("close_fen", sa.BigInteger(), nullable=False),
        sa.Column("previous_close_fen", sa.BigInteger(), nullable=False),
        sa.Column("volume", sa.BigInteger(), nullable=False),
        sa.Column("value_fen", sa.BigInteger(), nullable=False),
        sa.Column("closed_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "close_fen > 0 AND previous_close_fen > 0", name=op.f("ck_market_closes_prices")
        ),
        sa.CheckConstraint("volume >= 0 AND value_fen >= 0", name=op.f("ck_market_closes_totals")),
        sa.ForeignKeyConstraint(
            ["book_id"], ["market_books.id"], name=op.f("fk_market_closes_book_id_market_books")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_closes")),
        sa.UniqueConstraint("book_id", "day", name=op.f("uq_market_closes_book_id_day")),
    )
    op.create_table(
        "loan_marks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("loan_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("reference_price_fen", sa.BigInteger(), nullable=False),
        sa.Column("collateral_fen", sa.BigInteger(), nullable=False),
        sa.Column("outstanding_fen", sa.BigInteger(), nullable=False),
        sa.Column("ltv_bp", sa.Integer(), nullable=False),
        sa.Column("margin_call", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("marked_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "reference_price_fen > 0 AND collateral_fen >= 0 AND outstanding_fen >= 0 AND ltv_bp >= 0",
            name=op.f("ck_loan_marks_numbers"),
        ),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.id"], name=op.f("fk_loan_marks_loan_id_loans")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loan_marks")),
        sa.UniqueConstraint("loan_id", "day", name=op.f("uq_loan_marks_loan_id_day")),
    )
    op.create_table(
        "market_auctions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("scheme", sa.String(length=16), nullable=False),
        sa.Column("seller_organisation_id", sa.Integer(), nullable=False),
        sa.Column("stream_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("price_fen", sa.BigInteger(), nullable=False),
        sa.Column("deposit_fen", sa.BigInteger(), nullable=False),
        sa.Column("opens_at", TIMESTAMP, nullable=False),
        sa.Column("ends_at", TIMESTAMP, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("reservation_id", sa.Integer(), nullable=True),
        sa.Column("storage_fallback", sa.Boolean(), nullable=False),
        sa.Column("loan_id", sa.Integer(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "kind IN ('ascending', 'uniform', 'listing')", name=op.f("ck_market_auctions_kind")
        ),
        sa.CheckConstraint(
            "state IN ('open', 'negotiating', 'auction', 'awarded', 'settled', 'defaulted', 'failed', 'lapsed', 'agreed')",
            name=op.f("ck_market_auctions_state"),
        ),
        sa.CheckConstraint(
            "quantity >= 1 AND price_fen > 0 AND deposit_fen >= 0",
            name=op.f("ck_market_auctions_numbers"),
        ),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.id"], name=op.f("fk_market_auctions_loan_id_loans")
        ),
        sa.ForeignKeyConstraint(
            ["reservation_id"],
            ["market_reservations.id"],
            name=op.f("fk_market_auctions_reservation_id_market_reservations"),
        ),
        sa.ForeignKeyConstraint(
            ["seller_organisation_id"],
            ["organisations.id"],
            name=op.f("fk_market_auctions_seller_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["stream_id"],
            ["market_streams.id"],
            name=op.f("fk_market_auctions_stream_id_market_streams"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_auctions")),
        sa.UniqueConstraint("stream_id", name=op.f("uq_market_auctions_stream_id")),
    )
    op.create_index(
        op.f("ix_market_auctions_loan_id"), "market_auctions", ["loan_id"], unique=False
    )
    op.create_index(
        op.f("ix_market_auctions_seller_organisation_id"),
        "market_auctions",
        ["seller_organisation_id"],
        unique=False,
    )
    op.create_index("ix_market_auctions_state", "market_auctions", ["state"], unique=False)
    op.create_table(
        "market_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("book_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("price_fen", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("filled", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("cash_hold_id", sa.Integer(), nullable=True),
        sa.Column("reservation_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint("side IN ('buy', 'sell')", name=op.f("ck_market_orders_side")),
        sa.CheckConstraint(
            "status IN ('new', 'resting', 'filled', 'cancelled', 'expired', 'rejected')",
            name=op.f("ck_market_orders_status"),
        ),
        sa.CheckConstraint(
            "price_fen > 0 AND quantity >= 1 AND filled >= 0 AND filled <= quantity",
            name=op.f("ck_market_orders_numbers"),
        ),
        sa.ForeignKeyConstraint(
            ["book_id"], ["market_books.id"], name=op.f("fk_market_orders_book_id_market_books")
        ),
        sa.ForeignKeyConstraint(
            ["cash_hold_id"],
            ["cash_holds.id"],
            name=op.f("fk_market_orders_cash_hold_id_cash_holds"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_market_orders_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["reservation_id"],
            ["market_reservations.id"],
            name=op.f("fk_market_orders_reservation_id_market_reservations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_orders")),
    )
    op.create_index(
        "ix_market_orders_book_status", "market_orders", ["book_id", "status"], unique=False
    )
    op.create_index(
        "ix_market_orders_org_status", "market_orders", ["organisation_id", "status"], unique=False
    )
    op.create_table(
        "market_proposals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("book_id", sa.Integer(), nullable=False),
        sa.Column("proposer_organisation_id", sa.Integer(), nullable=False),
        sa.Column("seller_organisation_id", sa.Integer(), nullable=False),
        sa.Column("buyer_organisation_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("price_fen", sa.BigInteger(), nullable=False),
        sa.Column("block", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.Column("cash_hold_id", sa.Integer(), nullable=True),
        sa.Column("reservation_id", sa.Integer(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "state IN ('new', 'open', 'accepted', 'declined', 'withdrawn', 'expired', 'rejected')",
            name=op.f("ck_market_proposals_state"),
        ),
        sa.CheckConstraint(
            "price_fen > 0 AND quantity >= 1", name=op.f("ck_market_proposals_numbers")
        ),
        sa.CheckConstraint(
            "seller_organisation_id <> buyer_organisation_id",
            name=op.f("ck_market_proposals_parties"),
        ),
        sa.ForeignKeyConstraint(
            ["book_id"], ["market_books.id"], name=op.f("fk_market_proposals_book_id_market_books")
        ),
        sa.ForeignKeyConstraint(
            ["buyer_organisation_id"],
            ["organisations.id"],
            name=op.f("fk_market_proposals_buyer_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["cash_hold_id"],
            ["cash_holds.id"],
            name=op.f("fk_market_proposals_cash_hold_id_cash_holds"),
        ),
        sa.ForeignKeyConstraint(
            ["proposer_organisation_id"],
            ["organisations.id"],
            name=op.f("fk_market_proposals_proposer_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["reservation_id"],
            ["market_reservations.id"],
            name=op.f("fk_market_proposals_reservation_id_market_reservations"),
        ),
        sa.ForeignKeyConstraint(
            ["seller_organisation_id"],
            ["organisations.id"],
            name=op.f("fk_market_proposals_seller_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_proposals")),
    )
    op.create_index(
        op.f("ix_market_proposals_buyer_organisation_id"),
        "market_proposals",
        ["buyer_organisation_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_market_proposals_seller_organisation_id"),
        "market_proposals",
        ["seller_organisation_id"],
        unique=False,
    )
    op.create_table(
        "market_storage_offers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("storer_organisation_id", sa.Integer(), nullable=False),
        sa.Column("price_fen", sa.BigInteger(), nullable=False),
        sa.Column("budget_fen", sa.BigInteger(), nullable=False),
        sa.Column("spent_fen", sa.BigInteger(), nullable=False),
        sa.Column("schemes", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("cash_hold_id", sa.Integer(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("closed_at", TIMESTAMP, nullable=True),
        sa.CheckConstraint(
            "state IN ('open', 'closed')", name=op.f("ck_market_storage_offers_state")
        ),
        sa.CheckConstraint(
            "price_fen > 0 AND budget_fen >= 0 AND spent_fen >= 0 AND spent_fen <= budget_fen",
            name=op.f("ck_market_storage_offers_numbers"),
        ),
        sa.ForeignKeyConstraint(
            ["cash_hold_id"],
            ["cash_holds.id"],
            name=op.f("fk_market_storage_offers_cash_hold_id_cash_holds"),
        ),
        sa.ForeignKeyConstraint(
            ["storer_organisation_id"],
            ["organisations.id"],
            name=op.f("fk_market_storage_offers_storer_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_storage_offers")),
    )
    op.create_index(
        op.f("ix_market_storage_offers_storer_organisation_id"),
        "market_storage_offers",
        ["storer_organisation_id"],
        unique=False,
    )
    op.create_table(
        "market_bidders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("auction_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("deposit_hold_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("won_quantity", sa.Integer(), nullable=False),
        sa.Column("won_price_fen", sa.BigInteger(), nullable=True),
        sa.Column("won_value_fen", sa.BigInteger(), nullable=False),
        sa.Column("payment_due", sa.Date(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "status IN ('qualified', 'released', 'won', 'paid', 'forfeited')",
            name=op.f("ck_market_bidders_status"),
        ),
        sa.CheckConstraint(
            "won_quantity >= 0 AND won_value_fen >= 0", name=op.f("ck_market_bidders_numbers")
        ),
        sa.ForeignKeyConstraint(
            ["auction_id"],
            ["market_auctions.id"],
            name=op.f("fk_market_bidders_auction_id_market_auctions"),
        ),
        sa.ForeignKeyConstraint(
            ["deposit_hold_id"],
            ["cash_holds.id"],
            name=op.f("fk_market_bidders_deposit_hold_id_cash_holds"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_market_bidders_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_bidders")),
        sa.UniqueConstraint(
            "auction_id",
            "organisation_id",
            name=op.f("uq_market_bidders_auction_id_organisation_id"),
        ),
    )
    op.create_index(
        op.f("ix_market_bidders_organisation_id"),
        "market_bidders",
        ["organisation_id"],
        unique=False,
    )
    op.create_table(
        "market_bids",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("auction_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("price_fen", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("filled", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "status IN ('accepted', 'rejected', 'filled', 'unfilled')",
            name=op.f("ck_market_bids_status"),
        ),
        sa.CheckConstraint(
            "price_fen > 0 AND quantity >= 1 AND filled >= 0 AND filled <= quantity",
            name=op.f("ck_market_bids_numbers"),
        ),
        sa.ForeignKeyConstraint(
            ["auction_id"],
            ["market_auctions.id"],
            name=op.f("fk_market_bids_auction_id_market_auctions"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_market_bids_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_bids")),
    )
    op.create_index(
        "ix_market_bids_auction_status", "market_bids", ["auction_id", "status"], unique=False
    )
    op.create_index(
        op.f("ix_market_bids_organisation_id"), "market_bids", ["organisation_id"], unique=False
    )
    op.create_table(
        "market_deals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("scheme", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("buyer_organisation_id", sa.Integer(), nullable=False),
        sa.Column("seller_organisation_id", sa.Integer(), nullable=False),
        sa.Column("price_fen", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("value_fen", sa.BigInteger(), nullable=False),
        sa.Column("buyer_fee_fen", sa.BigInteger(), nullable=False),
        sa.Column("seller_fee_fen", sa.BigInteger(), nullable=False),
        sa.Column("buy_order_id", sa.Integer(), nullable=True),
        sa.Column("sell_order_id", sa.Integer(), nullable=True),
        sa.Column("buyer_hold_id", sa.Integer(), nullable=True),
        sa.Column("seller_reservation_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("trade_day", sa.Date(), nullable=False),
        sa.Column("traded_at", TIMESTAMP, nullable=False),
        sa.Column("settled_at", TIMESTAMP, nullable=True),
        sa.CheckConstraint(
            "channel IN ('listed', 'agreement', 'block', 'auction', 'negotiated', 'storage')",
            name=op.f("ck_market_deals_channel"),
        ),
        sa.CheckConstraint("state IN ('pending', 'settled')", name=op.f("ck_market_deals_state")),
        sa.CheckConstraint(
            "state = 'pending' OR settled_at IS NOT NULL", name=op.f("ck_market_deals_settled_at")
        ),
        sa.CheckConstraint(
            "price_fen > 0 AND quantity >= 1 AND value_fen = price_fen * quantity AND buyer_fee_fen >= 0 AND seller_fee_fen >= 0",
            name=op.f("ck_market_deals_numbers"),
        ),
        sa.ForeignKeyConstraint(
            ["buy_order_id"],
            ["market_orders.id"],
            name=op.f("fk_market_deals_buy_order_id_market_orders"),
        ),
        sa.ForeignKeyConstraint(
            ["buyer_hold_id"],
            ["cash_holds.id"],
            name=op.f("fk_market_deals_buyer_hold_id_cash_holds"),
        ),
        sa.ForeignKeyConstraint(
            ["buyer_organisation_id"],
            ["organisations.id"],
            name=op.f("fk_market_deals_buyer_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["sell_order_id"],
            ["market_orders.id"],
            name=op.f("fk_market_deals_sell_order_id_market_orders"),
        ),
        sa.ForeignKeyConstraint(
            ["seller_organisation_id"],
            ["organisations.id"],
            name=op.f("fk_market_deals_seller_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["seller_reservation_id"],
            ["market_reservations.id"],
            name=op.f("fk_market_deals_seller_reservation_id_market_reservations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_deals")),
    )
    op.create_index(
        "ix_market_deals_buyer", "market_deals", ["buyer_organisation_id"], unique=False
    )
    op.create_index(
        "ix_market_deals_scheme_day", "market_deals", ["scheme", "trade_day"], unique=False
    )
    op.create_index(
        "ix_market_deals_seller", "market_deals", ["seller_organisation_id"], unique=False
    )
    op.create_index("ix_market_deals_state", "market_deals", ["state"], unique=False)
    op.create_table(
        "market_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deal_id", sa.Integer(), nullable=False),
        sa.Column("block_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.CheckConstraint("quantity >= 1", name=op.f("ck_market_deliveries_quantity")),
        sa.ForeignKeyConstraint(
            ["block_id"], ["blocks.id"], name=op.f("fk_market_deliveries_block_id_blocks")
        ),
        sa.ForeignKeyConstraint(
            ["deal_id"], ["market_deals.id"], name=op.f("fk_market_deliveries_deal_id_market_deals")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_market_deliveries_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_deliveries")),
    )
    op.create_index(
        op.f("ix_market_deliveries_deal_id"), "market_deliveries", ["deal_id"], unique=False
    )


def downgrade() -> None:
    # Dropping a table drops its indexes (SQLite and PostgreSQL alike).
    for table in reversed(TABLES):
        op.drop_table(table)
