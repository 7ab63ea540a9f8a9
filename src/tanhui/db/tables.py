"""The registry's tables (SQLAlchemy 2 declarative models), the same on SQLite and PostgreSQL.

Conventions:

- every table has a surrogate integer primary key ``id``;
- quantities the registry moves are integers: whole tonnes (tCO2e) in ``Integer`` columns, money
  in fen (分) in ``BigInteger`` columns ending in ``_fen``; measured values stay ``Float``;
- timestamps are timezone-aware UTC (:class:`UTCDateTime`; naive datetimes are refused), dates
  are ``Date``;
- states and roles are short strings guarded by CHECK constraints listing the allowed values
  (the lists below mirror the registry core; the database does not import it);
- constraint names follow :data:`NAMING_CONVENTION` so migrations can refer to them.

The schema is created by the Alembic migrations in ``tanhui/db/migrations`` (``tanhui db
upgrade``); a test checks that the migrated schema equals :data:`metadata`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.schema import DDL
from sqlalchemy.types import TypeDecorator

# ------------------------------------------------------------------------------- allowed values

ORGANISATION_KINDS = (
    "regulator",
    "verifier",
    "issuer",
    "holder",
    "individual",
    "bank",
    "court",
    "market",
)
ROLES = (
    "forestry_regulator",
    "eco_regulator",
    "verifier",
    "issuer",
    "holder",
    "bank",
    "court",
    "market_operator",
    "auditor",
    "admin",
    "public",
)
ACCOUNT_KINDS = ("holding", "buffer", "retirement", "cancellation", "exported")
PROJECT_STATUSES = ("DRAFT", "REGISTERED", "SUSPENDED", "CLOSED")
MONITORING_STATUSES = ("SUBMITTED", "VERIFIED", "REJECTED", "SUPERSEDED")
ISSUANCE_STATES = ("SUBMITTED", "VERIFIED", "APPROVED", "FILED", "ISSUED", "REJECTED")
BLOCK_STATES = (
    "ACTIVE",
    "RESERVED",
    "PLEDGED",
    "FROZEN",
    "PENDING_OFFSET",
    "RETIRED",
    "CANCELLED",
    "BUFFER",
    "EXPORTED",
)
LOCK_KINDS = ("reservation", "pledge", "freeze", "offset")
CLAIM_ORIGINS = ("here", "external")
CLAIM_STATUSES = ("active", "cancelled")
PLEDGE_STATES = ("requested", "active", "released", "enforced", "rejected")
FREEZE_STATES = ("active", "released", "enforced")

#: Largest serial number: serials are 9-digit, inclusive, per project.
MAX_SERIAL = 999_999_999

#: A hash chain starts from this ``prev_hash``.
GENESIS_HASH = "0" * 64

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def one_of(column: str, values: tuple[str, ...]) -> str:
    """SQL for ``column IN (values)``, for a CHECK constraint."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def digits(column: str, n: int) -> str:
    """SQL (portable to SQLite and PostgreSQL) for "``column`` is exactly ``n`` ASCII digits"."""
    return f"length({column}) = {n} AND ltrim({column}, '0123456789') = ''"


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp stored as UTC.

    PostgreSQL stores ``timestamp with time zone``; SQLite stores the UTC wall time. Values come
    back as aware datetimes in UTC on both. Naive datetimes are refused.
    """

    impl = DateTime
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(timezone=True)

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: tanhui stores timezone-aware UTC times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Base(DeclarativeBase):
    metadata = metadata
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads it as a class attribute
        datetime: UTCDateTime,
        date: Date,
    }


def _pk() -> Mapped[int]:
    return mapped_column(Integer, primary_key=True)


def _created() -> Mapped[datetime]:
    return mapped_column(UTCDateTime(), default=utcnow, nullable=False)


# ------------------------------------------------------------------------ parties and access


class Organisation(Base):
    """A party: forestry or eco-environment bureau, verifier, issuing body, forest owner (an
    organisation or an individual), bank, court or market operator."""

    __tablename__ = "organisations"
    __table_args__ = (
        CheckConstraint(one_of("kind", ORGANISATION_KINDS), name="kind"),
        CheckConstraint(digits("region_code", 6), name="region_code"),
    )

    id: Mapped[int] = _pk()
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    region_code: Mapped[str | None] = mapped_column(String(6))
    #: 统一社会信用代码 (18 characters) for organisations; empty for individuals.
    credit_code: Mapped[str | None] = mapped_column(String(18), unique=True)
    created_at: Mapped[datetime] = _created()


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = _pk()
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    #: argon2 hash; NULL for a machine user that authenticates by API key only.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = _created()


class UserRole(Base):
    """A role granted to a user, optionally scoped to one organisation (e.g. a bank's staff)."""

    __tablename__ = "user_roles"
    __table_args__ = (
        UniqueConstraint("user_id", "role", "organisation_id"),
        CheckConstraint(one_of("role", ROLES), name="role"),
    )

    id: Mapped[int] = _pk()
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    role: Mapped[str] = mapped_column(String(32))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    granted_at: Mapped[datetime] = _created()


class ApiKey(Base):
    """A machine client's key: only its hash and a short prefix (to find it) are stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = _pk()
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    key_hash: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = _created()
    last_used_at: Mapped[datetime | None] = mapped_column()
    expires_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


class Account(Base):
    """Where blocks are held. An organisation may have several (holding, buffer, …)."""

    __tablename__ = "accounts"
    __table_args__ = (CheckConstraint(one_of("kind", ACCOUNT_KINDS), name="kind"),)

    id: Mapped[int] = _pk()
    number: Mapped[str] = mapped_column(String(32), unique=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="holding")
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = _created()
    closed_at: Mapped[datetime | None] = mapped_column()


# --------------------------------------------------------------------------------- projects


class Project(Base):
    __tablename__ = "projects"
    __table_args__ = (
        CheckConstraint(digits("region_code", 6), name="region_code"),
        CheckConstraint(digits("project_number", 6), name="project_number"),
        CheckConstraint("crediting_start <= crediting_end", name="crediting_period"),
        CheckConstraint(one_of("status", PROJECT_STATUSES), name="status"),
        CheckConstraint(
            f"next_serial >= 1 AND next_serial <= {MAX_SERIAL + 1}", name="next_serial"
        ),
    )

    id: Mapped[int] = _pk()
    scheme: Mapped[str] = mapped_column(String(16))
    #: 6-digit administrative division code (行政区划代码) of the county.
    region_code: Mapped[str] = mapped_column(String(6))
    #: 6-digit project number, unique in this registry.
    project_number: Mapped[str] = mapped_column(String(6), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    methodology: Mapped[str] = mapped_column(String(64))
    crediting_start: Mapped[date] = mapped_column()
    crediting_end: Mapped[date] = mapped_column()
    owner_organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="REGISTERED")
    #: The next serial to allocate in this project (serials are never reused).
    next_serial: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = _created()


class ProjectSubcompartment(Base):
    __tablename__ = "project_subcompartments"
    __table_args__ = (
        UniqueConstraint("project_id", "subcompartment_id"),
        CheckConstraint("area_ha >= 0", name="area_ha"),
    )

    id: Mapped[int] = _pk()
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    subcompartment_id: Mapped[str] = mapped_column(String(64))
    area_ha: Mapped[float] = mapped_column(Float)
    #: The polygon as GeoJSON text (WGS 84), when known.
    geometry_geojson: Mapped[str | None] = mapped_column(Text)


class MonitoringReport(Base):
    """A measurement result over a monitoring period, with its provenance."""

    __tablename__ = "monitoring_reports"
    __table_args__ = (
        CheckConstraint("period_start <= period_end", name="period"),
        CheckConstraint("verified_tco2e >= 0", name="verified_tco2e"),
        CheckConstraint(one_of("status", MONITORING_STATUSES), name="status"),
    )

    id: Mapped[int] = _pk()
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    period_start: Mapped[date] = mapped_column()
    period_end: Mapped[date] = mapped_column()
    #: As measured (float64, may be negative for a loss).
    measured_tco2e: Mapped[float] = mapped_column(Float)
    #: Whole tonnes the verifier accepted (rounded down); NULL until verified.
    verified_tco2e: Mapped[int | None] = mapped_column(Integer)
    provenance: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: The full result document (per-row values, breakdowns) when kept.
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    status: Mapped[str] = mapped_column(String(16), default="SUBMITTED")
    submitted_at: Mapped[datetime] = _created()
    verified_at: Mapped[datetime | None] = mapped_column()


# -------------------------------------------------------------------------------- issuance


class IssuanceRequest(Base):
    """SUBMITTED → VERIFIED → APPROVED (审定) → FILED (备案) → ISSUED (制发), or REJECTED."""

    __tablename__ = "issuance_requests"
    __table_args__ = (
        UniqueConstraint("project_id", "idempotency_key"),
        Index("ix_issuance_requests_project_state", "project_id", "state"),
        CheckConstraint("quantity >= 1", name="quantity"),
        CheckConstraint(
            "buffer_quantity >= 0 AND buffer_quantity <= quantity", name="buffer_quantity"
        ),
        CheckConstraint(one_of("state", ISSUANCE_STATES), name="state"),
        CheckConstraint(
            "rejected_from_state IS NULL OR " + one_of("rejected_from_state", ISSUANCE_STATES),
            name="rejected_from_state",
        ),
        CheckConstraint("state <> 'REJECTED' OR rejection_reason IS NOT NULL", name="rejection"),
    )

    id: Mapped[int] = _pk()
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    monitoring_report_id: Mapped[int] = mapped_column(
        ForeignKey("monitoring_reports.id"), index=True
    )
    #: Tonnes to issue in total, buffer included.
    quantity: Mapped[int] = mapped_column(Integer)
    #: Tonnes of ``quantity`` that go to the buffer account.
    buffer_quantity: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(16), default="SUBMITTED")
    submitted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[datetime] = _created()
    verified_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    verified_at: Mapped[datetime | None] = mapped_column()
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None] = mapped_column()
    filed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    filed_at: Mapped[datetime | None] = mapped_column()
    issued_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    issued_at: Mapped[datetime | None] = mapped_column()
    rejected_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    rejected_at: Mapped[datetime | None] = mapped_column()
    rejected_from_state: Mapped[str | None] = mapped_column(String(16))
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str | None] = mapped_column(String(128))


class IssuanceClaim(Base):
    """The no-double-issuance index: land (sub-compartment) × period claimed by an issuance here
    or in another registry (CCER, VCS, …). An active claim overlapping a new one blocks it::

        region_code = :r AND subcompartment_id = :s AND status = 'active'
        AND period_start <= :end AND period_end >= :start
    """

    __tablename__ = "issuance_claims"
    __table_args__ = (
        Index(
            "ix_issuance_claims_land",
            "region_code",
            "subcompartment_id",
            "period_start",
            "period_end",
        ),
        CheckConstraint("period_start <= period_end", name="period"),
        CheckConstraint(one_of("origin", CLAIM_ORIGINS), name="origin"),
        CheckConstraint(one_of("status", CLAIM_STATUSES), name="status"),
        CheckConstraint(digits("region_code", 6), name="region_code"),
    )

    id: Mapped[int] = _pk()
    scheme: Mapped[str] = mapped_column(String(16))
    #: ``here`` (issued by this registry) or ``external`` (CCER, VCS, another province, …).
    origin: Mapped[str] = mapped_column(String(16), default="here")
    region_code: Mapped[str] = mapped_column(String(6))
    #: The project here, if the claim is ours.
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"), index=True)
    #: The project's identifier in its registry (our project number or an external id).
    project_ref: Mapped[str] = mapped_column(String(64))
    subcompartment_id: Mapped[str] = mapped_column(String(64))
    period_start: Mapped[date] = mapped_column()
    period_end: Mapped[date] = mapped_column()
    #: Where the claim comes from: our issuance's reference or an external issuance id.
    issuance_reference: Mapped[str] = mapped_column(String(128))
    issuance_request_id: Mapped[int | None] = mapped_column(
        ForeignKey("issuance_requests.id"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = _created()
    cancelled_at: Mapped[datetime | None] = mapped_column()


# ---------------------------------------------------------------------------------- blocks


class Block(Base):
    """A range of serials (1 serial = 1 tCO2e, inclusive) held in one account in one state.

    ``version`` is SQLAlchemy's version counter: an UPDATE through the ORM checks and bumps it,
    so two writers that read the same version cannot both win.
    """

    __tablename__ = "blocks"
    __table_args__ = (
        UniqueConstraint("project_id", "serial_start"),
        UniqueConstraint("project_id", "serial_end"),
        Index("ix_blocks_account_state", "account_id", "state"),
        Index("ix_blocks_issuance_state", "issuance_request_id", "state"),
        Index("ix_blocks_lock", "lock_kind", "lock_ref"),
        CheckConstraint(
            f"serial_start >= 1 AND serial_start <= serial_end AND serial_end <= {MAX_SERIAL}",
            name="serial_range",
        ),
        CheckConstraint(
            "quantity >= 1 AND quantity = serial_end - serial_start + 1", name="quantity"
        ),
        CheckConstraint("period_start <= period_end", name="period"),
        CheckConstraint(one_of("state", BLOCK_STATES), name="state"),
        CheckConstraint(
            "lock_kind IS NULL OR " + one_of("lock_kind", LOCK_KINDS), name="lock_kind"
        ),
        CheckConstraint(
            "(lock_kind IS NULL AND lock_ref IS NULL) OR "
            "(lock_kind IS NOT NULL AND lock_ref IS NOT NULL)",
            name="lock_pair",
        ),
        CheckConstraint(
            "(state <> 'PLEDGED' OR coalesce(lock_kind, '') = 'pledge') AND "
            "(state <> 'FROZEN' OR coalesce(lock_kind, '') = 'freeze') AND "
            "(state <> 'RESERVED' OR coalesce(lock_kind, '') = 'reservation') AND "
            "(lock_kind IS NULL OR state IN ('RESERVED', 'PLEDGED', 'FROZEN', 'PENDING_OFFSET'))",
            name="lock_state",
        ),
        CheckConstraint("version >= 1", name="version"),
        CheckConstraint(digits("region_code", 6), name="region_code"),
    )

    id: Mapped[int] = _pk()
    issuance_request_id: Mapped[int] = mapped_column(ForeignKey("issuance_requests.id"))
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    scheme: Mapped[str] = mapped_column(String(16))
    region_code: Mapped[str] = mapped_column(String(6))
    project_number: Mapped[str] = mapped_column(String(6))
    period_start: Mapped[date] = mapped_column()
    period_end: Mapped[date] = mapped_column()
    serial_start: Mapped[int] = mapped_column(Integer)
    serial_end: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    state: Mapped[str] = mapped_column(String(16), default="ACTIVE")
    lock_kind: Mapped[str | None] = mapped_column(String(16))
    #: Id of the pledge, freeze or reservation that locks the block.
    lock_ref: Mapped[int | None] = mapped_column(Integer)
    #: The organisation that holds the lock (the bank, the court, the reserving market operator):
    #: the only one that may lift it.
    lock_organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    #: The block this one was split from.
    parent_block_id: Mapped[int | None] = mapped_column(ForeignKey("blocks.id"), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, nullable=False
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


# ------------------------------------------------------------------------- pledges, freezes


class Pledge(Base):
    """A pledge (质押) of blocks by a holder to a bank."""

    __tablename__ = "pledges"
    __table_args__ = (
        CheckConstraint(one_of("state", PLEDGE_STATES), name="state"),
        CheckConstraint("quantity >= 1", name="quantity"),
        CheckConstraint("loan_amount_fen >= 0", name="loan_amount_fen"),
        CheckConstraint("valuation_fen >= 0", name="valuation_fen"),
    )

    id: Mapped[int] = _pk()
    holder_organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    bank_organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    state: Mapped[str] = mapped_column(String(16), default="requested")
    quantity: Mapped[int] = mapped_column(Integer)
    loan_amount_fen: Mapped[int | None] = mapped_column(BigInteger)
    valuation_fen: Mapped[int | None] = mapped_column(BigInteger)
    contract_number: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, default="")
    requested_at: Mapped[datetime] = _created()
    activated_at: Mapped[datetime | None] = mapped_column()
    released_at: Mapped[datetime | None] = mapped_column()
    enforced_at: Mapped[datetime | None] = mapped_column()


class PledgeBlock(Base):
    __tablename__ = "pledge_blocks"
    __table_args__ = (
        UniqueConstraint("pledge_id", "block_id"),
        CheckConstraint("quantity >= 1", name="quantity"),
    )

    id: Mapped[int] = _pk()
    pledge_id: Mapped[int] = mapped_column(ForeignKey("pledges.id"))
    block_id: Mapped[int] = mapped_column(ForeignKey("blocks.id"), index=True)
    #: Tonnes of the block covered when it was pledged.
    quantity: Mapped[int] = mapped_column(Integer)


class Freeze(Base):
    """A judicial freeze (司法冻结) by a court."""

    __tablename__ = "freezes"
    __table_args__ = (
        CheckConstraint(one_of("state", FREEZE_STATES), name="state"),
        CheckConstraint("quantity >= 1", name="quantity"),
    )

    id: Mapped[int] = _pk()
    court_organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    holder_organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id"), index=True
    )
    case_number: Mapped[str] = mapped_column(String(128), index=True)
    state: Mapped[str] = mapped_column(String(16), default="active")
    quantity: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text, default="")
    frozen_at: Mapped[datetime] = _created()
    expires_on: Mapped[date | None] = mapped_column()
    released_at: Mapped[datetime | None] = mapped_column()


class FreezeBlock(Base):
    __tablename__ = "freeze_blocks"
    __table_args__ = (
        UniqueConstraint("freeze_id", "block_id"),
        CheckConstraint("quantity >= 1", name="quantity"),
    )

    id: Mapped[int] = _pk()
    freeze_id: Mapped[int] = mapped_column(ForeignKey("freezes.id"))
    block_id: Mapped[int] = mapped_column(ForeignKey("blocks.id"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)


# ------------------------------------------------------------------------------ retirements


class Retirement(Base):
    """The one record of a retired block: who benefits, why, and its certificate."""

    __tablename__ = "retirements"
    __table_args__ = (
        UniqueConstraint("project_id", "serial_start"),
        CheckConstraint(
            f"serial_start >= 1 AND serial_start <= serial_end AND serial_end <= {MAX_SERIAL}",
            name="serial_range",
        ),
        CheckConstraint(
            "quantity >= 1 AND quantity = serial_end - serial_start + 1", name="quantity"
        ),
    )

    id: Mapped[int] = _pk()
    block_id: Mapped[int] = mapped_column(ForeignKey("blocks.id"), unique=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    #: The account the block was retired from.
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    #: The full serial range as printed on the certificate.
    serial: Mapped[str] = mapped_column(String(128), index=True)
    serial_start: Mapped[int] = mapped_column(Integer)
    serial_end: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)
    beneficiary: Mapped[str] = mapped_column(String(300))
    purpose: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, default="")
    certificate_number: Mapped[str] = mapped_column(String(64), unique=True)
    retired_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    retired_at: Mapped[datetime] = _created()


# ------------------------------------------------------------------------ log, idempotency


class Event(Base):
    """The append-only event log. A database trigger refuses UPDATE and DELETE (and TRUNCATE on
    PostgreSQL). ``hash`` = sha256 over ``prev_hash`` and the event's canonical content."""

    __tablename__ = "events"
    __table_args__ = (CheckConstraint("sequence >= 1", name="sequence"),)

    id: Mapped[int] = _pk()
    sequence: Mapped[int] = mapped_column(BigInteger, unique=True)
    type: Mapped[str] = mapped_column(String(64), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    actor: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = _created()
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class IdempotencyKey(Base):
    """A request already answered: a repeat with the same (actor, key) gets the same response."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("actor", "key"),)

    id: Mapped[int] = _pk()
    actor: Mapped[str] = mapped_column(String(128))
    key: Mapped[str] = mapped_column(String(128))
    #: sha256 of the request, so a different request under a reused key is refused.
    request_hash: Mapped[str] = mapped_column(String(64))
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    status_code: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = _created()


# ------------------------------------------------------------- append-only trigger on events

EVENTS_APPEND_ONLY_SQL: dict[str, tuple[str, ...]] = {
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

# ``metadata.create_all`` (quick test databases) installs the same triggers as the migration.
for _dialect, _statements in EVENTS_APPEND_ONLY_SQL.items():
    for _statement in _statements:
        event.listen(Event.__table__, "after_create", DDL(_statement).execute_if(dialect=_dialect))
event.listen(
    Event.__table__,
    "after_drop",
    DDL("DROP FUNCTION IF EXISTS tanhui_events_append_only()").execute_if(dialect="postgresql"),
)


# =============================================================================== development
#
# The project library (项目库), pooling of small holders with their consent (资源统筹, 股份合作,
# 授权), revenue-sharing payouts and loss events. Services: ``tanhui.develop.library``,
# ``tanhui.develop.pooling``, ``tanhui.develop.losses``. Table names start with ``dev_``.

DEV_STAGES = (
    "candidate",
    "feasibility",
    "design",
    "validation",
    "registered",
    "monitoring",
    "issued",
    "closed",
    "withdrawn",
)
RIGHTS_HOLDER_KINDS = ("household", "collective", "state_farm", "company")
SHARING_METHODS = ("by_area", "by_agreed_share", "fixed_split")
PAYOUT_POOLS = ("holders", "collective", "developer")
LOSS_HAZARDS = ("fire", "pests", "illegal_logging", "other")
DOCUMENT_MEDIA_TYPES = ("application/pdf", "image/jpeg", "image/png", "image/tiff")


class DevProject(Base):
    """A project of the library, from candidate to closed (or withdrawn)."""

    __tablename__ = "dev_projects"
    __table_args__ = (
        Index("ix_dev_projects_region_stage", "region_code", "stage"),
        CheckConstraint(one_of("stage", DEV_STAGES), name="stage"),
        CheckConstraint(digits("region_code", 6), name="region_code"),
        CheckConstraint(
            "crediting_start IS NULL OR crediting_end IS NULL OR crediting_start <= crediting_end",
            name="crediting_period",
        ),
    )

    id: Mapped[int] = _pk()
    name: Mapped[str] = mapped_column(String(300))
    scheme: Mapped[str] = mapped_column(String(16))
    methodology: Mapped[str] = mapped_column(String(64))
    #: 6-digit administrative division code of the county (its first two digits: the province).
    region_code: Mapped[str] = mapped_column(String(6))
    county: Mapped[str] = mapped_column(String(100), default="")
    #: The project's owner (业主 / 开发主体): a forest farm, a village collective, a developer.
    owner_organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    stage: Mapped[str] = mapped_column(String(16), default="candidate")
    crediting_start: Mapped[date | None] = mapped_column()
    crediting_end: Mapped[date | None] = mapped_column()
    #: The registry project, once registered here.
    registry_project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"), unique=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, nullable=False
    )


class DevProjectSubcompartment(Base):
    """A sub-compartment (小班) of a library project, with its area."""

    __tablename__ = "dev_project_subcompartments"
    __table_args__ = (
        UniqueConstraint("dev_project_id", "subcompartment_id"),
        CheckConstraint("area_ha >= 0", name="area_ha"),
    )

    id: Mapped[int] = _pk()
    dev_project_id: Mapped[int] = mapped_column(ForeignKey("dev_projects.id"))
    subcompartment_id: Mapped[str] = mapped_column(String(64))
    area_ha: Mapped[float] = mapped_column(Float)


class DevStageChange(Base):
    """One step of a library project's history: who moved it, when, from where to where, why.
    The first row of a project (``from_stage`` NULL) is its creation."""

    __tablename__ = "dev_stage_changes"
    __table_args__ = (
        CheckConstraint(
            "from_stage IS NULL OR " + one_of("from_stage", DEV_STAGES), name="from_stage"
        ),
        CheckConstraint(one_of("to_stage", DEV_STAGES), name="to_stage"),
    )

    id: Mapped[int] = _pk()
    dev_project_id: Mapped[int] = mapped_column(ForeignKey("dev_projects.id"), index=True)
    from_stage: Mapped[str | None] = mapped_column(String(16))
    to_stage: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    #: Who acted (``username#user_id``), also when the user row is gone or was never one.
    actor: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    changed_at: Mapped[datetime] = _created()


class RightsHolder(Base):
    """A holder of forest tenure (林权权利人): a household (农户), a village collective (村集体), a
    state forest farm (国有林场) or a company."""

    __tablename__ = "dev_rights_holders"
    __table_args__ = (
        CheckConstraint(one_of("kind", RIGHTS_HOLDER_KINDS), name="kind"),
        CheckConstraint(digits("region_code", 6), name="region_code"),
    )

    id: Mapped[int] = _pk()
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    #: 身份证号 of a household or 统一社会信用代码 of an organisation; shown masked.
    id_number: Mapped[str | None] = mapped_column(String(18), unique=True)
    village: Mapped[str] = mapped_column(String(100), default="")
    region_code: Mapped[str | None] = mapped_column(String(6))
    #: The organisation that pools this holder's parcels and keeps its record (a collective,
    #: a state farm, a developer); NULL when the forestry bureau keeps it.
    pooled_by_organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id"), index=True
    )
    created_at: Mapped[datetime] = _created()


class Parcel(Base):
    """A holder's forest land: a sub-compartment (or its part) in a county, with its area."""

    __tablename__ = "dev_parcels"
    __table_args__ = (
        UniqueConstraint("holder_id", "region_code", "subcompartment_id"),
        Index("ix_dev_parcels_land", "region_code", "subcompartment_id"),
        CheckConstraint("area_ha > 0", name="area_ha"),
        CheckConstraint(digits("region_code", 6), name="region_code"),
    )

    id: Mapped[int] = _pk()
    holder_id: Mapped[int] = mapped_column(ForeignKey("dev_rights_holders.id"))
    region_code: Mapped[str] = mapped_column(String(6))
    subcompartment_id: Mapped[str] = mapped_column(String(64))
    area_ha: Mapped[float] = mapped_column(Float)
    #: 林权证号 / 不动产权证号, when known.
    tenure_certificate: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = _created()


class Authorization(Base):
    """A holder's consent (授权) for a library project: all its parcels in the project, or one
    (``parcel_id``). Valid from ``valid_from`` to ``expires_on`` (inclusive; NULL = no term) unless
    revoked on ``revoked_on``."""

    __tablename__ = "dev_authorizations"
    __table_args__ = (
        CheckConstraint("expires_on IS NULL OR expires_on >= valid_from", name="term"),
        CheckConstraint("revoked_on IS NULL OR revoked_on >= signed_on", name="revoked_on"),
        CheckConstraint("share_bp IS NULL OR (share_bp >= 0 AND share_bp <= 10000)", name="share"),
    )

    id: Mapped[int] = _pk()
    holder_id: Mapped[int] = mapped_column(ForeignKey("dev_rights_holders.id"), index=True)
    dev_project_id: Mapped[int] = mapped_column(ForeignKey("dev_projects.id"), index=True)
    parcel_id: Mapped[int | None] = mapped_column(ForeignKey("dev_parcels.id"), index=True)
    #: Who signed (the holder, the head of the household, an agent with a power of attorney).
    signatory: Mapped[str] = mapped_column(String(200))
    signed_on: Mapped[date] = mapped_column()
    valid_from: Mapped[date] = mapped_column()
    expires_on: Mapped[date | None] = mapped_column()
    #: The holder's agreed share of the project's revenue, in basis points (1/10,000).
    share_bp: Mapped[int | None] = mapped_column(Integer)
    revoked_on: Mapped[date | None] = mapped_column()
    revoke_reason: Mapped[str] = mapped_column(Text, default="")
    note: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(128))
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = _created()


class DevDocument(Base):
    """A scanned document (PDF or image) of a library project, or of one of its authorizations.

    The bytes are kept in the database as base64 text (portable, and the JSON-lines backups carry
    them unchanged), with their sha256 and size; the service checks both on every download."""

    __tablename__ = "dev_documents"
    __table_args__ = (
        CheckConstraint(one_of("media_type", DOCUMENT_MEDIA_TYPES), name="media_type"),
        CheckConstraint("size_bytes >= 1", name="size_bytes"),
        CheckConstraint("length(sha256) = 64", name="sha256"),
    )

    id: Mapped[int] = _pk()
    dev_project_id: Mapped[int] = mapped_column(ForeignKey("dev_projects.id"), index=True)
    authorization_id: Mapped[int | None] = mapped_column(
        ForeignKey("dev_authorizations.id"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32), default="other")
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    content_base64: Mapped[str] = mapped_column(Text)
    note: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(128))
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = _created()


