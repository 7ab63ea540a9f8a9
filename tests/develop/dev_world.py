"""A small world for the development service tests: the registry's parties (``registry_world``)
plus a village collective and an auditor, the three services on a fixed clock, and helpers."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from registry_world import World, actor, add_organisation, build_world
from sqlalchemy import Engine, func, select

from tanhui.db.tables import TABLES
from tanhui.db.uow import UnitOfWork
from tanhui.develop.library import Library
from tanhui.develop.losses import Losses
from tanhui.develop.pooling import Pooling
from tanhui.registry.permissions import Role

#: 2026-05-10 10:00 in China.
NOW = dt.datetime(2026, 5, 10, 2, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 5, 10)
REGION = "350428"  # the registry world's county
SUBS = [("XB-001", 10.0), ("XB-002", 4.0), ("XB-003", 6.0)]

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32


def clock() -> dt.datetime:
    return NOW


@dataclass
class DevWorld:
    world: World
    engine: Engine
    library: Library
    pooling: Pooling
    losses: Losses

    @property
    def a(self):
        return self.world.actors

    def org(self, key: str) -> int:
        return self.world.org_id(key)

    def project(self, who: str = "farm", **kw):
        """A candidate project of ``who``'s organisation on :data:`SUBS`."""
        values = dict(
            name="常口村碳汇资源统筹项目",
            scheme="SMCER",
            methodology="smcer",
            region_code=REGION,
            county="将乐县",
            subcompartments=SUBS,
            crediting_start=dt.date(2026, 1, 1),
            crediting_end=dt.date(2045, 12, 31),
        )
        values.update(kw)
        return self.library.create_project(self.a[who], **values)

    def move_to(self, project_id: int, stage: str):
        """Move a project forward along the chain to ``stage`` (as the forestry regulator)."""
        view = self.library.get_project(self.a["forestry"], project_id)
        while view.stage != stage:
            view = self.library.advance(self.a["forestry"], project_id)
        return view


def build(engine: Engine, *, buffer_rates: dict[str, float] | None = None) -> DevWorld:
    world = build_world(engine, buffer_rates=buffer_rates)
    add_organisation(world, "village", "常口村股份经济合作社", "holder", Role.holder)
    add_organisation(world, "audit", "将乐县审计局", "regulator", Role.auditor)
    world.actors["public"] = actor("anonymous", None, Role.public)
    return DevWorld(
        world,
        engine,
        Library(engine, clock=clock, max_document_bytes=64 * 1024),
        Pooling(engine, clock=clock, max_document_bytes=64 * 1024),
        Losses(engine, ledger=world.ledger, clock=clock),
    )


def counts(engine: Engine) -> dict[str, int]:
    """Rows per development table (to check that a refused call wrote nothing)."""
    with UnitOfWork(engine, read_only=True) as uow:
        return {
            t.name: int(uow.session.scalar(select(func.count()).select_from(t)) or 0)
            for t in TABLES
            if t.name.startswith("dev_")
        }


def resident_id(first17: str) -> str:
    """A resident id number with its GB 11643 check character."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(c) * w for c, w in zip(first17, weights, strict=True))
    return first17 + "10X98765432"[total % 11]
