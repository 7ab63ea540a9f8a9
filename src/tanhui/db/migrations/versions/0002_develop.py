"""Development: the project library (项目库) with stage history and documents, rights holders and
their parcels, authorizations (授权), revenue-sharing rules and payouts (股份合作), loss events.

Revision ID: 0002
Revises: 0001
Create Date: 2026-05-10

Written out explicitly (frozen) like 0001: later changes to ``tanhui.db.tables`` need a new
revision, and a test checks that the migrated schema equals the models.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Timestamps are timezone-aware UTC (``tanhui.db.tables.UTCDateTime`` in the models).
TIMESTAMP = sa.DateTime(timezone=True)

#: Created in this order (parents first); dropped in reverse.
TABLES = (
    "dev_rights_holders",
    "dev_parcels",
    "dev_projects",
    "dev_authorizations",
    "dev_loss_events",
    "dev_payouts",
    "dev_project_subcompartments",
    "dev_sharing_rules",
    "dev_stage_changes",
    "dev_documents",
    "dev_payout_lines",
)


def upgrade() -> None:
    op.create_table(
        "dev_rights_holders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("id_number", sa.String(length=18), nullable=True),
        sa.Column("village", sa.String(length=100), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=True),
        sa.Column("pooled_by_organisation_id", sa.Integer(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "kind IN ('household', 'collective', 'state_farm', 'company')",
            name=op.f("ck_dev_rights_holders_kind"),
        ),
        sa.CheckConstraint(
            "length(region_code) = 6 AND ltrim(region_code, '0123456789') = ''",
            name=op.f("ck_dev_rights_holders_region_code"),
        ),
        sa.ForeignKeyConstraint(
            ["pooled_by_organisation_id"],
            ["organisations.id"],
            name=op.f("fk_dev_rights_holders_pooled_by_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dev_rights_holders")),
        sa.UniqueConstraint("id_number", name=op.f("uq_dev_rights_holders_id_number")),
    )
    op.create_index(
        op.f("ix_dev_rights_holders_pooled_by_organisation_id"),
        "dev_rights_holders",
        ["pooled_by_organisation_id"],
        unique=False,
    )
    op.create_table(
        "dev_parcels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("holder_id", sa.Integer(), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("subcompartment_id", sa.String(length=64), nullable=False),
        sa.Column("area_ha", sa.Float(), nullable=False),
        sa.Column("tenure_certificate", sa.String(length=64), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "length(region_code) = 6 AND ltrim(region_code, '0123456789') = ''",
            name=op.f("ck_dev_parcels_region_code"),
        ),
        sa.CheckConstraint("area_ha > 0", name=op.f("ck_dev_parcels_area_ha")),
        sa.ForeignKeyConstraint(
            ["holder_id"],
            ["dev_rights_holders.id"],
            name=op.f("fk_dev_parcels_holder_id_dev_rights_holders"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dev_parcels")),
        sa.UniqueConstraint(
            "holder_id",
            "region_code",
            "subcompartment_id",
            name=op.f("uq_dev_parcels_holder_id_region_code_subcompartment_id"),
        ),
    )
    op.create_index(
        "ix_dev_parcels_land", "dev_parcels", ["region_code", "subcompartment_id"], unique=False
    )
    op.create_table(
        "dev_projects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("scheme", sa.String(length=16), nullable=False),
        sa.Column("methodology", sa.String(length=64), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("county", sa.String(length=100), nullable=False),
        sa.Column("owner_organisation_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("crediting_start", sa.Date(), nullable=True),
        sa.Column("crediting_end", sa.Date(), nullable=True),
        sa.Column("registry_project_id", sa.Integer(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "length(region_code) = 6 AND ltrim(region_code, '0123456789') = ''",
            name=op.f("ck_dev_projects_region_code"),
        ),
        sa.CheckConstraint(
            "stage IN ('candidate', 'feasibility', 'design', 'validation', 'registered', 'monitoring', 'issued', 'closed', 'withdrawn')",
            name=op.f("ck_dev_projects_stage"),
        ),
        sa.CheckConstraint(
            "crediting_start IS NULL OR crediting_end IS NULL OR crediting_start <= crediting_end",
            name=op.f("ck_dev_projects_crediting_period"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_dev_projects_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["owner_organisation_id"],
            ["organisations.id"],
            name=op.f("fk_dev_projects_owner_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["registry_project_id"],
            ["projects.id"],
            name=op.f("fk_dev_projects_registry_project_id_projects"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dev_projects")),
        sa.UniqueConstraint(
            "registry_project_id", name=op.f("uq_dev_projects_registry_project_id")
        ),
    )
    op.create_index(
        op.f("ix_dev_projects_owner_organisation_id"),
        "dev_projects",
        ["owner_organisation_id"],
        unique=False,
    )
    op.create_index(
        "ix_dev_projects_region_stage", "dev_projects", ["region_code", "stage"], unique=False
    )
    op.create_table(
        "dev_authorizations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("holder_id", sa.Integer(), nullable=False),
        sa.Column("dev_project_id", sa.Integer(), nullable=False),
        sa.Column("parcel_id", sa.Integer(), nullable=True),
        sa.Column("signatory", sa.String(length=200), nullable=False),
        sa.Column("signed_on", sa.Date(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("share_bp", sa.Integer(), nullable=True),
        sa.Column("revoked_on", sa.Date(), nullable=True),
        sa.Column("revoke_reason", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("recorded_by", sa.Integer(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "expires_on IS NULL OR expires_on >= valid_from",
            name=op.f("ck_dev_authorizations_term"),
        ),
        sa.CheckConstraint(
            "revoked_on IS NULL OR revoked_on >= signed_on",
            name=op.f("ck_dev_authorizations_revoked_on"),
        ),
        sa.CheckConstraint(
            "share_bp IS NULL OR (share_bp >= 0 AND share_bp <= 10000)",
            name=op.f("ck_dev_authorizations_share"),
        ),
        sa.ForeignKeyConstraint(
            ["dev_project_id"],
            ["dev_projects.id"],
            name=op.f("fk_dev_authorizations_dev_project_id_dev_projects"),
        ),
        sa.ForeignKeyConstraint(
            ["holder_id"],
            ["dev_rights_holders.id"],
            name=op.f("fk_dev_authorizations_holder_id_dev_rights_holders"),
        ),
        sa.ForeignKeyConstraint(
            ["parcel_id"],
            ["dev_parcels.id"],
            name=op.f("fk_dev_authorizations_parcel_id_dev_parcels"),
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"], ["users.id"], name=op.f("fk_dev_authorizations_recorded_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dev_authorizations")),
    )
    op.create_index(
        op.f("ix_dev_authorizations_dev_project_id"),
        "dev_authorizations",
        ["dev_project_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_dev_authorizations_holder_id"), "dev_authorizations", ["holder_id"], unique=False
    )
    op.create_index(
        op.f("ix_dev_authorizations_parcel_id"), "dev_authorizations", ["parcel_id"], unique=False
    )
    op.create_table(
        "dev_loss_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dev_project_id", sa.Integer(), nullable=False),
        sa.Column("subcompartment_id", sa.String(length=64), nullable=False),
        sa.Column("hazard", sa.String(length=16), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("area_ha", sa.Float(), nullable=False),
        sa.Column("share_lost", sa.Float(), nullable=False),
        sa.Column("tonnes_lost", sa.Float(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("recorded_by", sa.Integer(), nullable=True),
        sa.Column("recorded_at", TIMESTAMP, nullable=False),
        sa.Column("reversed_quantity", sa.Integer(), nullable=True),
        sa.Column("reversed_at", TIMESTAMP, nullable=True),
        sa.Column("reversal", sa.JSON(none_as_null=True), nullable=True),
        sa.CheckConstraint(
            "hazard IN ('fire', 'pests', 'illegal_logging', 'other')",
            name=op.f("ck_dev_loss_events_hazard"),
        ),
        sa.CheckConstraint("area_ha > 0", name=op.f("ck_dev_loss_events_area_ha")),
        sa.CheckConstraint(
            "reversed_quantity IS NULL OR reversed_quantity >= 1",
            name=op.f("ck_dev_loss_events_reversed_quantity"),
        ),
        sa.CheckConstraint(
            "share_lost > 0 AND share_lost <= 1", name=op.f("ck_dev_loss_events_share_lost")
        ),
        sa.CheckConstraint(
            "tonnes_lost IS NULL OR tonnes_lost >= 0", name=op.f("ck_dev_loss_events_tonnes_lost")
        ),
        sa.ForeignKeyConstraint(
            ["dev_project_id"],
            ["dev_projects.id"],
            name=op.f("fk_dev_loss_events_dev_project_id_dev_projects"),
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"], ["users.id"], name=op.f("fk_dev_loss_events_recorded_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dev_loss_events")),
    )
    op.create_index(
        op.f("ix_dev_loss_events_dev_project_id"),
        "dev_loss_events",
        ["dev_project_id"],
        unique=False,
    )
    op.create_table(
        "dev_payouts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dev_project_id", sa.Integer(), nullable=False),
        sa.Column("sold_on", sa.Date(), nullable=False),
        sa.Column("revenue_fen", sa.BigInteger(), nullable=False),
        sa.Column("tonnes", sa.Integer(), nullable=True),
        sa.Column("reference", sa.String(length=128), nullable=True),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("rule", sa.JSON(), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("recorded_by", sa.Integer(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "method IN ('by_area', 'by_agreed_share', 'fixed_split')",
            name=op.f("ck_dev_payouts_method"),
        ),
        sa.CheckConstraint("revenue_fen >= 1", name=op.f("ck_dev_payouts_revenue_fen")),
        sa.CheckConstraint("tonnes IS NULL OR tonnes >= 1", name=op.f("ck_dev_payouts_tonnes")),
        sa.ForeignKeyConstraint(
            ["dev_project_id"],
            ["dev_projects.id"],
            name=op.f("fk_dev_payouts_dev_project_id_dev_projects"),
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"], ["users.id"], name=op.f("fk_dev_payouts_recorded_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dev_payouts")),
        sa.UniqueConstraint(
            "dev_project_id", "reference", name=op.f("uq_dev_payouts_dev_project_id_reference")
        ),
    )
    op.create_table(
        "dev_project_subcompartments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dev_project_id", sa.Integer(), nullable=False),
        sa.Column("subcompartment_id", sa.String(length=64), nullable=False),
        sa.Column("area_ha", sa.Float(), nullable=False),
        sa.CheckConstraint("area_ha >= 0", name=op.f("ck_dev_project_subcompartments_area_ha")),
        sa.ForeignKeyConstraint(
            ["dev_project_id"],
            ["dev_projects.id"],
            name=op.f("fk_dev_project_subcompartments_dev_project_id_dev_projects"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dev_project_subcompartments")),
        sa.UniqueConstraint(
            "dev_project_id",
            "subcompartment_id",
            name=op.f("uq_dev_project_subcompartments_dev_project_id_subcompartment_id"),
        ),
    )
    op.create_table(
        "dev_sharing_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dev_project_id", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("holders_bp", sa.Integer(), nullable=False),
        sa.Column("collective_bp", sa.Integer(), nullable=False),
        sa.Column("developer_bp", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "method IN ('by_area', 'by_agreed_share', 'fixed_split')",
            name=op.f("ck_dev_sharing_rules_method"),
        ),
        sa.CheckConstraint(
            "holders_bp >= 0 AND collective_bp >= 0 AND developer_bp >= 0 AND holders_bp + collective_bp + developer_bp = 10000",
            name=op.f("ck_dev_sharing_rules_split"),
        ),
        sa.ForeignKeyConstraint(
            ["dev_project_id"],
            ["dev_projects.id"],
            name=op.f("fk_dev_sharing_rules_dev_project_id_dev_projects"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dev_sharing_rules")),
        sa.UniqueConstraint("dev_project_id", name=op.f("uq_dev_sharing_rules_dev_project_id")),
    )
    op.create_table(
        "dev_stage_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dev_project_id", sa.Integer(), nullable=False),
        sa.Column("from_stage", sa.String(length=16), nullable=True),
        sa.Column("to_stage", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("changed_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "from_stage IS NULL OR from_stage IN ('candidate', 'feasibility', 'design', 'validation', 'registered', 'monitoring', 'issued', 'closed', 'withdrawn')",
            name=op.f("ck_dev_stage_changes_from_stage"),
        ),
        sa.CheckConstraint(
            "to_stage IN ('candidate', 'feasibility', 'design', 'validation', 'registered', 'monitoring', 'issued', 'closed', 'withdrawn')",
            name=op.f("ck_dev_stage_changes_to_stage"),
        ),
        sa.ForeignKeyConstraint(
            ["dev_project_id"],
            ["dev_projects.id"],
            name=op.f("fk_dev_stage_changes_dev_project_id_dev_projects"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_dev_stage_changes_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dev_stage_changes")),
    )
    op.create_index(
        op.f("ix_dev_stage_changes_dev_project_id"),
        "dev_stage_changes",
        ["dev_project_id"],
        unique=False,
    )
    op.create_table(
        "dev_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dev_project_id", sa.Integer(), nullable=False),
        sa.Column("authorization_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("media_type", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_base64", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("uploaded_by", sa.Integer(), nullable=True),
        sa.Column("uploaded_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "media_type IN ('application/pdf', 'image/jpeg', 'image/png', 'image/tiff')",
            name=op.f("ck_dev_documents_media_type"),
        ),
        sa.CheckConstraint("length(sha256) = 64", name=op.f("ck_dev_documents_sha256")),
        sa.CheckConstraint("size_bytes >= 1", name=op.f("ck_dev_documents_size_bytes")),
        sa.ForeignKeyConstraint(
            ["authorization_id"],
            ["dev_authorizations.id"],
            name=op.f("fk_dev_documents_authorization_id_dev_authorizations"),
        ),
        sa.ForeignKeyConstraint(
            ["dev_project_id"],
            ["dev_projects.id"],
            name=op.f("fk_dev_documents_dev_project_id_dev_projects"),
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by"], ["users.id"], name=op.f("fk_dev_documents_uploaded_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dev_documents")),
    )
    op.create_index(
        op.f("ix_dev_documents_authorization_id"),
        "dev_documents",
        ["authorization_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_dev_documents_dev_project_id"), "dev_documents", ["dev_project_id"], unique=False
    )
    op.create_index(op.f("ix_dev_documents_sha256"), "dev_documents", ["sha256"], unique=False)
    op.create_table(
        "dev_payout_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("payout_id", sa.Integer(), nullable=False),
        sa.Column("pool", sa.String(length=16), nullable=False),
        sa.Column("holder_id", sa.Integer(), nullable=True),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("weight", sa.String(length=64), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "pool IN ('holders', 'collective', 'developer')", name=op.f("ck_dev_payout_lines_pool")
        ),
        sa.CheckConstraint(
            "(holder_id IS NULL AND organisation_id IS NOT NULL) OR (holder_id IS NOT NULL AND organisation_id IS NULL)",
            name=op.f("ck_dev_payout_lines_payee"),
        ),
        sa.CheckConstraint("amount_fen >= 0", name=op.f("ck_dev_payout_lines_amount_fen")),
        sa.ForeignKeyConstraint(
            ["holder_id"],
            ["dev_rights_holders.id"],
            name=op.f("fk_dev_payout_lines_holder_id_dev_rights_holders"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_dev_payout_lines_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["payout_id"],
            ["dev_payouts.id"],
            name=op.f("fk_dev_payout_lines_payout_id_dev_payouts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dev_payout_lines")),
    )
    op.create_index(
        op.f("ix_dev_payout_lines_holder_id"), "dev_payout_lines", ["holder_id"], unique=False
    )
    op.create_index(
        op.f("ix_dev_payout_lines_payout_id"), "dev_payout_lines", ["payout_id"], unique=False
    )


def downgrade() -> None:
    # Dropping a table drops its indexes (SQLite and PostgreSQL alike).
    for table in reversed(TABLES):
        op.drop_table(table)
