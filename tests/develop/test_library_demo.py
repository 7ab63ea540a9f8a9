"""The demo county's development data, seeded after the registry's demo seed (``serve --demo``)."""

from __future__ import annotations

import datetime as dt

import pytest
from pwdlib.hashers.argon2 import Argon2Hasher

from tanhui.db import make_engine
from tanhui.develop import demo_seed
from tanhui.develop.library import Library
from tanhui.develop.losses import Losses
from tanhui.develop.pooling import Pooling
from tanhui.errors import ConflictError
from tanhui.registry import identity
from tanhui.registry.seed import seed as seed_registry

NOW = dt.datetime(2026, 5, 10, 2, 0, tzinfo=dt.UTC)


@pytest.fixture
def seeded(migrated_sqlite_url, tmp_path):
    identity.use_password_hasher(Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1))
    engine = make_engine(migrated_sqlite_url)
    try:
        registry = seed_registry(engine, tmp_path / "data", rows=600)
        dev = demo_seed.seed(engine, tmp_path / "data", registry, clock=lambda: NOW)
        yield engine, registry, dev
    finally:
        engine.dispose()
        identity.use_password_hasher(None)


def test_demo_development_data(seeded, tmp_path):
    engine, registry, dev = seeded
    a = registry.actors
    library = Library(engine, clock=lambda: NOW)
    pooling = Pooling(engine, clock=lambda: NOW)

    village = library.get_project(a["forestry"], dev.projects["village"])
    assert village.stage == "issued" and village.registry_project_id == registry.projects["village"]
    assert village.owner_organisation_id == registry.organisations["village"]
    assert [h.to_stage for h in library.history(a["village"], village.id)][-1] == "issued"
    assert pooling.consent_gap(a["village"], village.id).complete
    (payout,) = pooling.list_payouts(a["forestry"], village.id)
    assert sum(line.amount_fen for line in payout.lines) == payout.revenue_fen == 1_250_000
    (fire,) = Losses(engine).list_events(a["forestry"], village.id)
    assert fire.hazard == "fire" and fire.reversed_quantity is None

    pooled = library.get_project(a["farm"], dev.projects["pooled"])
    assert (
        pooled.stage == "candidate"
        and pooled.owner_organisation_id == registry.organisations["farm"]
    )
    gap = pooling.consent_gap(a["farm"], pooled.id)
    # a small demo county (600 rows) has three households per village at most
    assert {"missing", "expired"} <= {g.reason for g in gap.parcels}
    assert gap.area_covered_ha > 0
    docs = library.list_documents(a["farm"], pooled.id)
    assert len(docs) == 1 and docs[0].kind == "authorization"
    _, content = library.download_document(a["forestry"], docs[0].id)
    assert content.startswith(b"%PDF-1.4") and content.rstrip().endswith(b"%%EOF")
    holders, _ = pooling.list_holders(a["farm"])
    assert {h.kind for h in holders} >= {"household"}
    assert all(h.id_number is None or "*" in h.id_number for h in holders)

    own = library.get_project(a["farm"], dev.projects["farm"])
    assert (own.stage, own.scheme, own.methodology) == ("design", "CCER", "forest-management")

    stats = library.county_stats(a["forestry"], "350499")
    assert stats.projects == 3 and stats.reserve == 2 and not stats.below_reserve
    assert Library(engine).province_stats(a["forestry"], "35").below_reserve == ()

    with pytest.raises(ConflictError):  # not twice
        demo_seed.seed(engine, tmp_path / "data", registry, clock=lambda: NOW)


def test_the_stand_in_scan_is_a_well_formed_pdf():
    pdf = demo_seed.authorization_pdf("Title (x)", ["line \\ one", "two"])
    assert pdf.startswith(b"%PDF-1.4\n") and pdf.endswith(b"%%EOF\n")
    xref = int(pdf.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
    assert pdf[xref:].startswith(b"xref\n0 6\n")
    offsets = [int(line[:10]) for line in pdf[xref:].split(b"\n")[3:8]]
    for number, offset in enumerate(offsets, start=1):
        assert pdf[offset:].startswith(f"{number} 0 obj".encode())
