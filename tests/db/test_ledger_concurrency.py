"""The ledger under concurrent use: real connections, one thread per caller (invariants 9–11).

On PostgreSQL the racers really overlap (row locks ``FOR UPDATE``, an advisory lock ordering the
event log); on SQLite ``BEGIN IMMEDIATE`` serializes them and no caller may see "database is
locked". Every racer starts at a barrier. Whatever the interleaving: no block gives more than it
holds, conservation is exact, ranges never overlap, every refusal is a clean registry error
(never a database exception), a repeated idempotency key has exactly one effect, and the hash
chain stays linear (``ledger.verify() == []``).
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from registry_world import World, actor, add_organisation, build_world, issue, result_document
from sqlalchemy import func, select

from tanhui.db import make_engine
from tanhui.db.tables import Block, Event, Project, Retirement
from tanhui.db.uow import UnitOfWork
from tanhui.errors import ConflictError, PermissionDenied, StateError, TanhuiError
from tanhui.registry.permissions import Action, Role
from tanhui.registry.serials import parse

RACERS = 16
TIMEOUT = 60  # seconds: a deadlock or a lost wake-up fails the test instead of hanging it


@pytest.fixture(params=("sqlite", "postgresql"))
def engine(request):
    """An engine with a connection for every racer, on a migrated database of its own."""
    fixture = {"sqlite": "migrated_sqlite_url", "postgresql": "migrated_postgres_url"}
    url = request.getfixturevalue(fixture[request.param])
    engine = make_engine(url, pool_size=RACERS + 4, max_overflow=8)
    yield engine
    engine.dispose()


@pytest.fixture
def world(engine) -> World:
    return build_world(engine)  # no buffer: an issuance of n t is one block of n t


def race(tasks: list[Callable[[], Any]]) -> list[tuple[str, Any]]:
    """Run the tasks in threads released together; ``("ok", answer)`` or ``("error", exc)``."""
    barrier = threading.Barrier(len(tasks))

    def run(task: Callable[[], Any]) -> tuple[str, Any]:
        barrier.wait(TIMEOUT)
        try:
            return "ok", task()
        except Exception as exc:  # recorded, and judged by the test
            return "error", exc

    with ThreadPoolExecutor(len(tasks)) as pool:
        futures = [pool.submit(run, task) for task in tasks]
        return [future.result(timeout=TIMEOUT) for future in futures]


def clean_refusals(outcomes, *allowed: type[TanhuiError]) -> list[TanhuiError]:
    """The refusals, each checked to be one of ``allowed`` (never a database exception)."""
    errors = [value for kind, value in outcomes if kind == "error"]
    for exc in errors:
        assert isinstance(exc, allowed), f"{type(exc).__module__}.{type(exc).__name__}: {exc}"
        assert "database is locked" not in str(exc)
    return errors


def event_count(engine) -> int:
    with UnitOfWork(engine, read_only=True) as uow:
        return int(uow.session.scalar(select(func.count(Event.id))) or 0)


@dataclass(frozen=True)
class Piece:
    id: int
    serial_start: int
    serial_end: int
    quantity: int
    state: str


def blocks_of(engine, project_id: int) -> list[Piece]:
    with UnitOfWork(engine, read_only=True) as uow:
        rows = uow.session.execute(
            select(Block.id, Block.serial_start, Block.serial_end, Block.quantity, Block.state)
            .where(Block.project_id == project_id)
            .order_by(Block.serial_start)
        )
        return [Piece(*row) for row in rows]


def assert_partition(engine, project_id: int, issued: int) -> None:
    """The project's blocks cover 1..issued exactly: disjoint, gapless, counts = ranges."""
    blocks = blocks_of(engine, project_id)
    assert blocks[0].serial_start == 1 and blocks[-1].serial_end == issued
    for before, after in itertools.pairwise(blocks):
        assert after.serial_start == before.serial_end + 1, (before.id, after.id)
    for b in blocks:
        assert b.quantity == b.serial_end - b.serial_start + 1 >= 1
    assert sum(b.quantity for b in blocks) == issued


def holders(world: World, n: int) -> list[str]:
    """``n`` more holders, each with its own account."""
    keys = [f"holder-{i}" for i in range(n)]
    for key in keys:
        add_organisation(world, key, f"林农合作社 {key}", "holder", Role.holder)
    return keys


def clerk(world: World, name: str, org: str = "farm", role: Role = Role.holder):
    """Another user of an organisation: each thread acts as its own user."""
    return actor(name, world.org_id(org), role)


# --------------------------------------------------------------------- (a) racing transfers


