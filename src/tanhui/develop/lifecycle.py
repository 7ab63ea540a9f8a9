"""The lifecycle of a project in the project library (项目库). Pure, stdlib only.

::

    candidate ─► feasibility ─► design ─► validation ─► registered ─► monitoring ─► issued ─► closed
    候选           可行性研究      项目设计    审定/核查       已登记         监测          已签发      已关闭
                                   ▲           │                            ▲   │         │
                                   └─ revise ──┘                            │   └─close─► closed
                                                                            └── next period ┘

    any open stage ─► withdrawn (撤销)

Decisions:

* Forward one stage at a time; two ways back: ``validation → design`` (the validator asked for a
  revision) and ``issued → monitoring`` (the next monitoring period). A project may close at the
  end of its crediting period from ``monitoring`` or ``issued``.
* ``closed`` and ``withdrawn`` are final: nothing leaves them.
* Who moves a step (:data:`STEP_ROLES`): the project's owner (``holder``: a forest farm, a village
  collective, a developer) moves its working stages; registration, issuance and closure record
  official acts, so only the forestry regulator (林业主管部门) records them. The regulator may
  move every step. Whether the holder owns *this* project is the service's check.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from enum import StrEnum
from types import MappingProxyType

from tanhui.errors import InputError, PermissionDenied, StateError
from tanhui.registry.permissions import ROLE_LABELS, Role

__all__ = [
    "CHAIN",
    "FINAL",
    "OPEN",
    "RESERVE",
    "STAGE_LABELS",
    "STEP_ROLES",
    "TRANSITIONS",
    "Stage",
    "allowed_targets",
    "check_step_actor",
    "next_stage",
    "parse_stage",
    "step",
]


class Stage(StrEnum):
    candidate = "candidate"
    feasibility = "feasibility"
    design = "design"
    validation = "validation"
    registered = "registered"
    monitoring = "monitoring"
    issued = "issued"
    closed = "closed"
    withdrawn = "withdrawn"


S = Stage

#: The forward chain, in order.
CHAIN: tuple[Stage, ...] = (
    S.candidate,
    S.feasibility,
    S.design,
    S.validation,
    S.registered,
    S.monitoring,
    S.issued,
    S.closed,
)

#: Nothing leaves these.
FINAL: frozenset[Stage] = frozenset({S.closed, S.withdrawn})
#: Stages a project is still open in (may move on, or be withdrawn).
OPEN: frozenset[Stage] = frozenset(set(Stage) - FINAL)
#: Stages that count towards a county's reserve of projects (储备项目: not yet registered).
RESERVE: frozenset[Stage] = frozenset({S.candidate, S.feasibility, S.design, S.validation})

STAGE_LABELS: Mapping[Stage, tuple[str, str]] = MappingProxyType(
    {
        S.candidate: ("候选", "candidate"),
        S.feasibility: ("可行性研究", "feasibility study"),
        S.design: ("项目设计", "project design"),
        S.validation: ("审定", "validation"),
        S.registered: ("已登记", "registered"),
        S.monitoring: ("监测", "monitoring"),
        S.issued: ("已签发", "issued"),
        S.closed: ("已关闭", "closed"),
        S.withdrawn: ("已撤销", "withdrawn"),
    }
)


def _transitions() -> dict[Stage, frozenset[Stage]]:
    out: dict[Stage, set[Stage]] = {s: set() for s in Stage}
    for here, there in itertools.pairwise(CHAIN):
        out[here].add(there)
    out[S.validation].add(S.design)  # revise after the validator's findings
    out[S.issued].add(S.monitoring)  # the next monitoring period
    out[S.monitoring].add(S.closed)  # the crediting period ends without a further issuance
    for stage in OPEN:
        out[stage].add(S.withdrawn)
    return {s: frozenset(t) for s, t in out.items()}


#: stage → the stages it may move to.
TRANSITIONS: Mapping[Stage, frozenset[Stage]] = MappingProxyType(_transitions())

_OWNER = frozenset({Role.forestry_regulator, Role.holder})
_REGULATOR = frozenset({Role.forestry_regulator})

#: (from, to) → the roles that may make the step.
STEP_ROLES: Mapping[tuple[Stage, Stage], frozenset[Role]] = MappingProxyType(
    {
        (here, there): _REGULATOR if there in (S.registered, S.issued, S.closed) else _OWNER
        for here, targets in TRANSITIONS.items()
        for there in targets
    }
)


def _label(stage: Stage) -> tuple[str, str]:
    return STAGE_LABELS[stage]


def _labels(stages: Iterable[Stage]) -> tuple[str, str]:
    ordered = sorted(stages, key=list(Stage).index)
    return "、".join(_label(s)[0] for s in ordered), ", ".join(_label(s)[1] for s in ordered)


def parse_stage(value: Stage | str) -> Stage:
    """The stage named ``value``; :class:`~tanhui.errors.InputError` for an unknown name."""
    try:
        return Stage(value)
    except ValueError:
        known_zh, _ = _labels(Stage)
        raise InputError(
            f"未知的项目阶段“{value}”。",
            f"Unknown project stage “{value}”.",
            field="stage",
            hint_zh=f"阶段为：{known_zh}（{', '.join(Stage)}）。",
            hint_en=f"Stages: {', '.join(Stage)}.",
        ) from None


def allowed_targets(stage: Stage | str) -> tuple[Stage, ...]:
    """The stages a project in ``stage`` may move to, in lifecycle order."""
    return tuple(sorted(TRANSITIONS[parse_stage(stage)], key=list(Stage).index))


def step(stage: Stage | str) -> Stage:
    """The next stage of the forward chain (``advance``); ``issued`` steps to ``closed`` (move
    it to ``monitoring`` for another period instead)."""
    here = parse_stage(stage)
    if here in FINAL:
        now_zh, now_en = _label(here)
        raise StateError(
            f"项目已{now_zh}，没有下一阶段。",
            f"The project is {now_en}; there is no next stage.",
            state=here.value,
            action="advance",
            allowed_from=tuple(s.value for s in CHAIN[:-1]),
            hint_zh="已关闭或已撤销的项目不再变更阶段；如需继续开发，请新建项目。",
            hint_en="A closed or withdrawn project never changes stage; create a new project.",
        )
    return CHAIN[CHAIN.index(here) + 1]


def next_stage(stage: Stage | str, to: Stage | str) -> Stage:
    """Check the move ``stage → to`` and return ``to``.

    Raises :class:`~tanhui.errors.StateError` with the stage the project is in, the stages it may
    move to, and (for a final stage) that nothing leaves it.
    """
    here, there = parse_stage(stage), parse_stage(to)
    if there in TRANSITIONS[here]:
        return there
    now_zh, now_en = _label(here)
    to_zh, to_en = _label(there)
    targets = allowed_targets(here)
    if here in FINAL:
        hint_zh = f"项目已{now_zh}，不能再变更阶段；如需继续开发，请新建项目。"
        hint_en = (
            f"The project is {now_en}; its stage never changes again. "
            "Create a new project to start over."
        )
    else:
        may_zh, may_en = _labels(targets)
        hint_zh = f"当前阶段可转为：{may_zh}。"
        hint_en = f"From {now_en} it may move to: {may_en}."
    sources = tuple(s.value for s in Stage if there in TRANSITIONS[s])
    raise StateError(
        f"项目处于“{now_zh}”阶段，不能转为“{to_zh}”。",
        f"The project is at the {now_en} stage and cannot move to {to_en}.",
        state=here.value,
        action=there.value,
        allowed_from=sources,
        hint_zh=hint_zh,
        hint_en=hint_en,
    )


def check_step_actor(
    role_or_roles: Role | str | Iterable[Role | str], stage: Stage | str, to: Stage | str
) -> Role:
    """Check the move and that one of the roles may make it; return that role.

    Raises :class:`~tanhui.errors.StateError` for a move the lifecycle refuses and
    :class:`~tanhui.errors.PermissionDenied` for a role that may not make this step.
    """
    here, there = parse_stage(stage), next_stage(stage, to)
    roles = (
        (Role(role_or_roles),)
        if isinstance(role_or_roles, str)
        else tuple(Role(r) for r in role_or_roles)
    )
    may = STEP_ROLES[here, there]
    for role in sorted(may, key=list(Role).index):
        if role in roles:
            return role
    may_ordered = sorted(may, key=list(Role).index)
    to_zh, to_en = _label(there)
    who_zh = "、".join(ROLE_LABELS[r][0] for r in may_ordered)
    who_en = " or the ".join(ROLE_LABELS[r][1] for r in may_ordered)
    raise PermissionDenied(
        f"项目转为“{to_zh}”只能由{who_zh}操作。",
        f"Only the {who_en} may move a project to {to_en}.",
        action="manage_dev_projects",
        roles=tuple(r.value for r in roles),
        allowed=tuple(r.value for r in may_ordered),
        hint_zh="登记、签发和关闭是主管部门的正式行为，请由林业主管部门账户操作。",
        hint_en="Registration, issuance and closure are official acts: ask the forestry regulator.",
    )
