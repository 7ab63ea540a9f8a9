"""The registry: parties and access, projects, issuance, blocks, pledges, freezes, retirements,
the append-only event log and idempotency keys.

Revision ID: 0001
Revises:
Create Date: 2026-05-09

Written out explicitly (frozen): later changes to ``tanhui.db.tables`` need a new revision, and a
test checks that the migrated schema equals the models.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Timestamps are timezone-aware UTC (``tanhui.db.tables.UTCDateTime`` in the models).
TIMESTAMP = sa.DateTime(timezone=True)

TABLES = (
    "events",
    "idempotency_keys",
    "organisations",
    "accounts",
    "freezes",
    "pledges",
    "projects",
    "users",
    "api_keys",
    "monitoring_reports",
    "project_subcompartments",
    "user_roles",
    "issuance_requests",
    "blocks",
    "issuance_claims",
    "freeze_blocks",
    "pledge_blocks",
    "retirements",
)

EVENTS_APPEND_ONLY = {
    "sqlite": (
        "CREATE TRIGGER events_no_update BEFORE UPDATE ON events "
        "BEGIN SELECT RAISE(ABORT, 'events are append-only: UPDATE refused'); END",
        "CREATE TRIGGER events_no_delete BEFORE DELETE ON events "
        "BEGIN SELECT RAISE(ABORT, 'events are append-only: DELETE refused'); END",
    ),
    "postgresql": (
        "CREATE FUNCTION tanhui_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN RAISE EXCEPTION 'events are append-only: % refused', TG_OP; END $$",
        "CREATE TRIGGER events_no_update_delete BEFORE UPDATE OR DELETE ON events "
        "FOR EACH ROW EXECUTE FUNCTION tanhui_events_append_only()",
        "CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events "
        "FOR EACH STATEMENT EXECUTE FUNCTION tanhui_events_append_only()",
    ),
}


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("sequence >= 1", name=op.f("ck_events_sequence")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("hash", name=op.f("uq_events_hash")),
        sa.UniqueConstraint("sequence", name=op.f("uq_events_sequence")),
    )
    op.create_index(op.f("ix_events_type"), "events", ["type"], unique=False)
    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("response", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint("actor", "key", name=op.f("uq_idempotency_keys_actor_key")),
    )
    op.create_table(
        "organisations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=True),
        sa.Column("credit_code", sa.String(length=18), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "kind IN ('regulator', 'verifier', 'issuer', 'holder', 'individual', 'bank', 'court', 'market')",
            name=op.f("ck_organisations_kind"),
        ),
        sa.CheckConstraint(
            "length(region_code) = 6 AND ltrim(region_code, '0123456789') = ''",
            name=op.f("ck_organisations_region_code"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisations")),
        sa.UniqueConstraint("credit_code", name=op.f("uq_organisations_credit_code")),
        sa.UniqueConstraint("name", name=op.f("uq_organisations_name")),
    )
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("closed_at", TIMESTAMP, nullable=True),
        sa.CheckConstraint(
            "kind IN ('holding', 'buffer', 'retirement', 'cancellation', 'exported')",
            name=op.f("ck_accounts_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_accounts_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("number", name=op.f("uq_accounts_number")),
    )
    op.create_index(
        op.f("ix_accounts_organisation_id"), "accounts", ["organisation_id"], unique=False
    )
    op.create_table(
        "freezes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("court_organisation_id", sa.Integer(), nullable=False),
        sa.Column("holder_organisation_id", sa.Integer(), nullable=True),
        sa.Column("case_number", sa.String(length=128), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("frozen_at", TIMESTAMP, nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("released_at", TIMESTAMP, nullable=True),
        sa.CheckConstraint(
            "state IN ('active', 'released', 'enforced')", name=op.f("ck_freezes_state")
        ),
        sa.CheckConstraint("quantity >= 1", name=op.f("ck_freezes_quantity")),
        sa.ForeignKeyConstraint(
            ["court_organisation_id"],
            ["organisations.id"],
            name=op.f("fk_freezes_court_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["holder_organisation_id"],
            ["organisations.id"],
            name=op.f("fk_freezes_holder_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_freezes")),
    )
    op.create_index(op.f("ix_freezes_case_number"), "freezes", ["case_number"], unique=False)
    op.create_index(
        op.f("ix_freezes_court_organisation_id"), "freezes", ["court_organisation_id"], unique=False
    )
    op.create_index(
        op.f("ix_freezes_holder_organisation_id"),
        "freezes",
        ["holder_organisation_id"],
        unique=False,
    )
    op.create_table(
        "pledges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("holder_organisation_id", sa.Integer(), nullable=False),
        sa.Column("bank_organisation_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("loan_amount_fen", sa.BigInteger(), nullable=True),
        sa.Column("valuation_fen", sa.BigInteger(), nullable=True),
        sa.Column("contract_number", sa.String(length=64), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("requested_at", TIMESTAMP, nullable=False),
        sa.Column("activated_at", TIMESTAMP, nullable=True),
        sa.Column("released_at", TIMESTAMP, nullable=True),
        sa.Column("enforced_at", TIMESTAMP, nullable=True),
        sa.CheckConstraint(
            "state IN ('requested', 'active', 'released', 'enforced', 'rejected')",
            name=op.f("ck_pledges_state"),
        ),
        sa.CheckConstraint("loan_amount_fen >= 0", name=op.f("ck_pledges_loan_amount_fen")),
        sa.CheckConstraint("quantity >= 1", name=op.f("ck_pledges_quantity")),
        sa.CheckConstraint("valuation_fen >= 0", name=op.f("ck_pledges_valuation_fen")),
        sa.ForeignKeyConstraint(
            ["bank_organisation_id"],
            ["organisations.id"],
            name=op.f("fk_pledges_bank_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["holder_organisation_id"],
            ["organisations.id"],
            name=op.f("fk_pledges_holder_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pledges")),
    )
    op.create_index(
        op.f("ix_pledges_bank_organisation_id"), "pledges", ["bank_organisation_id"], unique=False
    )
    op.create_index(
        op.f("ix_pledges_holder_organisation_id"),
        "pledges",
        ["holder_organisation_id"],
        unique=False,
    )
    op.create_table(
        "projects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scheme", sa.String(length=16), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("project_number", sa.String(length=6), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("methodology", sa.String(length=64), nullable=False),
        sa.Column("crediting_start", sa.Date(), nullable=False),
        sa.Column("crediting_end", sa.Date(), nullable=False),
        sa.Column("owner_organisation_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("next_serial", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "length(project_number) = 6 AND ltrim(project_number, '0123456789') = ''",
            name=op.f("ck_projects_project_number"),
        ),
        sa.CheckConstraint(
            "length(region_code) = 6 AND ltrim(region_code, '0123456789') = ''",
            name=op.f("ck_projects_region_code"),
        ),
        sa.CheckConstraint(
            "status IN ('DRAFT', 'REGISTERED', 'SUSPENDED', 'CLOSED')",
            name=op.f("ck_projects_status"),
        ),
        sa.CheckConstraint(
            "crediting_start <= crediting_end", name=op.f("ck_projects_crediting_period")
        ),
        sa.CheckConstraint(
            "next_serial >= 1 AND next_serial <= 1000000000", name=op.f("ck_projects_next_serial")
        ),
        sa.ForeignKeyConstraint(
            ["owner_organisation_id"],
            ["organisations.id"],
            name=op.f("fk_projects_owner_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
        sa.UniqueConstraint("project_number", name=op.f("uq_projects_project_number")),
    )
    op.create_index(
        op.f("ix_projects_owner_organisation_id"),
        "projects",
        ["owner_organisation_id"],
        unique=False,
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_users_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_index(op.f("ix_users_organisation_id"), "users", ["organisation_id"], unique=False)
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("last_used_at", TIMESTAMP, nullable=True),
        sa.Column("expires_at", TIMESTAMP, nullable=True),
        sa.Column("revoked_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_api_keys_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_index(op.f("ix_api_keys_prefix"), "api_keys", ["prefix"], unique=False)
    op.create_index(op.f("ix_api_keys_user_id"), "api_keys", ["user_id"], unique=False)
    op.create_table(
        "monitoring_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("measured_tco2e", sa.Float(), nullable=False),
        sa.Column("verified_tco2e", sa.Integer(), nullable=True),
        sa.Column("provenance", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("submitted_at", TIMESTAMP, nullable=False),
        sa.Column("verified_at", TIMESTAMP, nullable=True),
        sa.CheckConstraint(
            "status IN ('SUBMITTED', 'VERIFIED', 'REJECTED', 'SUPERSEDED')",
            name=op.f("ck_monitoring_reports_status"),
        ),
        sa.CheckConstraint("period_start <= period_end", name=op.f("ck_monitoring_reports_period")),
        sa.CheckConstraint(
            "verified_tco2e >= 0", name=op.f("ck_monitoring_reports_verified_tco2e")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_monitoring_reports_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_reports")),
    )
    op.create_index(
        op.f("ix_monitoring_reports_project_id"), "monitoring_reports", ["project_id"], unique=False
    )
    op.create_table(
        "project_subcompartments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("subcompartment_id", sa.String(length=64), nullable=False),
        sa.Column("area_ha", sa.Float(), nullable=False),
        sa.Column("geometry_geojson", sa.Text(), nullable=True),
        sa.CheckConstraint("area_ha >= 0", name=op.f("ck_project_subcompartments_area_ha")),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_project_subcompartments_project_id_projects"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project_subcompartments")),
        sa.UniqueConstraint(
            "project_id",
            "subcompartment_id",
            name=op.f("uq_project_subcompartments_project_id_subcompartment_id"),
        ),
    )
    op.create_table(
        "user_roles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("granted_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "role IN ('forestry_regulator', 'eco_regulator', 'verifier', 'issuer', 'holder', 'bank', 'court', 'market_operator', 'auditor', 'admin', 'public')",
            name=op.f("ck_user_roles_role"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_user_roles_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_roles_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_roles")),
        sa.UniqueConstraint(
            "user_id",
            "role",
            "organisation_id",
            name=op.f("uq_user_roles_user_id_role_organisation_id"),
        ),
    )
    op.create_index(
        op.f("ix_user_roles_organisation_id"), "user_roles", ["organisation_id"], unique=False
    )
    op.create_table(
        "issuance_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("monitoring_report_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("buffer_quantity", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("submitted_by", sa.Integer(), nullable=True),
        sa.Column("submitted_at", TIMESTAMP, nullable=False),
        sa.Column("verified_by", sa.Integer(), nullable=True),
        sa.Column("verified_at", TIMESTAMP, nullable=True),
        sa.Column("approved_by", sa.Integer(), nullable=True),
        sa.Column("approved_at", TIMESTAMP, nullable=True),
        sa.Column("filed_by", sa.Integer(), nullable=True),
        sa.Column("filed_at", TIMESTAMP, nullable=True),
        sa.Column("issued_by", sa.Integer(), nullable=True),
        sa.Column("issued_at", TIMESTAMP, nullable=True),
        sa.Column("rejected_by", sa.Integer(), nullable=True),
        sa.Column("rejected_at", TIMESTAMP, nullable=True),
        sa.Column("rejected_from_state", sa.String(length=16), nullable=True),
        sa.Column("rejection_reason", sa.Text(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.CheckConstraint(
            "rejected_from_state IS NULL OR rejected_from_state IN ('SUBMITTED', 'VERIFIED', 'APPROVED', 'FILED', 'ISSUED', 'REJECTED')",
            name=op.f("ck_issuance_requests_rejected_from_state"),
        ),
        sa.CheckConstraint(
            "state <> 'REJECTED' OR rejection_reason IS NOT NULL",
            name=op.f("ck_issuance_requests_rejection"),
        ),
        sa.CheckConstraint(
            "state IN ('SUBMITTED', 'VERIFIED', 'APPROVED', 'FILED', 'ISSUED', 'REJECTED')",
            name=op.f("ck_issuance_requests_state"),
        ),
        sa.CheckConstraint(
            "buffer_quantity >= 0 AND buffer_quantity <= quantity",
            name=op.f("ck_issuance_requests_buffer_quantity"),
        ),
        sa.CheckConstraint("quantity >= 1", name=op.f("ck_issuance_requests_quantity")),
        sa.ForeignKeyConstraint(
            ["approved_by"], ["users.id"], name=op.f("fk_issuance_requests_approved_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["filed_by"], ["users.id"], name=op.f("fk_issuance_requests_filed_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["issued_by"], ["users.id"], name=op.f("fk_issuance_requests_issued_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["monitoring_report_id"],
            ["monitoring_reports.id"],
            name=op.f("fk_issuance_requests_monitoring_report_id_monitoring_reports"),
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_issuance_requests_project_id_projects")
        ),
        sa.ForeignKeyConstraint(
            ["rejected_by"], ["users.id"], name=op.f("fk_issuance_requests_rejected_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by"], ["users.id"], name=op.f("fk_issuance_requests_submitted_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["verified_by"], ["users.id"], name=op.f("fk_issuance_requests_verified_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issuance_requests")),
        sa.UniqueConstraint(
            "project_id",
            "idempotency_key",
            name=op.f("uq_issuance_requests_project_id_idempotency_key"),
        ),
    )
    op.create_index(
        op.f("ix_issuance_requests_monitoring_report_id"),
        "issuance_requests",
        ["monitoring_report_id"],
        unique=False,
    )
    op.create_index(
        "ix_issuance_requests_project_state",
        "issuance_requests",
        ["project_id", "state"],
        unique=False,
    )
    op.create_table(
        "blocks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issuance_request_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("scheme", sa.String(length=16), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("project_number", sa.String(length=6), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("serial_start", sa.Integer(), nullable=False),
        sa.Column("serial_end", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("lock_kind", sa.String(length=16), nullable=True),
        sa.Column("lock_ref", sa.Integer(), nullable=True),
        sa.Column("lock_organisation_id", sa.Integer(), nullable=True),
        sa.Column("parent_block_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "(state <> 'PLEDGED' OR coalesce(lock_kind, '') = 'pledge') AND (state <> 'FROZEN' OR coalesce(lock_kind, '') = 'freeze') AND (state <> 'RESERVED' OR coalesce(lock_kind, '') = 'reservation') AND (lock_kind IS NULL OR state IN ('RESERVED', 'PLEDGED', 'FROZEN', 'PENDING_OFFSET'))",
            name=op.f("ck_blocks_lock_state"),
        ),
        sa.CheckConstraint(
            "length(region_code) = 6 AND ltrim(region_code, '0123456789') = ''",
            name=op.f("ck_blocks_region_code"),
        ),
        sa.CheckConstraint(
            "lock_kind IS NULL OR lock_kind IN ('reservation', 'pledge', 'freeze', 'offset')",
            name=op.f("ck_blocks_lock_kind"),
        ),
        sa.CheckConstraint(
            "state IN ('ACTIVE', 'RESERVED', 'PLEDGED', 'FROZEN', 'PENDING_OFFSET', 'RETIRED', 'CANCELLED', 'BUFFER', 'EXPORTED')",
            name=op.f("ck_blocks_state"),
        ),
        sa.CheckConstraint(
            "(lock_kind IS NULL AND lock_ref IS NULL) OR (lock_kind IS NOT NULL AND lock_ref IS NOT NULL)",
            name=op.f("ck_blocks_lock_pair"),
        ),
        sa.CheckConstraint("period_start <= period_end", name=op.f("ck_blocks_period")),
        sa.CheckConstraint(
            "quantity >= 1 AND quantity = serial_end - serial_start + 1",
            name=op.f("ck_blocks_quantity"),
        ),
        sa.CheckConstraint(
            "serial_start >= 1 AND serial_start <= serial_end AND serial_end <= 999999999",
            name=op.f("ck_blocks_serial_range"),
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_blocks_version")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_blocks_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["issuance_request_id"],
            ["issuance_requests.id"],
            name=op.f("fk_blocks_issuance_request_id_issuance_requests"),
        ),
        sa.ForeignKeyConstraint(
            ["lock_organisation_id"],
            ["organisations.id"],
            name=op.f("fk_blocks_lock_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["parent_block_id"], ["blocks.id"], name=op.f("fk_blocks_parent_block_id_blocks")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_blocks_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blocks")),
        sa.UniqueConstraint(
            "project_id", "serial_end", name=op.f("uq_blocks_project_id_serial_end")
        ),
        sa.UniqueConstraint(
            "project_id", "serial_start", name=op.f("uq_blocks_project_id_serial_start")
        ),
    )
    op.create_index("ix_blocks_account_state", "blocks", ["account_id", "state"], unique=False)
    op.create_index(
        "ix_blocks_issuance_state", "blocks", ["issuance_request_id", "state"], unique=False
    )
    op.create_index("ix_blocks_lock", "blocks", ["lock_kind", "lock_ref"], unique=False)
    op.create_index(op.f("ix_blocks_parent_block_id"), "blocks", ["parent_block_id"], unique=False)
    op.create_table(
        "issuance_claims",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scheme", sa.String(length=16), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=True),
        sa.Column("project_ref", sa.String(length=64), nullable=False),
        sa.Column("subcompartment_id", sa.String(length=64), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("issuance_reference", sa.String(length=128), nullable=False),
        sa.Column("issuance_request_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("cancelled_at", TIMESTAMP, nullable=True),
        sa.CheckConstraint(
            "length(region_code) = 6 AND ltrim(region_code, '0123456789') = ''",
            name=op.f("ck_issuance_claims_region_code"),
        ),
        sa.CheckConstraint(
            "origin IN ('here', 'external')", name=op.f("ck_issuance_claims_origin")
        ),
        sa.CheckConstraint(
            "status IN ('active', 'cancelled')", name=op.f("ck_issuance_claims_status")
        ),
        sa.CheckConstraint("period_start <= period_end", name=op.f("ck_issuance_claims_period")),
        sa.ForeignKeyConstraint(
            ["issuance_request_id"],
            ["issuance_requests.id"],
            name=op.f("fk_issuance_claims_issuance_request_id_issuance_requests"),
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_issuance_claims_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issuance_claims")),
    )
    op.create_index(
        op.f("ix_issuance_claims_issuance_request_id"),
        "issuance_claims",
        ["issuance_request_id"],
        unique=False,
    )
    op.create_index(
        "ix_issuance_claims_land",
        "issuance_claims",
        ["region_code", "subcompartment_id", "period_start", "period_end"],
        unique=False,
    )
    op.create_index(
        op.f("ix_issuance_claims_project_id"), "issuance_claims", ["project_id"], unique=False
    )
    op.create_table(
        "freeze_blocks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("freeze_id", sa.Integer(), nullable=False),
        sa.Column("block_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.CheckConstraint("quantity >= 1", name=op.f("ck_freeze_blocks_quantity")),
        sa.ForeignKeyConstraint(
            ["block_id"], ["blocks.id"], name=op.f("fk_freeze_blocks_block_id_blocks")
        ),
        sa.ForeignKeyConstraint(
            ["freeze_id"], ["freezes.id"], name=op.f("fk_freeze_blocks_freeze_id_freezes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_freeze_blocks")),
        sa.UniqueConstraint(
            "freeze_id", "block_id", name=op.f("uq_freeze_blocks_freeze_id_block_id")
        ),
    )
    op.create_index(op.f("ix_freeze_blocks_block_id"), "freeze_blocks", ["block_id"], unique=False)
    op.create_table(
        "pledge_blocks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pledge_id", sa.Integer(), nullable=False),
        sa.Column("block_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.CheckConstraint("quantity >= 1", name=op.f("ck_pledge_blocks_quantity")),
        sa.ForeignKeyConstraint(
            ["block_id"], ["blocks.id"], name=op.f("fk_pledge_blocks_block_id_blocks")
        ),
        sa.ForeignKeyConstraint(
            ["pledge_id"], ["pledges.id"], name=op.f("fk_pledge_blocks_pledge_id_pledges")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pledge_blocks")),
        sa.UniqueConstraint(
            "pledge_id", "block_id", name=op.f("uq_pledge_blocks_pledge_id_block_id")
        ),
    )
    op.create_index(op.f("ix_pledge_blocks_block_id"), "pledge_blocks", ["block_id"], unique=False)
    op.create_table(
        "retirements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("block_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("serial", sa.String(length=128), nullable=False),
        sa.Column("serial_start", sa.Integer(), nullable=False),
        sa.Column("serial_end", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("beneficiary", sa.String(length=300), nullable=False),
        sa.Column("purpose", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("certificate_number", sa.String(length=64), nullable=False),
        sa.Column("retired_by", sa.Integer(), nullable=True),
        sa.Column("retired_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "quantity >= 1 AND quantity = serial_end - serial_start + 1",
            name=op.f("ck_retirements_quantity"),
        ),
        sa.CheckConstraint(
            "serial_start >= 1 AND serial_start <= serial_end AND serial_end <= 999999999",
            name=op.f("ck_retirements_serial_range"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_retirements_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["block_id"], ["blocks.id"], name=op.f("fk_retirements_block_id_blocks")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_retirements_project_id_projects")
        ),
        sa.ForeignKeyConstraint(
            ["retired_by"], ["users.id"], name=op.f("fk_retirements_retired_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retirements")),
        sa.UniqueConstraint("block_id", name=op.f("uq_retirements_block_id")),
        sa.UniqueConstraint("certificate_number", name=op.f("uq_retirements_certificate_number")),
        sa.UniqueConstraint(
            "project_id", "serial_start", name=op.f("uq_retirements_project_id_serial_start")
        ),
    )
    op.create_index(op.f("ix_retirements_account_id"), "retirements", ["account_id"], unique=False)
    op.create_index(op.f("ix_retirements_serial"), "retirements", ["serial"], unique=False)

    # The event log is append-only: the database itself refuses UPDATE and DELETE.
    for statement in EVENTS_APPEND_ONLY.get(op.get_bind().dialect.name, ()):
        op.execute(statement)


def downgrade() -> None:
    # Dropping a table drops its indexes and triggers (DROP is not DELETE).
    for table in reversed(TABLES):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS tanhui_events_append_only()")
