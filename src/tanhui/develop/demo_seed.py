"""Seed the demo county's development data: the project library, pooled holders with their
consents, a payout and a loss event.

Called after :func:`tanhui.registry.seed.seed` (``tanhui serve --demo``), with the same data
directory and what that seed returned, so the organisations, users and the registry project are
the same. Every step goes through the services a user's request does. From the demo county's
2021 sub-compartment table (``<data_dir>/demo-county/xiaoban_2021.csv``):

* **the village project** — the registry's ticket project of the first village (owner 溪口村股份
  经济合作社): in the library at ``issued``, linked to its registry project; its holders (the
  households and the village committee named in 林权权利人) all consented; a fixed revenue split
  (holders 60 %, collective 20 %, developer 20 %) and one sale paid out; a forest fire recorded
  (not reversed: the regulator can do that in the UI);
* **a pooled candidate** (资源统筹) — the state forest farm pools another village's households and
  collective into one candidate project; some consents are missing, one expired, one revoked;
  the first authorization has its scanned document;
* **the farm's own forest-management project** (CCER, at ``design``) on its state compartments.

The county (350499) thus keeps two projects in reserve, as Mingxi asks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from tanhui.db.tables import DevProject
from tanhui.db.uow import UnitOfWork
from tanhui.develop.library import CST, DocumentUpload, Library
from tanhui.develop.losses import Losses
from tanhui.develop.pooling import Pooling
from tanhui.develop.sharing import SharingRule
from tanhui.errors import ConflictError

__all__ = ["DevSeeded", "authorization_pdf", "seed"]

REGION = "350499"
#: 权属 (tenure) of the demo table → rights-holder kind.
KINDS = {"个人": "household", "集体": "collective", "国有": "state_farm"}


@dataclass
class DevSeeded:
    """What the seed created: library project ids by key, rights holders, and more."""

    projects: dict[str, int] = field(default_factory=dict)
    holders: dict[str, list[int]] = field(default_factory=dict)
    authorizations: list[int] = field(default_factory=list)
    payouts: list[int] = field(default_factory=list)
    loss_events: list[int] = field(default_factory=list)


def authorization_pdf(title: str, lines: list[str]) -> bytes:
    """A small, valid one-page PDF (ASCII text, Helvetica) standing in for a scanned consent."""

    def escape(text: str) -> str:
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    text = ["BT /F1 16 Tf 72 760 Td (" + escape(title) + ") Tj ET"]
    for i, line in enumerate(lines):
        text.append(f"BT /F1 11 Tf 72 {730 - 18 * i} Td (" + escape(line) + ") Tj ET")
    stream = "\n".join(text).encode("ascii", "replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    ).encode()
    return bytes(out)


def _rows(data_dir: Path, rows: int) -> list[dict[str, Any]]:
    import pyarrow.csv as pacsv

    from tanhui.demo import build_demo

    demo_dir = data_dir / "demo-county"
    if not (demo_dir / "xiaoban_2021.csv").exists():
        build_demo(demo_dir, n=rows)
    table = pacsv.read_csv(demo_dir / "xiaoban_2021.csv")
    columns = ["县", "村", "小班号", "面积(公顷)", "权属", "林权权利人"]
    return table.select(columns).to_pylist()


def _resident_id(serial: int) -> str:
    """A resident id number of the fictional county 350499 (valid check character)."""
    first17 = f"350499{1960 + serial % 30}{1 + serial % 12:02d}{1 + serial % 28:02d}{serial:03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(c) * w for c, w in zip(first17, weights, strict=True))
    return first17 + "10X98765432"[total % 11]


def seed(
    engine: Engine,
    data_dir: Path,
    registry: Any,
    *,
    rows: int = 2_000,
    clock: Callable[[], dt.datetime] | None = None,
) -> DevSeeded:
    """Fill the development tables of a database the registry seed has just filled.

    ``registry`` is the :class:`tanhui.registry.seed.Seeded` that seed returned (its actors
    ``forestry``, ``farm`` and ``village`` and its project ``village`` are used).
    """
    clock = clock or (lambda: dt.datetime.now(dt.UTC))
    today = clock().astimezone(CST).date()
    library, pooling = Library(engine, clock=clock), Pooling(engine, clock=clock)
    losses = Losses(engine, clock=clock)
    with UnitOfWork(engine, read_only=True) as uow:
        if uow.session.scalar(select(func.count()).select_from(DevProject)):
            raise ConflictError(
                "项目库已有数据，未写入示范数据。",
                "The project library is not empty; the demo data was not written.",
            )
    a = registry.actors
    forestry, farm, village_actor = a["forestry"], a["farm"], a["village"]
    out = DevSeeded()
    table = _rows(Path(data_dir), rows)
    county = table[0]["县"] if table else "示范县"
    villages = list(dict.fromkeys(r["村"] for r in table))
    first_village = villages[0]
    serial = iter(range(1, 10_000))

    def holders_for(rows_: list[dict[str, Any]], pooled_by: Any, key: str) -> dict[str, int]:
        """One rights holder per owner named in the rows, with a parcel per row."""
        ids: dict[str, int] = {}
        for row in rows_:
            owner = row["林权权利人"]
            if owner not in ids:
                kind = KINDS.get(row["权属"], "company")
                household = kind == "household"
                holder = pooling.register_holder(
                    pooled_by,
                    kind=kind,
                    name=owner,
                    village=row["村"],
                    region_code=REGION,
                    id_number=_resident_id(next(serial)) if household else None,
                )
                ids[owner] = holder.id
            pooling.add_parcel(
                pooled_by,
                ids[owner],
                region_code=REGION,
                subcompartment_id=row["小班号"],
                area_ha=float(row["面积(公顷)"]),
            )
        out.holders[key] = list(ids.values())
        return ids

    # --- the village's registered ticket project: issued, all consents, a payout, a fire
    village_rows = [r for r in table if r["村"] == first_village]
    village_project = library.create_project(
        village_actor,
        name=f"{first_village}林业碳票项目",
        scheme="SMCER",
        methodology="smcer",
        region_code=REGION,
        county=county,
        subcompartments=[(r["小班号"], float(r["面积(公顷)"])) for r in village_rows],
        crediting_start=dt.date(2016, 1, 1),
        crediting_end=dt.date(2045, 12, 31),
        notes="三明式林业碳票 / Sanming-style forestry carbon ticket",
    )
    pid = village_project.id
    out.projects["village"] = pid
    for who, stage, note in (
        (village_actor, "feasibility", "村民代表大会同意开发"),
        (village_actor, "design", "委托编制项目设计文件"),
        (village_actor, "validation", "提交审定"),
        (forestry, "registered", "县林业局审定登记"),
        (village_actor, "monitoring", "2016–2021 监测期"),
        (forestry, "issued", "首期碳票制发"),
    ):
        library.move(who, pid, stage, note=note)
    library.link_registry_project(forestry, pid, registry.projects["village"])
    village_ids = holders_for(village_rows, village_actor, "village")
    for owner, holder_id in village_ids.items():
        consent = pooling.record_authorization(
            village_actor,
            pid,
            holder_id=holder_id,
            signatory=owner if not owner.endswith("委员会") else f"{owner}（村主任代签）",
            signed_on=dt.date(2015, 12, 20),
            valid_from=dt.date(2016, 1, 1),
            expires_on=dt.date(2045, 12, 31),
        )
        out.authorizations.append(consent.id)
    has_collective = any(r["权属"] == "集体" for r in village_rows)
    has_households = any(r["权属"] != "集体" for r in village_rows)
    rule = (
        SharingRule("fixed_split", holders_bp=6000, collective_bp=2000, developer_bp=2000)
        if has_collective and has_households
        else SharingRule("by_area")
    )
    pooling.set_sharing_rule(village_actor, pid, rule)
    payout = pooling.pay_out(
        village_actor,
        pid,
        revenue_fen=1_250_000,
        sold_on=today - dt.timedelta(days=30),
        reference="XY-2026-0001",
        tonnes=500,
    )
    out.payouts.append(payout.id)
    burnt = max(village_rows, key=lambda r: float(r["面积(公顷)"]))
    fire = losses.record(
        forestry,
        pid,
        subcompartment_id=burnt["小班号"],
        hazard="fire",
        occurred_on=today - dt.timedelta(days=45),
        share_lost=0.3,
        tonnes_lost=25.0,
        note="山火，过火面积约三成（示范）/ a forest fire over about 30 % (demo)",
    )
    out.loss_events.append(fire.id)

    # --- the state farm pools another village's households: a candidate with gaps in consent
    def pooled_rows_of(v: str) -> list[dict[str, Any]]:
        return [r for r in table if r["村"] == v and r["权属"] != "国有"][:20]

    def appeal(v: str) -> tuple[int, bool, int]:
        rows_ = pooled_rows_of(v)
        households = len({r["林权权利人"] for r in rows_ if r["权属"] == "个人"})
        return min(households, 4), any(r["权属"] == "集体" for r in rows_), households

    others = villages[1:] or villages
    pooled_village = max(others, key=lambda v: (*appeal(v), -others.index(v)))
    pooled_rows = pooled_rows_of(pooled_village)
    pooled = library.create_project(
        farm,
        name=f"{pooled_village}碳汇资源统筹项目",
        scheme="SMCER",
        methodology="smcer",
        region_code=REGION,
        county=county,
        subcompartments=[(r["小班号"], float(r["面积(公顷)"])) for r in pooled_rows],
        notes="国有林场统筹农户与村集体林地（股份合作）/ the state farm pools households' land",
    )
    out.projects["pooled"] = pooled.id
    pooled_ids = holders_for(pooled_rows, farm, "pooled")
    # households in order: missing, expired, revoked, then mostly signed (with fewer than four
    # households, one signed first); the village committee signed
    plan = ("missing", "expired", "revoked", "valid", "valid", "missing", "valid")
    if appeal(pooled_village)[0] < 4:
        plan = ("valid", "missing", "expired", "revoked")
    scanned, n = False, 0
    for i, (owner, holder_id) in enumerate(pooled_ids.items()):
        status = "valid"
        if not owner.endswith("委员会"):
            status, n = plan[n % len(plan)], n + 1
        if status == "missing":
            continue
        signed = today - dt.timedelta(days=400 if status == "expired" else 60 + i)
        consent = pooling.record_authorization(
            farm,
            pooled.id,
            holder_id=holder_id,
            signatory=owner,
            signed_on=signed,
            expires_on=today - dt.timedelta(days=20) if status == "expired" else None,
            term_years=None if status == "expired" else 20,
            share_bp=None,
            document=None
            if scanned or status != "valid"
            else DocumentUpload(
                "授权书.pdf",
                authorization_pdf(
                    "Carbon sink development authorization (demo)",
                    [
                        f"Project: {pooled.id}  Holder: {holder_id}",
                        f"Signed on: {signed.isoformat()}",
                        "Scanned copy stand-in generated by tanhui.",
                    ],
                ),
                "application/pdf",
            ),
        )
        scanned = scanned or status == "valid"
        out.authorizations.append(consent.id)
        if status == "revoked":
            pooling.revoke_authorization(
                farm,
                consent.id,
                revoked_on=today - dt.timedelta(days=10),
                reason="农户外出务工，收回林地自营（示范）",
            )
    if any(r["权属"] == "集体" for r in pooled_rows) and any(
        r["权属"] == "个人" for r in pooled_rows
    ):
        pooling.set_sharing_rule(
            farm,
            pooled.id,
            SharingRule("fixed_split", holders_bp=7000, collective_bp=1500, developer_bp=1500),
        )

    # --- the farm's own forest-management project on its state compartments, at design
    state_rows = [r for r in table if r["权属"] == "国有"][:12]
    own = library.create_project(
        farm,
        name="示范县国有林场森林经营碳汇项目",
        scheme="CCER",
        methodology="forest-management",
        region_code=REGION,
        county=county,
        subcompartments=[(r["小班号"], float(r["面积(公顷)"])) for r in state_rows],
        crediting_start=dt.date(2026, 1, 1),
        crediting_end=dt.date(2055, 12, 31),
    )
    out.projects["farm"] = own.id
    library.advance(farm, own.id, note="可研通过")
    library.advance(farm, own.id, note="编制项目设计文件")
    return out