@pytest.mark.parametrize(("k", "winners"), [(7, 14), (10, 10), (13, 7)])
def test_racing_transfers_never_move_more_than_the_block_holds(world, engine, k, winners):
    """16 users of the holder each move k t of the same 100 t block to their own buyer."""
    issued = issue(world, 100)
    block, project = issued["blocks"][0]["id"], issued["project"]["id"]
    buyers = holders(world, RACERS)
    before = event_count(engine)
    outcomes = race(
        [
            lambda i=i: world.ledger.transfer(
                clerk(world, f"farm-clerk-{i}"),
                block_id=block,
                quantity=k,
                to_account=world.account(buyers[i]),
            )
            for i in range(RACERS)
        ]
    )
    moved = [value for kind, value in outcomes if kind == "ok"]
    # 100 = 10 × 10: the 10th mover takes the block itself, later ones no longer hold it
    refusals = clean_refusals(outcomes, PermissionDenied if 100 % k == 0 else ConflictError)
    assert len(moved) == winners and len(refusals) == RACERS - winners
    assert sum(m["quantity"] for m in moved) == k * winners <= 100
    for i, (kind, _) in enumerate(outcomes):
        expected = k if kind == "ok" else 0
        assert world.ledger.balance(world.org_id(buyers[i]))["balance"] == expected
    assert world.ledger.balance(world.org_id("farm"))["balance"] == 100 - k * winners
    assert_partition(engine, project, 100)
    assert event_count(engine) == before + winners
    assert world.ledger.verify() == []


# ----------------------------------------- (b) pledges, freezes, retirements, transfers at once


def test_mixed_operations_racing_on_one_block(world, engine):
    """16 racers take 10 t each from one 125 t block by five different operations."""
    issued = issue(world, 125)
    block, project = issued["blocks"][0]["id"], issued["project"]["id"]
    ledger = world.ledger
    kinds = ["transfer", "retire", "pledge", "freeze", "export"] * 4
    kinds = kinds[:RACERS]

    def task(i: int, kind: str):
        me = clerk(world, f"farm-clerk-{i}")
        if kind == "transfer":
            return ledger.transfer(
                me, block_id=block, quantity=10, to_account=world.account("buyer")
            )
        if kind == "retire":
            return ledger.retire(
                me, block_id=block, quantity=10, beneficiary="林博会", purpose="voluntary"
            )
        if kind == "pledge":
            return ledger.request_pledge(
                me, block_id=block, quantity=10, bank_organisation_id=world.org_id("bank")
            )["block"]
        if kind == "freeze":
            court = clerk(world, f"judge-{i}", "court", Role.court)
            return ledger.freeze(court, block_id=block, quantity=10, case_number=f"执{i}")["block"]
        return ledger.export_blocks(me, block_id=block, quantity=10, destination="海峡")

    outcomes = race([lambda i=i, kind=kind: task(i, kind) for i, kind in enumerate(kinds)])
    refusals = clean_refusals(outcomes, ConflictError)  # 125 = 12 × 10 + 5: the rest is short
    assert len(refusals) == RACERS - 12
    expected_state = {
        "transfer": "ACTIVE",
        "retire": "RETIRED",
        "pledge": "RESERVED",
        "freeze": "FROZEN",
        "export": "EXPORTED",
    }
    pieces = {b.id: b for b in blocks_of(engine, project)}
    for kind, (outcome, value) in zip(kinds, outcomes, strict=True):
        if outcome != "ok":
            continue
        if kind == "retire":  # the certificate names the serials, not the block
            [serial] = value["serials"]
            retired = parse(serial)
            piece = next(b for b in pieces.values() if b.serial_start == retired.start)
            assert (piece.serial_end, piece.state) == (retired.end, "RETIRED")
            continue
        piece = pieces[value["id"]]
        assert (piece.quantity, piece.state) == (10, expected_state[kind])
    assert pieces[block].quantity == 5 and pieces[block].state == "ACTIVE"
    assert_partition(engine, project, 125)
    with UnitOfWork(engine, read_only=True) as uow:
        retired = uow.session.scalar(select(func.count()).where(Block.state == "RETIRED"))
        records = uow.session.scalar(select(func.count(Retirement.id)))
    retirements = sum(
        kind == "retire" and ok == "ok" for kind, (ok, _) in zip(kinds, outcomes, strict=True)
    )
    assert retired == records == retirements
    assert world.ledger.verify() == []


