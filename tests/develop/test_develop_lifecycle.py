"""The project library's lifecycle: every (from, to) pair allowed or refused, and who may move it."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tanhui.develop.lifecycle import (
    CHAIN,
    FINAL,
    OPEN,
    RESERVE,
    STAGE_LABELS,
    STEP_ROLES,
    TRANSITIONS,
    Stage,
    allowed_targets,
    check_step_actor,
    next_stage,
    parse_stage,
    step,
)
from tanhui.errors import InputError, PermissionDenied, RegistryError, StateError
from tanhui.registry.permissions import ROLE_LABELS, Role

# Rows: from; columns: to. "O" = the owner (holder) or the forestry regulator may move it,
# "R" = only the forestry regulator, "." = refused. Changing this is a deliberate decision.
COLUMNS = "can fea des val reg mon iss clo wit"
EXPECTED = """
candidate    .  O  .  .  .  .  .  .  O
feasibility  .  .  O  .  .  .  .  .  O
design       .  .  .  O  .  .  .  .  O
validation   .  .  O  .  R  .  .  .  O
registered   .  .  .  .  .  O  .  .  O
monitoring   .  .  .  .  .  .  R  R  O
issued       .  .  .  .  .  O  .  R  O
closed       .  .  .  .  .  .  .  .  .
withdrawn    .  .  .  .  .  .  .  .  .
"""
ORDER = list(Stage)


def table() -> dict[tuple[Stage, Stage], str]:
    assert len(COLUMNS.split()) == len(ORDER)
    out = {}
    for line in EXPECTED.strip().splitlines():
        name, *cells = line.split()
        assert len(cells) == len(ORDER), line
        for to, cell in zip(ORDER, cells, strict=True):
            out[Stage(name), to] = cell
    assert len(out) == len(ORDER) ** 2
    return out


MATRIX = table()
ROLES_OF = {
    "O": {Role.forestry_regulator, Role.holder},
    "R": {Role.forestry_regulator},
}


@pytest.mark.parametrize(("here", "to"), sorted(MATRIX, key=str))
def test_every_pair(here, to):
    cell = MATRIX[here, to]
    if cell == ".":
        assert to not in TRANSITIONS[here]
        with pytest.raises(StateError) as e:
            next_stage(here, to)
        err = e.value
        assert isinstance(err, RegistryError)
        assert (err.state, err.action) == (here.value, to.value)
        assert set(err.allowed_from) == {s.value for s in Stage if MATRIX[s, to] != "."}
        assert STAGE_LABELS[here][0] in err.zh and STAGE_LABELS[to][0] in err.zh
        assert STAGE_LABELS[here][1] in err.en and STAGE_LABELS[to][1] in err.en
        assert err.hint_zh and err.hint_en
        # the hint names where it may go instead
        for target in allowed_targets(here):
            assert STAGE_LABELS[target][1] in err.hint_en
        with pytest.raises(StateError):  # the lifecycle refuses before any role is considered
            check_step_actor(Role.forestry_regulator, here, to)
        return
    assert next_stage(here, to) is to
    assert next_stage(here.value, to.value) is to  # strings from the database
    assert STEP_ROLES[here, to] == ROLES_OF[cell]
    for role in Role:
        if role in ROLES_OF[cell]:
            assert check_step_actor(role, here, to) is role
            assert check_step_actor([Role.auditor, role.value], here.value, to.value) is role
        else:
            with pytest.raises(PermissionDenied) as e:
                check_step_actor(role, here, to)
            assert set(e.value.allowed) == {r.value for r in ROLES_OF[cell]}
            assert e.value.roles == (role.value,)
            assert all(ROLE_LABELS[r][0] in e.value.zh for r in ROLES_OF[cell])


def test_tables_agree():
    assert set(TRANSITIONS) == set(Stage)
    assert set(STEP_ROLES) == {(h, t) for (h, t), cell in MATRIX.items() if cell != "."}
    assert {s: set(allowed_targets(s)) for s in Stage} == {
        h: {t for t in Stage if MATRIX[h, t] != "."} for h in Stage
    }
    assert list(allowed_targets(Stage.issued)) == [Stage.monitoring, Stage.closed, Stage.withdrawn]


def test_stage_sets():
    assert {Stage.closed, Stage.withdrawn} == FINAL
    assert set(Stage) - FINAL == OPEN
    assert {Stage.candidate, Stage.feasibility, Stage.design, Stage.validation} == RESERVE
    assert CHAIN[0] is Stage.candidate and CHAIN[-1] is Stage.closed
    assert set(CHAIN) | {Stage.withdrawn} == set(Stage)
    assert set(STAGE_LABELS) == set(Stage)
    assert all(zh and en for zh, en in STAGE_LABELS.values())


def test_every_open_stage_may_be_withdrawn_and_final_stages_never_change():
    for stage in OPEN:
        assert Stage.withdrawn in TRANSITIONS[stage]
    for stage in FINAL:
        assert TRANSITIONS[stage] == frozenset()
        for to in Stage:
            with pytest.raises(StateError) as e:
                next_stage(stage, to)
            assert "never changes" in e.value.hint_en


def test_step_follows_the_chain():
    for here, there in itertools.pairwise(CHAIN):
        assert step(here) is there
        assert there in TRANSITIONS[here]
    for stage in FINAL:
        with pytest.raises(StateError) as e:
            step(stage)
        assert e.value.action == "advance" and e.value.state == stage.value


def test_unknown_stages_are_input_errors():
    with pytest.raises(InputError) as e:
        next_stage("candidate", "approved")
    assert e.value.field == "stage" and "approved" in e.value.en
    with pytest.raises(InputError):
        parse_stage("CANDIDATE")
    with pytest.raises(InputError):
        step("draft")
    assert parse_stage("design") is Stage.design


def test_regulator_acts_record_official_steps():
    official = {(h, t) for (h, t), roles in STEP_ROLES.items() if Role.holder not in roles}
    assert {t for _, t in official} == {Stage.registered, Stage.issued, Stage.closed}
    with pytest.raises(PermissionDenied) as e:
        check_step_actor(Role.holder, Stage.validation, Stage.registered)
    assert "forestry regulator" in e.value.en and "林业主管部门" in e.value.zh


@given(st.lists(st.sampled_from(list(Stage)), max_size=40))
def test_random_walks(targets):
    """Try random moves from candidate: the stage changes only by allowed moves; once final, never."""
    stage = Stage.candidate
    for to in targets:
        try:
            new = next_stage(stage, to)
        except StateError:
            assert MATRIX[stage, to] == "."
            continue
        assert stage not in FINAL and MATRIX[stage, to] != "."
        stage = new
