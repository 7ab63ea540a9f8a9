"""Every block transition and every issuance step, allowed and refused, against explicit tables."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tanhui.errors import PermissionDenied, RegistryError, StateError
from tanhui.registry.lifecycle import (
    AVAILABLE,
    CREATED_STATES,
    ISSUANCE_FINAL,
    ISSUANCE_STEP_ROLE,
    ISSUANCE_TRANSITIONS,
    LIVE,
    LOCK_COUNTERPARTY_ROLES,
    LOCKED,
    STATE_LABELS,
    TERMINAL,
    TRANSITIONS,
    BlockState,
    IssuanceState,
    check_issuance_actor,
    next_issuance_state,
    next_state,
)
from tanhui.registry.permissions import ALLOWED, Action, Role

S = BlockState

# Rows: block actions; columns: the state a block is in; cells: the state it reaches, "." refused.
BLOCK_COLUMNS = "ACTIVE RESERVED PLEDGED FROZEN PENDING_OFFSET RETIRED CANCELLED BUFFER EXPORTED"
BLOCK_TABLE = """
transfer         ACTIVE          ACTIVE    .        .       .         .  .  .          .
reserve          RESERVED        .         .        .       .         .  .  .          .
unreserve        .               ACTIVE    .        .       .         .  .  .          .
request_pledge   RESERVED        .         .        .       .         .  .  .          .
confirm_pledge   .               PLEDGED   .        .       .         .  .  .          .
release_pledge   .               .         ACTIVE   .       .         .  .  .          .
enforce_pledge   .               .         ACTIVE   .       .         .  .  .          .
freeze           FROZEN          FROZEN    .        .       .         .  .  .          .
unfreeze         .               .         .        ACTIVE  .         .  .  .          .
retire           RETIRED         RETIRED   .        .       .         .  .  .          .
request_offset   PENDING_OFFSET  .         .        .       .         .  .  .          .
confirm_offset   .               .         .        .       RETIRED   .  .  .          .
reject_offset    .               .         .        .       ACTIVE    .  .  .          .
allocate_buffer  BUFFER          .         .        .       .         .  .  .          .
cancel_reversal  CANCELLED       .         .        .       .         .  .  CANCELLED  .
export_blocks    EXPORTED        .         .        .       .         .  .  .          .
import_blocks    .               .         .        .       .         .  .  .          ACTIVE
"""


def block_table() -> dict[tuple[Action, BlockState], BlockState | None]:
    columns = [BlockState(c) for c in BLOCK_COLUMNS.split()]
    assert set(columns) == set(BlockState)
    out = {}
    for line in BLOCK_TABLE.strip().splitlines():
        name, *cells = line.split()
        assert len(cells) == len(columns), line
        for state, cell in zip(columns, cells, strict=True):
            out[Action(name), state] = None if cell == "." else BlockState(cell)
    return out


EXPECTED = block_table()
BLOCK_ACTIONS = {a for a, _ in EXPECTED}
ALL_PAIRS = [(s, a) for s in BlockState for a in Action]


def test_table_covers_exactly_the_block_actions():
    assert set(TRANSITIONS) == BLOCK_ACTIONS


@pytest.mark.parametrize(("state", "action"), ALL_PAIRS)
def test_every_state_action_pair(state, action):
    if action not in BLOCK_ACTIONS:
        with pytest.raises(ValueError):
            next_state(state, action)
        return
    expected = EXPECTED[action, state]
    if expected is not None:
        assert next_state(state, action) is expected
        assert next_state(state.value, action.value) is expected  # strings from the database
        return
    with pytest.raises(StateError) as e:
        next_state(state, action)
    err = e.value
    assert isinstance(err, RegistryError)
    assert (err.state, err.action) == (state.value, action.value)
    allowed_from = {s for s in BlockState if EXPECTED[action, s] is not None}
    assert set(err.allowed_from) == {s.value for s in allowed_from}
    # says what state the block is in and what it would need
    assert state.value in err.en and STATE_LABELS[state][0] in err.zh
    for s in allowed_from:
        assert s.value in err.en and s.value in err.zh


@pytest.mark.parametrize("state", sorted(TERMINAL))
def test_terminal_states_never_change(state):
    for action in BLOCK_ACTIONS:
        with pytest.raises(StateError) as e:
            next_state(state, action)
        assert e.value.hint_en and e.value.hint_zh


def test_state_sets():
    assert {S.RETIRED, S.CANCELLED} == TERMINAL
    assert {S.RESERVED, S.PLEDGED, S.FROZEN, S.PENDING_OFFSET} == LOCKED
    assert {S.ACTIVE} == AVAILABLE
    assert {S.ACTIVE, S.RESERVED, S.PLEDGED, S.FROZEN, S.PENDING_OFFSET} == LIVE
    # conservation: every state is exactly one of live, retired, cancelled, buffer, exported
    assert LIVE.isdisjoint({S.RETIRED, S.CANCELLED, S.BUFFER, S.EXPORTED})
    assert LIVE | {S.RETIRED, S.CANCELLED, S.BUFFER, S.EXPORTED} == set(BlockState)
    assert set(LOCK_COUNTERPARTY_ROLES) == LOCKED
    assert {
        Action.issue: {S.ACTIVE, S.BUFFER},
        Action.import_blocks: {S.ACTIVE},
    } == CREATED_STATES
    assert set(STATE_LABELS) == set(BlockState) | set(IssuanceState)


def test_locks_are_lifted_only_by_their_counterparty_actions():
    exits = {
        state: {a for (a, s), to in EXPECTED.items() if s == state and to is not None}
        for state in BlockState
    }
    # a pledged block leaves only on the bank's release or enforcement
    assert exits[S.PLEDGED] == {Action.release_pledge, Action.enforce_pledge}
    assert {a for a in exits[S.PLEDGED] if Role.bank not in _roles(a)} == set()
    # a frozen block only on the court's unfreeze
    assert exits[S.FROZEN] == {Action.unfreeze}
    assert _roles(Action.unfreeze) == {Role.court}
    # nothing leaves a terminal state
    assert exits[S.RETIRED] == exits[S.CANCELLED] == set()


def _roles(action: Action) -> set[Role]:
    return {r for r in Role if action in ALLOWED[r]}


def test_every_block_action_is_someones():
    for action in BLOCK_ACTIONS | set(CREATED_STATES):
        assert _roles(action), action


@given(st.lists(st.sampled_from(sorted(TRANSITIONS)), max_size=40))
def test_random_sequences(actions):
    """Apply random operations from ACTIVE; once terminal, a block never changes."""
    state = S.ACTIVE
    for action in actions:
        try:
            new = next_state(state, action)
        except StateError:
            assert EXPECTED[action, state] is None
            continue
        assert state not in TERMINAL
        assert new is EXPECTED[action, state]
        state = new


# --- issuance requests ---------------------------------------------------------------------------

IS = IssuanceState
ISSUANCE_EXPECTED = {
    (Action.verify_issuance, IS.SUBMITTED): IS.VERIFIED,
    (Action.approve_issuance, IS.VERIFIED): IS.APPROVED,
    (Action.file_issuance, IS.APPROVED): IS.FILED,
    (Action.issue, IS.FILED): IS.ISSUED,
    (Action.reject_issuance, IS.SUBMITTED): IS.REJECTED,
    (Action.reject_issuance, IS.VERIFIED): IS.REJECTED,
    (Action.reject_issuance, IS.APPROVED): IS.REJECTED,
    (Action.reject_issuance, IS.FILED): IS.REJECTED,
}
WORKFLOW = {
    Action.verify_issuance,
    Action.approve_issuance,
    Action.file_issuance,
    Action.issue,
    Action.reject_issuance,
}


@pytest.mark.parametrize(("state", "action"), [(s, a) for s in IS for a in Action])
def test_every_issuance_state_action_pair(state, action):
    if action not in WORKFLOW:
        with pytest.raises(ValueError):
            next_issuance_state(state, action)
        return
    expected = ISSUANCE_EXPECTED.get((action, state))
    if expected is not None:
        assert next_issuance_state(state, action) is expected
        return
    with pytest.raises(StateError) as e:
        next_issuance_state(state.value, action.value)
    assert (e.value.state, e.value.action) == (state.value, action.value)
    assert e.value.hint_zh and e.value.hint_en


def test_issuance_tables():
    assert set(ISSUANCE_TRANSITIONS) == WORKFLOW
    assert {IS.ISSUED, IS.REJECTED} == ISSUANCE_FINAL
    assert {
        IS.SUBMITTED: Role.verifier,
        IS.VERIFIED: Role.forestry_regulator,
        IS.APPROVED: Role.eco_regulator,
        IS.FILED: Role.issuer,
    } == ISSUANCE_STEP_ROLE
    # the role holding a step may move it on and reject it
    for (action, state), _ in ISSUANCE_EXPECTED.items():
        assert action in ALLOWED[ISSUANCE_STEP_ROLE[state]]


def test_happy_path():
    state = IS.SUBMITTED
    for action in (
        Action.verify_issuance,
        Action.approve_issuance,
        Action.file_issuance,
        Action.issue,
    ):
        check_issuance_actor(next(r for r in Role if action in ALLOWED[r]), state)
        state = next_issuance_state(state, action)
    assert state is IS.ISSUED


@pytest.mark.parametrize(("state", "role"), [(s, r) for s in IS for r in Role])
def test_only_the_step_role_acts(state, role):
    if state in ISSUANCE_FINAL:
        with pytest.raises(StateError):
            check_issuance_actor(role, state)
    elif ISSUANCE_STEP_ROLE[state] is role:
        assert check_issuance_actor(role, state) is role
        assert check_issuance_actor([Role.holder, role.value], state.value) is role
    else:
        with pytest.raises(PermissionDenied) as e:
            check_issuance_actor(role, state)
        assert e.value.allowed == (ISSUANCE_STEP_ROLE[state].value,)
