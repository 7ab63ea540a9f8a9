"""The development actions of the role × action table, through the services, for every role.

For each development action and each :class:`Role`, the service is called by an actor holding only
that role; a holder acts in the organisation that owns the project (the others' organisation does
not matter: no other role is restricted to its own organisation). A role :data:`ALLOWED` refuses
must get :class:`PermissionDenied` with nothing written; a role it allows must succeed. Both on
SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from typing import Any

import pytest
from dev_world import REGION, build, counts
from registry_world import actor

from tanhui.errors import PermissionDenied
from tanhui.registry.permissions import ALLOWED, Action, Role

A = Action
DEVELOP = (
    A.manage_dev_projects,
    A.view_dev_projects,
    A.view_library_stats,
    A.manage_rights_holders,
    A.view_rights_holders,
    A.record_authorization,
    A.record_payout,
    A.record_loss_event,
)


class Target:
    """A project of the farm with one consenting household, and fresh names on demand."""

    def __init__(self, w) -> None:
        self.w = w
        self.n = itertools.count(1)
        self.project = w.project()
        farm = w.a["farm"]
        self.holder = w.pooling.register_holder(
            farm, kind="household", name="张三", village="常口村"
        )
        w.pooling.add_parcel(
            farm, self.holder.id, region_code=REGION, subcompartment_id="XB-001", area_ha=5.0
        )
        w.pooling.record_authorization(
            farm,
            self.project.id,
            holder_id=self.holder.id,
            signatory="张三",
            signed_on=dt.date(2025, 1, 1),
        )

    def new_holder(self):
        """Another household with a parcel on the project's sub-compartment."""
        farm = self.w.a["farm"]
        holder = self.w.pooling.register_holder(
            farm, kind="household", name=f"李四{next(self.n)}", village="常口村"
        )
        self.w.pooling.add_parcel(
            farm, holder.id, region_code=REGION, subcompartment_id="XB-001", area_ha=1.0
        )
        return holder


def _consent_of_fresh_holders(t: Target) -> Callable[[Any], Any]:
    """A call recording a consent of another household each time (made beforehand, so a refusal
    writes nothing): a second consent of one holder for the same period is refused."""
    holders = iter([t.new_holder() for _ in Role])
    return lambda who: t.w.pooling.record_authorization(
        who,
        t.project.id,
        holder_id=next(holders).id,
        signatory="李四",
        signed_on=dt.date(2026, 1, 1),
    )


CASES: dict[Action, Callable[[Target], Callable[[Any], Any]]] = {
    A.manage_dev_projects: lambda t: (
        lambda who: t.w.library.create_project(
            who,
            name=f"矩阵项目 {next(t.n)}",
            scheme="SMCER",
            methodology="smcer",
            region_code=REGION,
            owner_organisation_id=t.w.org("farm"),
        )
    ),
    A.view_dev_projects: lambda t: lambda who: t.w.library.get_project(who, t.project.id),
    A.view_library_stats: lambda t: lambda who: t.w.library.county_stats(who, REGION),
    A.manage_rights_holders: lambda t: (
        lambda who: t.w.pooling.register_holder(who, kind="household", name=f"农户 {next(t.n)}")
    ),
    A.view_rights_holders: lambda t: lambda who: t.w.pooling.consent_gap(who, t.project.id),
    A.record_authorization: lambda t: _consent_of_fresh_holders(t),
    A.record_payout: lambda t: (
        lambda who: t.w.pooling.pay_out(
            who,
            t.project.id,
            revenue_fen=10_000,
            sold_on=dt.date(2026, 3, 1),
            reference=f"HT-{next(t.n)}",
        )
    ),
    A.record_loss_event: lambda t: (
        lambda who: t.w.losses.record(
            who,
            t.project.id,
            subcompartment_id="XB-002",
            hazard="pests",
            occurred_on=dt.date(2026, 2, 1),
            share_lost=0.1,
        )
    ),
}


def test_every_development_action_has_a_case():
    assert set(CASES) == set(DEVELOP)
    assert {a for a in Action if "dev" in a.value or a in DEVELOP} == set(DEVELOP)


@pytest.fixture
def target(db_engine) -> Target:
    return Target(build(db_engine))


@pytest.mark.parametrize("action", DEVELOP, ids=str)
def test_role_action_matrix(target, action):
    wrong = []
    call = CASES[action](target)
    for role in Role:
        org = target.w.org("farm") if role is Role.holder else target.w.org("forestry")
        who = actor(f"{role}-only", org, role)
        before = counts(target.w.engine)
        try:
            call(who)
        except PermissionDenied as exc:
            if action in ALLOWED[role]:
                wrong.append(f"{role}: refused, but ALLOWED permits it ({exc})")
            elif counts(target.w.engine) != before:
                wrong.append(f"{role}: refused after writing something")
        else:
            if action not in ALLOWED[role]:
                wrong.append(f"{role}: allowed, but ALLOWED refuses it")
    assert wrong == []


def test_a_holder_of_another_organisation_is_refused(target):
    other = actor("holder-elsewhere", target.w.org("village"), Role.holder)
    refused = []
    for action in DEVELOP:
        if action in (A.view_library_stats,):
            continue  # no holder may read the statistics at all
        call = CASES[action](target)
        before = counts(target.w.engine)
        try:
            result = call(other)
        except PermissionDenied:
            assert counts(target.w.engine) == before
            refused.append(action)
            continue
        # what a holder may do on its own: record a holder its organisation pools
        assert action is A.manage_rights_holders
        assert result.pooled_by_organisation_id == target.w.org("village")
    assert set(refused) == set(DEVELOP) - {A.view_library_stats, A.manage_rights_holders}
