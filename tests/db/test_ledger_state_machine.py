"""The ledger against a naive reference model: Hypothesis state machines on SQLite and PostgreSQL.

Each run (one Hypothesis example, up to :data:`STEPS` random operations) gets a database of its own,
copied from a template holding the parties of :func:`registry_world.build_world` — a file copy on
SQLite, ``CREATE DATABASE … TEMPLATE`` on PostgreSQL, a few milliseconds either way — so runs never
see each other's blocks and the model starts from the known, empty world.

The model knows every block (project, issuance, serial range, account, state, lock), every pledge
and freeze, and is changed only by operations that succeeded. Before each call it decides from
the registry's rules (the 15 invariants of the registry reference) whether the call must succeed,
or which refusals (:class:`PermissionDenied`, :class:`StateError`, :class:`ConflictError`,
:class:`NotFoundError`) are acceptable; random actors make many calls "by the wrong party". After
every step the invariants compare the database with the model; at the end of every run
``ledger.verify()`` (replay of the event log from empty, hash chain, conservation) must be ``[]``.

:class:`LedgerMachine` runs every operation (breadth); :class:`LockMachine` only pledges, freezes,
transfers and retirements (depth: locks lifted and placed again, finished pledges and freezes
tried once more). What they found is pinned by the plain tests at the end of the file.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import shutil
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from registry_world import build_world, issue, rebind, result_document
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from tanhui.db import make_engine
from tanhui.db.tables import Account, Block, Event, Freeze, Pledge, Project, Retirement
from tanhui.db.uow import UnitOfWork
from tanhui.errors import (
    ConflictError,
    NotFoundError,
    PermissionDenied,
    StateError,
    TanhuiError,
)
from tanhui.registry.events import row_dict
from tanhui.registry.ledger import RETIREMENT_PURPOSES, Ledger
from tanhui.registry.lifecycle import LIVE, LOCKED, TERMINAL, BlockState
from tanhui.registry.permissions import Action, allowed
from tanhui.registry.serials import SerialPrefix, SerialRange, parse

S = BlockState
PD, SE, CF, NF = PermissionDenied, StateError, ConflictError, NotFoundError
MUST_SUCCEED: frozenset[type[TanhuiError]] = frozenset()

HOLDERS = ("farm", "buyer", "bank", "bank2")
ACTORS = (
    "farm",
    "buyer",
    "bank",
    "bank2",
    "court",
    "court2",
    "forestry",
    "eco",
    "verifier",
    "issuer",
)
SCHEMES = ("SMCER", "GZCT", "CCER", "FFCER", "VCS")
#: Buffer rates exact in basis points, so the model's rounding is independent of the ledger's.
RATES = (0.0, 0.05, 0.1, 0.125, 0.25, 0.5, 1.0)
REVIEW = (
    ("verifier", Action.verify_issuance),
    ("forestry", Action.approve_issuance),
    ("eco", Action.file_issuance),
    ("issuer", Action.issue),
)
REGION = "350428"

#: Examples (runs) per backend and operations per run; raise them for a deeper local search, e.g.
#: ``TANHUI_LEDGER_EXAMPLES=500 pytest tests/db/test_ledger_state_machine.py``.
EXAMPLES = {
    "LedgerMachine": {"sqlite": 25, "postgresql": 10},
    "LockMachine": {"sqlite": 25, "postgresql": 8},
}
STEPS = 40
#: ``TANHUI_LEDGER_SHRINK=0``: report the first failure as found (shrinking a long run on a
#: database can take minutes).
PHASES = (
    (Phase.explicit, Phase.reuse, Phase.generate)
    if os.environ.get("TANHUI_LEDGER_SHRINK") == "0"
    else tuple(Phase)
)


def buffer_tonnes(quantity: int, rate: float) -> int:
    """The buffer share, rounded half up, computed exactly (independently of the ledger)."""
    return int(Fraction(str(rate)) * quantity + Fraction(1, 2))


# ------------------------------------------------------------------------ per-run databases


class Clones:
    """Fresh copies of a database that holds the template world, one per state-machine run."""

    def __init__(self, backend: str, template_url: str, world, directory: Path, server) -> None:
        self.backend, self.world, self.directory, self.server = backend, world, directory, server
        self.template = make_url(template_url).database
        self.live: set[str] = set()
        self._n = itertools.count()

    def make(self) -> str:
        if self.backend == "sqlite":
            target = self.directory / f"run-{next(self._n)}.db"
            shutil.copyfile(self.template, target)
            if Path(f"{self.template}-wal").exists():  # never left by a disposed engine, but
                shutil.copyfile(f"{self.template}-wal", f"{target}-wal")  # copy it if it is
            url = f"sqlite:///{target}"
        else:
            name = self.server.create(template=self.template)
            url = self.server.url_for(name).render_as_string(hide_password=False)
        self.live.add(url)
        return url

    def drop(self, url: str) -> None:
        self.live.discard(url)
        database = make_url(url).database
        if self.backend == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(f"{database}{suffix}").unlink(missing_ok=True)
        else:
            self.server.drop(database)


@pytest.fixture(params=("sqlite", "postgresql"))
def clones(request, tmp_path):
    """A migrated database holding the parties of ``build_world``, to be copied once per run."""
    backend = request.param
    if backend == "sqlite":
        url, server = request.getfixturevalue("migrated_sqlite_url"), None
    else:
        url = request.getfixturevalue("migrated_postgres_url")
        server = request.getfixturevalue("postgres_server")
    engine = make_engine(url)
    try:
        world = build_world(engine)
    finally:
        engine.dispose()  # a PostgreSQL template must have no connections
    env = Clones(backend, url, world, tmp_path, server)
    yield env
    for leftover in list(env.live):
        env.drop(leftover)


# ------------------------------------------------------------------------------- the model


@dataclass
class MBlock:
    id: int  # 0 until the ledger names a new piece
    project: int
    issuance: int
    start: int
    end: int
    account: str
    state: str
    lock_kind: str | None = None
    lock_ref: int | None = None
    lock_org: int | None = None

    @property
    def quantity(self) -> int:
        return self.end - self.start + 1

    def row(self) -> tuple:
        return (
            self.project,
            self.issuance,
            self.start,
            self.end,
            self.account,
            str(self.state),
            self.lock_kind,
            self.lock_ref,
            self.lock_org,
        )

    def unlock(self) -> None:
        self.lock_kind = self.lock_ref = self.lock_org = None


@dataclass
class MProject:
    id: int
    number: int
    scheme: str
    owner: str
    subs: list[str]
    next_serial: int = 1
    years: list[int] = field(default_factory=list)
    issued_years: list[int] = field(default_factory=list)


@dataclass
class MIssuance:
    project: int
    prefix: SerialPrefix
    start: int
    end: int


@dataclass
class MReport:
    id: int
    project: int
    year: int
    issuable: int
    requested: int = 0


@dataclass
class MLock:
    """A pledge (party = the bank) or a freeze (party = the court)."""

    party: int
    state: str
    block: int
    quantity: int


@dataclass
class Snapshot:
    blocks: dict[int, tuple]  # id → MBlock.row()
    rows: dict[int, dict[str, Any]]  # id → every column
    retirements: list[tuple[int, int, int, int, int, str]]
    pledges: dict[int, str]
    freezes: dict[int, str]
    next_serial: dict[int, int]
    events: int


class RegistryModel(RuleBasedStateMachine):
    """The model, the plumbing and the invariants; the rules are in the mixins below."""

    def __init__(self, env: Clones) -> None:
        super().__init__()
        self.env = env
        self.url = env.make()
        self.engine = make_engine(self.url)
        self.world = rebind(env.world, self.engine)
        self.ledger = self.world.ledger
        self.a = self.world.actors
        self.accounts = {self.world.account(k): self.world.org_id(k) for k in self.world.orgs}
        self.key_of_org = {self.world.org_id(k): k for k in self.world.orgs}
        self.buffer_account: str | None = None
        self.blocks: dict[int, MBlock] = {}
        self.projects: dict[int, MProject] = {}
        self.issuances: dict[int, MIssuance] = {}
        self.reports: dict[int, MReport] = {}
        self.pledges: dict[int, MLock] = {}
        self.freezes: dict[int, MLock] = {}
        self.certificates: set[str] = set()
        self.claims: dict[tuple[str, int], int] = {}  # (sub-compartment, year) → report
        self.terminal: dict[int, dict[str, Any]] = {}
        self.answers: list[tuple[Any, dict[str, Any], Any]] = []
        self.keys = itertools.count(1)
        self.names = itertools.count(1)
        self._snapshot: Snapshot | None = None
        self.events = self.event_count()

    # ------------------------------------------------------------------------- plumbing

    def teardown(self) -> None:
        try:
            problems = self.ledger.verify()
            assert problems == [], problems
        finally:
            self.engine.dispose()
            self.env.drop(self.url)

    def event_count(self) -> int:
        with UnitOfWork(self.engine, read_only=True) as uow:
            return int(uow.session.scalar(select(func.count(Event.id))) or 0)

    def attempt(self, call, expect=MUST_SUCCEED, **kwargs):
        """Call the ledger; ``expect`` is empty (must succeed) or the acceptable refusals."""
        kwargs.setdefault("idempotency_key", f"key-{next(self.keys)}")
        self._snapshot = None
        before = self.event_count()
        try:
            answer = call(**kwargs)
        except TanhuiError as exc:
            what = f"{call.__name__}({_show(kwargs)})"
            assert expect, f"{what} was refused: {type(exc).__name__}: {exc}"
            assert isinstance(exc, tuple(expect)), (
                f"{what} was refused with {type(exc).__name__} ({exc}); "
                f"expected one of {sorted(e.__name__ for e in expect)}"
            )
            assert self.event_count() == before, f"the refused {what} appended an event"
            return None
        assert not expect, (
            f"{call.__name__}({_show(kwargs)}) succeeded ({answer}); "
            f"expected a refusal: {sorted(e.__name__ for e in expect)}"
        )
        assert self.event_count() == before + 1, "one operation, one event"
        self.events += 1
        self.answers.append((call, kwargs, answer))
        return answer

    @staticmethod
    def sometimes(data, one_in: int, label: str) -> bool:
        return data.draw(st.integers(1, one_in), label=label) == one_in

    def pick_block(self, data, usable: tuple[str, ...] = (S.ACTIVE,)) -> MBlock:
        """Usually a block in a state the operation can use, held by a party that can act;
        sometimes any block (dead ones too), or one a pledge or freeze names (to lock a block
        again after its lock was lifted, so that stale pledges and freezes meet new locks)."""
        ids = sorted(self.blocks)
        usable_ids = [
            i for i in ids if self.blocks[i].state in usable and self.holder_key(self.blocks[i])
        ]
        named = sorted({r.block for r in (*self.pledges.values(), *self.freezes.values())})
        choice = data.draw(st.sampled_from(("usable", "usable", "usable", "any", "named")))
        pool = {"usable": usable_ids, "any": ids, "named": named}[choice] or ids
        return self.blocks[data.draw(st.sampled_from(pool), label="block")]

    def pick_actor(self, data, natural: str | None) -> str:
        """Usually the party that should act; sometimes anyone (often the wrong party)."""
        if natural is not None and not self.sometimes(data, 6, "anyone acts"):
            return natural
        return data.draw(st.sampled_from(ACTORS), label="actor")

    @staticmethod
    def pick_quantity(data, b: MBlock) -> int | None:
        mode = data.draw(st.sampled_from(("part",) * 4 + ("all",) * 2 + ("over", "zero")))
        if mode == "part":
            return data.draw(st.integers(1, b.quantity), label="quantity")
        if mode == "all":
            return data.draw(st.sampled_from((None, b.quantity)), label="quantity")
        if mode == "over":  # more than the block holds: must fail and change nothing
            return b.quantity + data.draw(st.integers(1, 3), label="excess")
        return 0

    @staticmethod
    def quantity_ok(k: int | None, b: MBlock) -> bool:
        return k is None or 1 <= k <= b.quantity

    def org(self, who: str) -> int:
        return self.world.org_id(who)

    def holder_key(self, b: MBlock) -> str | None:
        return self.key_of_org.get(self.accounts[b.account])

    def holder_ok(self, who: str, b: MBlock) -> bool:
        """The holder rule: the actor holds the block and no other party has locked it."""
        org = self.org(who)
        return org == self.accounts[b.account] and b.lock_org in (None, org)

    def split(self, b: MBlock, k: int | None) -> MBlock:
        """The model's split: the **last** k serials move to a new piece; all of them: ``b``."""
        if k is None or k == b.quantity:
            return b
        piece = replace(b, id=0, start=b.end - k + 1)
        b.end = piece.start - 1
        return piece

    def adopt(self, piece: MBlock, block_id: int) -> None:
        if piece.id == 0:
            assert block_id not in self.blocks, f"a split reused block id {block_id}"
            piece.id = block_id
            self.blocks[block_id] = piece
        else:
            assert piece.id == block_id, "a whole-block operation answered with another block"

    def adopt_from_db(self, pieces: list[MBlock]) -> None:
        """Name new pieces the answer does not name, by their (project, first serial)."""
        if not pieces:
            return
        with UnitOfWork(self.engine, read_only=True) as uow:
            ids = {
                (p, s): i
                for i, p, s in uow.session.execute(
                    select(Block.id, Block.project_id, Block.serial_start).where(
                        Block.id.not_in(list(self.blocks))
                    )
                )
            }
        for piece in pieces:
            assert (piece.project, piece.start) in ids, f"no new block starts at {piece.start}"
            self.adopt(piece, ids[(piece.project, piece.start)])

    def serial(self, b: MBlock) -> str:
        return SerialRange(self.issuances[b.issuance].prefix, b.start, b.end).format()

    def check_view(self, view: dict[str, Any], b: MBlock) -> None:
        assert view["id"] == b.id
        assert view["serial"] == self.serial(b), (view["serial"], self.serial(b))
        parsed = parse(view["serial"])  # invariant 12: format(parse(s)) == s, count = quantity
        assert parsed.format() == view["serial"] and parsed.count == view["quantity"] == b.quantity
        assert view["state"] == b.state and view["account"] == b.account
        assert view["holder_organisation_id"] == self.accounts[b.account]

    def buffer_account_number(self) -> str:
        if self.buffer_account is None:
            with UnitOfWork(self.engine, read_only=True) as uow:
                account = uow.session.scalars(select(Account).where(Account.kind == "buffer")).one()
                self.buffer_account = account.number
                self.accounts[account.number] = account.organisation_id
        return self.buffer_account

    # ----------------------------------------------------------------------- issuance

    def run_issuance(
        self,
        data,
        *,
        owner: str,
        tonnes: float,
        rate: float,
        scheme: str,
        project: MProject | None = None,
        clash: tuple[list[str], int] | None = None,
        plain: bool = False,
    ) -> None:
        """Register (or reuse) a project, report, and walk the whole review; ``clash``: register
        the land of an issuance already made, for the same year (the last step must refuse)."""
        ledger = Ledger(self.engine, buffer_rates={project.scheme if project else scheme: rate})
        a = self.a
        if project is None:
            subs = clash[0] if clash else [f"XB-{next(self.names):04d}" for _ in range(2)]
            answer = self.attempt(
                ledger.register_project,
                actor=a[owner],
                scheme=scheme,
                region_code=REGION,
                name=f"林业碳票项目 {next(self.names)}",
                methodology="smcer",
                crediting_start=dt.date(2000, 1, 1),
                crediting_end=dt.date(2060, 12, 31),
                subcompartments=[(s, 10.0) for s in subs],
            )
            project = MProject(answer["id"], int(answer["project_number"]), scheme, owner, subs)
            self.projects[project.id] = project
        year = clash[1] if clash else 2001 + len(project.years)
        project.years.append(year)
        report = self.attempt(
            ledger.submit_monitoring_report,
            actor=a[project.owner],
            project_id=project.id,
            period_start=dt.date(year, 1, 1),
            period_end=dt.date(year, 12, 31),
            result=result_document(tonnes, project.subs, tag=f"{project.id}-{year}"),
        )
        issuable = int(tonnes // 1)
        assert report["issuable_tco2e"] == issuable
        self.reports[report["id"]] = record = MReport(report["id"], project.id, year, issuable)
        self.request_and_review(data, ledger, record, rate, plain=plain)

    def request_and_review(
        self, data, ledger: Ledger, record: MReport, rate: float, *, plain: bool = False
    ) -> None:
        """Ask for (part of) what is left of a report and walk the review (or reject it);
        ``plain``: all of it, and no reviewer errs."""
        a, project = self.a, self.projects[record.project]
        left = record.issuable - record.requested
        modes = ("all",) if plain else ("all", "all", "part", "over")
        mode = data.draw(st.sampled_from(modes), label="request")
        quantity = None
        if mode == "part" and left >= 1:
            quantity = data.draw(st.integers(1, left), label="requested")
        elif mode == "over":
            quantity = left + data.draw(st.integers(1, 3), label="over")
        wanted = left if quantity is None else quantity
        request = self.attempt(
            ledger.submit_issuance,
            MUST_SUCCEED if 1 <= wanted <= left else {CF},  # invariant 4; 0.x t rounds to 0
            actor=a[project.owner],
            report_id=record.id,
            quantity=quantity,
        )
        if request is None:
            return
        record.requested += wanted
        buffer = buffer_tonnes(wanted, rate)  # invariant 15
        assert (request["quantity"], request["buffer_quantity"]) == (wanted, buffer)

        reject_at = None if plain else data.draw(st.sampled_from((None,) * 5 + (0, 1, 2, 3)))
        intruder = None if plain else data.draw(st.sampled_from((None, None, *ACTORS)))
        intrude_at = data.draw(st.integers(0, 3), label="wrong reviewer at step")
        # land × period issued from another report (here or elsewhere) may not be issued again
        clashes = any(
            self.claims.get((sub, record.year), record.id) != record.id for sub in project.subs
        )
        done = None
        for step, (who, action) in enumerate(REVIEW):
            if intruder is not None and intruder != who and step == intrude_at:
                self.attempt(
                    ledger.review_issuance,
                    {PD},  # each step belongs to one role
                    actor=a[intruder],
                    request_id=request["id"],
                    action=action,
                )
            if step == reject_at:
                self.attempt(
                    ledger.review_issuance,
                    actor=a[who],
                    request_id=request["id"],
                    action=Action.reject_issuance,
                    reason="小班边界与林权证不符",
                )
                record.requested -= wanted  # a rejection frees the quantity
                return
            done = self.attempt(
                ledger.review_issuance,
                {CF} if clashes and action is Action.issue else MUST_SUCCEED,
                actor=a[who],
                request_id=request["id"],
                action=action,
            )
        if done is None:
            return

        start = project.next_serial
        end = start + wanted - 1
        prefix = SerialPrefix(project.scheme, REGION, project.number, record.year, record.year)
        self.issuances[request["id"]] = MIssuance(project.id, prefix, start, end)
        project.next_serial = end + 1
        project.issued_years.append(record.year)
        for sub in project.subs:
            self.claims[(sub, record.year)] = record.id
        expected = []
        if wanted > buffer:
            owner_account = self.world.account(project.owner)
            expected.append(
                MBlock(0, project.id, request["id"], start, end - buffer, owner_account, S.ACTIVE)
            )
        if buffer:
            buffer_account = self.buffer_account_number()
            expected.append(
                MBlock(
                    0, project.id, request["id"], end - buffer + 1, end, buffer_account, S.BUFFER
                )
            )
        assert len(done["blocks"]) == len(expected), done["blocks"]
        for view, b in zip(done["blocks"], expected, strict=True):
            self.adopt(b, view["id"])
            self.check_view(view, b)

    @initialize(data=st.data(), tonnes=st.floats(1, 150), rate=st.sampled_from(RATES))
    def first_issuance(self, data, tonnes, rate):
        self.run_issuance(data, owner="farm", tonnes=tonnes, rate=rate, scheme="SMCER")

    # ------------------------------------------------------------------------- invariants

    def snapshot(self) -> Snapshot:
        if self._snapshot is None:
            with UnitOfWork(self.engine, read_only=True) as uow:
                s = uow.session
                blocks, rows = {}, {}
                for b, number in s.execute(
                    select(Block, Account.number).join(Account, Block.account_id == Account.id)
                ):
                    assert b.quantity >= 1 and b.quantity == b.serial_end - b.serial_start + 1
                    blocks[b.id] = (
                        b.project_id,
                        b.issuance_request_id,
                        b.serial_start,
                        b.serial_end,
                        number,
                        b.state,
                        b.lock_kind,
                        b.lock_ref,
                        b.lock_organisation_id,
                    )
                    rows[b.id] = row_dict(b)
                retirements = [
                    (
                        r.block_id,
                        r.project_id,
                        r.serial_start,
                        r.serial_end,
                        r.quantity,
                        r.certificate_number,
                    )
                    for r in s.scalars(select(Retirement))
                ]
                self._snapshot = Snapshot(
                    blocks=blocks,
                    rows=rows,
                    retirements=retirements,
                    pledges={i: v for i, v in s.execute(select(Pledge.id, Pledge.state))},
                    freezes={i: v for i, v in s.execute(select(Freeze.id, Freeze.state))},
                    next_serial={
                        i: v for i, v in s.execute(select(Project.id, Project.next_serial))
                    },
                    events=int(s.scalar(select(func.count(Event.id))) or 0),
                )
        return self._snapshot

    @invariant()
    def tables_equal_the_model(self):
        snap = self.snapshot()
        expected = {i: b.row() for i, b in self.blocks.items()}
        if snap.blocks != expected:
            differ = {
                i: (snap.blocks.get(i), expected.get(i))
                for i in set(snap.blocks) | set(expected)
                if snap.blocks.get(i) != expected.get(i)
            }
            raise AssertionError(f"blocks differ from the model (table, model): {differ}")
        assert snap.pledges == {i: p.state for i, p in self.pledges.items()}
        assert snap.freezes == {i: f.state for i, f in self.freezes.items()}
        assert snap.next_serial == {i: p.next_serial for i, p in self.projects.items()}

    @invariant()
    def ranges_partition_every_issuance_and_project(self):
        """Compare the actual ranges, not only their sums (CADT's split bug passed a sum test)."""
        snap = self.snapshot()
        by_issuance, by_project = defaultdict(list), defaultdict(list)
        for project, issuance, start, end, *_ in snap.blocks.values():
            by_issuance[issuance].append((start, end))
            by_project[project].append((start, end))
        assert set(by_issuance) == set(self.issuances), "blocks of an unknown issuance"
        for issuance, m in self.issuances.items():
            assert _covers_exactly(sorted(by_issuance[issuance]), m.start, m.end), (
                f"issuance {issuance}: blocks {sorted(by_issuance[issuance])} "
                f"do not cover {m.start}..{m.end} exactly"
            )
        for project, ranges in by_project.items():
            assert _covers_exactly(sorted(ranges), 1, self.projects[project].next_serial - 1)

    @invariant()
    def conservation_per_issuance(self):
        """live + retired + cancelled + buffer + exported = issued, for every issuance."""
        totals: dict[int, Counter] = defaultdict(Counter)
        for _, issuance, start, end, _, state, *_ in self.snapshot().blocks.values():
            totals[issuance][state] += end - start + 1
        for issuance, m in self.issuances.items():
            by_state = totals[issuance]
            assert set(by_state) <= set(S), by_state
            live = sum(by_state[s] for s in LIVE)
            accounted = live + sum(
                by_state[s] for s in (S.RETIRED, S.CANCELLED, S.BUFFER, S.EXPORTED)
            )
            assert accounted == m.end - m.start + 1, (issuance, dict(by_state))

    @invariant()
    def balances_equal_the_model(self):
        """balance = Σ live blocks, available = balance − locked, per state as held."""
        for org in sorted(set(self.accounts.values())):
            by_state: Counter = Counter()
            for b in self.blocks.values():
                if self.accounts[b.account] == org:
                    by_state[str(b.state)] += b.quantity
            live = sum(by_state[s] for s in LIVE)
            expected = {"balance": live, "available": by_state[S.ACTIVE], **by_state}
            got = self.ledger.balance(org)
            assert got == expected, (self.key_of_org.get(org, "registry"), got, expected)
            locked = sum(got.get(s, 0) for s in LOCKED)
            assert got["available"] == got["balance"] - locked

    @invariant()
    def retired_and_cancelled_blocks_never_change(self):
        snap = self.snapshot()
        for block_id, row in snap.rows.items():
            if row["state"] in TERMINAL:
                self.terminal.setdefault(block_id, row)
        for block_id, row in self.terminal.items():
            assert snap.rows.get(block_id) == row, f"terminal block {block_id} changed"

    @invariant()
    def one_retirement_record_per_retired_serial(self):
        snap = self.snapshot()
        retired = {
            (project, n)
            for project, _, start, end, _, state, *_ in snap.blocks.values()
            if state == S.RETIRED
            for n in range(start, end + 1)
        }
        records = Counter()
        for block_id, project, start, end, quantity, _ in snap.retirements:
            block = snap.blocks[block_id]
            assert block[5] == S.RETIRED and (block[0], block[2], block[3]) == (project, start, end)
            assert quantity == end - start + 1
            records.update((project, n) for n in range(start, end + 1))
        assert set(records) == retired and set(records.values()) <= {1}
        assert {r[5] for r in snap.retirements} == self.certificates

    @invariant()
    def refused_operations_append_no_event(self):
        assert self.snapshot().events == self.events


class IssuanceRules:
    @rule(data=st.data())
    def issuance(self, data):
        """A new project; another period of a project; the rest of a report (issued in parts);
        the same land and year again (refused at the last step); more than verified (refused)."""
        kinds = ["new project", "new project"]
        if self.projects:
            kinds.append("another period")
        if any(r.requested < r.issuable for r in self.reports.values()):
            kinds.append("the rest of a report")
        if any(p.issued_years for p in self.projects.values()):
            kinds.append("the same land again")
        if self.reports:
            kinds.append("more than verified")
        kind = data.draw(st.sampled_from(kinds), label="issuance")
        rate = data.draw(st.sampled_from(RATES), label="buffer rate")
        scheme = data.draw(st.sampled_from(SCHEMES), label="scheme")
        owner = data.draw(st.sampled_from(("farm", "buyer")), label="owner")
        tonnes = data.draw(st.floats(0.2, 150), label="tonnes")
        if kind in ("new project", "another period"):
            project = None
            if kind == "another period":
                project = self.projects[data.draw(st.sampled_from(sorted(self.projects)))]
            self.run_issuance(
                data, owner=owner, tonnes=tonnes, rate=rate, scheme=scheme, project=project
            )
        elif kind == "the rest of a report":  # together the parts never exceed it (inv. 4)
            open_ = sorted(i for i, r in self.reports.items() if r.requested < r.issuable)
            record = self.reports[data.draw(st.sampled_from(open_), label="report")]
            scheme = self.projects[record.project].scheme
            ledger = Ledger(self.engine, buffer_rates={scheme: rate})
            self.request_and_review(data, ledger, record, rate)
        elif kind == "the same land again":
            issued = sorted(i for i, p in self.projects.items() if p.issued_years)
            earlier = self.projects[data.draw(st.sampled_from(issued), label="project")]
            year = data.draw(st.sampled_from(earlier.issued_years), label="year")
            self.run_issuance(
                data,
                owner=owner,
                tonnes=max(tonnes, 1.0),
                rate=rate,
                scheme=scheme,
                clash=(earlier.subs, year),
            )
        else:
            record = self.reports[data.draw(st.sampled_from(sorted(self.reports)))]
            left = record.issuable - record.requested
            quantity = left + data.draw(st.integers(1, 5), label="excess")
            if left == 0 and self.sometimes(data, 2, "ask for all that is left"):
                quantity = None  # nothing is left
            self.attempt(
                self.ledger.submit_issuance,
                {CF},
                actor=self.a[self.projects[record.project].owner],
                report_id=record.id,
                quantity=quantity,
            )


class HoldingRules:
    # --------------------------------------------------------------------- block moves

    @precondition(lambda self: self.blocks)
    @rule(data=st.data())
    def transfer(self, data):
        b = self.pick_block(data)
        who = self.pick_actor(data, self.holder_key(b))
        k = self.pick_quantity(data, b)
        to = self.world.account(data.draw(st.sampled_from(HOLDERS), label="to"))
        if self.sometimes(data, 10, "to the buffer account"):
            to = self.buffer_account_number()
        expect: set[type[TanhuiError]] = set()
        if not allowed(self.a[who].roles, Action.transfer):
            expect = {PD}
        else:
            if to == self.buffer_account:
                expect.add(CF)  # holding accounts only
            if b.state not in (S.ACTIVE, S.RESERVED):
                expect.add(SE)
            if not self.holder_ok(who, b):
                expect.add(PD)
            if not self.quantity_ok(k, b):
                expect.add(CF)
        view = self.attempt(
            self.ledger.transfer,
            expect,
            actor=self.a[who],
            block_id=b.id,
            quantity=k,
            to_account=to,
        )
        if view is None:
            return
        piece = self.split(b, k)
        piece.account, piece.state = to, S.ACTIVE
        piece.unlock()
        self.adopt(piece, view["id"])
        self.check_view(view, piece)

    @precondition(lambda self: self.blocks)
    @rule(data=st.data(), purpose=st.sampled_from(RETIREMENT_PURPOSES))
    def retire(self, data, purpose):
        b = self.pick_block(data)
        who = self.pick_actor(data, self.holder_key(b))
        k = self.pick_quantity(data, b)
        expect: set[type[TanhuiError]] = set()
        if not allowed(self.a[who].roles, Action.retire):
            expect = {PD}
        else:
            if b.state not in (S.ACTIVE, S.RESERVED):
                expect.add(SE)  # retiring twice fails (invariant 6)
            if not self.holder_ok(who, b):
                expect.add(PD)
            if not self.quantity_ok(k, b):
                expect.add(CF)
        answer = self.attempt(
            self.ledger.retire,
            expect,
            actor=self.a[who],
            block_id=b.id,
            quantity=k,
            beneficiary="第十届林博会",
            purpose=purpose,
        )
        if answer is None:
            return
        holder = self.accounts[b.account]
        piece = self.split(b, k)
        piece.state = S.RETIRED
        piece.unlock()
        if piece.id == 0:
            self.adopt_from_db([piece])
        assert answer["serials"] == [self.serial(piece)] and answer["quantity"] == piece.quantity
        assert answer["purpose"] == purpose and answer["holder_organisation_id"] == holder
        assert answer["certificate_number"] not in self.certificates
        self.certificates.add(answer["certificate_number"])


class LockRules:
    # ------------------------------------------------------------------- pledges, freezes

    @precondition(lambda self: self.blocks)
    @rule(data=st.data())
    def request_pledge(self, data):
        b = self.pick_block(data)
        who = self.pick_actor(data, self.holder_key(b))
        k = self.pick_quantity(data, b)
        bank = data.draw(st.sampled_from(("bank", "bank2", "bank", "bank2", "court")), label="bank")
        self.pledge_block(b, who, k, bank)

    def pledge_block(self, b: MBlock, who: str, k: int | None, bank: str) -> None:
        expect: set[type[TanhuiError]] = set()
        if not allowed(self.a[who].roles, Action.request_pledge):
            expect = {PD}
        else:
            if bank == "court":
                expect.add(NF)  # not a bank
            if b.state != S.ACTIVE:
                expect.add(SE)
            if not self.holder_ok(who, b):
                expect.add(PD)
            if not self.quantity_ok(k, b):
                expect.add(CF)
        answer = self.attempt(
            self.ledger.request_pledge,
            expect,
            actor=self.a[who],
            block_id=b.id,
            quantity=k,
            bank_organisation_id=self.org(bank),
            loan_amount_fen=1_000_000,
        )
        if answer is None:
            return
        pledge_id = answer["pledge_id"]
        assert pledge_id not in self.pledges and answer["state"] == "requested"
        piece = self.split(b, k)
        piece.state = S.RESERVED
        piece.lock_kind, piece.lock_ref, piece.lock_org = "reservation", pledge_id, self.org(bank)
        self.adopt(piece, answer["block"]["id"])
        self.check_view(answer["block"], piece)
        self.pledges[pledge_id] = MLock(self.org(bank), "requested", piece.id, piece.quantity)

    @precondition(lambda self: self.pledges)
    @rule(data=st.data())
    def pledge_step(self, data):
        """Usually the pledge's next step (so pledges live their whole life); sometimes any step,
        also on a finished pledge."""
        pledge_id = self.pick_record(data, self.pledges, "pledge")
        pledge = self.pledges[pledge_id]
        b = self.blocks[pledge.block]
        steps = (Action.confirm_pledge, Action.release_pledge, Action.enforce_pledge)
        if pledge.state == "requested" and not self.sometimes(data, 4, "another step"):
            action = Action.confirm_pledge
        elif pledge.state == "active" and not self.sometimes(data, 4, "another step"):
            action = data.draw(st.sampled_from(steps[1:]), label="step")
        else:
            action = data.draw(st.sampled_from(steps), label="step")
        who = self.pick_actor(data, self.key_of_org[pledge.party])
        needs = {
            Action.confirm_pledge: ("requested", S.RESERVED, "reservation", "active"),
            Action.release_pledge: ("active", S.PLEDGED, "pledge", "released"),
            Action.enforce_pledge: ("active", S.PLEDGED, "pledge", "enforced"),
        }
        pledge_state, block_state, lock_kind, after = needs[action]
        expect: set[type[TanhuiError]] = set()
        if not allowed(self.a[who].roles, action):
            expect = {PD}
        else:
            if self.org(who) != pledge.party:
                expect.add(PD)  # only the pledgee bank
            if (pledge.state, b.state, b.lock_kind, b.lock_ref) != (
                pledge_state,
                block_state,
                lock_kind,
                pledge_id,
            ):  # a pledge acts only on blocks still locked for *this* pledge, once
                expect |= {PD, SE, CF}
        answer = self.attempt(
            getattr(self.ledger, action.value), expect, actor=self.a[who], pledge_id=pledge_id
        )
        if answer is None:
            return
        assert answer == {"pledge_id": pledge_id, "state": after, "quantity": pledge.quantity}
        pledge.state = after
        if action is Action.confirm_pledge:
            b.state, b.lock_kind = S.PLEDGED, "pledge"
            return
        b.state = S.ACTIVE
        b.unlock()
        if action is Action.enforce_pledge:  # 处置: the tonnes move to the bank
            b.account = self.world.account(self.key_of_org[pledge.party])

    @precondition(lambda self: self.blocks)
    @rule(data=st.data())
    def freeze(self, data):
        b = self.pick_block(data, (S.ACTIVE, S.RESERVED))
        court = data.draw(st.sampled_from(("court", "court2")), label="court")
        who = self.pick_actor(data, court)
        self.freeze_block(b, who, self.pick_quantity(data, b))

    def freeze_block(self, b: MBlock, who: str, k: int | None) -> None:
        expect: set[type[TanhuiError]] = set()
        if not allowed(self.a[who].roles, Action.freeze):
            expect = {PD}
        else:  # any court may freeze any holder's block
            if b.state not in (S.ACTIVE, S.RESERVED):
                expect.add(SE)
            if not self.quantity_ok(k, b):
                expect.add(CF)
        answer = self.attempt(
            self.ledger.freeze,
            expect,
            actor=self.a[who],
            block_id=b.id,
            quantity=k,
            case_number=f"(2026)闽0428执{next(self.names)}号",
        )
        if answer is None:
            return
        freeze_id = answer["freeze_id"]
        assert freeze_id not in self.freezes
        piece = self.split(b, k)
        piece.state = S.FROZEN
        piece.lock_kind, piece.lock_ref, piece.lock_org = "freeze", freeze_id, self.org(who)
        self.adopt(piece, answer["block"]["id"])
        self.check_view(answer["block"], piece)
        self.freezes[freeze_id] = MLock(self.org(who), "active", piece.id, piece.quantity)

    def pick_record(self, data, records: dict[int, MLock], label: str) -> int:
        """Any pledge or freeze; sometimes a lifted one whose block is locked again since."""
        stale = sorted(
            i
            for i, r in records.items()
            if self.blocks[r.block].lock_ref not in (None, i)
            and r.state not in ("requested", "active")
        )
        pool = stale if stale and self.sometimes(data, 3, f"a lifted {label}") else sorted(records)
        return data.draw(st.sampled_from(pool), label=label)

    def relockable(self) -> list[tuple[str, MLock]]:
        return [
            (kind, record)
            for kind, records in (("pledge", self.pledges), ("freeze", self.freezes))
            for record in records.values()
            if self.blocks[record.block].state == S.ACTIVE
        ]

    @precondition(lambda self: self.relockable())
    @rule(data=st.data())
    def lock_a_block_again(self, data):
        """The same bank or court locks again, whole, a block whose earlier pledge or freeze was
        lifted: the earlier record must then not act on the new lock."""
        kind, record = data.draw(st.sampled_from(self.relockable()), label="earlier lock")
        b, party = self.blocks[record.block], self.key_of_org[record.party]
        if kind == "pledge":
            self.pledge_block(b, self.holder_key(b) or "farm", None, party)
        else:
            self.freeze_block(b, party, None)

    @precondition(lambda self: self.freezes)
    @rule(data=st.data())
    def unfreeze(self, data):
        freeze_id = self.pick_record(data, self.freezes, "freeze")
        record = self.freezes[freeze_id]
        b = self.blocks[record.block]
        who = self.pick_actor(data, self.key_of_org[record.party])
        expect: set[type[TanhuiError]] = set()
        if not allowed(self.a[who].roles, Action.unfreeze):
            expect = {PD}
        else:
            if self.org(who) != record.party:
                expect.add(PD)  # only the court that froze
            if (record.state, b.state, b.lock_kind, b.lock_ref) != (
                "active",
                S.FROZEN,
                "freeze",
                freeze_id,
            ):  # a freeze lifts only its own lock, once
                expect |= {PD, SE, CF}
        answer = self.attempt(self.ledger.unfreeze, expect, actor=self.a[who], freeze_id=freeze_id)
        if answer is None:
            return
        assert answer == {"freeze_id": freeze_id, "state": "released"}
        record.state = "released"
        b.state = S.ACTIVE
        b.unlock()


class ExitRules:
    # ------------------------------------------------- other registries, reversals

    @precondition(lambda self: self.blocks)
    @rule(data=st.data())
    def export(self, data):
        b = self.pick_block(data)
        who = self.pick_actor(data, self.holder_key(b))
        k = self.pick_quantity(data, b)
        expect: set[type[TanhuiError]] = set()
        if not allowed(self.a[who].roles, Action.export_blocks):
            expect = {PD}
        else:
            if b.state != S.ACTIVE:
                expect.add(SE)
            if not self.holder_ok(who, b):
                expect.add(PD)
            if not self.quantity_ok(k, b):
                expect.add(CF)
        view = self.attempt(
            self.ledger.export_blocks,
            expect,
            actor=self.a[who],
            block_id=b.id,
            quantity=k,
            destination="海峡股权交易中心",
        )
        if view is None:
            return
        piece = self.split(b, k)
        piece.state = S.EXPORTED
        self.adopt(piece, view["id"])
        self.check_view(view, piece)

    @precondition(lambda self: self.blocks)
    @rule(data=st.data())
    def import_back(self, data):
        exported = sorted(i for i, b in self.blocks.items() if b.state == S.EXPORTED)
        if exported and not self.sometimes(data, 4, "import a block that is not exported"):
            b = self.blocks[data.draw(st.sampled_from(exported), label="exported block")]
        else:
            b = self.pick_block(data)
        start = b.start
        if b.quantity > 1 and self.sometimes(data, 5, "only part of the exported range"):
            start += 1
        serial = SerialRange(self.issuances[b.issuance].prefix, start, b.end).format()
        exact = b.state == S.EXPORTED and start == b.start
        who = self.pick_actor(data, "issuer")
        to = self.world.account(data.draw(st.sampled_from(HOLDERS), label="to"))
        if not allowed(self.a[who].roles, Action.import_blocks):
            expect: set[type[TanhuiError]] = {PD}
        else:
            expect = set() if exact else {NF}
        view = self.attempt(
            self.ledger.import_blocks,
            expect,
            actor=self.a[who],
            serial=serial,
            to_account=to,
            source="海峡股权交易中心",
        )
        if view is None:
            return
        b.state, b.account = S.ACTIVE, to
        self.check_view(view, b)

    @precondition(lambda self: self.issuances)
    @rule(data=st.data())
    def cancel_reversal(self, data):
        project_ids = sorted({i.project for i in self.issuances.values()})
        project = self.projects[data.draw(st.sampled_from(project_ids), label="project")]
        owner_account = self.world.account(project.owner)

        def newest_first(blocks):
            return sorted(blocks, key=lambda b: b.start, reverse=True)

        buffer = newest_first(
            b for b in self.blocks.values() if b.project == project.id and b.state == S.BUFFER
        )
        owner = newest_first(
            b
            for b in self.blocks.values()
            if b.project == project.id and b.state == S.ACTIVE and b.account == owner_account
        )
        available = sum(b.quantity for b in (*buffer, *owner))
        mode = data.draw(st.sampled_from(("within", "within", "over", "zero")), label="mode")
        if mode == "within" and available:
            quantity = data.draw(st.integers(1, available), label="quantity")
        elif mode == "zero":
            quantity = 0
        else:
            quantity = available + data.draw(st.integers(1, 3), label="excess")
        who = self.pick_actor(data, "forestry")
        if not allowed(self.a[who].roles, Action.cancel_reversal):
            expect: set[type[TanhuiError]] = {PD}
        else:  # all or nothing
            expect = set() if 1 <= quantity <= available else {CF}
        answer = self.attempt(
            self.ledger.cancel_reversal,
            expect,
            actor=self.a[who],
            project_id=project.id,
            quantity=quantity,
            reason="2024 年山火",
        )
        if answer is None:
            return
        remaining, cancelled, new = quantity, {"buffer": 0, "owner": 0}, []
        for source, blocks in (("buffer", buffer), ("owner", owner)):  # the buffer first
            for b in blocks:
                if remaining == 0:
                    break
                piece = self.split(b, min(remaining, b.quantity))
                piece.state = S.CANCELLED
                remaining -= piece.quantity
                cancelled[source] += piece.quantity
                if piece.id == 0:
                    new.append(piece)
        self.adopt_from_db(new)
        assert answer["cancelled"] == cancelled


class KeyRules:
    # ------------------------------------------------------------------------ idempotency

    @precondition(lambda self: self.answers)
    @rule(data=st.data())
    def repeat_a_key(self, data):
        """Repeat an earlier request with its key: the first answer, no second effect. Or send
        another request under that key: refused, nothing changes."""
        call, kwargs, answer = self.answers[
            data.draw(st.integers(0, len(self.answers) - 1), label="earlier request")
        ]
        if not self.sometimes(data, 3, "another request under the key"):
            self._snapshot = None
            before = self.event_count()
            assert call(**kwargs) == answer, "a repeated key must return the first answer"
            assert self.event_count() == before, "a repeated key must have no second effect"
            return
        changed = dict(kwargs)
        for name in ("quantity", "pledge_id", "freeze_id", "source", "name", "period_end"):
            if name in changed:
                value = changed[name]
                if isinstance(value, str):
                    changed[name] = value + "!"
                elif isinstance(value, dt.date):
                    changed[name] = value - dt.timedelta(days=1)
                else:
                    changed[name] = 1 if value is None else value + 1
                break
        else:  # a review step
            changed["reason"] = (changed.get("reason") or "") + "另一个理由"
        self.attempt(call, {CF}, **changed)


class LedgerMachine(IssuanceRules, HoldingRules, LockRules, ExitRules, KeyRules, RegistryModel):
    """Every operation, at random: the breadth."""


class LockMachine(HoldingRules, LockRules, RegistryModel):
    """Pledges, freezes, transfers and retirements only, on two holders' blocks: the depth (a
    lock lifted and placed again, a finished pledge or freeze tried once more)."""

    @initialize(data=st.data(), farm=st.floats(20, 150), buyer=st.floats(20, 150))
    def issue_to_both(self, data, farm, buyer):
        for owner, tonnes in (("farm", farm), ("buyer", buyer)):
            self.run_issuance(data, owner=owner, tonnes=tonnes, rate=0.1, scheme="GZCT", plain=True)


def _covers_exactly(ranges: list[tuple[int, int]], first: int, last: int) -> bool:
    """Whether sorted inclusive ranges are disjoint, gapless and exactly ``first..last``."""
    if not ranges:
        return last < first
    if ranges[0][0] != first or ranges[-1][1] != last:
        return False
    return all(s2 == e1 + 1 for (_, e1), (s2, _) in itertools.pairwise(ranges))


def _show(kwargs: dict[str, Any]) -> str:
    return ", ".join(
        f"{k}={getattr(v, 'username', v)!r}" for k, v in kwargs.items() if k != "result"
    )


def run(machine: type[RegistryModel], clones: Clones) -> None:
    examples = EXAMPLES[machine.__name__][clones.backend]
    run_state_machine_as_test(
        lambda: machine(clones),
        settings=settings(
            max_examples=int(os.environ.get("TANHUI_LEDGER_EXAMPLES", examples)),
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
            report_multiple_bugs=False,
            phases=PHASES,
        ),
    )


def test_ledger_state_machine(clones):
    run(LedgerMachine, clones)


def test_lock_state_machine(clones):
    run(LockMachine, clones)


# ------------------------------------------------------- what the state machine found, pinned


@pytest.fixture
def world(db_engine):
    return build_world(db_engine, buffer_rates={"SMCER": 0.1})


def test_a_finished_pledge_does_not_act_on_a_later_pledge_of_the_same_block(world):
    a, ledger = world.actors, world.ledger
    block = issue(world, 100)["blocks"][0]["id"]
    bank = world.org_id("bank")
    first = ledger.request_pledge(
        a["farm"], block_id=block, quantity=None, bank_organisation_id=bank
    )["pledge_id"]
    ledger.confirm_pledge(a["bank"], pledge_id=first)
    ledger.release_pledge(a["bank"], pledge_id=first)
    second = ledger.request_pledge(
        a["farm"], block_id=block, quantity=None, bank_organisation_id=bank
    )["pledge_id"]
    for step in (ledger.confirm_pledge, ledger.release_pledge, ledger.enforce_pledge):
        with pytest.raises((StateError, ConflictError)):  # was: confirmed the second pledge
            step(a["bank"], pledge_id=first)
    ledger.confirm_pledge(a["bank"], pledge_id=second)
    with pytest.raises((StateError, ConflictError)):  # was: released the second pledge
        ledger.release_pledge(a["bank"], pledge_id=first)
    assert ledger.balance(world.org_id("farm"))["PLEDGED"] == 90
    ledger.enforce_pledge(a["bank"], pledge_id=second)
    assert ledger.balance(bank)["available"] == 90
    assert ledger.verify() == []


def test_a_pledge_request_whose_block_was_frozen_is_void(world):
    a, ledger = world.actors, world.ledger
    block = issue(world, 100)["blocks"][0]["id"]
    bank = world.org_id("bank")
    first = ledger.request_pledge(
        a["farm"], block_id=block, quantity=None, bank_organisation_id=bank
    )
    freeze = ledger.freeze(a["court"], block_id=block, quantity=None, case_number="执1")
    ledger.unfreeze(a["court"], freeze_id=freeze["freeze_id"])  # the reservation was dropped
    ledger.request_pledge(a["farm"], block_id=block, quantity=None, bank_organisation_id=bank)
    with pytest.raises(ConflictError):  # was: the void request confirmed the new one's block
        ledger.confirm_pledge(a["bank"], pledge_id=first["pledge_id"])
    assert ledger.verify() == []


def test_a_lifted_freeze_does_not_lift_a_later_freeze_of_the_same_block(world):
    a, ledger = world.actors, world.ledger
    block = issue(world, 100)["blocks"][0]["id"]
    first = ledger.freeze(a["court"], block_id=block, quantity=None, case_number="执1")["freeze_id"]
    ledger.unfreeze(a["court"], freeze_id=first)
    second = ledger.freeze(a["court"], block_id=block, quantity=None, case_number="执2")
    with pytest.raises((StateError, ConflictError)):  # was: lifted the second freeze
        ledger.unfreeze(a["court"], freeze_id=first)
    assert ledger.balance(world.org_id("farm"))["FROZEN"] == 90
    ledger.unfreeze(a["court"], freeze_id=second["freeze_id"])
    assert ledger.verify() == []


def test_buffer_tonnes_are_in_no_balance(world):
    """balance = ACTIVE + locked (lifecycle.LIVE); it counted the registry's BUFFER tonnes."""
    buffer = issue(world, 100)["blocks"][1]
    assert buffer["state"] == "BUFFER"
    assert world.ledger.balance(buffer["holder_organisation_id"]) == {
        "balance": 0,
        "available": 0,
        "BUFFER": 10,
    }


def test_a_report_may_be_issued_in_parts(world):
    """Its second part was refused as a double issuance of its own land."""
    a, ledger = world.actors, world.ledger
    project = ledger.register_project(
        a["farm"],
        scheme="SMCER",
        region_code=REGION,
        name="分批签发",
        methodology="smcer",
        crediting_start=dt.date(2016, 1, 1),
        crediting_end=dt.date(2040, 12, 31),
        subcompartments=[("XB-001", 10.0)],
    )
    report = ledger.submit_monitoring_report(
        a["farm"],
        project_id=project["id"],
        period_start=dt.date(2016, 1, 1),
        period_end=dt.date(2020, 12, 31),
        result=result_document(100.0, ["XB-001"]),
    )
    issued = []
    for quantity in (40, None):
        request = ledger.submit_issuance(a["farm"], report_id=report["id"], quantity=quantity)
        for who, action in REVIEW:
            done = ledger.review_issuance(a[who], request_id=request["id"], action=action)
        issued += [b["serial"][-19:] for b in done["blocks"]]
    # 40 t = 36 + 4 buffer, then 60 t = 54 + 6 buffer: serials continue, never reused
    assert issued == [
        "000000001-000000036",
        "000000037-000000040",
        "000000041-000000094",
        "000000095-000000100",
    ]
    with pytest.raises(ConflictError):  # and never more than the report
        ledger.submit_issuance(a["farm"], report_id=report["id"], quantity=1)
    assert ledger.verify() == []
