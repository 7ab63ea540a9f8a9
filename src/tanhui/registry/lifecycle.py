"""States of serial blocks and of issuance requests, and the transitions between them. Pure.

Block lifecycle (one state per block; a partial operation first splits the block, see
:meth:`tanhui.registry.serials.SerialRange.split`)::

    issue / import ─► ACTIVE ─┬─ reserve, request_pledge ─► RESERVED ─┬─ unreserve ─► ACTIVE
                              │                                       ├─ confirm_pledge ─► PLEDGED
                              │                                       ├─ transfer (settle) ─► ACTIVE
                              │                                       ├─ freeze ─► FROZEN
                              │                                       └─ retire ─► RETIRED
                              ├─ transfer ─► ACTIVE (new holder)
                              ├─ freeze ─► FROZEN ── unfreeze (the same court) ─► ACTIVE
                              ├─ request_offset ─► PENDING_OFFSET ─┬─ confirm_offset ─► RETIRED
                              │                                    └─ reject_offset ─► ACTIVE
                              ├─ retire ─► RETIRED            (terminal)
                              ├─ cancel_reversal ─► CANCELLED (terminal)
                              ├─ allocate_buffer ─► BUFFER ── cancel_reversal ─► CANCELLED
                              └─ export_blocks ─► EXPORTED ── import_blocks (re-import) ─► ACTIVE

    PLEDGED ─┬─ release_pledge (the pledgee bank) ─► ACTIVE
             └─ enforce_pledge (the pledgee bank) ─► ACTIVE, in the bank's account

Decisions:

* ``issue`` creates the holder's blocks ACTIVE and the buffer share BUFFER; ``import_blocks``
  creates ACTIVE blocks (or re-activates an EXPORTED one). See :data:`CREATED_STATES`.
* One lock at a time: a PLEDGED block cannot be frozen (a court acts on it through the bank's
  enforcement or after release), and freezing a RESERVED block drops the reservation (unfreeze
  returns it ACTIVE). Nested locks would need a lock stack; the ledger can add one later.
* ``confirm_offset`` retires: the ledger writes the retirement record as for ``retire``.
* A reversal cancels BUFFER tonnes first; the ledger decides when ACTIVE tonnes must follow.
* Which organisation may act (the holder, the lock's counterparty) is
  :func:`tanhui.registry.permissions.may_act_on`; this module only knows states.

Issuance requests: SUBMITTED → VERIFIED → APPROVED (审定) → FILED (备案) → ISSUED (制发), or
REJECTED from any step before ISSUED, by the role that holds that step
(:data:`ISSUANCE_STEP_ROLE`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from types import MappingProxyType

from tanhui.errors import PermissionDenied, StateError
from tanhui.registry.permissions import ACTION_LABELS, ROLE_LABELS, Action, Role

__all__ = [
    "AVAILABLE",
    "CREATED_STATES",
    "ISSUANCE_FINAL",
    "ISSUANCE_STEP_ROLE",
    "ISSUANCE_TRANSITIONS",
    "LIVE",
    "LOCKED",
    "LOCK_COUNTERPARTY_ROLES",
    "STATE_LABELS",
    "TERMINAL",
    "TRANSITIONS",
    "BlockState",
    "IssuanceState",
    "check_issuance_actor",
    "next_issuance_state",
    "next_state",
]


class BlockState(StrEnum):
    ACTIVE = "ACTIVE"
    RESERVED = "RESERVED"
    PLEDGED = "PLEDGED"
    FROZEN = "FROZEN"
    PENDING_OFFSET = "PENDING_OFFSET"
    RETIRED = "RETIRED"
    CANCELLED = "CANCELLED"
    BUFFER = "BUFFER"
    EXPORTED = "EXPORTED"


class IssuanceState(StrEnum):
    SUBMITTED = "SUBMITTED"
    VERIFIED = "VERIFIED"
    APPROVED = "APPROVED"
    FILED = "FILED"
    ISSUED = "ISSUED"
    REJECTED = "REJECTED"


S, A = BlockState, Action

#: Never change again.
TERMINAL: frozenset[BlockState] = frozenset({S.RETIRED, S.CANCELLED})
#: Locked: counted in the holder's balance, not available.
LOCKED: frozenset[BlockState] = frozenset({S.RESERVED, S.PLEDGED, S.FROZEN, S.PENDING_OFFSET})
#: Available: may be transferred, reserved, pledged, retired, exported.
AVAILABLE: frozenset[BlockState] = frozenset({S.ACTIVE})
#: Live here: in a holder's balance. Conservation per issuance:
#: live + RETIRED + CANCELLED + BUFFER + EXPORTED = issued.
LIVE: frozenset[BlockState] = AVAILABLE | LOCKED

#: Which role's organisation holds each kind of lock (``lock_counterparty_org`` in permissions);
#: a RESERVED block may also have no counterparty (the holder reserved it for itself).
LOCK_COUNTERPARTY_ROLES: Mapping[BlockState, frozenset[Role]] = MappingProxyType(
    {
        S.RESERVED: frozenset({Role.market_operator, Role.bank}),
        S.PLEDGED: frozenset({Role.bank}),
        S.FROZEN: frozenset({Role.court}),
        S.PENDING_OFFSET: frozenset({Role.eco_regulator}),
    }
)

#: action → (states it may start from, state it leads to).
TRANSITIONS: Mapping[Action, tuple[frozenset[BlockState], BlockState]] = MappingProxyType(
    {
        A.transfer: (frozenset({S.ACTIVE, S.RESERVED}), S.ACTIVE),
        A.reserve: (frozenset({S.ACTIVE}), S.RESERVED),
        A.unreserve: (frozenset({S.RESERVED}), S.ACTIVE),
        A.request_pledge: (frozenset({S.ACTIVE}), S.RESERVED),
        A.confirm_pledge: (frozenset({S.RESERVED}), S.PLEDGED),
        A.release_pledge: (frozenset({S.PLEDGED}), S.ACTIVE),
        A.enforce_pledge: (frozenset({S.PLEDGED}), S.ACTIVE),
        A.freeze: (frozenset({S.ACTIVE, S.RESERVED}), S.FROZEN),
        A.unfreeze: (frozenset({S.FROZEN}), S.ACTIVE),
        A.retire: (frozenset({S.ACTIVE, S.RESERVED}), S.RETIRED),
        A.request_offset: (frozenset({S.ACTIVE}), S.PENDING_OFFSET),
        A.confirm_offset: (frozenset({S.PENDING_OFFSET}), S.RETIRED),
        A.reject_offset: (frozenset({S.PENDING_OFFSET}), S.ACTIVE),
        A.allocate_buffer: (frozenset({S.ACTIVE}), S.BUFFER),
        A.cancel_reversal: (frozenset({S.BUFFER, S.ACTIVE}), S.CANCELLED),
        A.export_blocks: (frozenset({S.ACTIVE}), S.EXPORTED),
        A.import_blocks: (frozenset({S.EXPORTED}), S.ACTIVE),
    }
)

#: Actions that create blocks, and the states new blocks may start in.
CREATED_STATES: Mapping[Action, frozenset[BlockState]] = MappingProxyType(
    {
        A.issue: frozenset({S.ACTIVE, S.BUFFER}),
        A.import_blocks: frozenset({S.ACTIVE}),
    }
)

STATE_LABELS: Mapping[BlockState | IssuanceState, tuple[str, str]] = MappingProxyType(
    {
        S.ACTIVE: ("可用", "active"),
        S.RESERVED: ("预留", "reserved"),
        S.PLEDGED: ("已质押", "pledged"),
        S.FROZEN: ("已冻结", "frozen"),
        S.PENDING_OFFSET: ("待抵消", "pending offset"),
        S.RETIRED: ("已注销", "retired"),
        S.CANCELLED: ("已作废", "cancelled"),
        S.BUFFER: ("缓冲库", "buffer"),
        S.EXPORTED: ("已转出", "exported"),
        IssuanceState.SUBMITTED: ("已提交", "submitted"),
        IssuanceState.VERIFIED: ("已核证", "verified"),
        IssuanceState.APPROVED: ("已审定", "approved"),
        IssuanceState.FILED: ("已备案", "filed"),
        IssuanceState.ISSUED: ("已制发", "issued"),
        IssuanceState.REJECTED: ("已驳回", "rejected"),
    }
)

# What a block in each state would need before most operations.
_WAY_OUT: Mapping[BlockState, tuple[str, str]] = {
    S.ACTIVE: ("", ""),
    S.RESERVED: (
        "预留的序号段需先由预留方解除预留（或完成交易）。",
        "A reserved block must first be released by whoever reserved it (or the trade settled).",
    ),
    S.PLEDGED: (
        "已质押的序号段只有在质押银行解押后才恢复可用，或由该银行处置。",
        "A pledged block becomes active again only when the pledgee bank releases it, or moves "
        "to the bank on enforcement.",
    ),
    S.FROZEN: (
        "已冻结的序号段只有在冻结法院解除冻结后才恢复可用。",
        "A frozen block becomes active again only when the court that froze it unfreezes it.",
    ),
    S.PENDING_OFFSET: (
        "待抵消的序号段需先由受理的主管部门确认（即注销）或驳回。",
        "A block pending offset must first be confirmed (retired) or rejected by the regulator.",
    ),
    S.RETIRED: ("已注销的序号段不能再有任何变化。", "A retired block never changes again."),
    S.CANCELLED: ("已作废的序号段不能再有任何变化。", "A cancelled block never changes again."),
    S.BUFFER: (
        "缓冲库中的序号段只能因逆转（火灾、病虫害、非法采伐）而作废。",
        "A buffer block can only be cancelled after a reversal (fire, pests, illegal logging).",
    ),
    S.EXPORTED: (
        "已转出的序号段在本系统中不再有效，只能通过转入恢复。",
        "An exported block is not live here; only an import brings it back.",
    ),
}

#: action → (request states it may start from, state it leads to).
ISSUANCE_TRANSITIONS: Mapping[Action, tuple[frozenset[IssuanceState], IssuanceState]] = (
    MappingProxyType(
        {
            A.verify_issuance: (frozenset({IssuanceState.SUBMITTED}), IssuanceState.VERIFIED),
            A.approve_issuance: (frozenset({IssuanceState.VERIFIED}), IssuanceState.APPROVED),
            A.file_issuance: (frozenset({IssuanceState.APPROVED}), IssuanceState.FILED),
            A.issue: (frozenset({IssuanceState.FILED}), IssuanceState.ISSUED),
            A.reject_issuance: (
                frozenset(
                    {
                        IssuanceState.SUBMITTED,
                        IssuanceState.VERIFIED,
                        IssuanceState.APPROVED,
                        IssuanceState.FILED,
                    }
                ),
                IssuanceState.REJECTED,
            ),
        }
    )
)

#: ``submit_issuance`` creates a request in SUBMITTED; these never change again.
ISSUANCE_FINAL: frozenset[IssuanceState] = frozenset({IssuanceState.ISSUED, IssuanceState.REJECTED})

#: The role that holds each open step: it moves the request on, or rejects it.
ISSUANCE_STEP_ROLE: Mapping[IssuanceState, Role] = MappingProxyType(
    {
        IssuanceState.SUBMITTED: Role.verifier,
        IssuanceState.VERIFIED: Role.forestry_regulator,
        IssuanceState.APPROVED: Role.eco_regulator,
        IssuanceState.FILED: Role.issuer,
    }
)


def _label(state: BlockState | IssuanceState) -> tuple[str, str]:
    zh, en = STATE_LABELS[state]
    return f"{zh}（{state.value}）", f"{en} ({state.value})"


def _labels(states: Iterable[BlockState | IssuanceState]) -> tuple[str, str]:
    ordered = sorted(states, key=lambda s: list(type(s)).index(s))
    pairs = [_label(s) for s in ordered]
    return "或".join(p[0] for p in pairs), " or ".join(p[1] for p in pairs)


def next_state(state: BlockState | str, action: Action | str) -> BlockState:
    """The state a block in ``state`` reaches by ``action``.

    Raises :class:`~tanhui.errors.StateError` (a :class:`~tanhui.errors.RegistryError`) when the
    action is not allowed from ``state``, saying which states it needs and how to get there;
    :class:`ValueError` when ``action`` is not an operation on existing blocks (``issue``,
    ``manage_users``, …: a programming error, not a user's).
    """
    state, action = BlockState(state), Action(action)
    if action not in TRANSITIONS:
        raise ValueError(f"{action.value} is not an operation on existing serial blocks")
    sources, target = TRANSITIONS[action]
    if state in sources:
        return target
    act_zh, act_en = ACTION_LABELS[action]
    now_zh, now_en = _label(state)
    need_zh, need_en = _labels(sources)
    hint_zh, hint_en = _WAY_OUT[state]
    raise StateError(
        f"序号段状态为{now_zh}，不能{act_zh}；{act_zh}需要状态为{need_zh}。",
        f"The block is {now_en}; “{act_en}” needs a block that is {need_en}.",
        state=state.value,
        action=action.value,
        allowed_from=tuple(s.value for s in sorted(sources, key=list(BlockState).index)),
        hint_zh=hint_zh,
        hint_en=hint_en,
    )


def next_issuance_state(state: IssuanceState | str, action: Action | str) -> IssuanceState:
    """The state an issuance request in ``state`` reaches by ``action``.

    Raises :class:`~tanhui.errors.StateError` for a step out of order or on a final request;
    :class:`ValueError` when ``action`` is not a workflow step.
    """
    state, action = IssuanceState(state), Action(action)
    if action not in ISSUANCE_TRANSITIONS:
        raise ValueError(f"{action.value} is not a step of the issuance workflow")
    sources, target = ISSUANCE_TRANSITIONS[action]
    if state in sources:
        return target
    act_zh, act_en = ACTION_LABELS[action]
    now_zh, now_en = _label(state)
    need_zh, need_en = _labels(sources)
    if state in ISSUANCE_FINAL:
        hint_zh = "该申请已结束；如需重新签发，请提交新的申请。"
        hint_en = "This request is closed; submit a new request to try again."
    else:
        step = ISSUANCE_STEP_ROLE[state]
        hint_zh = f"当前步骤由{ROLE_LABELS[step][0]}处理。"
        hint_en = f"The current step belongs to the {ROLE_LABELS[step][1]}."
    raise StateError(
        f"签发申请状态为{now_zh}，不能{act_zh}；{act_zh}需要状态为{need_zh}。",
        f"The issuance request is {now_en}; “{act_en}” needs a request that is {need_en}.",
        state=state.value,
        action=action.value,
        allowed_from=tuple(s.value for s in sorted(sources, key=list(IssuanceState).index)),
        hint_zh=hint_zh,
        hint_en=hint_en,
    )


def check_issuance_actor(
    role_or_roles: Role | str | Iterable[Role | str], state: IssuanceState | str
) -> Role:
    """Check that one of the roles holds the current step of a request; return that role.

    The role table allows ``reject_issuance`` to every reviewing role; this decides which one may
    act now. Raises :class:`~tanhui.errors.PermissionDenied` for another role and
    :class:`~tanhui.errors.StateError` when the request is already final.
    """
    state = IssuanceState(state)
    roles = (
        (Role(role_or_roles),)
        if isinstance(role_or_roles, str)
        else tuple(Role(r) for r in role_or_roles)
    )
    if state in ISSUANCE_FINAL:
        now_zh, now_en = _label(state)
        raise StateError(
            f"签发申请状态为{now_zh}，不再有待处理的步骤。",
            f"The issuance request is {now_en}; no step is open.",
            state=state.value,
            action="",
            hint_zh="如需重新签发，请提交新的申请。",
            hint_en="Submit a new request to try again.",
        )
    step = ISSUANCE_STEP_ROLE[state]
    if step in roles:
        return step
    now_zh, now_en = _label(state)
    raise PermissionDenied(
        f"签发申请处于{now_zh}，当前步骤只能由{ROLE_LABELS[step][0]}处理。",
        f"The issuance request is {now_en}; only the {ROLE_LABELS[step][1]} acts at this step.",
        action="",
        roles=tuple(r.value for r in roles),
        allowed=(step.value,),
    )