def test_competing_steps_on_the_same_lock_have_one_winner(world, engine):
    """At once, twice over: confirm vs freeze of a reserved piece; release vs enforce (twice
    each) of a pledged piece; retire vs transfer vs export vs retire of an active piece; three
    unfreezes of one freeze. Each group has exactly one winner."""
    a, ledger = world.actors, world.ledger
    issued = issue(world, 400)
    block, project = issued["blocks"][0]["id"], issued["project"]["id"]

    def bank_user(name: str):
        return clerk(world, name, "bank", Role.bank)

    def court_user(name: str):
        return clerk(world, name, "court", Role.court)

    def confirm(pledge: int, name: str):
        return lambda: ledger.confirm_pledge(bank_user(name), pledge_id=pledge)

    def pledge_step(step: str, pledge: int, name: str):
        return lambda: getattr(ledger, step)(bank_user(name), pledge_id=pledge)

    def freeze_all(piece: int, name: str):
        return lambda: ledger.freeze(
            court_user(name), block_id=piece, quantity=None, case_number=name
        )

    def unfreeze(freeze: int, name: str):
        return lambda: ledger.unfreeze(court_user(name), freeze_id=freeze)

    def retire_all(piece: int, name: str):
        return lambda: ledger.retire(
            clerk(world, name, "buyer"),
            block_id=piece,
            quantity=None,
            beneficiary="林博会",
            purpose="voluntary",
        )

    def transfer_all(piece: int, name: str):
        return lambda: ledger.transfer(
            clerk(world, name, "buyer"),
            block_id=piece,
            quantity=None,
            to_account=world.account("bank2"),
        )

    def export_all(piece: int, name: str):
        return lambda: ledger.export_blocks(
            clerk(world, name, "buyer"), block_id=piece, quantity=None, destination="海峡"
        )

    bank = world.org_id("bank")
    groups: dict[str, list[Callable[[], Any]]] = {}
    for g in range(2):
        reserved = ledger.request_pledge(
            a["farm"], block_id=block, quantity=10, bank_organisation_id=bank
        )
        groups[f"reserved-{g}"] = [
            confirm(reserved["pledge_id"], f"banker-{g}"),
            freeze_all(reserved["block"]["id"], f"(2026)执{g}"),
        ]
        pledged = ledger.request_pledge(
            a["farm"], block_id=block, quantity=10, bank_organisation_id=bank
        )["pledge_id"]
        ledger.confirm_pledge(a["bank"], pledge_id=pledged)
        groups[f"pledged-{g}"] = [
            pledge_step(step, pledged, f"banker-{g}-{i}")
            for i, step in enumerate(("release_pledge", "enforce_pledge") * 2)
        ]
        active = ledger.transfer(
            a["farm"], block_id=block, quantity=10, to_account=world.account("buyer")
        )["id"]
        groups[f"active-{g}"] = [
            retire_all(active, f"buyer-{g}-0"),
            transfer_all(active, f"buyer-{g}-1"),
            export_all(active, f"buyer-{g}-2"),
            retire_all(active, f"buyer-{g}-3"),
        ]
        frozen = ledger.freeze(a["court"], block_id=block, quantity=10, case_number=f"执三{g}")
        groups[f"frozen-{g}"] = [unfreeze(frozen["freeze_id"], f"judge-{g}-{i}") for i in range(3)]

    tasks = [(name, task) for name, group in groups.items() for task in group]
    outcomes = race([task for _, task in tasks])
    clean_refusals(outcomes, PermissionDenied, StateError, ConflictError)
    winners = Counter(
        name for (name, _), (kind, _) in zip(tasks, outcomes, strict=True) if kind == "ok"
    )
    assert winners == Counter(dict.fromkeys(groups, 1)), winners
    assert_partition(engine, project, 400)
    assert world.ledger.verify() == []


# ---------------------------------------------------------- (c) one idempotency key, 8 threads


IDEMPOTENT = {
    "transfer part": lambda w, b, who: w.ledger.transfer(
        who, block_id=b, quantity=10, to_account=w.account("buyer"), idempotency_key="same"
    ),
    "transfer all": lambda w, b, who: w.ledger.transfer(
        who, block_id=b, quantity=None, to_account=w.account("buyer"), idempotency_key="same"
    ),
    "retire part": lambda w, b, who: w.ledger.retire(
        who, block_id=b, quantity=10, beneficiary="x", purpose="voluntary", idempotency_key="same"
    ),
    "retire all": lambda w, b, who: w.ledger.retire(
        who, block_id=b, quantity=None, beneficiary="x", purpose="voluntary", idempotency_key="same"
    ),
    "pledge part": lambda w, b, who: w.ledger.request_pledge(
        who, block_id=b, quantity=10, bank_organisation_id=w.org_id("bank"), idempotency_key="same"
    ),
}


