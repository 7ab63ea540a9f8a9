"""Pooling of small holders (资源统筹, 股份合作) with their consent (授权), and payouts of sales.

A service over :class:`~tanhui.db.uow.UnitOfWork` with the conventions of
:mod:`tanhui.develop.library` (role checks inside, one transaction per call, nothing half-written):

* **rights holders** — households (农户), village collectives (村集体), state forest farms (国有林场)
  and companies, with their **parcels** (a sub-compartment, or its part, and its area). An id
  number (身份证号 / 统一社会信用代码) is optional, checked, and only ever shown masked. An actor
  acting only as a ``holder`` (the pooling collective, farm or developer) keeps and sees the
  records its organisation pools;
* **authorizations** — a holder's consent for a library project, for all its parcels in the
  project or for one: signatory, signed date, term, agreed revenue share, scanned document;
  revocable;
* the **consent gap** — which parcels of a project lack a valid authorization on a date
  (``missing``, ``expired`` or ``revoked``) and which of its sub-compartments have no recorded
  holder at all;
* **payouts** — a sale's revenue in fen shared out by the project's rule
  (:mod:`tanhui.develop.sharing`) among the holders with a valid authorization on the sale date;
  the payouts sum exactly to the revenue and are recorded with the rule as applied.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tanhui.db.tables import (
    Authorization,
    DevDocument,
    DevPayout,
    DevPayoutLine,
    DevProject,
    DevProjectSubcompartment,
    Organisation,
    Parcel,
    RightsHolder,
    SharingRuleRow,
)
from tanhui.db.uow import UnitOfWork
from tanhui.develop import sharing
from tanhui.develop.library import (
    DOCUMENT_MAX_BYTES,
    ActorLike,
    DocumentUpload,
    DocumentView,
    SubcompartmentView,
    actor_ref,
    area_sum,
    check_area,
    check_region,
    check_text,
    document_view,
    get_project,
    not_found,
    sees_all,
    store_document,
    today_cst,
)
from tanhui.develop.lifecycle import OPEN, STAGE_LABELS, Stage
from tanhui.develop.sharing import HOLDER_KINDS, SharingRule, Stake
from tanhui.errors import ConflictError, InputError, PermissionDenied, StateError
from tanhui.registry.permissions import ACTION_LABELS, Action, Role, require

__all__ = [
    "HOLDER_KINDS",
    "AuthorizationView",
    "ConsentGap",
    "GapParcel",
    "HolderView",
    "ParcelView",
    "PayoutLineView",
    "PayoutView",
    "Pooling",
    "consent_status",
    "mask_id_number",
]

ConsentStatus = Literal["valid", "not_yet_valid", "expired", "revoked"]
GapReason = Literal["missing", "expired", "revoked"]

HOLDER_KIND_LABELS = {
    "household": ("农户", "household"),
    "collective": ("村集体", "village collective"),
    "state_farm": ("国有林场", "state forest farm"),
    "company": ("企业", "company"),
}
GAP_REASON_LABELS = {
    "missing": ("未授权", "no authorization"),
    "expired": ("授权已到期", "authorization expired"),
    "revoked": ("授权已撤回", "authorization revoked"),
}

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_CREDIT_CODE_ALPHABET = set("0123456789ABCDEFGHJKLMNPQRTUWXY")


# ------------------------------------------------------------------------------------ views


@dataclass(frozen=True)
class ParcelView:
    id: int
    holder_id: int
    region_code: str
    subcompartment_id: str
    area_ha: float
    tenure_certificate: str


@dataclass(frozen=True)
class HolderView:
    """A rights holder; ``id_number`` is masked (e.g. ``350***********123X``)."""

    id: int
    kind: str
    name: str
    id_number: str | None
    village: str
    region_code: str | None
    pooled_by_organisation_id: int | None
    parcels: tuple[ParcelView, ...]
    area_ha: float


@dataclass(frozen=True)
class AuthorizationView:
    id: int
    dev_project_id: int
    holder_id: int
    holder_name: str
    parcel_id: int | None
    signatory: str
    signed_on: dt.date
    valid_from: dt.date
    expires_on: dt.date | None
    share_bp: int | None
    revoked_on: dt.date | None
    revoke_reason: str
    note: str
    #: On the date asked for (today by default): valid, not_yet_valid, expired or revoked.
    status: str
    documents: tuple[DocumentView, ...]


@dataclass(frozen=True)
class GapParcel:
    """A parcel of the project without a valid authorization, and why."""

    parcel_id: int
    holder_id: int
    holder_name: str
    holder_kind: str
    village: str
    subcompartment_id: str
    area_ha: float
    reason: str
    #: The latest authorization that expired or was revoked, if any.
    authorization_id: int | None
    since: dt.date | None


@dataclass(frozen=True)
class ConsentGap:
    """What a project still lacks on ``on``: parcels without valid consent, and sub-compartments
    with no recorded holder (tenure unknown)."""

    dev_project_id: int
    on: dt.date
    parcels: tuple[GapParcel, ...]
    unowned: tuple[SubcompartmentView, ...]
    parcels_total: int
    area_total_ha: float
    area_covered_ha: float

    @property
    def complete(self) -> bool:
        return not self.parcels and not self.unowned

    def count(self, reason: str) -> int:
        return sum(1 for p in self.parcels if p.reason == reason)


@dataclass(frozen=True)
class PayoutLineView:
    pool: str
    holder_id: int | None
    organisation_id: int | None
    payee: str
    weight: str
    amount_fen: int


@dataclass(frozen=True)
class PayoutView:
    id: int
    dev_project_id: int
    sold_on: dt.date
    revenue_fen: int
    tonnes: int | None
    reference: str | None
    method: str
    rule: dict[str, object]
    lines: tuple[PayoutLineView, ...]
    actor: str
    created_at: dt.datetime


# --------------------------------------------------------------------------------- helpers


def mask_id_number(value: str | None) -> str | None:
    """``350421198001011234`` → ``350***********1234``: the first 3 and last 4 characters."""
    if not value:
        return None
    if len(value) < 8:
        return "*" * (len(value) - 2) + value[-2:]
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def _resident_id_ok(value: str) -> bool:
    """GB 11643-1999: 17 digits and a check character."""
    if len(value) != 18 or not value[:17].isdigit():
        return False
    total = sum(int(c) * w for c, w in zip(value[:17], _ID_WEIGHTS, strict=True))
    return value[17] == _ID_CHECK[total % 11]


def _check_id_number(kind: str, value: str | None) -> str | None:
    value = (value or "").strip().upper() or None
    if value is None:
        return None
    if kind == "household":
        if not _resident_id_ok(value):
            raise InputError(
                "身份证号无效（应为 18 位，末位校验码正确）。",
                "Invalid resident id number (18 characters with a valid check character).",
                field="id_number",
                hint_zh="不确定时可以留空；号码只以遮挡形式显示。",
                hint_en="Leave it empty if unsure; it is only ever shown masked.",
            )
    elif len(value) != 18 or not set(value) <= _CREDIT_CODE_ALPHABET:
        raise InputError(
            "统一社会信用代码无效（应为 18 位数字或大写字母，不含 I、O、Z、S、V）。",
            "Invalid unified social credit code (18 digits or capital letters without I, O, Z, "
            "S, V).",
            field="id_number",
        )
    return value


def consent_status(consent: Authorization, on: dt.date) -> ConsentStatus:
    """Whether an authorization holds on ``on`` (validity dates inclusive)."""
    if consent.revoked_on is not None and consent.revoked_on <= on:
        return "revoked"
    if on < consent.valid_from:
        return "not_yet_valid"
    if consent.expires_on is not None and on > consent.expires_on:
        return "expired"
    return "valid"


def _add_years(day: dt.date, years: int) -> dt.date:
    """The last day of a term of ``years`` from ``day`` (民法典 第二百零一、二百零二条: the first day
    is not counted; the term ends on the corresponding day, or the month's last day if none)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _check_date(value: object, name: str) -> dt.date:
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise InputError(f"{name} 应为日期。", f"{name} must be a date.", field=name)
    return value


def _parcel_view(p: Parcel) -> ParcelView:
    return ParcelView(
        p.id, p.holder_id, p.region_code, p.subcompartment_id, p.area_ha, p.tenure_certificate
    )


# ---------------------------------------------------------------------------------- service


class Pooling:
    """Rights holders, parcels, authorizations, the consent gap and payouts."""

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], dt.datetime] | None = None,
        max_document_bytes: int = DOCUMENT_MAX_BYTES,
    ) -> None:
        self.engine = engine
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.max_document_bytes = max_document_bytes

    # ------------------------------------------------------------------- rights holders

    @staticmethod
    def _require_holder_access(actor: ActorLike, holder: RightsHolder, action: Action) -> None:
        require(actor.roles, action)
        if sees_all(actor, action):
            return
        if actor.organisation_id is not None and (
            holder.pooled_by_organisation_id == actor.organisation_id
        ):
            return
        act_zh, act_en = ACTION_LABELS[action]
        raise PermissionDenied(
            f"该权利人不由本机构统筹，不能{act_zh}。",
            f"This rights holder is not pooled by your organisation: you may not {act_en}.",
            action=action.value,
            roles=tuple(str(r) for r in actor.roles),
            allowed=(Role.forestry_regulator.value, Role.holder.value),
        )

    def _holder(self, session: Session, holder_id: int) -> RightsHolder:
        holder = session.get(RightsHolder, holder_id)
        if holder is None:
            raise not_found("权利人", "rights holder", holder_id)
        return holder

    def _holder_view(self, session: Session, holder: RightsHolder) -> HolderView:
        parcels = session.scalars(
            select(Parcel).where(Parcel.holder_id == holder.id).order_by(Parcel.id)
        ).all()
        return HolderView(
            id=holder.id,
            kind=holder.kind,
            name=holder.name,
            id_number=mask_id_number(holder.id_number),
            village=holder.village,
            region_code=holder.region_code,
            pooled_by_organisation_id=holder.pooled_by_organisation_id,
            parcels=tuple(_parcel_view(p) for p in parcels),
            area_ha=area_sum(p.area_ha for p in parcels),
        )

    def register_holder(
        self,
        actor: ActorLike,
        *,
        kind: str,
        name: str,
        village: str = "",
        region_code: str | None = None,
        id_number: str | None = None,
        pooled_by_organisation_id: int | None = None,
    ) -> HolderView:
        """Record a rights holder. A holder-only actor records holders its organisation pools."""
        require(actor.roles, Action.manage_rights_holders)
        if kind not in HOLDER_KINDS:
            raise InputError(
                f"未知的权利人类型“{kind}”。",
                f"Unknown rights-holder kind “{kind}”.",
                field="kind",
                hint_zh="可选：household（农户）、collective（村集体）、state_farm（国有林场）、company（企业）",
                hint_en=f"One of: {', '.join(HOLDER_KINDS)}",
            )
        if not sees_all(actor, Action.manage_rights_holders):
            if pooled_by_organisation_id not in (None, actor.organisation_id):
                raise PermissionDenied(
                    "只能登记由本机构统筹的权利人。",
                    "You may only record rights holders your own organisation pools.",
                    action=Action.manage_rights_holders.value,
                    roles=tuple(str(r) for r in actor.roles),
                    allowed=(Role.forestry_regulator.value,),
                )
            pooled_by_organisation_id = actor.organisation_id
        holder = RightsHolder(
            kind=kind,
            name=check_text(name, "name", "权利人名称", 200),
            village=check_text(village, "village", "村", 100, blank=True),
            region_code=check_region(region_code) if region_code else None,
            id_number=_check_id_number(kind, id_number),
            pooled_by_organisation_id=pooled_by_organisation_id,
        )
        with UnitOfWork(self.engine) as uow:
            session = uow.session
            if pooled_by_organisation_id is not None and (
                session.get(Organisation, pooled_by_organisation_id) is None
            ):
                raise not_found("机构", "organisation", pooled_by_organisation_id)
            if holder.id_number is not None and session.scalar(
                select(RightsHolder.id).where(RightsHolder.id_number == holder.id_number)
            ):
                raise ConflictError(
                    f"证件号 {mask_id_number(holder.id_number)} 已登记为另一权利人。",
                    f"The id number {mask_id_number(holder.id_number)} belongs to another "
                    "rights holder.",
                    hint_zh="请使用已有的权利人记录。",
                    hint_en="Use the existing rights-holder record.",
                )
            holder.created_at = self.clock()
            session.add(holder)
            session.flush()
            view = self._holder_view(session, holder)
            uow.commit()
            return view

    def add_parcel(
        self,
        actor: ActorLike,
        holder_id: int,
        *,
        region_code: str,
        subcompartment_id: str,
        area_ha: float,
        tenure_certificate: str = "",
    ) -> ParcelView:
        """Record a holder's parcel: a sub-compartment (or its part) of a county, its area."""
        code = check_region(region_code)
        sub = check_text(subcompartment_id, "subcompartment_id", "小班号", 64)
        area = check_area(area_ha)
        certificate = check_text(
            tenure_certificate, "tenure_certificate", "林权证号", 64, blank=True
        )
        with UnitOfWork(self.engine) as uow:
            session = uow.session
            holder = self._holder(session, holder_id)
            self._require_holder_access(actor, holder, Action.manage_rights_holders)
            exists = session.scalar(
                select(Parcel.id).where(
                    Parcel.holder_id == holder_id,
                    Parcel.region_code == code,
                    Parcel.subcompartment_id == sub,
                )
            )
            if exists is not None:
                raise ConflictError(
                    f"权利人 {holder_id} 已登记小班 {sub} 的地块（{exists}）。",
                    f"Holder {holder_id} already has a parcel on sub-compartment {sub} ({exists}).",
                )
            parcel = Parcel(
                holder_id=holder_id,
                region_code=code,
                subcompartment_id=sub,
                area_ha=area,
                tenure_certificate=certificate,
                created_at=self.clock(),
            )
            session.add(parcel)
            session.flush()
            view = _parcel_view(parcel)
            uow.commit()
            return view

    def get_holder(self, actor: ActorLike, holder_id: int) -> HolderView:
        with UnitOfWork(self.engine, read_only=True) as uow:
            holder = self._holder(uow.session, holder_id)
            self._require_holder_access(actor, holder, Action.view_rights_holders)
            return self._holder_view(uow.session, holder)

    def list_holders(
        self,
        actor: ActorLike,
        *,
        village: str | None = None,
        region_code: str | None = None,
        kind: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[HolderView], int]:
        """A page of rights holders (by id) and the total count."""
        require(actor.roles, Action.view_rights_holders)
        query = select(RightsHolder)
        if not sees_all(actor, Action.view_rights_holders):
            query = query.where(RightsHolder.pooled_by_organisation_id == actor.organisation_id)
        if village:
            query = query.where(RightsHolder.village == village)
        if region_code:
            query = query.where(RightsHolder.region_code == region_code)
        if kind:
            query = query.where(RightsHolder.kind == kind)
        with UnitOfWork(self.engine, read_only=True) as uow:
            session = uow.session
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = session.scalars(
                query.order_by(RightsHolder.id).limit(max(0, limit)).offset(max(0, offset))
            ).all()
            return [self._holder_view(session, h) for h in rows], int(total)

    # ------------------------------------------------------------------- authorizations

    @staticmethod
    def _project_parcels(session: Session, project: DevProject) -> list[Parcel]:
        """The recorded parcels on the project's sub-compartments (same county)."""
        subs = select(DevProjectSubcompartment.subcompartment_id).where(
            DevProjectSubcompartment.dev_project_id == project.id
        )
        return list(
            session.scalars(
                select(Parcel)
                .where(
                    Parcel.region_code == project.region_code, Parcel.subcompartment_id.in_(subs)
                )
                .order_by(Parcel.subcompartment_id, Parcel.holder_id, Parcel.id)
            ).all()
        )

    def _authorization_view(
        self, session: Session, consent: Authorization, on: dt.date
    ) -> AuthorizationView:
        holder = session.get(RightsHolder, consent.holder_id)
        docs = session.scalars(
            select(DevDocument)
            .where(DevDocument.authorization_id == consent.id)
            .order_by(DevDocument.id)
        ).all()
        return AuthorizationView(
            id=consent.id,
            dev_project_id=consent.dev_project_id,
            holder_id=consent.holder_id,
            holder_name=holder.name if holder else "",
            parcel_id=consent.parcel_id,
            signatory=consent.signatory,
            signed_on=consent.signed_on,
            valid_from=consent.valid_from,
            expires_on=consent.expires_on,
            share_bp=consent.share_bp,
            revoked_on=consent.revoked_on,
            revoke_reason=consent.revoke_reason,
            note=consent.note,
            status=consent_status(consent, on),
            documents=tuple(document_view(d) for d in docs),
        )

    def record_authorization(
        self,
        actor: ActorLike,
        project_id: int,
        *,
        holder_id: int,
        signatory: str,
        signed_on: dt.date,
        valid_from: dt.date | None = None,
        expires_on: dt.date | None = None,
        term_years: int | None = None,
        share_bp: int | None = None,
        parcel_id: int | None = None,
        note: str = "",
        document: DocumentUpload | None = None,
    ) -> AuthorizationView:
        """Record a holder's consent for a project (and its scanned document, in the same
        transaction). It covers all the holder's parcels in the project, or ``parcel_id`` only.

        The term: ``expires_on`` (the last valid day), or ``term_years`` from ``valid_from``
        (default ``signed_on``) ending on the corresponding day as the Civil Code counts terms;
        neither means no end date. ``share_bp``: the agreed revenue share in basis points.
        """
        signatory = check_text(signatory, "signatory", "签署人", 200)
        signed_on = _check_date(signed_on, "signed_on")
        valid_from = signed_on if valid_from is None else _check_date(valid_from, "valid_from")
        if term_years is not None:
            if expires_on is not None:
                raise InputError(
                    "期限请只填到期日或年限之一。",
                    "Give either the expiry date or the term in years, not both.",
                    field="term_years",
                )
            if isinstance(term_years, bool) or not isinstance(term_years, int) or term_years < 1:
                raise InputError(
                    "授权年限应为正整数。",
                    "The term must be a whole number of years ≥ 1.",
                    field="term_years",
                )
            expires_on = _add_years(valid_from, term_years)
        if expires_on is not None and _check_date(expires_on, "expires_on") < valid_from:
            raise InputError(
                f"到期日 {expires_on} 早于生效日 {valid_from}。",
                f"The authorization expires ({expires_on}) before it starts ({valid_from}).",
                field="expires_on",
            )
        if share_bp is not None and (
            isinstance(share_bp, bool)
            or not isinstance(share_bp, int)
            or not 0 <= share_bp <= 10_000
        ):
            raise InputError(
                "约定份额应为 0–10000 之间的整数（万分比）。",
                "The agreed share must be whole basis points between 0 and 10,000.",
                field="share_bp",
            )
        note = check_text(note, "note", "备注", 2000, blank=True)
        with UnitOfWork(self.engine) as uow:
            session = uow.session
            project = get_project(uow, actor, project_id, Action.record_authorization)
            if Stage(project.stage) not in OPEN:
                label_zh, label_en = STAGE_LABELS[Stage(project.stage)]
                raise StateError(
                    f"项目已{label_zh}，不能再登记授权。",
                    f"The project is {label_en}; no authorization can be recorded.",
                    state=project.stage,
                    action=Action.record_authorization.value,
                    allowed_from=tuple(s.value for s in Stage if s in OPEN),
                )
            holder = self._holder(session, holder_id)
            in_project = [
                p for p in self._project_parcels(session, project) if p.holder_id == holder.id
            ]
            if parcel_id is not None:
                in_project = [p for p in in_project if p.id == parcel_id]
            if not in_project:
                which_zh = f"地块 {parcel_id}" if parcel_id is not None else "任何地块"
                which_en = f"parcel {parcel_id}" if parcel_id is not None else "parcel"
                raise InputError(
                    f"权利人 {holder.name} 在本项目的小班上没有{which_zh}。",
                    f"Holder {holder.name} has no {which_en} on this project's sub-compartments.",
                    field="parcel_id" if parcel_id is not None else "holder_id",
                    hint_zh="请先登记该权利人的地块，并确认小班属于本项目。",
                    hint_en="Record the holder's parcels first, on sub-compartments of the project.",
                )
            clash = self._overlapping_consent(
                session, holder.id, project.id, parcel_id, valid_from, expires_on
            )
            if clash is not None:
                until = clash.expires_on or "长期"
                until_en = clash.expires_on or "no end date"
                raise ConflictError(
                    f"权利人 {holder.name} 已有一份覆盖同一地块和期间的授权（第 {clash.id} 号，"
                    f"{clash.valid_from} 至 {until}）。",
                    f"Holder {holder.name} already has an authorization covering the same parcels "
                    f"and period (no. {clash.id}, {clash.valid_from} to {until_en}).",
                    hint_zh="续签请把生效日设在原授权到期之后；否则请先撤回原授权。",
                    hint_en="For a renewal, start it after the current one expires; otherwise "
                    "revoke the current one first.",
                )
            consent = Authorization(
                holder_id=holder.id,
                dev_project_id=project.id,
                parcel_id=parcel_id,
                signatory=signatory,
                signed_on=signed_on,
                valid_from=valid_from,
                expires_on=expires_on,
                share_bp=share_bp,
                note=note,
                actor=actor_ref(actor),
                recorded_by=actor.user_id,
                created_at=self.clock(),
            )
            session.add(consent)
            session.flush()
            if document is not None:
                stored = store_document(
                    session,
                    actor,
                    project.id,
                    DocumentUpload(
                        document.filename,
                        document.content,
                        document.media_type,
                        "authorization",
                        document.note,
                    ),
                    authorization_id=consent.id,
                    max_bytes=self.max_document_bytes,
                )
                stored.uploaded_at = self.clock()
                session.flush()
            view = self._authorization_view(session, consent, today_cst(self.clock))
            uow.commit()
            return view

    @staticmethod
    def _overlapping_consent(
        session: Session,
        holder_id: int,
        project_id: int,
        parcel_id: int | None,
        valid_from: dt.date,
        expires_on: dt.date | None,
    ) -> Authorization | None:
        """An unrevoked authorization of the holder on the project whose parcels and validity
        overlap the given ones (a whole-holder consent overlaps any of its parcels; a revoked one
        holds until the day before its revocation)."""
        for other in session.scalars(
            select(Authorization)
            .where(
                Authorization.holder_id == holder_id,
                Authorization.dev_project_id == project_id,
            )
            .order_by(Authorization.id)
        ):
            if not (other.parcel_id is None or parcel_id is None or other.parcel_id == parcel_id):
                continue
            ends = other.expires_on
            if other.revoked_on is not None:
                last = other.revoked_on - dt.timedelta(days=1)
                ends = last if ends is None else min(ends, last)
            if ends is not None and ends < other.valid_from:
                continue  # revoked before it started
            if (ends is None or valid_from <= ends) and (
                expires_on is None or other.valid_from <= expires_on
            ):
                return other
        return None

    def revoke_authorization(
        self, actor: ActorLike, authorization_id: int, *, revoked_on: dt.date, reason: str
    ) -> AuthorizationView:
        """Record that a holder withdrew its consent on ``revoked_on`` (kept, never deleted)."""
        revoked_on = _check_date(revoked_on, "revoked_on")
        reason = check_text(reason, "reason", "撤回原因", 2000)
        with UnitOfWork(self.engine) as uow:
            session = uow.session
            consent = session.scalars(
                uow.lock_for_update(
                    select(Authorization).where(Authorization.id == authorization_id)
                )
            ).first()
            if consent is None:
                raise not_found("授权记录", "authorization", authorization_id)
            get_project(uow, actor, consent.dev_project_id, Action.record_authorization)
            if consent.revoked_on is not None:
                raise ConflictError(
                    f"授权 {authorization_id} 已于 {consent.revoked_on} 撤回。",
                    f"Authorization {authorization_id} was already revoked on {consent.revoked_on}.",
                )
            if revoked_on < consent.signed_on:
                raise InputError(
                    f"撤回日期 {revoked_on} 早于签署日期 {consent.signed_on}。",
                    f"The revocation ({revoked_on}) is before the signature ({consent.signed_on}).",
                    field="revoked_on",
                )
            consent.revoked_on, consent.revoke_reason = revoked_on, reason
            session.flush()
            view = self._authorization_view(session, consent, today_cst(self.clock))
            uow.commit()
            return view

    def list_authorizations(
        self,
        actor: ActorLike,
        project_id: int,
        *,
        holder_id: int | None = None,
        on: dt.date | None = None,
    ) -> list[AuthorizationView]:
        """A project's authorizations, oldest first, with their status on ``on`` (today)."""
        day = on or today_cst(self.clock)
        with UnitOfWork(self.engine, read_only=True) as uow:
            get_project(uow, actor, project_id, Action.view_rights_holders)
            query = select(Authorization).where(Authorization.dev_project_id == project_id)
            if holder_id is not None:
                query = query.where(Authorization.holder_id == holder_id)
            rows = uow.session.scalars(query.order_by(Authorization.id)).all()
            return [self._authorization_view(uow.session, a, day) for a in rows]

    # ----------------------------------------------------------------------- consent gap

    def consent_gap(
        self, actor: ActorLike, project_id: int, *, on: dt.date | None = None
    ) -> ConsentGap:
        """Which parcels of the project lack a valid authorization on ``on`` (today), and why;
        which of its sub-compartments have no recorded holder."""
        day = on or today_cst(self.clock)
        with UnitOfWork(self.engine, read_only=True) as uow:
            session = uow.session
            project = get_project(uow, actor, project_id, Action.view_rights_holders)
            subs = session.scalars(
                select(DevProjectSubcompartment)
                .where(DevProjectSubcompartment.dev_project_id == project.id)
                .order_by(DevProjectSubcompartment.subcompartment_id)
            ).all()
            parcels = self._project_parcels(session, project)
            consents = session.scalars(
                select(Authorization).where(Authorization.dev_project_id == project.id)
            ).all()
            holders = {
                h.id: h
                for h in session.scalars(
                    select(RightsHolder).where(
                        RightsHolder.id.in_(sorted({p.holder_id for p in parcels}))
                    )
                ).all()
            }
            gaps: list[GapParcel] = []
            covered: list[float] = []
            for parcel in parcels:
                mine = [
                    c
                    for c in consents
                    if c.holder_id == parcel.holder_id and c.parcel_id in (None, parcel.id)
                ]
                statuses = [(consent_status(c, day), c) for c in mine]
                if any(status == "valid" for status, _ in statuses):
                    covered.append(parcel.area_ha)
                    continue
                lapsed = [(s, c) for s, c in statuses if s in ("expired", "revoked")]
                reason: GapReason = "missing"
                latest: Authorization | None = None
                since: dt.date | None = None
                if lapsed:
                    status, latest = max(lapsed, key=lambda sc: (sc[1].valid_from, sc[1].id))
                    reason = "revoked" if status == "revoked" else "expired"
                    since = latest.revoked_on if reason == "revoked" else latest.expires_on
                holder = holders[parcel.holder_id]
                gaps.append(
                    GapParcel(
                        parcel_id=parcel.id,
                        holder_id=holder.id,
                        holder_name=holder.name,
                        holder_kind=holder.kind,
                        village=holder.village,
                        subcompartment_id=parcel.subcompartment_id,
                        area_ha=parcel.area_ha,
                        reason=reason,
                        authorization_id=latest.id if latest is not None else None,
                        since=since,
                    )
                )
            owned = {p.subcompartment_id for p in parcels}
            return ConsentGap(
                dev_project_id=project_id,
                on=day,
                parcels=tuple(gaps),
                unowned=tuple(
                    SubcompartmentView(s.subcompartment_id, s.area_ha)
                    for s in subs
                    if s.subcompartment_id not in owned
                ),
                parcels_total=len(parcels),
                area_total_ha=area_sum(p.area_ha for p in parcels),
                area_covered_ha=area_sum(covered),
            )

    # --------------------------------------------------------------------------- sharing

    def set_sharing_rule(self, actor: ActorLike, project_id: int, rule: SharingRule) -> SharingRule:
        """Set the project's revenue-sharing rule (the developer is the project's owner)."""
        if not isinstance(rule, SharingRule):
            raise InputError("分配规则无效。", "Not a sharing rule.", field="rule")
        with UnitOfWork(self.engine) as uow:
            session = uow.session
            project = get_project(uow, actor, project_id, Action.record_payout, lock=True)
            row = session.scalars(
                select(SharingRuleRow).where(SharingRuleRow.dev_project_id == project.id)
            ).first()
            if row is None:
                row = SharingRuleRow(dev_project_id=project.id)
                session.add(row)
            row.method = rule.method
            row.holders_bp, row.collective_bp, row.developer_bp = (
                (rule.holders_bp, rule.collective_bp, rule.developer_bp)
                if rule.method == "fixed_split"
                else (sharing.BASIS_POINTS, 0, 0)
            )
            row.actor = actor_ref(actor)
            row.updated_at = self.clock()
            session.flush()
            stored = _rule(row)
            uow.commit()
            return stored

    def sharing_rule(self, actor: ActorLike, project_id: int) -> SharingRule:
        """The project's rule (``by_area`` until one is set)."""
        with UnitOfWork(self.engine, read_only=True) as uow:
            get_project(uow, actor, project_id, Action.view_rights_holders)
            row = uow.session.scalars(
                select(SharingRuleRow).where(SharingRuleRow.dev_project_id == project_id)
            ).first()
            return _rule(row) if row is not None else SharingRule()

    def _stakes(self, session: Session, project: DevProject, on: dt.date) -> list[Stake]:
        """One stake per holder with a valid authorization on ``on``: the area of its covered
        parcels, and the sum of the agreed shares of its distinct valid authorizations."""
        parcels = self._project_parcels(session, project)
        consents = session.scalars(
            select(Authorization).where(Authorization.dev_project_id == project.id)
        ).all()
        valid = [c for c in consents if consent_status(c, on) == "valid"]
        area: dict[int, Fraction] = {}
        used: dict[int, dict[int, Authorization]] = {}
        for parcel in parcels:
            cover = [
                c
                for c in valid
                if c.holder_id == parcel.holder_id and c.parcel_id in (None, parcel.id)
            ]
            if not cover:
                continue
            area[parcel.holder_id] = area.get(parcel.holder_id, Fraction(0)) + Fraction(
                parcel.area_ha
            )
            used.setdefault(parcel.holder_id, {}).update({c.id: c for c in cover})
        kinds = dict(
            session.execute(
                select(RightsHolder.id, RightsHolder.kind).where(RightsHolder.id.in_(sorted(area)))
            ).all()
        )
        stakes = []
        for holder_id in sorted(area):
            shares = [c.share_bp for c in used[holder_id].values() if c.share_bp is not None]
            share = Fraction(sum(shares), sharing.BASIS_POINTS) if shares else None
            stakes.append(Stake(holder_id, kinds[holder_id], area[holder_id], share))
        return stakes

    def pay_out(
        self,
        actor: ActorLike,
        project_id: int,
        *,
        revenue_fen: int,
        sold_on: dt.date,
        reference: str | None = None,
        tonnes: int | None = None,
    ) -> PayoutView:
        """Share a sale's revenue (fen) by the project's rule among the holders with a valid
        authorization on ``sold_on``, and record it. The amounts sum exactly to the revenue.
        ``reference`` (the sale contract) is unique per project: a sale is paid out once."""
        if isinstance(revenue_fen, bool) or not isinstance(revenue_fen, int) or revenue_fen < 1:
            raise InputError(
                "收入应为正整数（分）。",
                "The revenue must be a whole number of fen ≥ 1.",
                field="revenue_fen",
            )
        if tonnes is not None and (
            isinstance(tonnes, bool) or not isinstance(tonnes, int) or tonnes < 1
        ):
            raise InputError(
                "吨数应为正整数。", "Tonnes must be a whole number ≥ 1.", field="tonnes"
            )
        sold_on = _check_date(sold_on, "sold_on")
        ref = check_text(reference, "reference", "合同编号", 128, blank=True) if reference else None
        with UnitOfWork(self.engine) as uow:
            session = uow.session
            project = get_project(uow, actor, project_id, Action.record_payout, lock=True)
            if project.stage == Stage.withdrawn.value:
                raise StateError(
                    "项目已撤销，不能分配收益。",
                    "The project is withdrawn; no revenue can be shared out.",
                    state=project.stage,
                    action=Action.record_payout.value,
                    allowed_from=tuple(s.value for s in Stage if s is not Stage.withdrawn),
                )
            if ref is not None and session.scalar(
                select(DevPayout.id).where(
                    DevPayout.dev_project_id == project.id, DevPayout.reference == ref
                )
            ):
                raise ConflictError(
                    f"合同 {ref} 的收益已分配过。",
                    f"The sale {ref} has already been paid out.",
                    hint_zh="每笔销售只分配一次；如有更正，请用新的合同编号登记差额。",
                    hint_en="A sale is paid out once; record a correction under a new reference.",
                )
            row = session.scalars(
                select(SharingRuleRow).where(SharingRuleRow.dev_project_id == project.id)
            ).first()
            rule = _rule(row) if row is not None else SharingRule()
            amounts = sharing.payouts(revenue_fen, self._stakes(session, project, sold_on), rule)
            payout = DevPayout(
                dev_project_id=project.id,
                sold_on=sold_on,
                revenue_fen=revenue_fen,
                tonnes=tonnes,
                reference=ref,
                method=rule.method,
                rule=rule.as_dict(),
                actor=actor_ref(actor),
                recorded_by=actor.user_id,
                created_at=self.clock(),
            )
            session.add(payout)
            session.flush()
            session.add_all(
                DevPayoutLine(
                    payout_id=payout.id,
                    pool=p.pool,
                    holder_id=p.holder_id,
                    organisation_id=project.owner_organisation_id if p.holder_id is None else None,
                    weight=_weight_text(p.weight),
                    amount_fen=p.amount_fen,
                )
                for p in amounts
            )
            try:
                session.flush()
            except IntegrityError:
                raise ConflictError(
                    f"合同 {ref} 的收益已分配过。", f"The sale {ref} has already been paid out."
                ) from None
            view = self._payout_view(session, payout)
            uow.commit()
            return view

    def _payout_view(self, session: Session, payout: DevPayout) -> PayoutView:
        lines = session.scalars(
            select(DevPayoutLine)
            .where(DevPayoutLine.payout_id == payout.id)
            .order_by(DevPayoutLine.id)
        ).all()
        names: dict[tuple[str, int], str] = {}
        for line in lines:
            if line.holder_id is not None:
                holder = session.get(RightsHolder, line.holder_id)
                names["h", line.holder_id] = holder.name if holder else ""
            elif line.organisation_id is not None:
                org = session.get(Organisation, line.organisation_id)
                names["o", line.organisation_id] = org.name if org else ""
        return PayoutView(
            id=payout.id,
            dev_project_id=payout.dev_project_id,
            sold_on=payout.sold_on,
            revenue_fen=payout.revenue_fen,
            tonnes=payout.tonnes,
            reference=payout.reference,
            method=payout.method,
            rule=dict(payout.rule),
            lines=tuple(
                PayoutLineView(
                    pool=line.pool,
                    holder_id=line.holder_id,
                    organisation_id=line.organisation_id,
                    payee=names.get(
                        ("h", line.holder_id)
                        if line.holder_id is not None
                        else ("o", line.organisation_id or 0),
                        "",
                    ),
                    weight=line.weight,
                    amount_fen=line.amount_fen,
                )
                for line in lines
            ),
            actor=payout.actor,
            created_at=payout.created_at,
        )

    def list_payouts(self, actor: ActorLike, project_id: int) -> list[PayoutView]:
        """A project's recorded payouts, oldest first."""
        with UnitOfWork(self.engine, read_only=True) as uow:
            get_project(uow, actor, project_id, Action.view_rights_holders)
            rows = uow.session.scalars(
                select(DevPayout)
                .where(DevPayout.dev_project_id == project_id)
                .order_by(DevPayout.id)
            ).all()
            return [self._payout_view(uow.session, p) for p in rows]


def _weight_text(weight: Fraction) -> str:
    """A payee's weight for people to read (10 significant digits); amounts are exact anyway."""
    return format(float(weight), ".10g")


def _rule(row: SharingRuleRow) -> SharingRule:
    return SharingRule(row.method, row.holders_bp, row.collective_bp, row.developer_bp)  # type: ignore[arg-type]
