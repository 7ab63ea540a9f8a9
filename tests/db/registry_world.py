"""A small registry world for ledger tests: organisations, actors and an issued project."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from tanhui.registry.ledger import Ledger, SystemActor
from tanhui.registry.permissions import Action, Role


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    username: str
    organisation_id: int | None
    roles: frozenset[Role]


def actor(name: str, org: int | None, *roles: Role) -> Actor:
    return Actor(user_id=None, username=name, organisation_id=org, roles=frozenset(roles))


@dataclass
class World:
    ledger: Ledger
    orgs: dict[str, dict] = field(default_factory=dict)
    actors: dict[str, Actor] = field(default_factory=dict)

    def account(self, name: str) -> str:
        return self.orgs[name]["account"]

    def org_id(self, name: str) -> int:
        return self.orgs[name]["id"]


ORGS = {
    "forestry": ("三明市林业局", "regulator", Role.forestry_regulator),
    "eco": ("三明市生态环境局", "regulator", Role.eco_regulator),
    "verifier": ("福建某核证机构", "verifier", Role.verifier),
    "issuer": ("三明市国有林场制发中心", "issuer", Role.issuer),
    "farm": ("将乐县常口村", "holder", Role.holder),
    "buyer": ("某会展公司", "holder", Role.holder),
    "bank": ("兴业银行三明分行", "bank", Role.bank),
    "bank2": ("农业银行将乐支行", "bank", Role.bank),
    "court": ("将乐县人民法院", "court", Role.court),
    "court2": ("三明市中级人民法院", "court", Role.court),
}


def build_world(engine, *, buffer_rates: dict[str, float] | None = None) -> World:
    world = World(Ledger(engine, buffer_rates=buffer_rates))
    system = SystemActor()
    for key, (name, kind, role) in ORGS.items():
        world.orgs[key] = world.ledger.create_organisation(
            system, name=name, kind=kind, region_code="350428"
        )
        world.actors[key] = actor(key, world.orgs[key]["id"], role)
    return world


def result_document(total: float, subcompartments: list[str], *, tag: str = "a") -> dict:
    """A measurement result as `tanhui measure --format json` writes it (the parts the registry reads)."""
    share = total / len(subcompartments)
    return {
        "method": "smcer",
        "total_tco2e": total,
        "provenance": {
            "method": {"name": "smcer", "version": "1"},
            "inputs": {"current": {"content_hash": tag}},
        },
        "rows": [{"id": s, "tco2e": share, "reasons": ""} for s in subcompartments],
    }


def issue(
    world: World,
    quantity_tco2e: float,
    *,
    subcompartments: list[str] | None = None,
    period: tuple[int, int] = (2016, 2020),
    scheme: str = "SMCER",
    owner: str = "farm",
) -> dict:
    """Register a project, report and run the whole issuance workflow; returns the issued blocks."""
    ledger, a = world.ledger, world.actors
    subs = subcompartments or [f"XB-{i:03d}" for i in range(1, 4)]
    project = ledger.register_project(
        a[owner],
        scheme=scheme,
        region_code="350428",
        name="常口村林业碳票项目",
        methodology="smcer",
        crediting_start=dt.date(period[0], 1, 1),
        crediting_end=dt.date(period[1] + 20, 12, 31),
        subcompartments=[(s, 10.0) for s in subs],
    )
    report = ledger.submit_monitoring_report(
        a[owner],
        project_id=project["id"],
        period_start=dt.date(period[0], 1, 1),
        period_end=dt.date(period[1], 12, 31),
        result=result_document(quantity_tco2e, subs),
    )
    request = ledger.submit_issuance(a[owner], report_id=report["id"])
    for who, action in (
        ("verifier", Action.verify_issuance),
        ("forestry", Action.approve_issuance),
        ("eco", Action.file_issuance),
        ("issuer", Action.issue),
    ):
        done = ledger.review_issuance(a[who], request_id=request["id"], action=action)
    return {"project": project, "report": report, "request": request, "blocks": done["blocks"]}


# ------------------------------------------------- helpers for the property and concurrency tests


def rebind(world: World, engine, *, buffer_rates: dict[str, float] | None = None) -> World:
    """The same parties (ids, accounts, actors) on another engine: for a copy of the world's
    database (a cloned SQLite file or a PostgreSQL database created from it as a template)."""
    return World(Ledger(engine, buffer_rates=buffer_rates), dict(world.orgs), dict(world.actors))


def add_organisation(world: World, key: str, name: str, kind: str, *roles: Role) -> Actor:
    """One more party with its holding account and an actor holding ``roles``."""
    world.orgs[key] = world.ledger.create_organisation(
        SystemActor(), name=name, kind=kind, region_code="350428"
    )
    world.actors[key] = actor(key, world.orgs[key]["id"], *roles)
    return world.actors[key]
