"""The project library service on SQLite and PostgreSQL: projects, their lifecycle and history,
documents, the registry link, county and province statistics; refusals change nothing."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from alembic.script import ScriptDirectory
from dev_world import JPEG, NOW, PDF, PNG, REGION, SUBS, build, counts
from registry_world import actor, issue
from sqlalchemy import inspect, update

from tanhui.db import current, downgrade, head, make_engine, upgrade
from tanhui.db.migrate import alembic_config
from tanhui.db.tables import TABLES, DevDocument
from tanhui.db.uow import UnitOfWork
from tanhui.develop.library import DocumentUpload, Library
from tanhui.errors import (
    ConflictError,
    DatabaseError,
    InputError,
    NotFoundError,
    PermissionDenied,
    StateError,
)
from tanhui.registry.permissions import Role


@pytest.fixture
def w(db_engine):
    return build(db_engine)


# ----------------------------------------------------------------------------- projects


def test_create_a_project(w):
    view = w.project(notes="明溪式储备")
    assert view.stage == "candidate" and view.next_stages == ("feasibility", "withdrawn")
    assert view.owner_organisation_id == w.org("farm") and view.owner_name == "将乐县常口村"
    assert [(s.subcompartment_id, s.area_ha) for s in view.subcompartments] == SUBS
    assert view.area_ha == 20.0 and view.region_code == REGION and view.county == "将乐县"
    assert view.created_at == NOW and view.crediting_end == dt.date(2045, 12, 31)
    history = w.library.history(w.a["farm"], view.id)
    assert [(h.from_stage, h.to_stage, h.actor) for h in history] == [(None, "candidate", "farm")]
    assert w.library.get_project(w.a["audit"], view.id) == view


BAD_PROJECTS = {
    "region letters": dict(region_code="35A428"),
    "region short": dict(region_code="3504"),
    "unknown scheme": dict(scheme="XYZ"),
    "empty name": dict(name="   "),
    "empty methodology": dict(methodology=""),
    "duplicate sub-compartment": dict(subcompartments=[("A", 1.0), ("A", 2.0)]),
    "negative area": dict(subcompartments=[("A", -1.0)]),
    "zero area": dict(subcompartments=[("A", 0)]),
    "nan area": dict(subcompartments=[("A", float("nan"))]),
    "text area": dict(subcompartments=[("A", "3")]),
    "not a pair": dict(subcompartments=["A"]),
    "period reversed": dict(crediting_start=dt.date(2030, 1, 1), crediting_end=dt.date(2029, 1, 1)),
}


@pytest.mark.parametrize("bad", BAD_PROJECTS.values(), ids=BAD_PROJECTS.keys())
def test_bad_projects_are_refused_and_nothing_is_written(w, bad):
    before = counts(w.engine)
    with pytest.raises(InputError) as e:
        w.project(**bad)
    assert e.value.zh and e.value.en and e.value.field
    assert counts(w.engine) == before


def test_scheme_is_normalized_and_subcompartments_may_be_a_mapping(w):
    view = w.project(scheme="ccer", subcompartments={"B": 1.5, "A": 2})
    assert view.scheme == "CCER"
    assert [s.subcompartment_id for s in view.subcompartments] == ["A", "B"]


def test_who_may_create_and_see(w):
    before = counts(w.engine)
    for who in ("bank", "court", "public", "audit", "eco", "verifier", "issuer"):
        with pytest.raises(PermissionDenied):
            w.project(who)
    # a holder creates for its own organisation only
    with pytest.raises(PermissionDenied):
        w.project("farm", owner_organisation_id=w.org("village"))
    with pytest.raises(InputError, match="owner"):
        w.library.create_project(
            actor("nobody", None, Role.holder),
            name="x",
            scheme="SMCER",
            methodology="smcer",
            region_code=REGION,
        )
    with pytest.raises(NotFoundError):
        w.project("forestry", owner_organisation_id=99_999)
    assert counts(w.engine) == before
    # the forestry regulator creates for any owner
    village = w.project("forestry", owner_organisation_id=w.org("village"), name="村项目")
    farm = w.project("farm")
    assert village.owner_organisation_id == w.org("village")

    def ids(who, **kw):
        return [p.id for p in w.library.list_projects(w.a[who], **kw)[0]]

    assert ids("farm") == [farm.id]
    assert ids("village") == [village.id]
    assert ids("forestry") == ids("audit") == ids("eco") == [village.id, farm.id]
    with pytest.raises(PermissionDenied):
        w.library.get_project(w.a["village"], farm.id)
    with pytest.raises(PermissionDenied):
        w.library.list_projects(w.a["bank"])
    with pytest.raises(PermissionDenied):
        w.library.list_projects(w.a["public"])
    with pytest.raises(NotFoundError):
        w.library.get_project(w.a["forestry"], 99_999)


def test_list_filters_and_pages(w):
    made = [w.project(name=f"项目{i}") for i in range(5)]
    other = w.project("forestry", owner_organisation_id=w.org("village"), region_code="350421")
    w.library.advance(w.a["farm"], made[0].id)
    f = w.a["forestry"]
    page, total = w.library.list_projects(f, limit=2, offset=1)
    assert total == 6 and [p.id for p in page] == [made[1].id, made[2].id]
    assert w.library.list_projects(f, stage="feasibility")[1] == 1
    assert w.library.list_projects(f, region_code="350421")[0][0].id == other.id
    assert w.library.list_projects(f, region_code="35")[1] == 6
    assert w.library.list_projects(f, region_code="350400")[1] == 6
    assert w.library.list_projects(f, region_code="360000")[1] == 0
    assert w.library.list_projects(f, scheme="smcer")[1] == 6
    assert w.library.list_projects(f, owner_organisation_id=w.org("village"))[1] == 1
    with pytest.raises(InputError):
        w.library.list_projects(f, stage="approved")
    with pytest.raises(InputError):
        w.library.list_projects(f, region_code="abc")


# ---------------------------------------------------------------------------- lifecycle


def test_the_whole_lifecycle_with_its_history(w):
    p = w.project()
    f, farm = w.a["forestry"], w.a["farm"]
    steps = [
        (farm, "feasibility"),
        (farm, "design"),
        (farm, "validation"),
        (farm, "design"),  # revise
        (farm, "validation"),
        (f, "registered"),
        (farm, "monitoring"),
        (f, "issued"),
        (farm, "monitoring"),  # the next period
        (f, "issued"),
        (f, "closed"),
    ]
    for who, stage in steps:
        view = w.library.move(who, p.id, stage, note=f"→ {stage}")
        assert view.stage == stage
    history = w.library.history(w.a["audit"], p.id)
    assert [h.to_stage for h in history] == ["candidate"] + [s for _, s in steps]
    assert [h.from_stage for h in history[1:]] == ["candidate"] + [s for _, s in steps[:-1]]
    assert history[-1].actor == "forestry" and history[-1].note == "→ closed"
    assert all(h.changed_at == NOW for h in history)
    # closed is final
    before = counts(w.engine)
    for stage in ("monitoring", "withdrawn", "candidate"):
        with pytest.raises(StateError):
            w.library.move(f, p.id, stage, note="x")
    with pytest.raises(StateError):
        w.library.advance(f, p.id)
    assert counts(w.engine) == before


def test_advance_and_withdraw(w):
    p = w.project()
    assert w.library.advance(w.a["farm"], p.id).stage == "feasibility"
    with pytest.raises(InputError, match="why"):
        w.library.withdraw(w.a["farm"], p.id, reason="  ")
    view = w.library.withdraw(w.a["farm"], p.id, reason="林权纠纷，暂缓开发")
    assert view.stage == "withdrawn" and view.next_stages == ()
    assert w.library.history(w.a["farm"], p.id)[-1].note == "林权纠纷，暂缓开发"
    with pytest.raises(StateError):
        w.library.advance(w.a["farm"], p.id)


def test_official_steps_are_the_regulators_and_refusals_change_nothing(w):
    p = w.project()
    w.move_to(p.id, "validation")
    before = counts(w.engine)
    with pytest.raises(PermissionDenied) as e:
        w.library.advance(w.a["farm"], p.id)
    assert e.value.allowed == ("forestry_regulator",)
    with pytest.raises(PermissionDenied):  # another holder: not its project
        w.library.move(w.a["village"], p.id, "design")
    for who in ("audit", "eco", "bank", "public"):
        with pytest.raises(PermissionDenied):
            w.library.move(w.a[who], p.id, "design")
    with pytest.raises(StateError):
        w.library.move(w.a["forestry"], p.id, "issued")
    assert counts(w.engine) == before
    assert w.library.get_project(w.a["farm"], p.id).stage == "validation"


# ------------------------------------------------------------------------------- update


def test_update_before_and_after_registration(w):
    p = w.project()
    farm = w.a["farm"]
    view = w.library.update_project(
        farm,
        p.id,
        name="新名称",
        subcompartments=[("XB-009", 2.5)],
        crediting_start=None,
        notes="改边界",
    )
    assert view.name == "新名称" and view.area_ha == 2.5 and view.crediting_start is None
    assert view.crediting_end == dt.date(2045, 12, 31) and view.notes == "改边界"
    with pytest.raises(InputError):  # start after the kept end
        w.library.update_project(farm, p.id, crediting_start=dt.date(2050, 1, 1))
    with pytest.raises(PermissionDenied):
        w.library.update_project(w.a["village"], p.id, name="x")
    w.move_to(p.id, "registered")
    before = counts(w.engine)
    with pytest.raises(StateError, match="boundary"):
        w.library.update_project(farm, p.id, subcompartments=SUBS)
    with pytest.raises(StateError):
        w.library.update_project(farm, p.id, scheme="CCER", name="x")
    assert counts(w.engine) == before
    assert w.library.update_project(farm, p.id, name="已登记项目").name == "已登记项目"
    w.library.withdraw(farm, p.id, reason="撤销")
    with pytest.raises(StateError):
        w.library.update_project(farm, p.id, notes="x")


# ------------------------------------------------------------------------------ documents


def test_documents_roundtrip(w):
    p = w.project()
    doc = w.library.attach_document(
        w.a["farm"],
        p.id,
        DocumentUpload("C:\\扫描件\\可研报告.pdf", PDF, "application/pdf", "feasibility", "初稿"),
    )
    assert doc.filename == "可研报告.pdf" and doc.media_type == "application/pdf"
    assert doc.size_bytes == len(PDF) and doc.sha256 == hashlib.sha256(PDF).hexdigest()
    assert doc.kind == "feasibility" and doc.note == "初稿" and doc.uploaded_at == NOW
    png = w.library.attach_document(w.a["forestry"], p.id, DocumentUpload("map.png", PNG))
    jpeg = w.library.attach_document(
        w.a["farm"], p.id, DocumentUpload("../../etc/photo.jpg", JPEG, "image/jpg", "map")
    )
    assert (png.media_type, jpeg.media_type, jpeg.filename) == (
        "image/png",
        "image/jpeg",
        "photo.jpg",
    )
    listed = w.library.list_documents(w.a["audit"], p.id)
    assert [d.id for d in listed] == [doc.id, png.id, jpeg.id]
    view, content = w.library.download_document(w.a["audit"], doc.id)
    assert view == doc and content == PDF
    with pytest.raises(PermissionDenied):
        w.library.download_document(w.a["village"], doc.id)
    with pytest.raises(NotFoundError):
        w.library.download_document(w.a["forestry"], 99_999)


BAD_DOCUMENTS = {
    "empty": DocumentUpload("a.pdf", b""),
    "too big": DocumentUpload("a.pdf", PDF + b"0" * (64 * 1024)),
    "not a scan": DocumentUpload("a.docx", b"PK\x03\x04 word"),
    "declared otherwise": DocumentUpload("a.png", PDF, "image/png"),
    "unknown kind": DocumentUpload("a.pdf", PDF, kind="contract"),
    "not bytes": DocumentUpload("a.pdf", "%PDF-1.7"),  # type: ignore[arg-type]
}


@pytest.mark.parametrize("upload", BAD_DOCUMENTS.values(), ids=BAD_DOCUMENTS.keys())
def test_bad_documents_are_refused(w, upload):
    p = w.project()
    before = counts(w.engine)
    with pytest.raises(InputError):
        w.library.attach_document(w.a["farm"], p.id, upload)
    assert counts(w.engine) == before


def test_document_permissions_and_a_damaged_document(w):
    p = w.project()
    for who in ("village", "audit", "bank"):
        with pytest.raises(PermissionDenied):
            w.library.attach_document(w.a[who], p.id, DocumentUpload("a.pdf", PDF))
    with pytest.raises(NotFoundError):  # not an authorization of this project
        w.library.attach_document(
            w.a["farm"], p.id, DocumentUpload("a.pdf", PDF), authorization_id=7
        )
    doc = w.library.attach_document(w.a["farm"], p.id, DocumentUpload("a.pdf", PDF))
    with UnitOfWork(w.engine) as uow:
        uow.session.execute(
            update(DevDocument)
            .where(DevDocument.id == doc.id)
            .values(content_base64="JVBERi0xLjgK")
        )
        uow.commit()
    with pytest.raises(DatabaseError, match="damaged"):
        w.library.download_document(w.a["farm"], doc.id)
    with UnitOfWork(w.engine) as uow:
        uow.session.execute(
            update(DevDocument).where(DevDocument.id == doc.id).values(content_base64="不是base64")
        )
        uow.commit()
    with pytest.raises(DatabaseError, match="damaged"):
        w.library.download_document(w.a["farm"], doc.id)


# ------------------------------------------------------------------------------- registry


def test_link_to_the_registry(w):
    issued = issue(w.world, 100.0)  # the farm's registry project in 350428, SMCER
    registry_id = issued["project"]["id"]
    p = w.project()
    with pytest.raises(StateError):
        w.library.link_registry_project(w.a["farm"], p.id, registry_id)
    w.move_to(p.id, "validation")
    with pytest.raises(NotFoundError):
        w.library.link_registry_project(w.a["farm"], p.id, 99_999)
    other = w.project("forestry", owner_organisation_id=w.org("village"))
    w.move_to(other.id, "validation")
    with pytest.raises(InputError, match="owner"):  # another owner's registry project
        w.library.link_registry_project(w.a["forestry"], other.id, registry_id)
    ccer = w.project(scheme="CCER")
    w.move_to(ccer.id, "validation")
    with pytest.raises(InputError, match="scheme"):
        w.library.link_registry_project(w.a["farm"], ccer.id, registry_id)
    with pytest.raises(PermissionDenied):
        w.library.link_registry_project(w.a["village"], p.id, registry_id)
    view = w.library.link_registry_project(w.a["farm"], p.id, registry_id)
    assert view.registry_project_id == registry_id
    assert w.library.link_registry_project(w.a["farm"], p.id, registry_id) == view  # again: same
    second = w.project()
    w.move_to(second.id, "registered")
    with pytest.raises(ConflictError, match="linked"):
        w.library.link_registry_project(w.a["farm"], second.id, registry_id)


# ---------------------------------------------------------------------------- statistics


def test_county_and_province_statistics(w):
    f = w.a["forestry"]
    a = w.project(subcompartments=[("A", 10.0)])
    b = w.project(scheme="CCER", subcompartments=[("B", 5.0), ("C", 2.5)])
    c = w.project(subcompartments=[])
    w.move_to(b.id, "design")
    w.move_to(c.id, "registered")
    w.library.withdraw(f, a.id, reason="不符合条件")
    mingxi = w.project(
        "forestry",
        owner_organisation_id=w.org("village"),
        region_code="350421",
        county="明溪县",
        subcompartments=[("M", 1.0)],
    )
    w.project(
        "forestry",
        owner_organisation_id=w.org("village"),
        region_code="350421",
        county="明溪县",
        subcompartments=[("N", 3.0)],
    )
    w.project(
        "forestry",
        owner_organisation_id=w.org("village"),
        region_code="360721",
        county="赣县",
        subcompartments=[("G", 3.0)],
    )

    county = w.library.county_stats(w.a["audit"], REGION)
    assert (county.region_code, county.county, county.projects) == (REGION, "将乐县", 3)
    assert county.area_ha == 17.5
    assert {k: (v.count, v.area_ha) for k, v in county.by_stage.items()} == {
        "design": (1, 7.5),
        "registered": (1, 0.0),
        "withdrawn": (1, 10.0),
    }
    assert {k: (v.count, v.area_ha) for k, v in county.by_scheme.items()} == {
        "CCER": (1, 7.5),
        "SMCER": (2, 10.0),
    }
    assert (county.open, county.reserve, county.reserve_min) == (2, 1, 2)
    assert county.below_reserve

    province = w.library.province_stats(f, "350000", counties=["350423"])
    assert province.province_code == "350000" and province.projects == 5
    assert province.area_ha == 21.5
    assert [c.region_code for c in province.counties] == ["350421", "350423", REGION]
    assert [c.region_code for c in province.below_reserve] == ["350423", REGION]
    mingxi_stats = province.counties[0]
    assert (mingxi_stats.county, mingxi_stats.reserve, mingxi_stats.below_reserve) == (
        "明溪县",
        2,
        False,
    )
    assert province.counties[1].projects == 0 and province.counties[1].reserve == 0
    assert province.by_stage["candidate"].count == 2
    assert w.library.province_stats(f, "35").projects == 5
    assert mingxi.id in {p.id for p in w.library.list_projects(f, region_code="350421")[0]}
    # a county with no project at all
    empty = w.library.county_stats(f, "350499")
    assert empty.projects == 0 and empty.by_stage == {} and empty.below_reserve
    # a lower reserve target
    assert not Library(w.engine, reserve_min=1).county_stats(f, REGION).below_reserve

    for who in ("farm", "bank", "public", "verifier"):
        with pytest.raises(PermissionDenied):
            w.library.county_stats(w.a[who], REGION)
    with pytest.raises(InputError):
        w.library.province_stats(f, "3500")
    with pytest.raises(InputError, match="not in province"):
        w.library.province_stats(f, "35", counties=["360721"])
    with pytest.raises(InputError):
        w.library.county_stats(f, "35")


# ----------------------------------------------------------------------------- migration


def test_the_develop_revision_goes_down_and_up_keeping_the_registry(db_url):
    registry_tables = set(
        ScriptDirectory.from_config(alembic_config()).get_revision("0001").module.TABLES
    )
    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        w = build(engine)
        w.project()
        downgrade(engine, "0001")
        assert current(engine) == "0001"
        names = set(inspect(engine).get_table_names())
        assert names == registry_tables | {"alembic_version"}
        assert w.world.ledger.verify() == []  # the registry is intact
        downgrade(engine, "0001")  # already there: nothing to do
        upgrade(engine, "0002")
        assert current(engine) == "0002"
        assert {n for n in inspect(engine).get_table_names() if n.startswith("dev_")} == {
            t.name for t in TABLES if t.name.startswith("dev_")
        }
        upgrade(engine)
        assert current(engine) == head()
        assert w.library.list_projects(w.a["forestry"])[1] == 0
        assert w.project().id >= 1
    finally:
        engine.dispose()