class SharingRuleRow(Base):
    """A library project's revenue-sharing rule (股份合作); see ``tanhui.develop.sharing``. The
    developer is the project's owner."""

    __tablename__ = "dev_sharing_rules"
    __table_args__ = (
        CheckConstraint(one_of("method", SHARING_METHODS), name="method"),
        CheckConstraint(
            "holders_bp >= 0 AND collective_bp >= 0 AND developer_bp >= 0 "
            "AND holders_bp + collective_bp + developer_bp = 10000",
            name="split",
        ),
    )

    id: Mapped[int] = _pk()
    dev_project_id: Mapped[int] = mapped_column(ForeignKey("dev_projects.id"), unique=True)
    method: Mapped[str] = mapped_column(String(16), default="by_area")
    holders_bp: Mapped[int] = mapped_column(Integer, default=10_000)
    collective_bp: Mapped[int] = mapped_column(Integer, default=0)
    developer_bp: Mapped[int] = mapped_column(Integer, default=0)
    actor: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, nullable=False
    )


class DevPayout(Base):
    """A sale's revenue shared out to the holders of a pooled project. ``reference`` (the sale
    contract) is unique per project, so one sale is never paid out twice."""

    __tablename__ = "dev_payouts"
    __table_args__ = (
        UniqueConstraint("dev_project_id", "reference"),
        CheckConstraint("revenue_fen >= 1", name="revenue_fen"),
        CheckConstraint("tonnes IS NULL OR tonnes >= 1", name="tonnes"),
        CheckConstraint(one_of("method", SHARING_METHODS), name="method"),
    )

    id: Mapped[int] = _pk()
    dev_project_id: Mapped[int] = mapped_column(ForeignKey("dev_projects.id"))
    sold_on: Mapped[date] = mapped_column()
    revenue_fen: Mapped[int] = mapped_column(BigInteger)
    tonnes: Mapped[int | None] = mapped_column(Integer)
    reference: Mapped[str | None] = mapped_column(String(128))
    method: Mapped[str] = mapped_column(String(16))
    #: The rule as applied (method and split), kept with the payout.
    rule: Mapped[dict[str, Any]] = mapped_column(JSON)
    actor: Mapped[str] = mapped_column(String(128))
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = _created()


