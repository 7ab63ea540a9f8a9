"""Request and response models of the registry endpoints (:mod:`tanhui.api.routers.registry`).

Requests are validated here, before the ledger sees them: every string has the length of its
database column and no control characters, every integer fits its column, dates come in order.
A request the ledger would refuse for its *content* (a state, a balance, a role) is the
ledger's to refuse; a request that is malformed never reaches it (422).

Responses mirror what the ledger returns (plain dicts), so an idempotent replay, which returns
the ledger's stored answer, has the same body as the first response.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from tanhui.registry.lifecycle import BlockState, IssuanceState
from tanhui.registry.serials import MAX_SERIAL

__all__ = [
    "MAX_ID",
    "AccountNumber",
    "BalanceOut",
    "BlockOut",
    "CertificateOut",
    "EventOut",
    "ExportIn",
    "ExternalIssuanceIn",
    "ExternalIssuanceOut",
    "FreezeIn",
    "FreezeOut",
    "ImportIn",
    "IssuanceIn",
    "IssuanceOut",
    "IssuanceStepOut",
    "IssuanceSubmittedOut",
    "LookupOut",
    "MeasureResultIn",
    "MonitoringReportOut",
    "PledgeIn",
    "PledgeOut",
    "PledgeRequestedOut",
    "ProjectIn",
    "ProjectOut",
    "RejectIn",
    "RetireIn",
    "RetirementOut",
    "ReversalIn",
    "ReversalOut",
    "ReviewItemOut",
    "TransferIn",
    "UnfreezeOut",
    "VerifyOut",
]

#: Largest id accepted in a path or body (the tables' integer keys are 32-bit on PostgreSQL).
MAX_ID = 2**31 - 1
#: Largest amount of money in fen (a BIGINT column).
MAX_FEN = 2**63 - 1

# Schemes a project here may be registered under (the serial format's default set).
Scheme = Literal["SMCER", "GZCT", "CCER", "FFCER", "VCS", "GS"]
RetirementPurpose = Literal[
    "carbon_neutral_event",
    "judicial_restoration",
    "tree_planting_duty",
    "carbon_inclusion",
    "enterprise_offset",
    "zero_carbon",
    "cross_regional",
    "voluntary",
    "other",
]

_LINE = r"^[^\x00-\x1f\x7f]*$"  # one line: no control characters
_TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"  # may span lines (tab, LF, CR allowed)


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank / 不能为空白")
    return value


def _line(max_length: int) -> Any:
    """A one-line, not blank string of at most ``max_length`` characters."""
    return Annotated[
        str,
        StringConstraints(min_length=1, max_length=max_length, pattern=_LINE),
        AfterValidator(_not_blank),
    ]


Line64 = _line(64)
Line128 = _line(128)
Line200 = _line(200)
Line300 = _line(300)
Note = Annotated[str, StringConstraints(max_length=2000, pattern=_TEXT)]
Reason = Annotated[
    str, StringConstraints(min_length=1, max_length=2000, pattern=_TEXT), AfterValidator(_not_blank)
]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Tonnes = Annotated[int, Field(ge=1, le=MAX_SERIAL, description="整吨 / whole tonnes (tCO2e)")]
RegionCode = Annotated[
    str,
    Field(
        pattern=r"^[0-9]{6}$",
        description="6 位行政区划代码 / 6-digit administrative division code",
        examples=["350427"],
    ),
]
AccountNumber = Annotated[
    str,
    Field(
        min_length=1,
        max_length=32,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="账户号 / account number",
        examples=["H00000007"],
    ),
]
SubcompartmentId = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --------------------------------------------------------------------------------- blocks


class BlockOut(_Out):
    """A serial block: an inclusive range of serials (1 serial = 1 tCO2e) in one account."""

    id: int
    serial: str = Field(examples=["SMCER-350499-000001-20162021-000000001-000012723"])
    quantity: int = Field(ge=1, description="吨 / tonnes")
    state: BlockState
    account: str
    holder_organisation_id: int
    project_id: int
    scheme: str
    lock_kind: Literal["reservation", "pledge", "freeze", "offset"] | None = None
    lock_ref: int | None = None


class BalanceOut(BaseModel):
    """Tonnes held by an organisation: live balance, available (ACTIVE), and per state."""

    organisation_id: int | None
    balance: int = Field(ge=0, description="在册（未注销、未作废、未转出）/ live tonnes")
    available: int = Field(ge=0, description="可用（ACTIVE）/ available tonnes")
    by_state: dict[BlockState, int] = Field(description="每种状态的吨数 / tonnes per state")


class TransferIn(_In):
    quantity: Tonnes
    to_account: AccountNumber


class PledgeIn(_In):
    quantity: Tonnes
    bank_organisation_id: Id
    loan_amount_fen: int | None = Field(
        default=None, ge=0, le=MAX_FEN, description="贷款金额（分）/ loan amount in fen"
    )
    contract_number: Line64 | None = None


class PledgeRequestedOut(BaseModel):
    pledge_id: int
    state: Literal["requested", "active", "released", "enforced", "rejected"]
    block: BlockOut


class PledgeOut(BaseModel):
    pledge_id: int
    state: Literal["requested", "active", "released", "enforced", "rejected"]
    quantity: int


class FreezeIn(_In):
    quantity: Tonnes
    case_number: Line128 = Field(examples=["(2026)闽0499民初66号"])
    reason: Note = ""


class FreezeOut(BaseModel):
    freeze_id: int
    block: BlockOut


class UnfreezeOut(BaseModel):
    freeze_id: int
    state: Literal["active", "released", "enforced"]


class RetireIn(_In):
    quantity: Tonnes
    beneficiary: Line300 = Field(examples=["2026 海峡林业博览会"])
    purpose: RetirementPurpose
    note: Note = ""


class RetirementOut(BaseModel):
    """A retirement and its certificate (注销证明)."""

    certificate_number: str = Field(examples=["TH-2026-000001"])
    serials: list[str]
    quantity: int
    beneficiary: str
    purpose: RetirementPurpose
    note: str
    retired_at: datetime
    holder_organisation_id: int
    certificate_url: str = Field(description="证明（JSON）/ the certificate as JSON")
    pdf_url: str = Field(description="证明（PDF）/ the certificate as PDF")
    html_url: str = Field(description="证明（HTML）/ the certificate as HTML")
    verification_url: str = Field(description="公开核验页面 / public verification page")


class ExportIn(_In):
    quantity: Tonnes | None = Field(
        default=None, description="省略则转出整个序号段 / omit: the whole block"
    )
    destination: Line200 = Field(examples=["CCER 注册登记系统"])


class ImportIn(_In):
    serial: Line128 = Field(examples=["SMCER-350499-000001-20162021-000000001-000000100"])
    to_account: AccountNumber
    source: Line200


class ReversalIn(_In):
    quantity: Tonnes
    reason: Reason = Field(examples=["2026 年 3 月山火"])


class ReversalCancelled(BaseModel):
    buffer: int = Field(ge=0)
    owner: int = Field(ge=0)


class ReversalOut(BaseModel):
    project_id: int
    cancelled: ReversalCancelled
    reason: str


# ------------------------------------------------------------------------------- projects


class SubcompartmentIn(_In):
    id: SubcompartmentId = Field(examples=["350427-01-02-015-03"])
    area_ha: float = Field(ge=0, le=1e7, allow_inf_nan=False, description="公顷 / hectares")


class ProjectIn(_In):
    scheme: Scheme
    region_code: RegionCode
    name: Line300 = Field(examples=["溪口村林业碳票项目"])
    methodology: Line64 = Field(examples=["smcer"])
    crediting_start: date
    crediting_end: date
    owner_organisation_id: Id | None = Field(
        default=None, description="省略则为本机构 / omit: the caller's organisation"
    )
    subcompartments: list[SubcompartmentIn] = Field(default_factory=list, max_length=200_000)

    @model_validator(mode="after")
    def _check(self) -> ProjectIn:
        if self.crediting_start > self.crediting_end:
            raise ValueError("crediting_start must not be after crediting_end / 计入期起止颠倒")
        ids = [s.id for s in self.subcompartments]
        if len(set(ids)) != len(ids):
            raise ValueError("subcompartment ids must be unique / 小班号重复")
        return self


class ProjectOut(_Out):
    id: int
    project_number: str = Field(examples=["000001"])
    scheme: str
    region_code: str
    name: str
    methodology: str
    crediting_start: date
    crediting_end: date
    owner_organisation_id: int
    status: Literal["DRAFT", "REGISTERED", "SUSPENDED", "CLOSED"]
    subcompartments: int = Field(ge=0, description="小班数 / number of sub-compartments")
    created_at: datetime


# ----------------------------------------------------------------------- monitoring reports


class ResultRowIn(BaseModel):
    """One sub-compartment of a measurement result (other per-row columns are kept as given)."""

    model_config = ConfigDict(extra="allow")

    id: SubcompartmentId
    tco2e: float | None = Field(default=None, allow_inf_nan=False)
    reasons: str = Field(default="", max_length=2000)


class ProvenanceIn(BaseModel):
    """What the result was computed from (see ``tanhui measure``); kept as given."""

    model_config = ConfigDict(extra="allow")

    method: dict[str, Any] = Field(examples=[{"name": "smcer", "version": "1"}])


class MeasureResultIn(BaseModel):
    """The JSON document written by ``tanhui measure … --format json`` (extra keys kept)."""

    model_config = ConfigDict(extra="allow")

    total_tco2e: float = Field(ge=-1e9, le=1e9, allow_inf_nan=False)
    provenance: ProvenanceIn
    rows: list[ResultRowIn] = Field(default_factory=list, max_length=5_000_000)


class MonitoringReportOut(BaseModel):
    id: int
    measured_tco2e: float
    issuable_tco2e: int = Field(ge=0, description="向下取整的吨数 / whole tonnes (rounded down)")
    subcompartments: int = Field(ge=0)


# ------------------------------------------------------------------------------- issuance


class IssuanceIn(_In):
    quantity: Tonnes | None = Field(
        default=None, description="省略则为剩余全部可签发量 / omit: all that is left to issue"
    )


class IssuanceSubmittedOut(BaseModel):
    id: int
    quantity: int
    buffer_quantity: int
    state: IssuanceState


class IssuanceStepOut(BaseModel):
    id: int
    state: IssuanceState
    blocks: list[BlockOut] = Field(description="制发产生的序号段 / the blocks an issue created")


class RejectIn(_In):
    reason: Reason = Field(examples=["样地复测数据不全"])


class ReviewItemOut(BaseModel):
    id: int
    project_id: int
    quantity: int
    buffer_quantity: int
    state: IssuanceState
    submitted_at: datetime


class IssuanceOut(_Out):
    id: int
    project_id: int
    monitoring_report_id: int
    quantity: int
    buffer_quantity: int
    state: IssuanceState
    submitted_at: datetime
    verified_at: datetime | None = None
    approved_at: datetime | None = None
    filed_at: datetime | None = None
    issued_at: datetime | None = None
    rejected_at: datetime | None = None
    rejected_from_state: IssuanceState | None = None
    rejection_reason: str | None = None


class ExternalIssuanceIn(_In):
    """Land issued by another registry (CCER, VCS, another province …)."""

    scheme: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9]{1,15}$", examples=["CCER"])]
    region_code: RegionCode
    project_ref: Line64
    reference: Line128
    subcompartments: list[SubcompartmentId] = Field(min_length=1, max_length=100_000)
    period_start: date
    period_end: date

    @model_validator(mode="after")
    def _check(self) -> ExternalIssuanceIn:
        if self.period_start > self.period_end:
            raise ValueError("period_start must not be after period_end / 期间起止颠倒")
        return self


class ExternalIssuanceOut(BaseModel):
    claims: int
    reference: str


# --------------------------------------------------------------------------------- public


class CertificateRecord(BaseModel):
    """A retirement as the public sees it."""

    certificate_number: str
    serial: str
    quantity: int
    beneficiary: str
    purpose: RetirementPurpose
    note: str
    retired_at: datetime
    holder: str | None
    project: str | None
    scheme: str | None
    region_code: str | None


class LookupCertificate(CertificateRecord):
    kind: Literal["certificate"]


class LookupBlock(BaseModel):
    serial: str
    quantity: int
    state: BlockState
    holder: str | None
    project: str | None
    scheme: str
    region_code: str
    period: str = Field(examples=["2016–2021"])
    retirement: CertificateRecord | None = None


class LookupSerial(BaseModel):
    kind: Literal["serial"]
    query: str
    blocks: list[LookupBlock]


LookupOut = Annotated[LookupCertificate | LookupSerial, Field(discriminator="kind")]


class CertificateOut(CertificateRecord):
    monitoring_period: str = Field(examples=["2016–2021"])
    verification_url: str
    pdf_url: str
    html_url: str


# ---------------------------------------------------------------------------------- audit


class EventOut(_Out):
    sequence: int
    type: str
    actor: str
    created_at: datetime
    payload: dict[str, Any]
    prev_hash: str
    hash: str


class VerifyOut(BaseModel):
    ok: bool
    problems: list[str]
