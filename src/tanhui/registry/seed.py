"""Seed a registry with the demo county: parties, users with printed logins, two projects measured
from the demo inventories, issued tickets, a transfer, a pledge, a freeze and retirements.

Used by ``tanhui serve --demo`` and the browser tests. Every step goes through the same services a
user's request does; the monitoring reports are measured from real files (one village's
sub-compartments of the demo county, both surveys), so the registry re-verifies their provenance.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from tanhui.db.uow import UnitOfWork
from tanhui.registry import identity
from tanhui.registry.ledger import Ledger, SystemActor
from tanhui.registry.permissions import Action, Role

DEMO_PASSWORD = "tanhui-demo"  # printed by `tanhui serve --demo`; a demo server only

#: (key, organisation name, kind, username, display name, roles)
PARTIES = (
    ("admin", "碳汇登记簿管理处", "regulator", "admin", "系统管理员", (Role.admin, Role.auditor)),
    (
        "forestry",
        "示范县林业局",
        "regulator",
        "forestry",
        "林业局审定员",
        (Role.forestry_regulator,),
    ),
    ("eco", "示范县生态环境局", "regulator", "eco", "生态环境局备案员", (Role.eco_regulator,)),
    ("verifier", "福建林业碳汇核证中心", "verifier", "verifier", "核证员", (Role.verifier,)),
    ("issuer", "示范县国有林业投资公司", "issuer", "issuer", "制发专员", (Role.issuer,)),
    ("farm", "示范县国有林场", "holder", "farm", "林场碳汇专员", (Role.holder,)),
    ("village", "溪口村股份经济合作社", "holder", "village", "村碳汇管理员", (Role.holder,)),
    ("buyer", "海峡会展集团", "holder", "buyer", "会展公司采购", (Role.holder,)),
    ("bank", "兴业银行示范县支行", "bank", "bank", "信贷经理", (Role.bank,)),
    ("court", "示范县人民法院", "court", "court", "执行法官", (Role.court,)),
)


@dataclass
class Seeded:
    """What the seed created: logins and the ids later steps and tests refer to."""

    logins: dict[str, str] = field(default_factory=dict)
    organisations: dict[str, int] = field(default_factory=dict)
    accounts: dict[str, str] = field(default_factory=dict)
    actors: dict[str, identity.Actor] = field(default_factory=dict)
    projects: dict[str, int] = field(default_factory=dict)
    certificates: list[str] = field(default_factory=list)


def _village_subset(
    demo_dir: Path, out_dir: Path
) -> tuple[Path, Path, list[tuple[str, float]], str]:
    """Write one village's rows of both demo surveys as CSV; return them and its sub-compartments."""
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    later = pacsv.read_csv(demo_dir / "xiaoban_2021.csv")
    earlier = pacsv.read_csv(
        demo_dir / "xiaoban_2016.csv", read_options=pacsv.ReadOptions(encoding="gbk")
    )
    village = later.column("村")[0].as_py()
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for table, name in ((later, "village_2021.csv"), (earlier, "village_2016.csv")):
        part = table.filter(pc.equal(table.column("村"), village))
        path = out_dir / name
        pacsv.write_csv(part, path)
        paths.append(path)
    subset = later.filter(pc.equal(later.column("村"), village))
    subs = list(
        zip(
            subset.column("小班号").to_pylist(),
            subset.column("面积(公顷)").to_pylist(),
            strict=True,
        )
    )
    return paths[0], paths[1], subs, village


def seed(engine: Engine, data_dir: Path, *, rows: int = 2_000) -> Seeded:
    """Fill an empty, migrated registry with the demo county's parties and tickets."""
    from tanhui.demo import build_demo
    from tanhui.measure.methods.base import MethodOptions
    from tanhui.measure.service import measure_files

    out = Seeded()
    ledger = Ledger(engine, buffer_rates={"SMCER": 0.05})
    system = SystemActor()
    for key, org_name, kind, username, display, roles in PARTIES:
        org = ledger.create_organisation(system, name=org_name, kind=kind, region_code="350499")
        out.organisations[key], out.accounts[key] = org["id"], org["account"]
        user = identity.create_user(
            UnitOfWork(engine),
            identity.Actor.system(),
            username,
            DEMO_PASSWORD,
            organisation_id=org["id"],
            roles=roles,
            display_name=display,
        )
        out.logins[username] = DEMO_PASSWORD
        out.actors[key] = identity.Actor(user.id, user.username, org["id"], frozenset(roles))

    demo_dir = data_dir / "demo-county"
    if not (demo_dir / "xiaoban_2021.csv").exists():
        build_demo(demo_dir, n=rows)
    later, earlier, subs, village = _village_subset(demo_dir, data_dir / "demo-project")
    a = out.actors
    project = ledger.register_project(
        a["village"],
        scheme="SMCER",
        region_code="350499",
        name=f"{village}林业碳票项目",
        methodology="smcer",
        crediting_start=dt.date(2016, 1, 1),
        crediting_end=dt.date(2045, 12, 31),
        subcompartments=subs,
    )
    out.projects["village"] = project["id"]
    options = MethodOptions(year_from=2016, year_to=2021)

    def measure() -> Any:
        return measure_files(later, baseline=earlier, method="smcer", options=options)

    result = json.loads(json.dumps(measure().to_dict()))
    report = ledger.submit_monitoring_report(
        a["village"],
        project_id=project["id"],
        period_start=dt.date(2016, 1, 1),
        period_end=dt.date(2021, 12, 31),
        result=result,
        recompute=measure,
    )
    request = ledger.submit_issuance(a["village"], report_id=report["id"])
    for who, step in (
        ("verifier", Action.verify_issuance),
        ("forestry", Action.approve_issuance),
        ("eco", Action.file_issuance),
        ("issuer", Action.issue),
    ):
        issued = ledger.review_issuance(a[who], request_id=request["id"], action=step)
    block = issued["blocks"][0]
    quantity = block["quantity"]

    # the buyer buys a tenth, retires part of it for an event; the village pledges a third
    sold = ledger.transfer(
        a["village"],
        block_id=block["id"],
        quantity=max(quantity // 10, 2),
        to_account=out.accounts["buyer"],
    )
    retired = ledger.retire(
        a["buyer"],
        block_id=sold["id"],
        quantity=max(sold["quantity"] // 2, 1),
        beneficiary="2026 海峡林业博览会",
        purpose="carbon_neutral_event",
        note="展会碳中和 / exhibition neutrality",
    )
    out.certificates.append(retired["certificate_number"])
    pledge = ledger.request_pledge(
        a["village"],
        block_id=block["id"],
        quantity=max(quantity // 3, 1),
        bank_organisation_id=out.organisations["bank"],
        loan_amount_fen=50_000_000,
        contract_number="XY-2026-0088",
    )
    ledger.confirm_pledge(a["bank"], pledge_id=pledge["pledge_id"])
    ledger.freeze(
        a["court"],
        block_id=block["id"],
        quantity=5,
        case_number="(2026)闽0499民初66号",
        reason="林木损害赔偿案财产保全",
    )

    # a second, still-open request shows up in the review queues
    report2 = ledger.submit_monitoring_report(
        a["village"],
        project_id=project["id"],
        period_start=dt.date(2022, 1, 1),
        period_end=dt.date(2022, 12, 31),
        result={**result, "total_tco2e": 1234.5},
    )
    ledger.submit_issuance(a["village"], report_id=report2["id"])
    return out
