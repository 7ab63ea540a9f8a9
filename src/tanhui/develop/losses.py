"""Loss events: fire (火灾), pests (病虫害), illegal logging (盗伐) and other losses recorded
against sub-compartments of library projects.

They feed the risk model (:meth:`Losses.risk_inputs` gives them in its plain form) and, once the
project is linked to a registry project with issued tonnes, the registry's reversal handling:
:meth:`Losses.reverse_in_registry` calls :meth:`tanhui.registry.ledger.Ledger.cancel_reversal`
(which cancels the project's buffer tonnes first, then the owner's active tonnes; all or nothing)
and records the ledger's answer on the event.

The ledger commits in its own transaction. So that a reversal happens once even if this service
fails half-way or two people press the button, the event is first *claimed* (marked pending, by
whom, with an idempotency key derived from the event); the ledger call carries that key, so a
retry by the same actor replays the ledger's first answer instead of cancelling again; the claim
is then completed, or released if the ledger refused.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from tanhui.db.tables import (
    LOSS_HAZARDS,
    DevProject,
    DevProjectSubcompartment,
    IssuanceRequest,
    LossEvent,
)
from tanhui.db.uow import UnitOfWork
from tanhui.develop.library import (
    ActorLike,
    actor_ref,
    check_area,
    check_text,
    get_project,
    not_found,
    sees_all,
    today_cst,
)
from tanhui.errors import ConflictError, InputError, StateError, TanhuiError
from tanhui.registry.permissions import Action, require

__all__ = ["HAZARDS", "HAZARD_LABELS", "LossEventView", "Losses"]

HAZARDS: tuple[str, ...] = LOSS_HAZARDS
HAZARD_LABELS = {
    "fire": ("火灾", "fire"),
    "pests": ("病虫害", "pests"),
    "illegal_logging": ("盗伐", "illegal logging"),
    "other": ("其他", "other"),
}
#: A share of a sub-compartment computed from an area may exceed 1 by this much (rounding).
_SHARE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class LossEventView:
    id: int
    dev_project_id: int
    subcompartment_id: str
    hazard: str
    occurred_on: dt.date
    area_ha: float
    share_lost: float
    tonnes_lost: float | None
    note: str
    actor: str
    recorded_at: dt.datetime
    #: Tonnes cancelled in the registry for this event, once reversed.
    reversed_quantity: int | None
    reversed_at: dt.datetime | None
    #: ``pending`` while a reversal is under way, ``done`` after it, else ``None``.
    reversal_status: str | None


def _view(event: LossEvent) -> LossEventView:
    reversal = event.reversal or {}
    status = "done" if event.reversed_quantity is not None else reversal.get("status")
    return LossEventView(
        id=event.id,
        dev_project_id=event.dev_project_id,
        subcompartment_id=event.subcompartment_id,
        hazard=event.hazard,
        occurred_on=event.occurred_on,
        area_ha=event.area_ha,
        share_lost=event.share_lost,
        tonnes_lost=event.tonnes_lost,
        note=event.note,
        actor=event.actor,
        recorded_at=event.recorded_at,
        reversed_quantity=event.reversed_quantity,
        reversed_at=event.reversed_at,
        reversal_status=status,
    )


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(f"{name} 应为有限数值。", f"{name} must be a finite number.", field=name)
    return float(value)


class Losses:
    """Loss events of library projects, and their reversal in the registry."""

    def __init__(
        self,
        engine: Engine,
        *,
        ledger: Any | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        """``ledger``: the registry's :class:`~tanhui.registry.ledger.Ledger` (one on the same
        engine by default, made when first needed)."""
        self.engine = engine
        self._ledger = ledger
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))

    @property
    def ledger(self) -> Any:
        if self._ledger is None:
            from tanhui.registry.ledger import Ledger

            self._ledger = Ledger(self.engine)
        return self._ledger

    # ---------------------------------------------------------------------------- record

    def record(
        self,
        actor: ActorLike,
        project_id: int,
        *,
        subcompartment_id: str,
        hazard: str,
        occurred_on: dt.date,
        area_ha: float | None = None,
        share_lost: float | None = None,
        tonnes_lost: float | None = None,
        note: str = "",
    ) -> LossEventView:
        """Record a loss on one of the project's sub-compartments. Give the area lost or its
        share of the sub-compartment (the other is derived from the sub-compartment's area);
        ``tonnes_lost`` is the estimate of tCO2e lost, when known."""
        if hazard not in HAZARDS:
            raise InputError(
                f"未知的灾害类型“{hazard}”。",
                f"Unknown hazard “{hazard}”.",
                field="hazard",
                hint_zh="可选：fire（火灾）、pests（病虫害）、illegal_logging（盗伐）、other（其他）",
                hint_en=f"One of: {', '.join(HAZARDS)}",
            )
        if not isinstance(occurred_on, dt.date) or isinstance(occurred_on, dt.datetime):
            raise InputError(
                "发生日期应为日期。", "occurred_on must be a date.", field="occurred_on"
            )
        if occurred_on > today_cst(self.clock):
            raise InputError(
                f"发生日期 {occurred_on} 在未来。",
                f"The loss date {occurred_on} is in the future.",
                field="occurred_on",
            )
        if area_ha is None and share_lost is None:
            raise InputError(
                "请填写损失面积或损失比例。",
                "Give the area lost or the share of the sub-compartment lost.",
                field="area_ha",
            )
        area = None if area_ha is None else check_area(area_ha)
        share = None if share_lost is None else _number(share_lost, "share_lost")
        if share is not None and not 0 < share <= 1:
            raise InputError(
                f"损失比例应在 0（不含）到 1 之间，实为 {share}。",
                f"The share lost must be in (0, 1], got {share}.",
                field="share_lost",
            )
        tonnes = None if tonnes_lost is None else _number(tonnes_lost, "tonnes_lost")
        if tonnes is not None and tonnes < 0:
            raise InputError(
                "损失吨数不能为负数。", "Tonnes lost may not be negative.", field="tonnes_lost"
            )
        sub_id = check_text(subcompartment_id, "subcompartment_id", "小班号", 64)
        note = check_text(note, "note", "备注", 2000, blank=True)
        with UnitOfWork(self.engine) as uow:
            session = uow.session
            project = get_project(uow, actor, project_id, Action.record_loss_event)
            sub = session.scalars(
                select(DevProjectSubcompartment).where(
                    DevProjectSubcompartment.dev_project_id == project.id,
                    DevProjectSubcompartment.subcompartment_id == sub_id,
                )
            ).first()
            if sub is None:
                raise InputError(
                    f"小班 {sub_id} 不属于项目 {project.id}。",
                    f"Sub-compartment {sub_id} is not part of project {project.id}.",
                    field="subcompartment_id",
                )
            area, share = _area_and_share(sub.area_ha, area, share)
            event = LossEvent(
                dev_project_id=project.id,
                subcompartment_id=sub_id,
                hazard=hazard,
                occurred_on=occurred_on,
                area_ha=area,
                share_lost=share,
                tonnes_lost=tonnes,
                note=note,
                actor=actor_ref(actor),
                recorded_by=actor.user_id,
                recorded_at=self.clock(),
            )
            session.add(event)
            session.flush()
            view = _view(event)
            uow.commit()
            return view

    # --------------------------------------------------------------------------- reading

    def list_events(
        self, actor: ActorLike, project_id: int, *, hazard: str | None = None
    ) -> list[LossEventView]:
        """A project's loss events, by date."""
        with UnitOfWork(self.engine, read_only=True) as uow:
            get_project(uow, actor, project_id, Action.view_dev_projects)
            query = select(LossEvent).where(LossEvent.dev_project_id == project_id)
            if hazard:
                query = query.where(LossEvent.hazard == hazard)
            rows = uow.session.scalars(query.order_by(LossEvent.occurred_on, LossEvent.id)).all()
            return [_view(e) for e in rows]

    def risk_inputs(
        self,
        actor: ActorLike,
        *,
        project_id: int | None = None,
        region_code: str | None = None,
    ) -> list[dict[str, Any]]:
        """The loss history in the risk model's plain form, by date::

            [{"subcompartment_id": "…", "year": 2024, "hazard": "fire",
              "share_lost": 0.3, "area_ha": 1.2}, …]

        For one project, or for every visible project of a county (``region_code``), or all.
        """
        with UnitOfWork(self.engine, read_only=True) as uow:
            query = select(LossEvent).join(DevProject, DevProject.id == LossEvent.dev_project_id)
            if project_id is not None:
                get_project(uow, actor, project_id, Action.view_dev_projects)
                query = query.where(LossEvent.dev_project_id == project_id)
            else:
                require(actor.roles, Action.view_dev_projects)
                if not sees_all(actor, Action.view_dev_projects):
                    query = query.where(DevProject.owner_organisation_id == actor.organisation_id)
            if region_code is not None:
                query = query.where(DevProject.region_code == region_code)
            rows = uow.session.scalars(query.order_by(LossEvent.occurred_on, LossEvent.id)).all()
            return [
                {
                    "subcompartment_id": e.subcompartment_id,
                    "year": e.occurred_on.year,
                    "hazard": e.hazard,
                    "share_lost": e.share_lost,
                    "area_ha": e.area_ha,
                }
                for e in rows
            ]

    # ------------------------------------------------------------------------- reversal

    @staticmethod
    def _issued(session: Session, registry_project_id: int) -> int:
        total = session.scalar(
            select(func.coalesce(func.sum(IssuanceRequest.quantity), 0)).where(
                IssuanceRequest.project_id == registry_project_id,
                IssuanceRequest.state == "ISSUED",
            )
        )
        return int(total or 0)

    def reverse_in_registry(
        self,
        actor: ActorLike,
        loss_event_id: int,
        *,
        quantity: int | None = None,
        reason: str = "",
    ) -> LossEventView:
        """Cancel the event's lost tonnes in the registry (buffer first), through
        :meth:`~tanhui.registry.ledger.Ledger.cancel_reversal`, and record it on the event.

        ``quantity`` defaults to the estimate ``tonnes_lost`` rounded up (a loss is never
        under-counted). Refused, with nothing changed, when the project is not linked to the
        registry, nothing was issued there, the event was already reversed, or the buffer and the
        owner's active tonnes do not cover the quantity. Needs the registry's ``cancel_reversal``
        role (the forestry regulator) as well as ``record_loss_event`` on the project.
        """
        require(actor.roles, Action.record_loss_event)
        require(actor.roles, Action.cancel_reversal)
        reason = check_text(reason, "reason", "原因", 500, blank=True)
        who = actor_ref(actor)
        key = f"dev-loss-event-{loss_event_id}-reversal"

        # 1. claim the event (one transaction): checks, then mark it pending for this actor
        with UnitOfWork(self.engine) as uow:
            session = uow.session
            event = session.scalars(
                uow.lock_for_update(select(LossEvent).where(LossEvent.id == loss_event_id))
            ).first()
            if event is None:
                raise not_found("损失事件", "loss event", loss_event_id)
            project = get_project(uow, actor, event.dev_project_id, Action.record_loss_event)
            if event.reversed_quantity is not None:
                raise ConflictError(
                    f"损失事件 {loss_event_id} 已在登记簿中注销 {event.reversed_quantity} 吨。",
                    f"Loss event {loss_event_id} was already reversed ({event.reversed_quantity} t).",
                )
            pending = dict(event.reversal or {})
            if pending.get("status") == "pending" and pending.get("actor") != who:
                raise ConflictError(
                    f"损失事件 {loss_event_id} 的注销正由 {pending.get('actor')} 处理中。",
                    f"A reversal of loss event {loss_event_id} by {pending.get('actor')} is under way.",
                    hint_zh="请由该用户重试以完成，或稍后刷新查看结果。",
                    hint_en="Let that user retry to complete it, or reload later to see the result.",
                )
            if project.registry_project_id is None:
                raise StateError(
                    "项目尚未关联登记簿项目，无法注销。",
                    "The project is not linked to a registry project; nothing can be reversed.",
                    state=project.stage,
                    action=Action.cancel_reversal.value,
                    hint_zh="项目登记后，先关联登记簿项目。",
                    hint_en="Link the project to its registry project once it is registered.",
                )
            issued = self._issued(session, project.registry_project_id)
            if issued == 0:
                raise ConflictError(
                    f"登记簿项目 {project.registry_project_id} 尚无签发量，没有可注销的吨数。",
                    f"Registry project {project.registry_project_id} has issued nothing; there "
                    "are no tonnes to reverse.",
                    hint_zh="损失已记录，将在风险模型中计入；签发后如需注销可再操作。",
                    hint_en="The loss is recorded and feeds the risk model; reverse it after issuance if needed.",
                )
            why = (
                f"损失事件 {event.id}：{HAZARD_LABELS[event.hazard][0]}，小班 "
                f"{event.subcompartment_id}，{event.occurred_on.isoformat()}"
                + (f"；{reason}" if reason else "")
            )
            if pending.get("status") == "pending":
                # a retry completes the claim exactly as it was made (the ledger replays it)
                tonnes, why = int(pending["quantity"]), str(pending["reason"])
            else:
                tonnes = _reversal_quantity(quantity, event.tonnes_lost)
            if tonnes > issued:
                raise ConflictError(
                    f"注销 {tonnes} 吨超过登记簿项目的签发总量 {issued} 吨；未作任何更改。",
                    f"Reversing {tonnes} t is more than the {issued} t ever issued to the registry "
                    "project; nothing was changed.",
                    hint_zh="请核对损失吨数，或指定注销数量。",
                    hint_en="Check the tonnes lost, or give the quantity to reverse.",
                )
            event.reversal = {
                "status": "pending",
                "actor": who,
                "quantity": tonnes,
                "reason": why,
                "idempotency_key": key,
            }
            registry_project_id = project.registry_project_id
            uow.commit()

        # 2. the ledger, in its own transaction (a retry with the same key replays its answer)
        try:
            answer = self.ledger.cancel_reversal(
                actor,
                project_id=registry_project_id,
                quantity=tonnes,
                reason=why,
                idempotency_key=key,
            )
        except TanhuiError:
            self._release(loss_event_id, who)
            raise

        # 3. complete the claim
        with UnitOfWork(self.engine) as uow:
            session = uow.session
            event = session.scalars(
                uow.lock_for_update(select(LossEvent).where(LossEvent.id == loss_event_id))
            ).one()
            if event.reversed_quantity is None:
                event.reversed_quantity = tonnes
                event.reversed_at = self.clock()
                event.reversal = {"status": "done", "actor": who, "ledger": answer}
            session.flush()
            view = _view(event)
            uow.commit()
            return view

    def _release(self, loss_event_id: int, who: str) -> None:
        """Drop this actor's pending claim after the ledger refused (nothing was cancelled)."""
        with UnitOfWork(self.engine) as uow:
            event = uow.session.scalars(
                uow.lock_for_update(select(LossEvent).where(LossEvent.id == loss_event_id))
            ).one()
            claim = event.reversal or {}
            if event.reversed_quantity is None and claim.get("actor") == who:
                event.reversal = None
                uow.commit()


def _area_and_share(
    sub_area: float, area: float | None, share: float | None
) -> tuple[float, float]:
    """Both the area lost and its share of the sub-compartment, from whichever was given."""
    if sub_area <= 0:
        if area is None:
            raise InputError(
                "该小班面积为 0，请直接填写损失面积。",
                "The sub-compartment's area is 0: give the area lost instead.",
                field="area_ha",
            )
        return area, 1.0
    if area is not None:
        derived = area / sub_area
        if derived > 1 + _SHARE_TOLERANCE:
            raise InputError(
                f"损失面积 {area} 公顷大于小班面积 {sub_area} 公顷。",
                f"The area lost ({area} ha) is larger than the sub-compartment ({sub_area} ha).",
                field="area_ha",
            )
        if share is not None and not math.isclose(share, derived, rel_tol=1e-6, abs_tol=1e-9):
            raise InputError(
                f"损失面积 {area} 公顷与损失比例 {share} 不一致（小班面积 {sub_area} 公顷）。",
                f"The area lost ({area} ha) and the share lost ({share}) disagree for a "
                f"{sub_area} ha sub-compartment.",
                field="share_lost",
                hint_zh="只填其中一项即可。",
                hint_en="Give only one of them.",
            )
        return area, min(derived, 1.0)
    assert share is not None
    return share * sub_area, share


def _reversal_quantity(quantity: int | None, tonnes_lost: float | None) -> int:
    if quantity is not None:
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            raise InputError(
                "注销数量应为正整数吨。",
                "The quantity must be a whole number of tonnes ≥ 1.",
                field="quantity",
            )
        return quantity
    if tonnes_lost is None:
        raise InputError(
            "该损失事件没有损失吨数估计，请指定注销数量。",
            "The loss event has no estimate of tonnes lost: give the quantity to reverse.",
            field="quantity",
        )
    tonnes = math.ceil(tonnes_lost - 1e-9)
    if tonnes < 1:
        raise InputError(
            f"估计损失 {tonnes_lost} 吨，不足 1 吨，无需注销。",
            f"The estimated loss ({tonnes_lost} t) is under one tonne: nothing to reverse.",
            field="quantity",
        )
    return tonnes