class DevPayoutLine(Base):
    """One payee's amount in a payout: a rights holder, or the developer (the owner)."""

    __tablename__ = "dev_payout_lines"
    __table_args__ = (
        CheckConstraint(one_of("pool", PAYOUT_POOLS), name="pool"),
        CheckConstraint("amount_fen >= 0", name="amount_fen"),
        CheckConstraint(
            "(holder_id IS NULL AND organisation_id IS NOT NULL) OR "
            "(holder_id IS NOT NULL AND organisation_id IS NULL)",
            name="payee",
        ),
    )

    id: Mapped[int] = _pk()
    payout_id: Mapped[int] = mapped_column(ForeignKey("dev_payouts.id"), index=True)
    pool: Mapped[str] = mapped_column(String(16))
    holder_id: Mapped[int | None] = mapped_column(ForeignKey("dev_rights_holders.id"), index=True)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    #: The payee's weight in its pool as used (an area in ha, or a share), as decimal text.
    weight: Mapped[str] = mapped_column(String(64))
    amount_fen: Mapped[int] = mapped_column(BigInteger)


class LossEvent(Base):
    """A loss (fire 火灾, pests 病虫害, illegal logging 盗伐, other) on a sub-compartment of a
    library project; once reversed in the registry, the tonnes cancelled and the ledger's answer."""

    __tablename__ = "dev_loss_events"
    __table_args__ = (
        CheckConstraint(one_of("hazard", LOSS_HAZARDS), name="hazard"),
        CheckConstraint("area_ha > 0", name="area_ha"),
        CheckConstraint("share_lost > 0 AND share_lost <= 1", name="share_lost"),
        CheckConstraint("tonnes_lost IS NULL OR tonnes_lost >= 0", name="tonnes_lost"),
        CheckConstraint(
            "reversed_quantity IS NULL OR reversed_quantity >= 1", name="reversed_quantity"
        ),
    )

    id: Mapped[int] = _pk()
    dev_project_id: Mapped[int] = mapped_column(ForeignKey("dev_projects.id"), index=True)
    subcompartment_id: Mapped[str] = mapped_column(String(64))
    hazard: Mapped[str] = mapped_column(String(16))
    occurred_on: Mapped[date] = mapped_column()
    #: Area lost (ha) and its share of the sub-compartment's area (one is given, one derived).
    area_ha: Mapped[float] = mapped_column(Float)
    share_lost: Mapped[float] = mapped_column(Float)
    #: Estimated tCO2e lost, when known.
    tonnes_lost: Mapped[float | None] = mapped_column(Float)
    note: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(128))
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = _created()
    reversed_quantity: Mapped[int | None] = mapped_column(Integer)
    reversed_at: Mapped[datetime | None] = mapped_column()
    reversal: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))


#: Every table, parents before children (the order of backups and restores).
TABLES = tuple(metadata.sorted_tables)
