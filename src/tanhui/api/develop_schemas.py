"""Request and response models of the development endpoints (:mod:`tanhui.api.routers.develop`).

Requests are bounded here, before a service sees them (the registry's conventions,
:mod:`tanhui.api.registry_schemas`): strings have their column's length and no control
characters, integers fit their columns, dates lie between 1900 and 2199, areas and tonnes are
finite and below what any county holds. What a service refuses for its *content* (a stage, a
role, a sub-compartment that is not in the project) is the service's to refuse.

Responses mirror the services' views (:mod:`tanhui.develop.library`, :mod:`~tanhui.develop.pooling`,
:mod:`~tanhui.develop.losses`) and documents (``ScreeningReport.summary``,
``FeasibilityStudy.to_dict``): the figures a county decides on are typed; the long tail
(provenance, the cash-flow rows, the risk model's settings) stays an object, documented as such.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tanhui.api.registry_schemas import (
    MAX_FEN,
    MAX_ID,
    Id,
    Line64,
    Line128,
    Line200,
    Line300,
    Note,
    Reason,
    RegionCode,
    SubcompartmentId,
)
from tanhui.develop.lifecycle import Stage
from tanhui.develop.sharing import HOLDER_KINDS, METHODS

__all__ = [
    "DAY_MAX",
    "DAY_MIN",
    "AdvanceIn",
    "AuthorizationOut",
    "ConsentGapOut",
    "CostTableOut",
    "CountyStatsOut",
    "Day",
    "DevProjectIn",
    "DevProjectOut",
    "DevProjectPatch",
    "DevProjectSummaryOut",
    "DocumentOut",
    "FeasibilityOut",
    "HolderIn",
    "HolderOut",
    "LossEventIn",
    "LossEventOut",
    "MoveIn",
    "ParcelIn",
    "ParcelOut",
    "PayoutIn",
    "PayoutOut",
    "ProvinceStatsOut",
    "RegistryLinkIn",
    "ReversalRequestIn",
    "RevokeIn",
    "RiskInputOut",
    "RuleSetOut",
    "SchemeOut",
    "ScreeningOut",
    "SharingRuleIn",
    "SharingRuleOut",
    "StageChangeOut",
    "WithdrawIn",
]

DAY_MIN = date(1900, 1, 1)
DAY_MAX = date(2199, 12, 31)
#: A calendar day a county could mean (signatures, terms, losses, sales).
Day = Annotated[date, Field(ge=DAY_MIN, le=DAY_MAX)]
#: An area in hectares: positive, finite, below any county's forest.
AreaHa = Annotated[
    float, Field(gt=0, le=1e7, allow_inf_nan=False, description="公顷 / hectares", examples=[3.2])
]
HolderKind = Literal["household", "collective", "state_farm", "company"]
Hazard = Literal["fire", "pests", "illegal_logging", "other"]
SharingMethod = Literal["by_area", "by_agreed_share", "fixed_split"]
DocumentKind = Literal[
    "authorization",
    "tenure_certificate",
    "feasibility",
    "design",
    "validation",
    "monitoring",
    "map",
    "other",
]
assert tuple(HolderKind.__args__) == HOLDER_KINDS  # type: ignore[attr-defined]
assert tuple(SharingMethod.__args__) == METHODS  # type: ignore[attr-defined]
#: The schemes a library project may be developed under (the registry's serial schemes).
LibraryScheme = Annotated[
    str,
    Field(
        pattern=r"^(SMCER|GZCT|CCER|FFCER|VCS|GS|smcer|gzct|ccer|ffcer|vcs|gs)$",
        description="机制 / scheme (SMCER, GZCT, CCER, FFCER, VCS, GS)",
        examples=["SMCER"],
    ),
]
BasisPoints = Annotated[int, Field(ge=0, le=10_000, description="万分比 / basis points")]
Text2000 = Annotated[str, Field(max_length=2000, pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$")]
Text10k = Annotated[str, Field(max_length=10_000, pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$")]
Line100Blank = Annotated[str, Field(max_length=100, pattern=r"^[^\x00-\x1f\x7f]*$")]
Line64Blank = Annotated[str, Field(max_length=64, pattern=r"^[^\x00-\x1f\x7f]*$")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Open(BaseModel):
    """A document whose members beyond the typed ones are passed through as they are."""

    model_config = ConfigDict(extra="allow")


class Links(BaseModel):
    """Where to fetch a result again and its downloads (absolute URLs)."""

    self: str
    downloads: dict[str, str] = Field(
        description="格式 → 下载地址 / format → download URL", examples=[{"csv": "…", "xlsx": "…"}]
    )


# ------------------------------------------------------------------------------ rules, costs


class SchemeOut(BaseModel):
    """A shipped rule set (one per scheme and methodology)."""

    scheme: str = Field(examples=["smcer"])
    title: str
    methodology: str
    version: str
    rules: int = Field(ge=0, description="规则数 / number of rules")
    hash: str


class RuleOut(BaseModel):
    bit: int = Field(ge=0)
    id: str = Field(examples=["forest_category"])
    reason: str = Field(description="不合格原因 / why a sub-compartment fails it")
    check: str = Field(description="判定条件 / the check, as text")
    status: str = Field(description="核实状态 / verified, inference, to confirm …")
    source: str = Field(description="依据 / the source of the rule")


class RuleSetOut(BaseModel):
    scheme: str
    title: str
    methodology: str
    version: str
    origin: str
    hash: str
    notes: list[str]
    rules: list[RuleOut]


class CostItemOut(_Open):
    key: str
    name: str
    unit: str
    unit_label: str
    amount: float
    status: str
    source: str


class CostTableOut(_Open):
    """The cost table feasibility studies use by default (every default labelled)."""

    name: str
    version: str
    hash: str
    currency: str
    status: str
    note: str
    items: list[CostItemOut]


# ---------------------------------------------------------------------------------- screening


class TotalsOut(BaseModel):
    """Totals over a set of sub-compartments (the whole inventory or one breakdown label)."""

    rows: int = Field(ge=0)
    area_ha: float
    eligible_rows: int = Field(ge=0)
    eligible_area_ha: float
    eligible_area_mu: float
    tco2e_per_yr: float = Field(description="合格小班预计年碳汇 / expected tCO2e a year")
    tco2e_crediting_period: float | None = None
    eligible_rows_without_estimate: int = Field(ge=0)


class ReasonOut(BaseModel):
    id: str
    reason: str
    status: str
    source: str
    rows: int = Field(ge=0, description="不合格小班数 / rows failing the rule")
    checked: bool = Field(description="是否核对 / false when the data to check it was missing")


class InventoryOut(_Open):
    file: str
    format: str
    encoding: str | None = None
    rows: int = Field(ge=0)
    content_hash: str
    survey_year: float | None = None


class ScreeningRowOut(BaseModel):
    id: str | None
    eligible: bool
    reasons: str = Field(description="原因代码，逗号分隔 / reason codes, comma-separated")
    reason_texts: str
    area_ha: float | None
    area_mu: float | None
    expected_tco2e_per_yr: float | None
    estimate: str
    species_group: str | None = None
    village: str | None = None
    owner: str | None = None
    township: str | None = None


class ScreeningSummaryOut(BaseModel):
    scheme: str
    title: str
    methodology: str
    rules: dict[str, Any] = Field(description="规则集版本与哈希 / the rule set's version and hash")
    start_year: float | None = None
    crediting_years: float | None = None
    growth_years: float | None = None
    totals: TotalsOut
    reasons: list[ReasonOut]
    unchecked: list[str] = Field(description="未核对的规则 / rules not checked")
    estimates: dict[str, int]
    notes: list[str]
    by_village: dict[str, TotalsOut] = Field(default_factory=dict)
    by_owner: dict[str, TotalsOut] | None = Field(
        default=None, description="按权利人（可行性结果中省略）/ by rights holder"
    )
    by_species_group: dict[str, TotalsOut] = Field(default_factory=dict)
    by_township: dict[str, TotalsOut] = Field(default_factory=dict)
    inventory: InventoryOut
    provenance: dict[str, Any]


class ScreeningOut(ScreeningSummaryOut):
    """A screening of an uploaded inventory: totals, every reason with its count, breakdowns by
    village, owner, species group and township, provenance, and (``?rows=true``) every row."""

    id: str = Field(description="结果编号 / result id", examples=["3f2a…"])
    expires_at: datetime = Field(description="结果保留至 / kept until")
    links: Links
    rows: list[ScreeningRowOut] | None = Field(
        default=None, description="逐小班结果（?rows=true）/ every row (with ?rows=true)"
    )


# -------------------------------------------------------------------------------- feasibility


class HeadlineOut(BaseModel):
    """The figures a county decides on."""

    sub_compartments: int = Field(ge=0)
    area_mu: float
    area_ha: float
    tonnes_sequestered: float
    tonnes_issued: int
    npv: float = Field(description="净现值（元，基准价格）/ NPV in yuan (base price)")
    irr: float | None = None
    payback_year: int | None = None
    break_even_price: float | None = Field(default=None, description="元/吨 / yuan per tonne")
    npv_per_mu: float
    probability_of_loss: float | None = None
    recommended_buffer_share: float | None = None


class SensitivityOut(_Open):
    factor: str = Field(examples=["price"])
    factor_label: str
    change: float = Field(description="相对变化 / relative change, e.g. -0.2")
    npv: float
    irr: float | None = None


class ScenarioOut(_Open):
    """One price scenario: NPV, IRR, payback, per-亩 and per-tonne economics, sensitivity and the
    yearly cash flows (``rows``)."""

    npv: float
    irr: dict[str, Any]
    payback_year: int | None = None
    discounted_payback_year: int | None = None
    break_even_price: float | None = None
    totals: dict[str, float | None]
    per_mu: dict[str, float | None]
    per_tonne: dict[str, float | None]
    sensitivity: list[SensitivityOut]
    inputs: dict[str, Any]
    cost_table: dict[str, Any]
    rows: list[dict[str, Any]] = Field(description="逐年现金流 / the yearly cash flows")


class QuantilesOut(BaseModel):
    p10: float | None
    p50: float | None
    p90: float | None
    mean: float | None


class RiskOut(_Open):
    """The Monte Carlo of fire, pests, growth and price (seeded, reproducible)."""

    paths: int
    seed: int
    credited_tonnes: QuantilesOut
    issued_tonnes: QuantilesOut
    npv: QuantilesOut
    probability_of_loss: float
    expected_lost_tonnes: float
    recommended_buffer_share: float
    buffer_definition: str
    settings: dict[str, Any]


class FeasibilityOut(BaseModel):
    """A feasibility study of the candidate project in an uploaded inventory."""

    id: str = Field(description="结果编号 / result id")
    expires_at: datetime
    links: Links
    name: str
    headline: HeadlineOut
    base_scenario: str
    screening: ScreeningSummaryOut
    selection: dict[str, Any] | None = None
    ex_ante: dict[str, Any]
    scenarios: dict[str, ScenarioOut]
    risk: RiskOut | None = None
    provenance: dict[str, Any]


# ----------------------------------------------------------------------------- project library


class SubcompartmentIn(_In):
    id: SubcompartmentId = Field(examples=["350499-01-01-001-01"])
    area_ha: AreaHa


class SubcompartmentOut(BaseModel):
    subcompartment_id: str
    area_ha: float


def _unique_subcompartments(items: list[SubcompartmentIn] | None) -> None:
    if items is None:
        return
    seen: set[str] = set()
    for item in items:
        key = item.id.strip()
        if key in seen:
            raise ValueError(f"sub-compartment {key} is listed twice / 小班重复")
        seen.add(key)


class DevProjectIn(_In):
    """A candidate project for the library (it starts at ``candidate``)."""

    name: Line300 = Field(examples=["溪口村林业碳票项目"])
    scheme: LibraryScheme
    methodology: Line64 = Field(examples=["smcer"])
    region_code: RegionCode
    county: Line100Blank = Field(default="", examples=["明溪县"])
    owner_organisation_id: Id | None = Field(
        default=None, description="业主机构（默认为本机构）/ owner (default: your organisation)"
    )
    subcompartments: list[SubcompartmentIn] = Field(default_factory=list, max_length=200_000)
    crediting_start: Day | None = None
    crediting_end: Day | None = None
    notes: Text10k = ""

    @model_validator(mode="after")
    def _check(self) -> DevProjectIn:
        _unique_subcompartments(self.subcompartments)
        if (
            self.crediting_start
            and self.crediting_end
            and self.crediting_start > self.crediting_end
        ):
            raise ValueError("crediting_start is after crediting_end / 计入期起晚于止")
        return self


class DevProjectPatch(_In):
    """What to change; members left out stay as they are (``null`` clears a crediting date)."""

    name: Line300 | None = None
    scheme: LibraryScheme | None = None
    methodology: Line64 | None = None
    region_code: RegionCode | None = None
    county: Line100Blank | None = None
    subcompartments: list[SubcompartmentIn] | None = Field(default=None, max_length=200_000)
    crediting_start: Day | None = None
    crediting_end: Day | None = None
    notes: Text10k | None = None

    @model_validator(mode="after")
    def _check(self) -> DevProjectPatch:
        _unique_subcompartments(self.subcompartments)
        for name in ("name", "scheme", "methodology", "region_code", "county", "notes"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} may not be null / {name} 不能为 null")
        if "subcompartments" in self.model_fields_set and self.subcompartments is None:
            raise ValueError("subcompartments may not be null / subcompartments 不能为 null")
        return self


class DevProjectSummaryOut(BaseModel):
    """A library project in a list (its sub-compartments counted, not listed)."""

    id: int
    name: str
    scheme: str
    methodology: str
    region_code: str
    county: str
    owner_organisation_id: int
    owner_name: str
    stage: Stage
    stage_label: str
    next_stages: list[Stage]
    crediting_start: date | None = None
    crediting_end: date | None = None
    registry_project_id: int | None = None
    subcompartment_count: int = Field(ge=0)
    area_ha: float
    created_at: datetime
    updated_at: datetime


class DevProjectOut(DevProjectSummaryOut):
    """A library project with its sub-compartments and notes."""

    notes: str
    subcompartments: list[SubcompartmentOut]


class AdvanceIn(_In):
    note: Text2000 = ""


class MoveIn(_In):
    to: Stage = Field(description="目标阶段 / the stage to move to")
    note: Text2000 = ""


class WithdrawIn(_In):
    reason: Reason = Field(examples=["村民代表大会未通过"])


class RegistryLinkIn(_In):
    registry_project_id: Id


class StageChangeOut(BaseModel):
    id: int
    from_stage: Stage | None
    to_stage: Stage
    to_stage_label: str
    note: str
    actor: str
    user_id: int | None
    changed_at: datetime


class DocumentOut(BaseModel):
    id: int
    dev_project_id: int
    authorization_id: int | None
    kind: DocumentKind
    filename: str
    media_type: str
    size_bytes: int
    sha256: str
    note: str
    actor: str
    uploaded_at: datetime
    download_url: str


class TallyOut(BaseModel):
    count: int = Field(ge=0)
    area_ha: float


class CountyStatsOut(BaseModel):
    """A county's library: by stage and scheme, its reserve (projects not yet registered) and
    whether that is below the minimum (Mingxi: at least 2)."""

    region_code: str
    county: str
    projects: int
    area_ha: float
    by_stage: dict[str, TallyOut]
    by_scheme: dict[str, TallyOut]
    open: int
    reserve: int
    reserve_min: int
    below_reserve: bool


class ProvinceStatsOut(BaseModel):
    province_code: str
    projects: int
    area_ha: float
    by_stage: dict[str, TallyOut]
    by_scheme: dict[str, TallyOut]
    counties: list[CountyStatsOut]
    reserve_min: int
    below_reserve: list[CountyStatsOut]


# ------------------------------------------------------------------------------------- pooling


class HolderIn(_In):
    kind: HolderKind
    name: Line200 = Field(examples=["刘斌明"])
    village: Line100Blank = Field(default="", examples=["溪口村"])
    region_code: RegionCode | None = None
    id_number: Annotated[str, Field(pattern=r"^[0-9A-Za-z]{18}$")] | None = Field(
        default=None,
        description="身份证号或统一社会信用代码（只以遮挡形式显示）/ id number (shown masked)",
    )
    pooled_by_organisation_id: Id | None = None


class ParcelIn(_In):
    region_code: RegionCode
    subcompartment_id: SubcompartmentId
    area_ha: AreaHa
    tenure_certificate: Line64Blank = ""


class ParcelOut(BaseModel):
    id: int
    holder_id: int
    region_code: str
    subcompartment_id: str
    area_ha: float
    tenure_certificate: str


class HolderOut(BaseModel):
    id: int
    kind: HolderKind
    kind_label: str
    name: str
    id_number: str | None = Field(description="遮挡后的证件号 / masked id number")
    village: str
    region_code: str | None
    pooled_by_organisation_id: int | None
    parcels: list[ParcelOut]
    area_ha: float


class AuthorizationOut(BaseModel):
    id: int
    dev_project_id: int
    holder_id: int
    holder_name: str
    parcel_id: int | None
    signatory: str
    signed_on: date
    valid_from: date
    expires_on: date | None
    share_bp: int | None
    revoked_on: date | None
    revoke_reason: str
    note: str
    status: Literal["valid", "not_yet_valid", "expired", "revoked"]
    documents: list[DocumentOut]


class RevokeIn(_In):
    revoked_on: Day
    reason: Reason = Field(examples=["农户收回林地自营"])


class GapParcelOut(BaseModel):
    parcel_id: int
    holder_id: int
    holder_name: str
    holder_kind: str
    village: str
    subcompartment_id: str
    area_ha: float
    reason: Literal["missing", "expired", "revoked"]
    reason_label: str
    authorization_id: int | None
    since: date | None


class ConsentGapOut(BaseModel):
    """Which parcels of a project lack a valid authorization on ``on``, and which of its
    sub-compartments have no recorded holder."""

    dev_project_id: int
    on: date
    complete: bool
    parcels: list[GapParcelOut]
    unowned: list[SubcompartmentOut]
    parcels_total: int
    area_total_ha: float
    area_covered_ha: float
    counts: dict[str, int]


class SharingRuleIn(_In):
    method: SharingMethod
    holders_bp: BasisPoints = 10_000
    collective_bp: BasisPoints = 0
    developer_bp: BasisPoints = 0


class SharingRuleOut(BaseModel):
    method: SharingMethod
    method_label: str
    holders_bp: int
    collective_bp: int
    developer_bp: int


class PayoutIn(_In):
    revenue_fen: int = Field(ge=1, le=MAX_FEN, description="销售收入（分）/ revenue in fen")
    sold_on: Day
    reference: Line128 | None = Field(default=None, description="合同编号 / the sale contract")
    tonnes: int | None = Field(default=None, ge=1, le=MAX_ID)


class PayoutLineOut(BaseModel):
    pool: str
    holder_id: int | None
    organisation_id: int | None
    payee: str
    weight: str
    amount_fen: int


class PayoutOut(BaseModel):
    id: int
    dev_project_id: int
    sold_on: date
    revenue_fen: int
    tonnes: int | None
    reference: str | None
    method: str
    rule: dict[str, Any]
    lines: list[PayoutLineOut]
    actor: str
    created_at: datetime


# -------------------------------------------------------------------------------------- losses


class LossEventIn(_In):
    """A loss on one sub-compartment of the project: give ``area_ha`` or ``share_lost``."""

    subcompartment_id: SubcompartmentId
    hazard: Hazard
    occurred_on: Day
    area_ha: AreaHa | None = None
    share_lost: float | None = Field(default=None, gt=0, le=1, allow_inf_nan=False)
    tonnes_lost: float | None = Field(default=None, ge=0, le=1e12, allow_inf_nan=False)
    note: Note = ""


class LossEventOut(BaseModel):
    id: int
    dev_project_id: int
    subcompartment_id: str
    hazard: Hazard
    hazard_label: str
    occurred_on: date
    area_ha: float
    share_lost: float
    tonnes_lost: float | None
    note: str
    actor: str
    recorded_at: datetime
    reversed_quantity: int | None
    reversed_at: datetime | None
    reversal_status: Literal["pending", "done"] | None


class ReversalRequestIn(_In):
    quantity: int | None = Field(
        default=None,
        ge=1,
        le=MAX_ID,
        description="注销吨数（默认为估计损失向上取整）/ tonnes (default: the estimate rounded up)",
    )
    reason: Annotated[
        str, Field(max_length=500, pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$")
    ] = ""


class RiskInputOut(BaseModel):
    subcompartment_id: str
    year: int
    hazard: str
    share_lost: float
    area_ha: float
