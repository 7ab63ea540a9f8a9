"""The registry ledger: who holds which tonne, what is locked for whom, what was used for what.

Every public method is one transaction (a :class:`~tanhui.db.uow.UnitOfWork`) that checks the
actor's role and ownership (:mod:`tanhui.registry.permissions`), the block's lifecycle
(:mod:`tanhui.registry.lifecycle`), changes rows, appends one hash-chained event
(:mod:`tanhui.registry.events`) and commits — or changes nothing. State-changing methods take an
``idempotency_key``: a repeat with the same key returns the first answer and has no second effect.

Quantities are whole tonnes (int). Partial operations split a block: the **last** k serials move
to a new block (like UNDP NCR), the original keeps the rest. Blocks are locked ``FOR UPDATE`` on
PostgreSQL before they are read for a change; on SQLite, ``BEGIN IMMEDIATE`` serializes writers.

Other services that must move tonnes together with their own rows (the market's delivery versus
payment: tonnes and cash in one transaction, or neither) use :meth:`Ledger.within`: the same
operations, run inside the caller's unit of work, which commits (or rolls back) everything at once.
Their events are queued and appended to the chain when that transaction commits.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from sqlalchemy import Engine, func, insert, or_, select, text, update
from sqlalchemy import event as sa_event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tanhui.db.tables import (
    GENESIS_HASH,
    Account,
    Block,
    Event,
    Freeze,
    FreezeBlock,
    IdempotencyKey,
    IssuanceClaim,
    IssuanceRequest,
    MonitoringReport,
    Organisation,
    Pledge,
    PledgeBlock,
    Project,
    ProjectSubcompartment,
    Retirement,
    utcnow,
)
from tanhui.db.uow import UnitOfWork, lock_for_update
from tanhui.errors import (
    ConflictError,
    NotFoundError,
    PermissionDenied,
    RegistryError,
    StateError,
)
from tanhui.registry import events
from tanhui.registry.lifecycle import (
    LIVE,
    BlockState,
    check_issuance_actor,
    next_issuance_state,
    next_state,
)
from tanhui.registry.permissions import (
    ACTION_LABELS,
    Action,
    Role,
    allowed,
    require,
    require_on,
)
from tanhui.registry.serials import SerialPrefix, SerialRange, allocate, parse

S = BlockState
#: Default share of each issuance withheld in the buffer, per scheme (to confirm; configurable).
DEFAULT_BUFFER_RATES = {"SMCER": 0.0, "GZCT": 0.0, "CCER": 0.0, "FFCER": 0.0, "VCS": 0.0}
RETIREMENT_PURPOSES = (
    "carbon_neutral_event",
    "judicial_restoration",
    "tree_planting_duty",
    "carbon_inclusion",
    "enterprise_offset",
    "zero_carbon",
    "cross_regional",
    "voluntary",
    "other",
)
REGISTRY_ORGANISATION = "碳汇登记簿 tanhui registry"


class ActorLike(Protocol):
    """Who acts: any object with these attributes (``tanhui.registry.identity.Actor``)."""

    user_id: int | None
    username: str
    organisation_id: int | None
    roles: frozenset[Role]


@dataclass(frozen=True)
class SystemActor:
    """The registry itself (migrations, demo seeding, replays): all roles, no organisation."""

    user_id: int | None = None
    username: str = "system"
    organisation_id: int | None = None
    roles: frozenset[Role] = frozenset(Role)


# The ledger's refusals are the project-wide ones (the API maps them to 404 and 409).
NotFound = NotFoundError
Conflict = ConflictError


def _not_found(what_zh: str, what_en: str, ref: object) -> NotFoundError:
    return NotFoundError(f"找不到{what_zh} {ref}。", f"No {what_en} {ref}.", kind=what_en, key=ref)


# ---------------------------------------------------------------------------------- views


@dataclass(frozen=True)
class BlockView:
    id: int
    serial: str
    quantity: int
    state: str
    account: str
    holder_organisation_id: int
    project_id: int
    scheme: str
    lock_kind: str | None
    lock_ref: int | None


@dataclass(frozen=True)
class RetirementView:
    certificate_number: str
    serials: tuple[str, ...]
    quantity: int
    beneficiary: str
    purpose: str
    note: str
    retired_at: str
    holder_organisation_id: int


def _json(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str, ensure_ascii=False))


class Ledger:
    """The registry's service layer. One instance per process; thread-safe (no shared state)."""

    def __init__(
        self,
        engine: Engine,
        *,
        buffer_rates: dict[str, float] | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.engine = engine
        self.buffer_rates = {**DEFAULT_BUFFER_RATES, **(buffer_rates or {})}
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        #: The caller's unit of work when this is a :meth:`within` view, else ``None``.
        self._outer: UnitOfWork | None = None

    def within(self, uow: UnitOfWork) -> Ledger:
        """This ledger's operations, run inside the caller's open unit of work ``uow``.

        Each operation checks, locks and changes rows exactly as on its own, but does not commit:
        the caller commits (or rolls back) its own work and the ledger's together, so a failure
        anywhere leaves the registry unchanged. Each operation's event (its request, answer and
        the rows it changed, captured when the operation ends) is queued on the session and
        appended to the hash chain just before the transaction commits — last, so the chain's lock
        is held only for the commit. An operation that raises leaves ``uow`` unusable: roll back.
        Idempotency keys work as usual (stored in the same transaction).
        """
        view = copy.copy(self)
        view._outer = uow
        _defer_events(uow)
        return view

    # ----------------------------------------------------------------- transaction plumbing

    def _run(
        self,
        actor: ActorLike,
        type_: str,
        request: dict[str, Any],
        idempotency_key: str | None,
        work: Callable[[UnitOfWork], Any],
    ) -> Any:
        """Run ``work`` in one transaction with one event; replay a stored answer for a repeated key."""
        who = _actor_ref(actor)
        if self._outer is not None:
            return self._run_within(self._outer, who, type_, request, idempotency_key, work)
        request_hash = _request_hash(type_, request)
        for attempt in range(2):
            with UnitOfWork(self.engine) as uow:
                events.track_changes(uow.session)
                if idempotency_key:
                    # the same key from concurrent requests: the later ones wait for the first
                    # to commit and then replay its answer (instead of failing on its effect)
                    _serialize(uow, _KEY_LOCKS, f"{who}\n{idempotency_key}")
                    stored = uow.session.scalars(
                        select(IdempotencyKey).where(
                            IdempotencyKey.actor == who, IdempotencyKey.key == idempotency_key
                        )
                    ).first()
                    if stored is not None:
                        if stored.request_hash != request_hash:
                            raise Conflict(
                                f"幂等键 {idempotency_key} 已用于另一个请求。",
                                f"Idempotency key {idempotency_key} was used for a different request.",
                                hint_zh="每个不同的请求请用新的幂等键。",
                                hint_en="Use a fresh key for every distinct request.",
                            )
                        return stored.response
                result = work(uow)
                answer = _json(
                    result if not hasattr(result, "__dataclass_fields__") else asdict(result)
                )
                events.append(
                    uow.session,
                    type_,
                    who,
                    {"request": _json(request), "result": answer},
                    uow.dialect_name,
                )
                if idempotency_key:
                    uow.session.add(
                        IdempotencyKey(
                            actor=who,
                            key=idempotency_key,
                            request_hash=request_hash,
                            response=answer,
                            status_code=200,
                        )
                    )
                try:
                    uow.commit()
                except IntegrityError:
                    # the same key committed concurrently: the second pass returns its answer
                    if idempotency_key and attempt == 0:
                        continue
                    raise
                return answer
        raise AssertionError("unreachable")

    def _run_within(
        self,
        uow: UnitOfWork,
        who: str,
        type_: str,
        request: dict[str, Any],
        idempotency_key: str | None,
        work: Callable[[UnitOfWork], Any],
    ) -> Any:
        """:meth:`_run` inside the caller's transaction: the event is queued, nothing commits."""
        session = uow.session
        events.track_changes(session)
        request_hash = _request_hash(type_, request) if idempotency_key else ""
        if idempotency_key:
            _serialize(uow, _KEY_LOCKS, f"{who}\n{idempotency_key}")
            stored = session.scalars(
                select(IdempotencyKey).where(
                    IdempotencyKey.actor == who, IdempotencyKey.key == idempotency_key
                )
            ).first()
            if stored is not None:
                if stored.request_hash != request_hash:
                    raise Conflict(
                        f"幂等键 {idempotency_key} 已用于另一个请求。",
                        f"Idempotency key {idempotency_key} was used for a different request.",
                        hint_zh="每个不同的请求请用新的幂等键。",
                        hint_en="Use a fresh key for every distinct request.",
                    )
                return stored.response
        result = work(uow)
        fast: list[dict[str, Any]] = []
        if isinstance(result, _Moved):
            result, fast = result.view, result.changes
        answer = _json(result if not hasattr(result, "__dataclass_fields__") else asdict(result))
        session.flush()
        pending = session.info.pop(events._CHANGES, {})
        changes = [
            {"table": table, "id": row_id, "row": events.row_dict(instance)}
            for (table, row_id), instance in pending.items()
            if (table, row_id) not in {(c["table"], c["id"]) for c in fast}
        ]
        changes = sorted(changes + fast, key=lambda c: (c["table"], c["id"]))
        body = {"request": _json(request), "result": answer, "changes": changes}
        session.info[_DEFERRED].append((type_, who, body))
        if idempotency_key:
            session.add(
                IdempotencyKey(
                    actor=who,
                    key=idempotency_key,
                    request_hash=request_hash,
                    response=answer,
                    status_code=200,
                )
            )
        return answer

    # ------------------------------------------------------------ organisations and accounts

    def create_organisation(
        self,
        actor: ActorLike,
        *,
        name: str,
        kind: str,
        region_code: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Register a party with the identity service, then open its holding account here."""
        from tanhui.registry import identity

        as_identity = identity.Actor(
            actor.user_id, actor.username, actor.organisation_id, frozenset(actor.roles), "system"
        )
        org = identity.create_organisation(
            UnitOfWork(self.engine), as_identity, name, kind, region_code=region_code
        )
        account = self.open_account(actor, organisation_id=org.id, idempotency_key=idempotency_key)
        return {"id": org.id, "name": org.name, "kind": org.kind, "account": account["number"]}

    def open_account(
        self,
        actor: ActorLike,
        *,
        organisation_id: int,
        kind: str = "holding",
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """The organisation's account of ``kind`` (opened on first use; one per kind)."""
        require(actor.roles, Action.manage_organisations)

        def work(uow: UnitOfWork) -> dict[str, Any]:
            if uow.session.get(Organisation, organisation_id) is None:
                raise _not_found("机构", "organisation", organisation_id)
            account = self._holding_account(uow, organisation_id, kind)
            return {"number": account.number, "organisation_id": organisation_id, "kind": kind}

        request = {"organisation_id": organisation_id, "kind": kind}
        return self._run(actor, "account_opened", request, idempotency_key, work)

    def _existing_holding_account(self, uow: UnitOfWork, organisation_id: int) -> Account | None:
        return uow.session.scalars(
            select(Account)
            .where(Account.organisation_id == organisation_id, Account.kind == "holding")
            .order_by(Account.id)
            .limit(1)
        ).first()

    def _holding_account(
        self, uow: UnitOfWork, organisation_id: int, kind: str = "holding"
    ) -> Account:
        account = uow.session.scalars(
            select(Account)
            .where(Account.organisation_id == organisation_id, Account.kind == kind)
            .order_by(Account.id)
            .limit(1)
        ).first()
        if account is None:
            account = Account(
                number=f"{kind[0].upper()}{organisation_id:08d}",
                organisation_id=organisation_id,
                kind=kind,
                name=kind,
            )
            uow.session.add(account)
            uow.session.flush()
        return account

    def _buffer_account(self, uow: UnitOfWork) -> Account:
        org = uow.session.scalars(
            select(Organisation).where(Organisation.name == REGISTRY_ORGANISATION)
        ).first()
        if org is None:
            org = Organisation(name=REGISTRY_ORGANISATION, kind="issuer")
            uow.session.add(org)
            uow.session.flush()
        return self._holding_account(uow, org.id, kind="buffer")

    def _account_by_number(self, uow: UnitOfWork, number: str) -> Account:
        account = uow.session.scalars(select(Account).where(Account.number == number)).first()
        if account is None:
            raise _not_found("账户", "account", number)
        return account

    # --------------------------------------------------------------------------- projects

    def register_project(
        self,
        actor: ActorLike,
        *,
        scheme: str,
        region_code: str,
        name: str,
        methodology: str,
        crediting_start: dt.date,
        crediting_end: dt.date,
        owner_organisation_id: int | None = None,
        subcompartments: Sequence[tuple[str, float]] = (),
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Register a project (6-digit number assigned here) with its sub-compartments."""
        require(actor.roles, Action.register_project)
        owner = owner_organisation_id or actor.organisation_id
        if owner is None:
            raise RegistryError("请指定项目业主机构。", "Name the project's owner organisation.")
        SerialPrefix(
            scheme,
            region_code,
            1,
            crediting_start.year,
            max(crediting_start.year, crediting_end.year),
        )

        def work(uow: UnitOfWork) -> dict[str, Any]:
            _serialize(uow, _LEDGER_LOCKS, "project_number")  # numbers are max + 1
            last = uow.session.scalar(select(func.max(Project.project_number)))
            number = f"{int(last or 0) + 1:06d}"
            project = Project(
                scheme=scheme,
                region_code=region_code,
                project_number=number,
                name=name,
                methodology=methodology,
                crediting_start=crediting_start,
                crediting_end=crediting_end,
                owner_organisation_id=owner,
            )
            uow.session.add(project)
            uow.session.flush()
            for sub_id, area in subcompartments:
                uow.session.add(
                    ProjectSubcompartment(
                        project_id=project.id, subcompartment_id=sub_id, area_ha=float(area)
                    )
                )
            self._holding_account(uow, owner)
            return {"id": project.id, "project_number": number, "scheme": scheme, "name": name}

        request = {
            "scheme": scheme,
            "region_code": region_code,
            "name": name,
            "methodology": methodology,
            "crediting_start": crediting_start,
            "crediting_end": crediting_end,
            "owner": owner,
            "subcompartments": len(subcompartments),
        }
        return self._run(actor, "project_registered", request, idempotency_key, work)

    # ----------------------------------------------------------- monitoring and issuance

    def submit_monitoring_report(
        self,
        actor: ActorLike,
        *,
        project_id: int,
        period_start: dt.date,
        period_end: dt.date,
        result: dict[str, Any],
        recompute: Callable[[], Any] | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Attach a measurement result to a project and period.

        ``recompute`` (when given) recomputes the result from its files; the registry re-verifies
        the provenance (:func:`tanhui.measure.service.verify`) before accepting it. The quantity
        the registry can issue is the total rounded down to whole tonnes.
        """
        require(actor.roles, Action.submit_monitoring_report)
        if "provenance" not in result or "total_tco2e" not in result:
            raise RegistryError(
                "监测结果缺少 provenance 或 total_tco2e。",
                "The monitoring result has no provenance or total_tco2e.",
                hint_zh="请提交 `tanhui measure … --format json` 的输出。",
                hint_en="Submit the output of `tanhui measure … --format json`.",
            )
        if recompute is not None:
            from tanhui.measure.service import verify

            verify(recompute(), result)
        credited = sorted(
            {r["id"] for r in result.get("rows", []) if not r.get("reasons") and r.get("tco2e")}
        )

        def work(uow: UnitOfWork) -> dict[str, Any]:
            project = self._project(uow, project_id)
            require_on(
                actor.organisation_id,
                actor.roles,
                Action.submit_monitoring_report,
                holder_org=project.owner_organisation_id,
            )
            _require_project_owner(actor, project, Action.submit_monitoring_report)
            known = {
                s
                for (s,) in uow.session.execute(
                    select(ProjectSubcompartment.subcompartment_id).where(
                        ProjectSubcompartment.project_id == project_id
                    )
                )
            }
            if known:
                outside = [s for s in credited if s not in known]
                if outside:
                    raise RegistryError(
                        f"监测结果含 {len(outside)} 个不属于本项目的小班，如 {outside[:3]}。",
                        f"The result credits {len(outside)} sub-compartments outside the project, e.g. {outside[:3]}.",
                    )
            total = float(result["total_tco2e"])
            report = MonitoringReport(
                project_id=project_id,
                period_start=period_start,
                period_end=period_end,
                measured_tco2e=total,
                provenance=result["provenance"],
                result={"subcompartments": credited or sorted(known)},
                status="SUBMITTED",
            )
            uow.session.add(report)
            uow.session.flush()
            return {
                "id": report.id,
                "measured_tco2e": total,
                "issuable_tco2e": max(int(total // 1), 0),
                "subcompartments": len(credited or known),
            }

        request = {
            "project_id": project_id,
            "period_start": period_start,
            "period_end": period_end,
            "provenance": result["provenance"],
        }
        return self._run(actor, "monitoring_report_submitted", request, idempotency_key, work)

    def submit_issuance(
        self,
        actor: ActorLike,
        *,
        report_id: int,
        quantity: int | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Ask for issuance of (part of) a monitoring report's whole tonnes."""
        require(actor.roles, Action.submit_issuance)

        def work(uow: UnitOfWork) -> dict[str, Any]:
            report = uow.session.get(MonitoringReport, report_id)
            if report is None:
                raise _not_found("监测报告", "monitoring report", report_id)
            project = self._project(uow, report.project_id)
            require_on(
                actor.organisation_id,
                actor.roles,
                Action.submit_issuance,
                holder_org=project.owner_organisation_id,
            )
            _require_project_owner(actor, project, Action.submit_issuance)
            issuable = int(report.measured_tco2e // 1) if report.measured_tco2e > 0 else 0
            asked = self._requested(uow, report_id)
            wanted = issuable - asked if quantity is None else quantity
            if wanted < 1:
                raise Conflict(
                    f"可签发量不足：监测量向下取整为 {issuable} 吨，已申请 {asked} 吨。",
                    f"Nothing left to issue: the report rounds down to {issuable} t and {asked} t are requested.",
                )
            if asked + wanted > issuable:
                raise Conflict(
                    f"申请量 {wanted} 吨超过剩余可签发量 {issuable - asked} 吨。",
                    f"{wanted} t exceeds the {issuable - asked} t left to issue from this report.",
                )
            rate = self.buffer_rates.get(project.scheme, 0.0)
            request = IssuanceRequest(
                project_id=project.id,
                monitoring_report_id=report_id,
                quantity=wanted,
                buffer_quantity=buffer_share(wanted, rate),
                state="SUBMITTED",
                submitted_by=actor.user_id,
                idempotency_key=idempotency_key,
            )
            uow.session.add(request)
            uow.session.flush()
            return {
                "id": request.id,
                "quantity": wanted,
                "buffer_quantity": request.buffer_quantity,
                "state": request.state,
            }

        return self._run(
            actor,
            "issuance_submitted",
            {"report_id": report_id, "quantity": quantity},
            idempotency_key,
            work,
        )

    def _requested(self, uow: UnitOfWork, report_id: int) -> int:
        return int(
            uow.session.scalar(
                select(func.coalesce(func.sum(IssuanceRequest.quantity), 0)).where(
                    IssuanceRequest.monitoring_report_id == report_id,
                    IssuanceRequest.state != "REJECTED",
                )
            )
            or 0
        )

    def review_issuance(
        self,
        actor: ActorLike,
        *,
        request_id: int,
        action: Action | str,
        reason: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """One review step: verify, approve (审定), file (备案), issue (制发) or reject (with a reason)."""
        action = Action(action)
        require(actor.roles, action)
        if action is Action.reject_issuance and not (reason or "").strip():
            raise RegistryError("退回须说明理由。", "A rejection needs a reason.")

        def work(uow: UnitOfWork) -> dict[str, Any]:
            request = uow.session.scalars(
                lock_for_update(
                    select(IssuanceRequest).where(IssuanceRequest.id == request_id),
                    uow.dialect_name,
                )
            ).first()
            if request is None:
                raise _not_found("签发申请", "issuance request", request_id)
            check_issuance_actor(actor.roles, request.state)
            target = next_issuance_state(request.state, action)
            now = self.clock()
            if action is Action.reject_issuance:
                request.rejected_from_state = request.state
                request.rejection_reason = reason
                request.rejected_by, request.rejected_at = actor.user_id, now
            elif action is Action.verify_issuance:
                request.verified_by, request.verified_at = actor.user_id, now
            elif action is Action.approve_issuance:
                request.approved_by, request.approved_at = actor.user_id, now
            elif action is Action.file_issuance:
                request.filed_by, request.filed_at = actor.user_id, now
            blocks: list[BlockView] = []
            if action is Action.issue:
                request.issued_by, request.issued_at = actor.user_id, now
                blocks = self._issue(uow, request)
            request.state = str(target)
            return {"id": request.id, "state": request.state, "blocks": [asdict(b) for b in blocks]}

        return self._run(
            actor,
            f"issuance_{action.value}",
            {"request_id": request_id, "reason": reason},
            idempotency_key,
            work,
        )

    def _issue(self, uow: UnitOfWork, request: IssuanceRequest) -> list[BlockView]:
        """Create the serial blocks of an issuance (holder's and buffer's) and its claims."""
        session = uow.session
        project = session.scalars(
            lock_for_update(
                select(Project).where(Project.id == request.project_id), uow.dialect_name
            )
        ).one()
        report = session.get(MonitoringReport, request.monitoring_report_id)
        assert report is not None
        # one issuance (claims check and insert, the registry's buffer account) at a time
        _serialize(uow, _LEDGER_LOCKS, "issuance_claims")
        issued = int(
            session.scalar(
                select(func.coalesce(func.sum(IssuanceRequest.quantity), 0)).where(
                    IssuanceRequest.monitoring_report_id == report.id,
                    IssuanceRequest.state == "ISSUED",
                )
            )
            or 0
        )
        if issued + request.quantity > int(max(report.measured_tco2e, 0) // 1):
            raise Conflict(
                "累计签发量将超过核证量。",
                "Cumulative issuance would exceed the verified quantity.",
            )
        subcompartments = list((report.result or {}).get("subcompartments", []))
        self._check_no_double_issuance(
            uow, subcompartments, report.period_start, report.period_end, exclude_request=request.id
        )
        prefix = SerialPrefix(
            project.scheme,
            project.region_code,
            int(project.project_number),
            report.period_start.year,
            report.period_end.year,
        )
        whole = allocate(prefix, project.next_serial, request.quantity)
        project.next_serial = whole.end + 1
        holder_part, buffer_part = whole, None
        if request.buffer_quantity:
            if request.buffer_quantity == request.quantity:
                holder_part, buffer_part = None, whole
            else:
                holder_part, buffer_part = whole.split(request.buffer_quantity)
        views = []
        for part, account, state in (
            (holder_part, self._holding_account(uow, project.owner_organisation_id), S.ACTIVE),
            (buffer_part, self._buffer_account(uow), S.BUFFER),
        ):
            if part is None:
                continue
            block = Block(
                issuance_request_id=request.id,
                project_id=project.id,
                scheme=project.scheme,
                region_code=project.region_code,
                project_number=project.project_number,
                period_start=report.period_start,
                period_end=report.period_end,
                serial_start=part.start,
                serial_end=part.end,
                quantity=part.count,
                account_id=account.id,
                state=str(state),
            )
            session.add(block)
            session.flush()
            views.append(self._view(block, account))
        reference = f"{project.scheme}-{project.project_number}-{request.id}"
        for sub_id in subcompartments:
            session.add(
                IssuanceClaim(
                    scheme=project.scheme,
                    origin="here",
                    region_code=project.region_code,
                    project_id=project.id,
                    project_ref=project.project_number,
                    subcompartment_id=sub_id,
                    period_start=report.period_start,
                    period_end=report.period_end,
                    issuance_reference=reference,
                    issuance_request_id=request.id,
                )
            )
        return views

    def _check_no_double_issuance(
        self,
        uow: UnitOfWork,
        subcompartments: Sequence[str],
        start: dt.date,
        end: dt.date,
        exclude_request: int | None = None,
    ) -> None:
        """Refuse when a sub-compartment has an active claim overlapping [start, end], any scheme."""
        for chunk in range(0, len(subcompartments), 500):
            ids = subcompartments[chunk : chunk + 500]
            query = select(IssuanceClaim).where(
                IssuanceClaim.subcompartment_id.in_(ids),
                IssuanceClaim.status == "active",
                IssuanceClaim.period_start <= end,
                IssuanceClaim.period_end >= start,
            )
            if exclude_request is not None:
                # the parts of one monitoring report are one claim on its land: the request's
                # own claims and those of earlier parts of the same report do not clash
                report = (
                    select(IssuanceRequest.monitoring_report_id)
                    .where(IssuanceRequest.id == exclude_request)
                    .scalar_subquery()
                )
                same_report = select(IssuanceRequest.id).where(
                    IssuanceRequest.monitoring_report_id == report
                )
                query = query.where(
                    or_(
                        IssuanceClaim.issuance_request_id.is_(None),
                        IssuanceClaim.issuance_request_id.not_in(same_report),
                    )
                )
            clash = uow.session.scalars(query.limit(1)).first()
            if clash is not None:
                raise Conflict(
                    f"重复签发：小班 {clash.subcompartment_id} 在 {clash.period_start}–{clash.period_end} 已由 "
                    f"{clash.scheme} 签发（{clash.origin}，{clash.issuance_reference}）。",
                    f"Double issuance: sub-compartment {clash.subcompartment_id} was issued for "
                    f"{clash.period_start}–{clash.period_end} under {clash.scheme} ({clash.origin}, "
                    f"{clash.issuance_reference}).",
                    hint_zh="同一小班同一期间在任何机制下只能签发一次；先注销对方记录或调整监测期。",
                    hint_en="A sub-compartment and period can be issued once under any scheme.",
                )

    def record_external_issuance(
        self,
        actor: ActorLike,
        *,
        scheme: str,
        region_code: str,
        project_ref: str,
        reference: str,
        subcompartments: Sequence[str],
        period_start: dt.date,
        period_end: dt.date,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Record land issued by another registry (CCER, VCS …) so it cannot be issued here again."""
        require(actor.roles, Action.record_external_issuance)

        def work(uow: UnitOfWork) -> dict[str, Any]:
            _serialize(uow, _LEDGER_LOCKS, "issuance_claims")
            self._check_no_double_issuance(uow, list(subcompartments), period_start, period_end)
            for sub_id in subcompartments:
                uow.session.add(
                    IssuanceClaim(
                        scheme=scheme,
                        origin="external",
                        region_code=region_code,
                        project_ref=project_ref,
                        subcompartment_id=sub_id,
                        period_start=period_start,
                        period_end=period_end,
                        issuance_reference=reference,
                    )
                )
            return {"claims": len(subcompartments), "reference": reference}

        request = {
            "scheme": scheme,
            "region_code": region_code,
            "project_ref": project_ref,
            "reference": reference,
            "subcompartments": list(subcompartments),
            "period_start": period_start,
            "period_end": period_end,
        }
        return self._run(actor, "external_issuance_recorded", request, idempotency_key, work)

    # ------------------------------------------------------------------------ block moves

    def _project(self, uow: UnitOfWork, project_id: int) -> Project:
        project = uow.session.get(Project, project_id)
        if project is None:
            raise _not_found("项目", "project", project_id)
        return project

    def _locked_block(self, uow: UnitOfWork, block_id: int) -> tuple[Block, Account]:
        block = uow.session.scalars(
            lock_for_update(select(Block).where(Block.id == block_id), uow.dialect_name)
        ).first()
        if block is None:
            raise _not_found("序号段", "block", block_id)
        account = uow.session.get(Account, block.account_id)
        assert account is not None
        return block, account

    def _split_off(
        self, uow: UnitOfWork, block: Block, quantity: int, final: dict[str, Any] | None = None
    ) -> Block:
        """The block holding the last ``quantity`` serials of ``block`` (``block`` itself if all).

        ``final``: attributes the piece ends the operation with (holder, state, lock), set before
        it is written — one statement fewer than writing the piece and then changing it."""
        if quantity < 1:
            raise Conflict(
                "数量须为正整数吨。", "The quantity must be a whole number of tonnes ≥ 1."
            )
        if quantity > block.quantity:
            raise Conflict(
                f"序号段只有 {block.quantity} 吨，不足 {quantity} 吨。",
                f"The block holds {block.quantity} t, not {quantity} t.",
            )
        if quantity == block.quantity:
            for name, value in (final or {}).items():
                setattr(block, name, value)
            return block
        moved_start = block.serial_end - quantity + 1
        piece = Block(
            issuance_request_id=block.issuance_request_id,
            project_id=block.project_id,
            scheme=block.scheme,
            region_code=block.region_code,
            project_number=block.project_number,
            period_start=block.period_start,
            period_end=block.period_end,
            serial_start=moved_start,
            serial_end=block.serial_end,
            quantity=quantity,
            account_id=block.account_id,
            state=block.state,
            lock_kind=block.lock_kind,
            lock_ref=block.lock_ref,
            lock_organisation_id=block.lock_organisation_id,
            parent_block_id=block.id,
        )
        for name, value in (final or {}).items():
            setattr(piece, name, value)
        block.serial_end = moved_start - 1
        block.quantity -= quantity
        uow.session.flush()  # shrink first: the pieces never overlap, even inside the transaction
        uow.session.add(piece)
        uow.session.flush()
        return piece

    def _operate(
        self,
        uow: UnitOfWork,
        actor: ActorLike,
        action: Action,
        block_id: int,
        quantity: int | None,
        final: dict[str, Any] | None = None,
    ) -> tuple[Block, Account]:
        """Lock a block, check who may do ``action`` to it and whether its state allows it, split
        (the piece taking the ``final`` attributes and the action's state, see :meth:`_split_off`)."""
        block, account = self._locked_block(uow, block_id)
        target = next_state(block.state, action)  # first: "this block is frozen" says more
        require_on(
            actor.organisation_id,
            actor.roles,
            action,
            holder_org=account.organisation_id,
            lock_counterparty_org=block.lock_organisation_id,
        )
        if final is not None:
            final = {"state": str(target), **final}
        piece = self._split_off(uow, block, block.quantity if quantity is None else quantity, final)
        return piece, account

    def _move(
        self,
        uow: UnitOfWork,
        actor: ActorLike,
        action: Action,
        block_id: int,
        quantity: int | None,
        final: dict[str, Any],
        target: Any,
    ) -> _Moved:
        """:meth:`_operate` in set-based statements (no ORM unit of work), for the high-volume
        operations of :meth:`within` callers (the market's reservations and settlements): the
        same checks, the same split, the same rows — and the changed rows, as the event records
        them, taken from the statements' ``RETURNING``. ``target``: the receiving account
        ``(id, number, organisation_id)``, or ``None`` when the block stays with its holder."""
        session = uow.session
        blocks, accounts = Block.__table__, Account.__table__
        query = (
            select(
                blocks,
                accounts.c.organisation_id.label("holder_org"),
                accounts.c.number.label("account_number"),
            )
            .join(accounts, accounts.c.id == blocks.c.account_id)
            .where(blocks.c.id == block_id)
        )
        if uow.dialect_name == "postgresql":
            query = query.with_for_update(of=blocks)
        block = session.execute(query).first()
        if block is None:
            raise _not_found("序号段", "block", block_id)
        state = next_state(block.state, action)  # first: "this block is frozen" says more
        require_on(
            actor.organisation_id,
            actor.roles,
            action,
            holder_org=block.holder_org,
            lock_counterparty_org=block.lock_organisation_id,
        )
        quantity = block.quantity if quantity is None else quantity
        if quantity < 1:
            raise Conflict(
                "数量须为正整数吨。", "The quantity must be a whole number of tonnes ≥ 1."
            )
        if quantity > block.quantity:
            raise Conflict(
                f"序号段只有 {block.quantity} 吨，不足 {quantity} 吨。",
                f"The block holds {block.quantity} t, not {quantity} t.",
            )
        now = utcnow()  # as the rows' own defaults would stamp them
        values = {"state": str(state), **final, "updated_at": now}
        if quantity == block.quantity:
            changed = [
                session.execute(
                    update(blocks)
                    .where(blocks.c.id == block.id)
                    .values(version=blocks.c.version + 1, **values)
                    .returning(*blocks.c)
                ).one()
            ]
        else:
            moved_start = block.serial_end - quantity + 1
            parent = session.execute(  # shrink first: the pieces never overlap
                update(blocks)
                .where(blocks.c.id == block.id)
                .values(
                    serial_end=moved_start - 1,
                    quantity=block.quantity - quantity,
                    version=blocks.c.version + 1,
                    updated_at=now,
                )
                .returning(*blocks.c)
            ).one()
            inherited = {
                name: getattr(block, name)
                for name in (
                    "issuance_request_id",
                    "project_id",
                    "scheme",
                    "region_code",
                    "project_number",
                    "period_start",
                    "period_end",
                    "account_id",
                    "lock_kind",
                    "lock_ref",
                    "lock_organisation_id",
                )
            }
            piece = session.execute(
                insert(blocks)
                .values(
                    {
                        **inherited,
                        "serial_start": moved_start,
                        "serial_end": block.serial_end,
                        "quantity": quantity,
                        "parent_block_id": block.id,
                        "version": 1,
                        "created_at": now,
                        **values,
                    }
                )
                .returning(*blocks.c)
            ).one()
            changed = [parent, piece]
        # ORM copies of these rows, if this session holds any, are stale now
        ids = {r.id for r in changed}
        for obj in list(session.identity_map.values()):
            if isinstance(obj, Block) and obj.id in ids:
                session.expire(obj)
        piece = changed[-1]
        holder = (
            (block.account_number, block.holder_org)
            if target is None
            else (target.number, target.organisation_id)
        )
        view = BlockView(
            id=piece.id,
            serial=serial_text(piece),
            quantity=piece.quantity,
            state=piece.state,
            account=holder[0],
            holder_organisation_id=holder[1],
            project_id=piece.project_id,
            scheme=piece.scheme,
            lock_kind=piece.lock_kind,
            lock_ref=piece.lock_ref,
        )
        changes = [
            {
                "table": "blocks",
                "id": r.id,
                "row": {c.key: events._plain(r._mapping[c]) for c in blocks.c},
            }
            for r in changed
        ]
        return _Moved(view, changes)

    def _view(self, block: Block, account: Account) -> BlockView:
        return BlockView(
            id=block.id,
            serial=serial_text(block),
            quantity=block.quantity,
            state=block.state,
            account=account.number,
            holder_organisation_id=account.organisation_id,
            project_id=block.project_id,
            scheme=block.scheme,
            lock_kind=block.lock_kind,
            lock_ref=block.lock_ref,
        )

    def transfer(
        self,
        actor: ActorLike,
        *,
        block_id: int,
        quantity: int | None,
        to_account: str | None = None,
        to_organisation_id: int | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Move ``quantity`` tonnes (the block's last serials) to another account: ``to_account``
        by number, or the holding account of ``to_organisation_id`` (opened on first use)."""
        require(actor.roles, Action.transfer)
        if (to_account is None) == (to_organisation_id is None):
            raise RegistryError(
                "请指定转入账户或转入机构（二者选一）。",
                "Name the receiving account or the receiving organisation (one of them).",
            )

        def work(uow: UnitOfWork) -> BlockView | _Moved:
            if self._outer is not None and to_organisation_id is not None:
                found = uow.session.execute(
                    select(Account.id, Account.number, Account.organisation_id)
                    .where(Account.organisation_id == to_organisation_id, Account.kind == "holding")
                    .order_by(Account.id)
                    .limit(1)
                ).first()
                if found is not None:
                    return self._move(
                        uow,
                        actor,
                        Action.transfer,
                        block_id,
                        quantity,
                        {"account_id": found.id, **_UNLOCKED},
                        found,
                    )
            if to_account is not None:
                target = self._account_by_number(uow, to_account)
            else:
                assert to_organisation_id is not None
                target = self._existing_holding_account(uow, to_organisation_id)
                if target is None:
                    if uow.session.get(Organisation, to_organisation_id) is None:
                        raise _not_found("机构", "organisation", to_organisation_id)
                    target = self._holding_account(uow, to_organisation_id)
            if target.kind != "holding":
                raise Conflict("只能转入持有账户。", "Transfers go to holding accounts only.")
            moved = {"account_id": target.id, **_UNLOCKED}
            piece, _ = self._operate(uow, actor, Action.transfer, block_id, quantity, moved)
            return self._view(piece, target)

        request: dict[str, Any] = {"block_id": block_id, "quantity": quantity, "to": to_account}
        if to_organisation_id is not None:
            request["to_organisation_id"] = to_organisation_id
        return self._run(actor, "transferred", request, idempotency_key, work)

    def reserve(
        self,
        actor: ActorLike,
        *,
        block_id: int,
        quantity: int | None,
        reference: int,
        for_organisation_id: int | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Lock ``quantity`` tonnes (the block's last serials) as RESERVED for a pending transfer.

        ``for_organisation_id`` holds the lock (the market operator listing or settling the
        tonnes; it alone may then transfer or unreserve them), or ``None`` when the holder reserves
        for itself. ``reference`` is the reserving party's id for the reservation (the market's
        reservation number); it is the block's ``lock_ref`` and :meth:`unreserve` checks it.
        """
        require(actor.roles, Action.reserve)

        def work(uow: UnitOfWork) -> BlockView:
            if (
                for_organisation_id is not None
                and uow.session.get(Organisation, for_organisation_id) is None
            ):
                raise _not_found("机构", "organisation", for_organisation_id)
            lock = {
                "lock_kind": "reservation",
                "lock_ref": reference,
                "lock_organisation_id": for_organisation_id,
            }
            if self._outer is not None:
                return self._move(uow, actor, Action.reserve, block_id, quantity, lock, None)
            piece, account = self._operate(uow, actor, Action.reserve, block_id, quantity, lock)
            return self._view(piece, account)

        request = {
            "block_id": block_id,
            "quantity": quantity,
            "reference": reference,
            "for": for_organisation_id,
        }
        return self._run(actor, "reserved", request, idempotency_key, work)

    def unreserve(
        self,
        actor: ActorLike,
        *,
        block_id: int,
        quantity: int | None = None,
        reference: int | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Lift a reservation from ``quantity`` tonnes (default: the whole block) of a RESERVED
        block: they become ACTIVE with their holder. Only whoever placed the lock lifts it (the
        reserving organisation, or the holder for its own reservation); with ``reference`` the
        block must still be reserved under that reference. The bank a pledge was requested from
        lifts its reservation by declining the request: the whole block, and the pledge is
        ``rejected``."""
        require(actor.roles, Action.unreserve)

        def work(uow: UnitOfWork) -> BlockView:
            block, _ = self._locked_block(uow, block_id)
            if reference is not None and block.state == str(S.RESERVED):
                _check_locked_by(block, "reservation", reference)
            pledge = None
            if block.state == str(S.RESERVED) and block.lock_kind == "reservation":
                pledge = uow.session.scalars(
                    select(Pledge)
                    .join(PledgeBlock, PledgeBlock.pledge_id == Pledge.id)
                    .where(
                        PledgeBlock.block_id == block.id,
                        Pledge.id == block.lock_ref,
                        Pledge.state == "requested",
                    )
                ).first()
                if pledge is not None and quantity not in (None, block.quantity):
                    raise Conflict(
                        "质押申请只能整体拒绝。",
                        "A pledge request is declined as a whole.",
                    )
            piece, account = self._operate(
                uow, actor, Action.unreserve, block_id, quantity, dict(_UNLOCKED)
            )
            if pledge is not None:
                pledge.state = "rejected"
            return self._view(piece, account)

        request = {"block_id": block_id, "quantity": quantity, "reference": reference}
        return self._run(actor, "unreserved", request, idempotency_key, work)

    def request_pledge(
        self,
        actor: ActorLike,
        *,
        block_id: int,
        quantity: int | None,
        bank_organisation_id: int,
        loan_amount_fen: int | None = None,
        contract_number: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """The holder offers tonnes as collateral; they are reserved for the bank until it confirms."""
        require(actor.roles, Action.request_pledge)

        def work(uow: UnitOfWork) -> dict[str, Any]:
            bank = uow.session.get(Organisation, bank_organisation_id)
            if bank is None or bank.kind != "bank":
                raise _not_found("银行", "bank", bank_organisation_id)
            piece, account = self._operate(uow, actor, Action.request_pledge, block_id, quantity)
            pledge = Pledge(
                holder_organisation_id=account.organisation_id,
                bank_organisation_id=bank.id,
                state="requested",
                quantity=piece.quantity,
                loan_amount_fen=loan_amount_fen,
                contract_number=contract_number,
            )
            uow.session.add(pledge)
            uow.session.flush()
            uow.session.add(
                PledgeBlock(pledge_id=pledge.id, block_id=piece.id, quantity=piece.quantity)
            )
            piece.state = str(next_state(piece.state, Action.request_pledge))
            piece.lock_kind, piece.lock_ref, piece.lock_organisation_id = (
                "reservation",
                pledge.id,
                bank.id,
            )
            return {
                "pledge_id": pledge.id,
                "state": pledge.state,
                "block": asdict(self._view(piece, account)),
            }

        request = {
            "block_id": block_id,
            "quantity": quantity,
            "bank": bank_organisation_id,
            "loan_amount_fen": loan_amount_fen,
            "contract_number": contract_number,
        }
        return self._run(actor, "pledge_requested", request, idempotency_key, work)

    def _pledge_blocks(self, uow: UnitOfWork, pledge: Pledge) -> list[Block]:
        ids = [
            pb.block_id
            for pb in uow.session.scalars(
                select(PledgeBlock).where(PledgeBlock.pledge_id == pledge.id)
            )
        ]
        return list(
            uow.session.scalars(
                lock_for_update(
                    select(Block).where(Block.id.in_(ids)).order_by(Block.id), uow.dialect_name
                )
            )
        )

    def _pledge_step(
        self, actor: ActorLike, pledge_id: int, action: Action, idempotency_key: str | None
    ) -> dict:
        require(actor.roles, action)

        def work(uow: UnitOfWork) -> dict[str, Any]:
            pledge = uow.session.scalars(
                lock_for_update(select(Pledge).where(Pledge.id == pledge_id), uow.dialect_name)
            ).first()
            if pledge is None:
                raise _not_found("质押", "pledge", pledge_id)
            _check_record_state("质押", "pledge", pledge, action)
            blocks = self._pledge_blocks(uow, pledge)
            bank_account = None
            for block in blocks:
                holder = uow.session.get(Account, block.account_id)
                assert holder is not None
                require_on(
                    actor.organisation_id,
                    actor.roles,
                    action,
                    holder_org=holder.organisation_id,
                    lock_counterparty_org=block.lock_organisation_id,
                )
                lock = "reservation" if action is Action.confirm_pledge else "pledge"
                _check_locked_by(block, lock, pledge.id)
                block.state = str(next_state(block.state, action))
                if action is Action.confirm_pledge:
                    block.lock_kind = "pledge"
                else:
                    block.lock_kind = block.lock_ref = block.lock_organisation_id = None
                if action is Action.enforce_pledge:
                    bank_account = bank_account or self._holding_account(
                        uow, pledge.bank_organisation_id
                    )
                    block.account_id = bank_account.id
            now = self.clock()
            if action is Action.confirm_pledge:
                pledge.state, pledge.activated_at = "active", now
            elif action is Action.release_pledge:
                pledge.state, pledge.released_at = "released", now
            else:
                pledge.state, pledge.enforced_at = "enforced", now
            return {"pledge_id": pledge.id, "state": pledge.state, "quantity": pledge.quantity}

        return self._run(
            actor, f"pledge_{action.value}", {"pledge_id": pledge_id}, idempotency_key, work
        )

    def confirm_pledge(
        self, actor: ActorLike, *, pledge_id: int, idempotency_key: str | None = None
    ) -> dict:
        """The bank accepts the collateral: the blocks become PLEDGED."""
        return self._pledge_step(actor, pledge_id, Action.confirm_pledge, idempotency_key)

    def release_pledge(
        self, actor: ActorLike, *, pledge_id: int, idempotency_key: str | None = None
    ) -> dict:
        """The loan is repaid (解押): the blocks return to ACTIVE with the holder."""
        return self._pledge_step(actor, pledge_id, Action.release_pledge, idempotency_key)

    def enforce_pledge(
        self, actor: ActorLike, *, pledge_id: int, idempotency_key: str | None = None
    ) -> dict:
        """Default (处置): the blocks move to the bank's account."""
        return self._pledge_step(actor, pledge_id, Action.enforce_pledge, idempotency_key)

    def freeze(
        self,
        actor: ActorLike,
        *,
        block_id: int,
        quantity: int | None,
        case_number: str,
        reason: str = "",
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """A court freezes tonnes (司法冻结); only that court unfreezes them."""
        require(actor.roles, Action.freeze)
        if not case_number.strip():
            raise RegistryError("冻结须注明案号。", "A freeze needs the case number.")

        def work(uow: UnitOfWork) -> dict[str, Any]:
            piece, account = self._operate(uow, actor, Action.freeze, block_id, quantity)
            record = Freeze(
                court_organisation_id=actor.organisation_id,
                holder_organisation_id=account.organisation_id,
                case_number=case_number,
                state="active",
                quantity=piece.quantity,
                reason=reason,
            )
            uow.session.add(record)
            uow.session.flush()
            uow.session.add(
                FreezeBlock(freeze_id=record.id, block_id=piece.id, quantity=piece.quantity)
            )
            piece.state = str(next_state(piece.state, Action.freeze))
            piece.lock_kind, piece.lock_ref, piece.lock_organisation_id = (
                "freeze",
                record.id,
                actor.organisation_id,
            )
            return {"freeze_id": record.id, "block": asdict(self._view(piece, account))}

        request = {
            "block_id": block_id,
            "quantity": quantity,
            "case_number": case_number,
            "reason": reason,
        }
        return self._run(actor, "frozen", request, idempotency_key, work)

    def unfreeze(
        self, actor: ActorLike, *, freeze_id: int, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        require(actor.roles, Action.unfreeze)

        def work(uow: UnitOfWork) -> dict[str, Any]:
            record = uow.session.scalars(
                lock_for_update(select(Freeze).where(Freeze.id == freeze_id), uow.dialect_name)
            ).first()
            if record is None:
                raise _not_found("冻结", "freeze", freeze_id)
            _check_record_state("冻结", "freeze", record, Action.unfreeze)
            ids = [
                fb.block_id
                for fb in uow.session.scalars(
                    select(FreezeBlock).where(FreezeBlock.freeze_id == freeze_id)
                )
            ]
            for block in uow.session.scalars(
                lock_for_update(select(Block).where(Block.id.in_(ids)), uow.dialect_name)
            ):
                holder = uow.session.get(Account, block.account_id)
                assert holder is not None
                require_on(
                    actor.organisation_id,
                    actor.roles,
                    Action.unfreeze,
                    holder_org=holder.organisation_id,
                    lock_counterparty_org=block.lock_organisation_id,
                )
                _check_locked_by(block, "freeze", record.id)
                block.state = str(next_state(block.state, Action.unfreeze))
                block.lock_kind = block.lock_ref = block.lock_organisation_id = None
            record.state, record.released_at = "released", self.clock()
            return {"freeze_id": record.id, "state": record.state}

        return self._run(actor, "unfrozen", {"freeze_id": freeze_id}, idempotency_key, work)

    def retire(
        self,
        actor: ActorLike,
        *,
        block_id: int,
        quantity: int | None,
        beneficiary: str,
        purpose: str,
        note: str = "",
        idempotency_key: str | None = None,
    ) -> RetirementView:
        """Retire tonnes for good (注销), with purpose and beneficiary; returns the certificate data."""
        require(actor.roles, Action.retire)
        if purpose not in RETIREMENT_PURPOSES:
            raise RegistryError(
                f"未知的注销用途：{purpose}。",
                f"Unknown retirement purpose: {purpose}.",
                hint_zh="可选：" + "、".join(RETIREMENT_PURPOSES),
                hint_en="One of: " + ", ".join(RETIREMENT_PURPOSES),
            )
        if not beneficiary.strip():
            raise RegistryError("注销须注明受益方。", "A retirement needs a beneficiary.")

        def work(uow: UnitOfWork) -> RetirementView:
            piece, account = self._operate(uow, actor, Action.retire, block_id, quantity)
            piece.state = str(next_state(piece.state, Action.retire))
            piece.lock_kind = piece.lock_ref = piece.lock_organisation_id = None
            now = self.clock()
            serial = self._view(piece, account).serial
            record = Retirement(
                block_id=piece.id,
                project_id=piece.project_id,
                account_id=account.id,
                serial=serial,
                serial_start=piece.serial_start,
                serial_end=piece.serial_end,
                quantity=piece.quantity,
                beneficiary=beneficiary,
                purpose=purpose,
                note=note,
                certificate_number=f"pending-{piece.id}",
                retired_by=actor.user_id,
                retired_at=now,
            )
            uow.session.add(record)
            uow.session.flush()
            number = record.certificate_number = (
                f"TH-{now.year}-{record.id:06d}"  # unique by construction
            )
            return RetirementView(
                certificate_number=number,
                serials=(serial,),
                quantity=piece.quantity,
                beneficiary=beneficiary,
                purpose=purpose,
                note=note,
                retired_at=now.isoformat(),
                holder_organisation_id=account.organisation_id,
            )

        request = {
            "block_id": block_id,
            "quantity": quantity,
            "beneficiary": beneficiary,
            "purpose": purpose,
            "note": note,
        }
        return self._run(actor, "retired", request, idempotency_key, work)

    def cancel_reversal(
        self,
        actor: ActorLike,
        *,
        project_id: int,
        quantity: int,
        reason: str,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Cancel tonnes after a reversal (fire, pests, illegal logging): the project's buffer first,
        then the owner's ACTIVE blocks; all or nothing."""
        require(actor.roles, Action.cancel_reversal)
        if quantity < 1:
            raise Conflict(
                "数量须为正整数吨。", "The quantity must be a whole number of tonnes ≥ 1."
            )

        def work(uow: UnitOfWork) -> dict[str, Any]:
            project = self._project(uow, project_id)
            owner_account = self._holding_account(uow, project.owner_organisation_id)
            remaining, cancelled = quantity, {"buffer": 0, "owner": 0}
            for source, where in (
                ("buffer", Block.state == str(S.BUFFER)),
                ("owner", (Block.state == str(S.ACTIVE)) & (Block.account_id == owner_account.id)),
            ):
                query = (
                    select(Block)
                    .where(Block.project_id == project_id, where)
                    .order_by(Block.serial_start.desc())
                )
                for block in uow.session.scalars(lock_for_update(query, uow.dialect_name)).all():
                    if remaining == 0:
                        break
                    piece = self._split_off(uow, block, min(remaining, block.quantity))
                    piece.state = str(next_state(piece.state, Action.cancel_reversal))
                    remaining -= piece.quantity
                    cancelled[source] += piece.quantity
            if remaining:
                raise Conflict(
                    f"缓冲库和业主可用量共 {quantity - remaining} 吨，不足以注销 {quantity} 吨；未作任何更改。",
                    f"The buffer and the owner's active tonnes cover {quantity - remaining} t of {quantity} t; nothing was changed.",
                )
            return {"project_id": project_id, "cancelled": cancelled, "reason": reason}

        return self._run(
            actor,
            "reversal_cancelled",
            {"project_id": project_id, "quantity": quantity, "reason": reason},
            idempotency_key,
            work,
        )

    def export_blocks(
        self,
        actor: ActorLike,
        *,
        block_id: int,
        quantity: int | None,
        destination: str,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Move tonnes to another registry: they stay recorded here as EXPORTED (not live)."""
        require(actor.roles, Action.export_blocks)

        def work(uow: UnitOfWork) -> BlockView:
            piece, account = self._operate(uow, actor, Action.export_blocks, block_id, quantity)
            piece.state = str(next_state(piece.state, Action.export_blocks))
            return self._view(piece, account)

        return self._run(
            actor,
            "exported",
            {"block_id": block_id, "quantity": quantity, "destination": destination},
            idempotency_key,
            work,
        )

    def import_blocks(
        self,
        actor: ActorLike,
        *,
        serial: str,
        to_account: str,
        source: str,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Bring back tonnes exported earlier: the exact EXPORTED block becomes ACTIVE again."""
        require(actor.roles, Action.import_blocks)
        wanted = parse(serial.strip())

        def work(uow: UnitOfWork) -> BlockView:
            target = self._account_by_number(uow, to_account)
            block = uow.session.scalars(
                lock_for_update(
                    select(Block).where(
                        Block.project_number == f"{wanted.prefix.project:06d}",
                        Block.serial_start == wanted.start,
                        Block.serial_end == wanted.end,
                    ),
                    uow.dialect_name,
                )
            ).first()
            if block is None or block.state != str(S.EXPORTED):
                raise _not_found("已转出的序号段", "exported block", serial)
            block.state = str(next_state(block.state, Action.import_blocks))
            block.account_id = target.id
            return self._view(block, target)

        return self._run(
            actor,
            "imported",
            {"serial": serial, "to": to_account, "source": source},
            idempotency_key,
            work,
        )

    # ----------------------------------------------------------------------------- reading

    def holdings(
        self,
        actor: ActorLike,
        organisation_id: int | None = None,
        *,
        states: Iterable[str] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[BlockView], int]:
        """Blocks held by an organisation (one's own, or any for roles that view all holdings)."""
        org = organisation_id if organisation_id is not None else actor.organisation_id
        own = org is not None and org == actor.organisation_id
        require(
            actor.roles,
            Action.view_own_holdings
            if own and allowed(actor.roles, Action.view_own_holdings)
            else Action.view_all_holdings,
        )
        with UnitOfWork(self.engine) as uow:
            query = (
                select(Block, Account)
                .join(Account, Block.account_id == Account.id)
                .where(Account.organisation_id == org)
            )
            if states:
                query = query.where(Block.state.in_(list(states)))
            total = uow.session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = uow.session.execute(
                query.order_by(Block.project_id, Block.serial_start).limit(limit).offset(offset)
            )
            return [self._view(b, a) for b, a in rows], int(total)

    def balance(self, organisation_id: int) -> dict[str, int]:
        """Tonnes per state held by an organisation; ``available`` = ACTIVE."""
        with UnitOfWork(self.engine) as uow:
            rows = uow.session.execute(
                select(Block.state, func.sum(Block.quantity))
                .join(Account, Block.account_id == Account.id)
                .where(Account.organisation_id == organisation_id)
                .group_by(Block.state)
            )
            by_state = {state: int(total) for state, total in rows}
        # LIVE (ACTIVE + locked) as in the lifecycle: BUFFER tonnes are in no holder's balance
        live = sum(v for k, v in by_state.items() if k in LIVE)
        return {"balance": live, "available": by_state.get("ACTIVE", 0), **by_state}

    def claimed_subcompartments(
        self,
        period_start: dt.date,
        period_end: dt.date,
        *,
        region_code: str | None = None,
    ) -> dict[str, list[str]]:
        """Land already claimed for a period: sub-compartment id → the claiming records.

        Active issuance claims (issued here or recorded from another registry) whose period
        overlaps ``[period_start, period_end]``, optionally in one county. Screening uses it for
        its ``registered_elsewhere`` rules; it reads the same index that refuses double issuance.
        Public information (the public lookup shows the same), so no actor.
        """
        with UnitOfWork(self.engine, read_only=True) as uow:
            query = select(
                IssuanceClaim.subcompartment_id,
                IssuanceClaim.scheme,
                IssuanceClaim.project_ref,
                IssuanceClaim.period_start,
                IssuanceClaim.period_end,
            ).where(
                IssuanceClaim.status == "active",
                IssuanceClaim.period_start <= period_end,
                IssuanceClaim.period_end >= period_start,
            )
            if region_code is not None:
                query = query.where(IssuanceClaim.region_code == region_code)
            claimed: dict[str, list[str]] = {}
            for sub_id, scheme, ref, start, end in uow.session.execute(query):
                claimed.setdefault(sub_id, []).append(f"{scheme} {ref} {start}–{end}")
            return claimed

    def lookup(self, text: str) -> dict[str, Any]:
        """Public lookup by serial (one serial or a range) or by certificate number; no login."""
        text = text.strip()
        with UnitOfWork(self.engine) as uow:
            if text.upper().startswith("TH-"):
                record = uow.session.scalars(
                    select(Retirement).where(Retirement.certificate_number == text.upper())
                ).first()
                if record is None:
                    raise _not_found("注销证明", "certificate", text)
                return {"kind": "certificate", **self._retirement_dict(uow, record)}
            wanted = parse(text)
            blocks = list(
                uow.session.scalars(
                    select(Block)
                    .where(
                        Block.project_number == f"{wanted.prefix.project:06d}",
                        Block.serial_start <= wanted.end,
                        Block.serial_end >= wanted.start,
                    )
                    .order_by(Block.serial_start)
                )
            )
            if not blocks:
                raise _not_found("序号", "serial", text)
            out = []
            for block in blocks:
                account = uow.session.get(Account, block.account_id)
                assert account is not None
                org = uow.session.get(Organisation, account.organisation_id)
                project = uow.session.get(Project, block.project_id)
                item = {
                    "serial": self._view(block, account).serial,
                    "quantity": block.quantity,
                    "state": block.state,
                    "holder": org.name if org else None,
                    "project": project.name if project else None,
                    "scheme": block.scheme,
                    "region_code": block.region_code,
                    "period": f"{block.period_start.year}–{block.period_end.year}",
                }
                retirement = uow.session.scalars(
                    select(Retirement).where(Retirement.block_id == block.id)
                ).first()
                if retirement is not None:
                    item["retirement"] = self._retirement_dict(uow, retirement)
                out.append(item)
            return {"kind": "serial", "query": text, "blocks": out}

    def _retirement_dict(self, uow: UnitOfWork, record: Retirement) -> dict[str, Any]:
        account = uow.session.get(Account, record.account_id)
        org = uow.session.get(Organisation, account.organisation_id) if account else None
        project = uow.session.get(Project, record.project_id)
        return {
            "certificate_number": record.certificate_number,
            "serial": record.serial,
            "quantity": record.quantity,
            "beneficiary": record.beneficiary,
            "purpose": record.purpose,
            "note": record.note,
            "retired_at": record.retired_at.isoformat(),
            "holder": org.name if org else None,
            "project": project.name if project else None,
            "scheme": project.scheme if project else None,
            "region_code": project.region_code if project else None,
        }

    def certificate(self, number: str) -> dict[str, Any]:
        """The data of a retirement certificate, for the HTML/PDF renderer and the public page."""
        return self.lookup(number)

    def review_queue(self, actor: ActorLike) -> list[dict[str, Any]]:
        """Issuance requests waiting for a step this actor's roles can take."""
        from tanhui.registry.lifecycle import ISSUANCE_STEP_ROLE

        require(actor.roles, Action.view_review_queue)
        states = [str(state) for state, role in ISSUANCE_STEP_ROLE.items() if role in actor.roles]
        with UnitOfWork(self.engine) as uow:
            rows = uow.session.scalars(
                select(IssuanceRequest)
                .where(IssuanceRequest.state.in_(states))
                .order_by(IssuanceRequest.submitted_at)
            )
            return [
                {
                    "id": r.id,
                    "project_id": r.project_id,
                    "quantity": r.quantity,
                    "buffer_quantity": r.buffer_quantity,
                    "state": r.state,
                    "submitted_at": r.submitted_at.isoformat(),
                }
                for r in rows
            ]

    def pledges_for_bank(self, actor: ActorLike) -> list[dict[str, Any]]:
        """The pledges offered to the actor's bank, newest first, with their serials."""
        require(actor.roles, Action.confirm_pledge)
        with UnitOfWork(self.engine, read_only=True) as uow:
            session = uow.session
            names = dict(session.execute(select(Organisation.id, Organisation.name)).all())
            out = []
            for pledge in session.scalars(
                select(Pledge)
                .where(Pledge.bank_organisation_id == actor.organisation_id)
                .order_by(Pledge.id.desc())
            ):
                blocks = session.scalars(
                    select(Block)
                    .join(PledgeBlock, PledgeBlock.block_id == Block.id)
                    .where(PledgeBlock.pledge_id == pledge.id)
                    .order_by(Block.serial_start)
                )
                out.append(
                    {
                        "id": pledge.id,
                        "state": pledge.state,
                        "holder": names.get(pledge.holder_organisation_id, ""),
                        "quantity": pledge.quantity,
                        "loan_amount_fen": pledge.loan_amount_fen,
                        "contract_number": pledge.contract_number or "",
                        "requested_at": pledge.requested_at,
                        "serials": [serial_text(b) for b in blocks],
                    }
                )
            return out

    def freezes_by_court(self, actor: ActorLike) -> list[dict[str, Any]]:
        """The freezes the actor's court ordered, newest first, with their serials."""
        require(actor.roles, Action.freeze)
        with UnitOfWork(self.engine, read_only=True) as uow:
            session = uow.session
            names = dict(session.execute(select(Organisation.id, Organisation.name)).all())
            out = []
            for record in session.scalars(
                select(Freeze)
                .where(Freeze.court_organisation_id == actor.organisation_id)
                .order_by(Freeze.id.desc())
            ):
                blocks = session.scalars(
                    select(Block)
                    .join(FreezeBlock, FreezeBlock.block_id == Block.id)
                    .where(FreezeBlock.freeze_id == record.id)
                    .order_by(Block.serial_start)
                )
                out.append(
                    {
                        "id": record.id,
                        "state": record.state,
                        "holder": names.get(record.holder_organisation_id or 0, ""),
                        "case_number": record.case_number,
                        "reason": record.reason,
                        "quantity": record.quantity,
                        "frozen_at": record.frozen_at,
                        "serials": [serial_text(b) for b in blocks],
                    }
                )
            return out

    # ---------------------------------------------------------------------------- verify

    def verify(self) -> list[str]:
        """Replay the event log from empty, check the chain, compare with the tables, and check the
        conservation invariants. Returns every problem found (empty: the registry is consistent)."""
        with UnitOfWork(self.engine) as uow:
            replayed = events.replay(uow.session.scalars(select(Event).order_by(Event.sequence)))
            problems = list(replayed.problems)
            for table, rows in events.table_rows(uow.session):
                rebuilt = replayed.tables.get(table, {})
                if rebuilt != rows:
                    missing = sorted(set(rows) - set(rebuilt))
                    extra = sorted(set(rebuilt) - set(rows))
                    changed = sorted(i for i in set(rows) & set(rebuilt) if rows[i] != rebuilt[i])
                    problems.append(
                        f"{table}: replay differs (not in log {missing[:5]}, "
                        f"not in table {extra[:5]}, different {changed[:5]})"
                    )
            problems += self._invariants(uow)
        return problems

    def _invariants(self, uow: UnitOfWork) -> list[str]:
        problems = []
        session = uow.session
        for request in session.scalars(
            select(IssuanceRequest).where(IssuanceRequest.state == "ISSUED")
        ):
            held = session.scalar(
                select(func.coalesce(func.sum(Block.quantity), 0)).where(
                    Block.issuance_request_id == request.id
                )
            )
            if held != request.quantity:
                problems.append(
                    f"issuance {request.id}: blocks sum to {held} t, issued {request.quantity} t"
                )
        previous: tuple[int, int] | None = None
        for project_id, start, end in session.execute(
            select(Block.project_id, Block.serial_start, Block.serial_end).order_by(
                Block.project_id, Block.serial_start
            )
        ):
            if previous and previous[0] == project_id and start <= previous[1]:
                problems.append(f"project {project_id}: serial ranges overlap at {start}")
            previous = (project_id, end)
        retired = session.scalar(select(func.count(Block.id)).where(Block.state == "RETIRED")) or 0
        records = session.scalar(select(func.count(Retirement.id))) or 0
        if retired != records:
            problems.append(f"{retired} retired blocks but {records} retirement records")
        return problems


def serial_text(block: Block) -> str:
    """The canonical serial range of a block row."""
    prefix = SerialPrefix(
        block.scheme,
        block.region_code,
        int(block.project_number),
        block.period_start.year,
        block.period_end.year,
    )
    return SerialRange(prefix, block.serial_start, block.serial_end).format()


def buffer_share(quantity: int, rate: float) -> int:
    """Tonnes withheld for the buffer: ``rate × quantity`` rounded half up, deterministically
    (integer arithmetic on the rate in basis points)."""
    basis_points = round(rate * 10_000)
    return (quantity * basis_points + 5_000) // 10_000


#: ``session.info`` key of the events queued by :meth:`Ledger.within` operations.
_DEFERRED = "tanhui_deferred_events"


@dataclass(frozen=True)
class _Moved:
    """A block operation done by :meth:`Ledger._move`: its answer and its changed rows."""

    view: BlockView
    changes: list[dict[str, Any]]


_UNLOCKED: dict[str, Any] = {"lock_kind": None, "lock_ref": None, "lock_organisation_id": None}


def _request_hash(type_: str, request: dict[str, Any]) -> str:
    return hashlib.sha256(events.canonical({"type": type_, **_json(request)})).hexdigest()


def _defer_events(uow: UnitOfWork) -> None:
    """Queue the events of :meth:`Ledger.within` operations on ``uow``'s session and append them
    to the chain when its (outermost) transaction commits; forget them on a rollback."""
    session = uow.session
    if _DEFERRED in session.info:
        return
    session.info[_DEFERRED] = []
    dialect = uow.dialect_name

    @sa_event.listens_for(session, "before_commit")
    def _append_queued(sess: Session) -> None:
        if sess.in_nested_transaction():
            return  # a savepoint's release: the chain waits for the real commit
        queued = sess.info.get(_DEFERRED)
        if queued:
            sess.info[_DEFERRED] = []
            _append_all(sess, queued, dialect)

    @sa_event.listens_for(session, "after_rollback")
    def _forget(sess: Session) -> None:
        if not sess.in_transaction():
            sess.info[_DEFERRED] = []


def _append_all(
    session: Session, queued: list[tuple[str, str, dict[str, Any]]], dialect: str
) -> None:
    """Append queued events (their changes captured already) to the hash chain, in order."""
    session.flush()
    session.info.pop(events._CHANGES, None)
    if dialect == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": events.CHAIN_LOCK_KEY})
    head = session.scalars(select(Event).order_by(Event.sequence.desc()).limit(1)).first()
    sequence = 0 if head is None else head.sequence
    prev = GENESIS_HASH if head is None else head.hash
    for type_, who, body in queued:
        sequence += 1
        digest = events.chain_hash(prev, sequence, type_, who, body)
        session.add(
            Event(
                sequence=sequence, type=type_, payload=body, actor=who, prev_hash=prev, hash=digest
            )
        )
        prev = digest
    session.flush()
    session.info.pop(events._CHANGES, None)


#: Namespaces of the transaction-level advisory locks (two-int form, so they never meet the
#: event log's one-bigint ``events.CHAIN_LOCK_KEY``).
_LEDGER_LOCKS, _KEY_LOCKS = 0x7A6E6876, 0x7A6E6877


def _serialize(uow: UnitOfWork, namespace: int, name: str) -> None:
    """On PostgreSQL, wait for (and then hold until commit) the advisory lock ``name``: for the
    read-then-insert steps that no row lock covers. SQLite's BEGIN IMMEDIATE serializes already."""
    if uow.dialect_name == "postgresql":
        uow.session.execute(
            text("SELECT pg_advisory_xact_lock(:namespace, hashtext(:name))"),
            {"namespace": namespace, "name": name},
        )


def _require_project_owner(actor: ActorLike, project: Project, action: Action) -> None:
    """Only the project's owner (the applicant) reports on it and asks for its issuance.
    (``require_on`` above checks the role only: these actions have no rule in ``OWNERSHIP``.)"""
    if actor.organisation_id is None or actor.organisation_id != project.owner_organisation_id:
        act_zh, act_en = ACTION_LABELS[action]
        raise PermissionDenied(
            f"只有项目业主可以{act_zh}。",
            f"Only the project's owner may {act_en}.",
            action=action.value,
            roles=tuple(str(r) for r in actor.roles),
            allowed=(Role.holder.value,),
        )


#: The state a pledge or freeze record must be in for each step on it.
_RECORD_STATE_NEEDED = {
    Action.confirm_pledge: "requested",
    Action.release_pledge: "active",
    Action.enforce_pledge: "active",
    Action.unfreeze: "active",
}


def _check_record_state(
    what_zh: str, what_en: str, record: Pledge | Freeze, action: Action
) -> None:
    """A pledge or freeze step acts once, on a record in the state the step needs."""
    needed = _RECORD_STATE_NEEDED[action]
    if record.state != needed:
        raise StateError(
            f"{what_zh} {record.id} 的状态为 {record.state}，此操作需要 {needed}。",
            f"{what_en.capitalize()} {record.id} is {record.state}; this step needs {needed}.",
            state=record.state,
            action=action.value,
            allowed_from=(needed,),
        )


_LOCK_ZH = {"reservation": "预留", "pledge": "质押", "freeze": "冻结"}


def _check_locked_by(block: Block, lock_kind: str, lock_ref: int) -> None:
    """A pledge or freeze acts only on blocks still locked for it (not on a later lock of the
    same bank or court on the same block)."""
    if (block.lock_kind, block.lock_ref) != (lock_kind, lock_ref):
        raise Conflict(
            f"序号段 {block.id} 已不再由{_LOCK_ZH[lock_kind]} {lock_ref} 锁定；未作任何更改。",
            f"Block {block.id} is no longer locked by {lock_kind} {lock_ref}; nothing was changed.",
        )


def _actor_ref(actor: ActorLike) -> str:
    return f"{actor.username}#{actor.user_id}" if actor.user_id is not None else actor.username
