"""The whole role × action matrix through the ledger service, and its ownership rules (inv. 13).

For every action the ledger exposes and every :class:`Role`, the operation is called by an actor
holding only that role, in the organisation that would have the right to act (the holder, the
pledgee bank, the freezing court, the project owner, the reviewer whose step it is), on a target
prepared for it. A role the :data:`ALLOWED` table refuses must get :class:`PermissionDenied` with
no event appended (nothing changed); a role the table allows must not be refused — here every
allowed call succeeds, since the target is in the state the operation needs. Both on SQLite and
PostgreSQL; ``ledger.verify()`` is ``[]`` afterwards.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from typing import Any

import pytest
from registry_world import World, actor, build_world, issue, result_document
from sqlalchemy import func, select

from tanhui.db.tables import Event
from tanhui.db.uow import UnitOfWork
from tanhui.errors import ConflictError, PermissionDenied, StateError, TanhuiError
from tanhui.registry.lifecycle import ISSUANCE_STEP_ROLE, IssuanceState
from tanhui.registry.permissions import ALLOWED, Action, Role

A = Action
REVIEW = (
    ("verifier", A.verify_issuance, IssuanceState.VERIFIED),
    ("forestry", A.approve_issuance, IssuanceState.APPROVED),
    ("eco", A.file_issuance, IssuanceState.FILED),
    ("issuer", A.issue, IssuanceState.ISSUED),
)
ORG_OF_ROLE = {
    Role.verifier: "verifier",
    Role.forestry_regulator: "forestry",
    Role.eco_regulator: "eco",
    Role.issuer: "issuer",
}

#: Actions with no ledger method taking an actor, and why (the matrix test checks the list).
NOT_THROUGH_THE_LEDGER = {
    A.manage_users: "users and roles are the identity service's (tanhui.registry.identity)",
    A.request_offset: "no offset operations in the ledger yet",
    A.confirm_offset: "no offset operations in the ledger yet",
    A.reject_offset: "no offset operations in the ledger yet",
    A.allocate_buffer: "the buffer is allocated by `issue` (buffer rates), not separately",
    A.view_event_log: "Ledger.verify()/the log take no actor: the API checks the role",
    A.verify_registry: "Ledger.verify() takes no actor: the API checks the role",
    A.public_lookup: "Ledger.lookup() is public (every role has public_lookup)",
    **dict.fromkeys(
        (
            A.manage_dev_projects,
            A.view_dev_projects,
            A.view_library_stats,
            A.manage_rights_holders,
            A.view_rights_holders,
            A.record_authorization,
            A.record_payout,
            A.record_loss_event,
        ),
        "development services (tanhui.develop): tests/develop/test_library_roles.py",
    ),
    **dict.fromkeys(
        (
            A.trade,
            A.list_for_sale,
            A.offer_storage,
            A.record_cash,
            A.view_cash,
            A.operate_market,
            A.request_loan,
            A.manage_loans,
            A.view_finance_stats,
        ),
        "market services (tanhui.market): tests/market/test_market_roles.py",
    ),
}


class Targets:
    """A world with one large issued block and an open report, and fresh targets on demand:
    each call takes one tonne off the large block, so no case disturbs another."""

    def __init__(self, world: World) -> None:
        self.world, self.ledger, self.a = world, world.ledger, world.actors
        issued = issue(world, 5000)
        self.project = issued["project"]["id"]
        self.block = issued["blocks"][0]["id"]
        self.report = self.ledger.submit_monitoring_report(
            self.a["farm"],
            project_id=self.project,
            period_start=dt.date(2021, 1, 1),
            period_end=dt.date(2021, 12, 31),
            result=result_document(100_000.0, [f"XB-{i:03d}" for i in range(1, 4)]),
        )["id"]
        self.n = itertools.count(1)

    def org(self, key: str) -> int:
        return self.world.org_id(key)

    def pledge(self, *, confirmed: bool) -> int:
        pledge = self.ledger.request_pledge(
            self.a["farm"], block_id=self.block, quantity=1, bank_organisation_id=self.org("bank")
        )["pledge_id"]
        if confirmed:
            self.ledger.confirm_pledge(self.a["bank"], pledge_id=pledge)
        return pledge

    def freeze(self) -> int:
        return self.ledger.freeze(
            self.a["court"], block_id=self.block, quantity=1, case_number=self.case()
        )["freeze_id"]

    def exported(self) -> str:
        return self.ledger.export_blocks(
            self.a["farm"], block_id=self.block, quantity=1, destination="海峡股权交易中心"
        )["serial"]

    def case(self) -> str:
        return f"(2026)闽0428执{next(self.n)}号"


def _request_at(t: Targets, state: IssuanceState) -> int:
    request = t.ledger.submit_issuance(t.a["farm"], report_id=t.report, quantity=1)["id"]
    for who, action, reached in REVIEW:
        if state is IssuanceState.SUBMITTED:
            break
        t.ledger.review_issuance(t.a[who], request_id=request, action=action)
        if reached is state:
            break
    return request


#: action → prepare(targets, role) → (the organisation that has the right to act, call(actor)).
Call = Callable[[Any], Any]
CASES: dict[Action, tuple[str, Callable[[Targets, Role], tuple[str, Call]]]] = {}


def case(action: Action):
    def register(prepare: Callable[[Targets, Role], tuple[str, Call]]):
        CASES[action] = prepare
        return prepare

    return register


@case(A.manage_organisations)
def _(t, role):
    n = next(t.n)
    return "forestry", lambda who: t.ledger.open_account(
        who, organisation_id=t.org("buyer"), kind="retirement", idempotency_key=f"acc-{n}"
    )


@case(A.register_project)
def _(t, role):
    n = next(t.n)
    return "farm", lambda who: t.ledger.register_project(
        who,
        scheme="SMCER",
        region_code="350428",
        name=f"矩阵项目 {n}",
        methodology="smcer",
        crediting_start=dt.date(2020, 1, 1),
        crediting_end=dt.date(2040, 12, 31),
    )


@case(A.submit_monitoring_report)
def _(t, role):
    year = 2030 + next(t.n)
    return "farm", lambda who: t.ledger.submit_monitoring_report(
        who,
        project_id=t.project,
        period_start=dt.date(year, 1, 1),
        period_end=dt.date(year, 12, 31),
        result=result_document(10.0, ["XB-001"]),
    )


@case(A.submit_issuance)
def _(t, role):
    return "farm", lambda who: t.ledger.submit_issuance(who, report_id=t.report, quantity=1)


def _review(action: Action, state: IssuanceState, org: str):
    def prepare(t, role):
        request = _request_at(t, state)
        return org, lambda who: t.ledger.review_issuance(who, request_id=request, action=action)

    return prepare


case(A.verify_issuance)(_review(A.verify_issuance, IssuanceState.SUBMITTED, "verifier"))
case(A.approve_issuance)(_review(A.approve_issuance, IssuanceState.VERIFIED, "forestry"))
case(A.file_issuance)(_review(A.file_issuance, IssuanceState.APPROVED, "eco"))
case(A.issue)(_review(A.issue, IssuanceState.FILED, "issuer"))


@case(A.reject_issuance)
def _(t, role):
    """Each reviewing role rejects at the step it holds (a request waiting for it)."""
    state = next((s for s, r in ISSUANCE_STEP_ROLE.items() if r is role), IssuanceState.SUBMITTED)
    request = _request_at(t, state)
    return ORG_OF_ROLE.get(role, "farm"), lambda who: t.ledger.review_issuance(
        who, request_id=request, action=A.reject_issuance, reason="监测报告与小班不符"
    )


@case(A.record_external_issuance)
def _(t, role):
    n = next(t.n)
    return "forestry", lambda who: t.ledger.record_external_issuance(
        who,
        scheme="CCER",
        region_code="350428",
        project_ref=f"CCER-{n}",
        reference=f"CCER-{n}-V1",
        subcompartments=[f"EXT-{n}"],
        period_start=dt.date(2018, 1, 1),
        period_end=dt.date(2022, 12, 31),
    )


@case(A.transfer)
def _(t, role):
    return "farm", lambda who: t.ledger.transfer(
        who, block_id=t.block, quantity=1, to_account=t.world.account("buyer")
    )


@case(A.reserve)
def _(t, role):
    n = next(t.n)
    return "farm", lambda who: t.ledger.reserve(who, block_id=t.block, quantity=1, reference=n)


@case(A.unreserve)
def _(t, role):
    n = next(t.n)
    block = t.ledger.reserve(t.a["farm"], block_id=t.block, quantity=1, reference=n)["id"]
    return "farm", lambda who: t.ledger.unreserve(who, block_id=block, reference=n)


@case(A.request_pledge)
def _(t, role):
    return "farm", lambda who: t.ledger.request_pledge(
        who, block_id=t.block, quantity=1, bank_organisation_id=t.org("bank")
    )


@case(A.confirm_pledge)
def _(t, role):
    pledge = t.pledge(confirmed=False)
    return "bank", lambda who: t.ledger.confirm_pledge(who, pledge_id=pledge)


@case(A.release_pledge)
def _(t, role):
    pledge = t.pledge(confirmed=True)
    return "bank", lambda who: t.ledger.release_pledge(who, pledge_id=pledge)


@case(A.enforce_pledge)
def _(t, role):
    pledge = t.pledge(confirmed=True)
    return "bank", lambda who: t.ledger.enforce_pledge(who, pledge_id=pledge)


@case(A.freeze)
def _(t, role):
    number = t.case()
    return "court", lambda who: t.ledger.freeze(
        who, block_id=t.block, quantity=1, case_number=number
    )


@case(A.unfreeze)
def _(t, role):
    freeze = t.freeze()
    return "court", lambda who: t.ledger.unfreeze(who, freeze_id=freeze)


@case(A.retire)
def _(t, role):
    return "farm", lambda who: t.ledger.retire(
        who, block_id=t.block, quantity=1, beneficiary="某会展公司", purpose="voluntary"
    )


@case(A.cancel_reversal)
def _(t, role):
    return "forestry", lambda who: t.ledger.cancel_reversal(
        who, project_id=t.project, quantity=1, reason="2024 年山火"
    )


@case(A.export_blocks)
def _(t, role):
    return "farm", lambda who: t.ledger.export_blocks(
        who, block_id=t.block, quantity=1, destination="海峡股权交易中心"
    )


@case(A.import_blocks)
def _(t, role):
    serial = t.exported()
    return "issuer", lambda who: t.ledger.import_blocks(
        who, serial=serial, to_account=t.world.account("farm"), source="海峡股权交易中心"
    )


@case(A.view_own_holdings)
def _(t, role):
    return "farm", lambda who: t.ledger.holdings(who)


@case(A.view_all_holdings)
def _(t, role):
    return "farm", lambda who: t.ledger.holdings(who, t.org("buyer"))


@case(A.view_review_queue)
def _(t, role):
    return "farm", lambda who: t.ledger.review_queue(who)


def expected_allowed(role: Role, action: Action) -> bool:
    if action is A.view_own_holdings:  # who may view every holding may view its own
        return bool({A.view_own_holdings, A.view_all_holdings} & ALLOWED[role])
    return action in ALLOWED[role]


def event_count(engine) -> int:
    with UnitOfWork(engine, read_only=True) as uow:
        return int(uow.session.scalar(select(func.count(Event.id))) or 0)


def test_every_action_is_in_the_matrix_or_listed_as_not_through_the_ledger():
    assert not set(CASES) & set(NOT_THROUGH_THE_LEDGER)
    assert set(CASES) | set(NOT_THROUGH_THE_LEDGER) == set(Action)


@pytest.fixture
def targets(db_engine) -> Targets:
    return Targets(build_world(db_engine, buffer_rates={"SMCER": 0.1}))


@pytest.mark.parametrize("action", list(CASES), ids=str)
def test_role_action_matrix(targets, db_engine, action):
    """Every role on this action: refused ↔ the ALLOWED table refuses; refusals change nothing."""
    wrong = []
    for role in Role:
        org, call = CASES[action](targets, role)
        who = actor(f"{role}-only", targets.org(org), role)
        before = event_count(db_engine)
        try:
            call(who)
        except PermissionDenied as exc:
            if expected_allowed(role, action):
                wrong.append(f"{role}: refused, but ALLOWED permits it ({exc})")
            elif event_count(db_engine) != before:
                wrong.append(f"{role}: refused after changing something")
        except TanhuiError as exc:
            wrong.append(f"{role}: {type(exc).__name__} {exc} (the target should allow it)")
        else:
            if not expected_allowed(role, action):
                wrong.append(f"{role}: allowed, but ALLOWED refuses it")
    assert wrong == []
    assert targets.ledger.verify() == []


# ------------------------------------------------------------------------- ownership rules


def test_only_the_holder_moves_its_blocks(targets):
    t, a, ledger = targets, targets.a, targets.ledger
    operations = {
        "transfer": lambda who: ledger.transfer(
            who, block_id=t.block, quantity=1, to_account=t.world.account("buyer")
        ),
        "request_pledge": lambda who: ledger.request_pledge(
            who, block_id=t.block, quantity=1, bank_organisation_id=t.org("bank")
        ),
        "retire": lambda who: ledger.retire(
            who, block_id=t.block, quantity=1, beneficiary="x", purpose="voluntary"
        ),
        "export": lambda who: ledger.export_blocks(
            who, block_id=t.block, quantity=1, destination="x"
        ),
    }
    market = actor("market", t.org("buyer"), Role.market_operator)
    for operation in operations.values():
        # another holder; a bank and a market operator (roles that may hold and move tonnes)
        for other in (a["buyer"], a["bank"], market):
            with pytest.raises(PermissionDenied):
                operation(other)
        operation(a["farm"])  # the holder may
    # a block reserved for a bank is the holder's, but locked by another organisation
    reserved = ledger.request_pledge(
        a["farm"], block_id=t.block, quantity=2, bank_organisation_id=t.org("bank")
    )["block"]["id"]
    with pytest.raises(PermissionDenied):
        ledger.transfer(
            a["farm"], block_id=reserved, quantity=1, to_account=t.world.account("buyer")
        )
    with pytest.raises(PermissionDenied):
        ledger.retire(
            a["farm"], block_id=reserved, quantity=1, beneficiary="x", purpose="voluntary"
        )
    with pytest.raises(PermissionDenied):  # nor may the bank move what it does not hold
        ledger.transfer(
            a["bank"], block_id=reserved, quantity=1, to_account=t.world.account("bank")
        )
    assert ledger.verify() == []


def test_only_the_pledgee_bank_acts_on_a_pledge(targets):
    t, a, ledger = targets, targets.a, targets.ledger
    requested = t.pledge(confirmed=False)
    for other in ("bank2", "farm", "court"):
        with pytest.raises(PermissionDenied):
            ledger.confirm_pledge(a[other], pledge_id=requested)
    ledger.confirm_pledge(a["bank"], pledge_id=requested)
    for step in (ledger.release_pledge, ledger.enforce_pledge):
        for other in ("bank2", "farm"):
            with pytest.raises(PermissionDenied):
                step(a[other], pledge_id=requested)
    # another user of the pledgee bank acts for it
    ledger.enforce_pledge(actor("bank-clerk", t.org("bank"), Role.bank), pledge_id=requested)
    assert ledger.balance(t.org("bank"))["available"] == 1
    with pytest.raises((StateError, ConflictError)):  # once
        ledger.release_pledge(a["bank"], pledge_id=requested)
    assert ledger.verify() == []


def test_any_court_freezes_but_only_that_court_unfreezes(targets):
    t, a, ledger = targets, targets.a, targets.ledger
    frozen = ledger.freeze(a["court2"], block_id=t.block, quantity=3, case_number=t.case())
    for other in ("court", "bank", "farm", "forestry"):
        with pytest.raises(PermissionDenied):
            ledger.unfreeze(a[other], freeze_id=frozen["freeze_id"])
    ledger.unfreeze(a["court2"], freeze_id=frozen["freeze_id"])
    assert ledger.verify() == []


def test_only_the_project_owner_reports_and_asks_for_issuance(targets):
    t, a, ledger = targets, targets.a, targets.ledger
    with pytest.raises(PermissionDenied):
        ledger.submit_monitoring_report(
            a["buyer"],
            project_id=t.project,
            period_start=dt.date(2022, 1, 1),
            period_end=dt.date(2022, 12, 31),
            result=result_document(5.0, ["XB-001"]),
        )
    with pytest.raises(PermissionDenied):
        ledger.submit_issuance(a["buyer"], report_id=t.report, quantity=1)
    ledger.submit_issuance(a["farm"], report_id=t.report, quantity=1)


@pytest.mark.parametrize("state", list(ISSUANCE_STEP_ROLE), ids=str)
def test_only_the_role_holding_the_step_reviews_or_rejects(targets, db_engine, state):
    t = targets
    step_role = ISSUANCE_STEP_ROLE[state]
    for role in ISSUANCE_STEP_ROLE.values():
        request = _request_at(t, state)
        who = actor(f"{role}-reviewer", t.org(ORG_OF_ROLE[role]), role)
        before = event_count(db_engine)
        if role is step_role:
            done = t.ledger.review_issuance(
                who, request_id=request, action=A.reject_issuance, reason="退回"
            )
            assert done["state"] == "REJECTED"
        else:
            with pytest.raises(PermissionDenied):
                t.ledger.review_issuance(
                    who, request_id=request, action=A.reject_issuance, reason="退回"
                )
            assert event_count(db_engine) == before
    assert t.ledger.verify() == []