FARM_AFTER = {
    "transfer part": {"balance": 90, "available": 90, "ACTIVE": 90},
    "transfer all": {"balance": 0, "available": 0},
    "retire part": {"balance": 90, "available": 90, "ACTIVE": 90, "RETIRED": 10},
    "retire all": {"balance": 0, "available": 0, "RETIRED": 100},
    "pledge part": {"balance": 100, "available": 90, "ACTIVE": 90, "RESERVED": 10},
}


@pytest.mark.parametrize("operation", list(IDEMPOTENT))
def test_one_idempotency_key_from_8_threads_has_one_effect(world, engine, operation):
    issued = issue(world, 100)
    block = issued["blocks"][0]["id"]
    same_user = clerk(world, "farm-api-client")
    before = event_count(engine)
    outcomes = race([lambda: IDEMPOTENT[operation](world, block, same_user) for _ in range(8)])
    clean_refusals(outcomes)  # none at all
    answers = [value for _, value in outcomes]
    assert all(answer == answers[0] for answer in answers)
    assert event_count(engine) == before + 1
    assert world.ledger.balance(world.org_id("farm")) == FARM_AFTER[operation]
    assert world.ledger.verify() == []


# ---------------------------------------------------------- (d) the hash chain under contention


def test_concurrent_appends_keep_the_chain_linear(world, engine):
    """16 threads: transfers from their own blocks (contending only for the log), projects
    registered at once, and the log verifies afterwards with gapless sequences."""
    blocks = [issue(world, 20, subcompartments=[f"XB-{i}"])["blocks"][0]["id"] for i in range(8)]
    ledger = world.ledger

    def transfers(i: int):
        me = clerk(world, f"farm-clerk-{i}")
        return [
            ledger.transfer(me, block_id=blocks[i], quantity=1, to_account=world.account("buyer"))
            for _ in range(5)
        ]

    def register(i: int):
        return ledger.register_project(
            clerk(world, f"buyer-clerk-{i}", "buyer"),
            scheme="SMCER",
            region_code="350428",
            name=f"并发项目 {i}",
            methodology="smcer",
            crediting_start=dt.date(2016, 1, 1),
            crediting_end=dt.date(2040, 12, 31),
        )

    before = event_count(engine)
    outcomes = race(
        [lambda i=i: transfers(i) for i in range(8)] + [lambda i=i: register(i) for i in range(8)]
    )
    clean_refusals(outcomes)  # none at all
    numbers = [value["project_number"] for _, value in outcomes[8:]]
    assert len(set(numbers)) == 8
    assert event_count(engine) == before + 8 * 5 + 8
    with UnitOfWork(engine, read_only=True) as uow:
        sequences = list(uow.session.scalars(select(Event.sequence).order_by(Event.sequence)))
        assert sequences == list(range(1, len(sequences) + 1))
        assert uow.session.scalar(select(func.count(func.distinct(Project.project_number)))) == 16
    assert world.ledger.balance(world.org_id("buyer"))["available"] == 40
    assert world.ledger.verify() == []


def test_the_same_land_issued_from_two_projects_at_once_is_issued_once(world, engine):
    """Two projects claim the same sub-compartment and year; both requests are FILED; the two
    issuing steps race: exactly one issues (no double issuance, also under concurrency)."""
    a, ledger = world.actors, world.ledger
    requests = []
    for owner in ("farm", "buyer"):
        project = ledger.register_project(
            a[owner],
            scheme="SMCER",
            region_code="350428",
            name=f"{owner} 的项目",
            methodology="smcer",
            crediting_start=dt.date(2016, 1, 1),
            crediting_end=dt.date(2040, 12, 31),
            subcompartments=[("XB-001", 10.0)],
        )
        report = ledger.submit_monitoring_report(
            a[owner],
            project_id=project["id"],
            period_start=dt.date(2020, 1, 1),
            period_end=dt.date(2020, 12, 31),
            result=result_document(50.0, ["XB-001"]),
        )
        request = ledger.submit_issuance(a[owner], report_id=report["id"])["id"]
        for who, step in (
            ("verifier", Action.verify_issuance),
            ("forestry", Action.approve_issuance),
            ("eco", Action.file_issuance),
        ):
            ledger.review_issuance(a[who], request_id=request, action=step)
        requests.append(request)
    outcomes = race(
        [
            lambda r=r, i=i: ledger.review_issuance(
                clerk(world, f"issuer-{i}", "issuer", Role.issuer),
                request_id=r,
                action=Action.issue,
            )
            for i, r in enumerate(requests)
        ]
    )
    refusals = clean_refusals(outcomes, ConflictError)
    assert len(refusals) == 1 and "ouble issuance" in str(refusals[0])
    assert world.ledger.verify() == []
