"""The role × action table, asserted in full, and the ownership rules."""

from __future__ import annotations

import pytest

from tanhui.errors import PermissionDenied, RegistryError
from tanhui.registry.permissions import (
    ACTION_LABELS,
    ALLOWED,
    OWNERSHIP,
    ROLE_LABELS,
    Action,
    Role,
    allowed,
    may_act_on,
    require,
    require_on,
    roles_for,
)

# Columns: forestry_regulator, eco_regulator, verifier, issuer, holder, bank, court,
# market_operator, auditor, admin, public. "X" = allowed. Changing this is a deliberate decision.
COLUMNS = "for eco ver iss hol ban cou mkt aud adm pub"
EXPECTED = """
manage_users              .   .   .   .   .   .   .   .   .   X   .
manage_organisations      .   .   .   .   .   .   .   .   .   X   .
register_project          X   .   .   .   X   .   .   .   .   .   .
submit_monitoring_report  .   .   .   .   X   .   .   .   .   .   .
submit_issuance           .   .   .   .   X   .   .   .   .   .   .
verify_issuance           .   .   X   .   .   .   .   .   .   .   .
approve_issuance          X   .   .   .   .   .   .   .   .   .   .
file_issuance             .   X   .   .   .   .   .   .   .   .   .
issue                     .   .   .   X   .   .   .   .   .   .   .
reject_issuance           X   X   X   X   .   .   .   .   .   .   .
transfer                  .   .   .   .   X   X   .   X   .   .   .
reserve                   .   .   .   .   X   X   .   X   .   .   .
unreserve                 .   .   .   .   X   X   .   X   .   .   .
request_pledge            .   .   .   .   X   X   .   X   .   .   .
confirm_pledge            .   .   .   .   .   X   .   .   .   .   .
release_pledge            .   .   .   .   .   X   .   .   .   .   .
enforce_pledge            .   .   .   .   .   X   .   .   .   .   .
freeze                    .   .   .   .   .   .   X   .   .   .   .
unfreeze                  .   .   .   .   .   .   X   .   .   .   .
retire                    .   .   .   .   X   X   .   X   .   .   .
request_offset            .   .   .   .   X   X   .   X   .   .   .
confirm_offset            .   X   .   .   .   .   .   .   .   .   .
reject_offset             .   X   .   .   X   X   .   X   .   .   .
allocate_buffer           X   .   .   X   .   .   .   .   .   .   .
cancel_reversal           X   .   .   .   .   .   .   .   .   .   .
export_blocks             .   .   .   .   X   X   .   X   .   .   .
import_blocks             .   .   .   X   .   .   .   .   .   .   .
record_external_issuance  X   X   .   .   .   .   .   .   .   .   .
view_own_holdings         .   .   .   .   X   X   .   X   .   .   .
view_all_holdings         X   X   .   .   .   .   X   .   X   X   .
view_review_queue         X   X   X   X   .   .   .   .   X   .   .
view_event_log            X   X   .   .   .   .   .   .   X   X   .
verify_registry           X   X   .   .   .   .   .   .   X   X   .
public_lookup             X   X   X   X   X   X   X   X   X   X   X
manage_dev_projects       X   .   .   .   X   .   .   .   .   .   .
view_dev_projects         X   X   X   .   X   .   .   .   X   .   .
view_library_stats        X   X   .   .   .   .   .   .   X   .   .
manage_rights_holders     X   .   .   .   X   .   .   .   .   .   .
view_rights_holders       X   .   .   .   X   .   .   .   X   .   .
record_authorization      X   .   .   .   X   .   .   .   .   .   .
record_payout             X   .   .   .   X   .   .   .   .   .   .
record_loss_event         X   .   .   .   X   .   .   .   .   .   .
trade                     .   .   .   .   X   X   .   .   .   .   .
list_for_sale             .   .   .   .   X   X   .   .   .   .   .
offer_storage             .   .   .   .   X   .   .   .   .   .   .
record_cash               .   .   .   .   X   X   .   X   .   .   .
view_cash                 .   .   .   .   X   X   .   X   X   .   .
operate_market            .   .   .   .   .   .   .   X   .   .   .
request_loan              .   .   .   .   X   .   .   .   .   .   .
manage_loans              .   .   .   .   .   X   .   .   .   .   .
view_finance_stats        X   X   .   .   .   X   .   X   X   .   .
"""
ROLE_ORDER = [
    Role.forestry_regulator,
    Role.eco_regulator,
    Role.verifier,
    Role.issuer,
    Role.holder,
    Role.bank,
    Role.court,
    Role.market_operator,
    Role.auditor,
    Role.admin,
    Role.public,
]


def expected_matrix() -> dict[tuple[Role, Action], bool]:
    assert len(COLUMNS.split()) == len(ROLE_ORDER) == len(Role)
    out: dict[tuple[Role, Action], bool] = {}
    for line in EXPECTED.strip().splitlines():
        name, *marks = line.split()
        assert len(marks) == len(ROLE_ORDER), line
        assert set(marks) <= {"X", "."}, line
        for role, mark in zip(ROLE_ORDER, marks, strict=True):
            out[Role(role), Action(name)] = mark == "X"
    return out


MATRIX = expected_matrix()


def test_expected_matrix_lists_every_action_once():
    names = [line.split()[0] for line in EXPECTED.strip().splitlines()]
    assert len(names) == len(set(names))
    assert set(names) == {a.value for a in Action}
    assert set(ALLOWED) == set(Role)


@pytest.mark.parametrize(("role", "action"), sorted(MATRIX))
def test_role_action_table(role, action):
    assert (action in ALLOWED[role]) is MATRIX[role, action]
    assert allowed(role, action) is MATRIX[role, action]
    if MATRIX[role, action]:
        require(role, action)
    else:
        with pytest.raises(PermissionDenied) as e:
            require(role, action)
        err = e.value
        assert isinstance(err, RegistryError)
        assert err.action == action.value and err.roles == (role.value,)
        # says who may do it instead
        assert set(err.allowed) == {r.value for r in Role if MATRIX[r, action]}
        for r in err.allowed:
            assert ROLE_LABELS[Role(r)][0] in err.zh and ROLE_LABELS[Role(r)][1] in err.en


def test_roles_for_follows_the_table():
    for action in Action:
        assert set(roles_for(action)) == {r for r in Role if MATRIX[r, action]}
        assert roles_for(action), f"nobody may {action}"


def test_labels_are_complete():
    assert set(ROLE_LABELS) == set(Role)
    assert set(ACTION_LABELS) == set(Action)
    assert all(zh and en for zh, en in [*ROLE_LABELS.values(), *ACTION_LABELS.values()])


def test_several_roles_and_strings():
    require([Role.holder, Role.bank], Action.release_pledge)
    require(["holder", "court"], "freeze")
    require("public", "public_lookup")
    assert allowed({Role.auditor, Role.public}, Action.verify_registry)
    with pytest.raises(PermissionDenied) as e:
        require([Role.holder, Role.market_operator], Action.freeze)
    assert e.value.roles == ("holder", "market_operator") and e.value.allowed == ("court",)
    with pytest.raises(PermissionDenied):
        require([], Action.public_lookup)  # no role at all: not even the public's
    with pytest.raises(ValueError):
        require("king", Action.freeze)


def test_the_public_and_the_auditor_change_nothing():
    assert ALLOWED[Role.public] == {Action.public_lookup}
    reading = {
        Action.public_lookup,
        Action.view_all_holdings,
        Action.view_review_queue,
        Action.view_event_log,
        Action.verify_registry,
        Action.view_dev_projects,
        Action.view_rights_holders,
        Action.view_library_stats,
        Action.view_cash,
        Action.view_finance_stats,
    }
    assert ALLOWED[Role.auditor] <= reading
    # the administrator manages accounts, never tonnes
    assert not ALLOWED[Role.admin] & set(OWNERSHIP)


# --- ownership -----------------------------------------------------------------------------------

H, B, B2, C, C2, M, E = "holder-1", "bank-1", "bank-2", "court-1", "court-2", "market-1", "eco-1"

CASES = [
    # (actor, role, action, holder, lock counterparty, expected)
    # only the holder moves its own blocks
    (H, Role.holder, Action.transfer, H, None, True),
    ("holder-2", Role.holder, Action.transfer, H, None, False),
    (H, Role.holder, Action.retire, H, None, True),
    ("holder-2", Role.holder, Action.retire, H, None, False),
    (H, Role.holder, Action.reserve, H, None, True),
    (H, Role.holder, Action.request_pledge, H, None, True),
    (H, Role.holder, Action.request_offset, H, None, True),
    (H, Role.holder, Action.export_blocks, H, None, True),
    ("holder-2", Role.holder, Action.export_blocks, H, None, False),
    # a lock held by another organisation stops the holder
    (H, Role.holder, Action.transfer, H, B, False),
    (H, Role.holder, Action.retire, H, C, False),
    (H, Role.holder, Action.transfer, H, M, False),
    # a self-reservation (no counterparty) does not
    (H, Role.holder, Action.retire, H, None, True),
    # the market operator settles a trade it holds the reservation of
    (M, Role.market_operator, Action.transfer, H, M, True),
    ("market-2", Role.market_operator, Action.transfer, H, M, False),
    (M, Role.market_operator, Action.transfer, H, None, False),
    (M, Role.market_operator, Action.retire, H, M, False),  # settles, never retires others'
    # ... but a bank a pledge was requested from may not move the blocks
    (B, Role.bank, Action.transfer, H, B, False),
    # a market operator or bank moves blocks it holds itself (收储, after enforcement)
    (M, Role.market_operator, Action.transfer, M, None, True),
    (B, Role.bank, Action.retire, B, None, True),
    # only the pledgee bank confirms, releases, enforces
    (B, Role.bank, Action.confirm_pledge, H, B, True),
    (B2, Role.bank, Action.confirm_pledge, H, B, False),
    (B, Role.bank, Action.release_pledge, H, B, True),
    (B2, Role.bank, Action.release_pledge, H, B, False),
    (H, Role.holder, Action.release_pledge, H, B, False),  # role and ownership both refuse
    (B, Role.bank, Action.enforce_pledge, H, B, True),
    (B2, Role.bank, Action.enforce_pledge, H, B, False),
    (B, Role.bank, Action.release_pledge, H, None, False),
    # any court freezes; only the freezing court unfreezes
    (C, Role.court, Action.freeze, H, None, True),
    (C2, Role.court, Action.freeze, H, None, True),
    (C, Role.court, Action.unfreeze, H, C, True),
    (C2, Role.court, Action.unfreeze, H, C, False),
    (H, Role.holder, Action.unfreeze, H, C, False),
    # offsets: the regulator it was sent to confirms
    (E, Role.eco_regulator, Action.confirm_offset, H, E, True),
    ("eco-2", Role.eco_regulator, Action.confirm_offset, H, E, False),
    (E, Role.eco_regulator, Action.reject_offset, H, E, True),
    (H, Role.holder, Action.reject_offset, H, E, False),  # the lock's owner lifts it
    (H, Role.holder, Action.reject_offset, H, None, True),
    # whoever placed a reservation lifts it
    (H, Role.holder, Action.unreserve, H, None, True),
    (H, Role.holder, Action.unreserve, H, M, False),  # listed by the market: delist there
    (M, Role.market_operator, Action.unreserve, H, M, True),
    (B, Role.bank, Action.unreserve, H, B, True),  # the bank declines a pledge request
    (B2, Role.bank, Action.unreserve, H, B, False),
    ("holder-2", Role.holder, Action.unreserve, H, None, False),
    # no ownership rule: the role decides
    (None, Role.public, Action.public_lookup, None, None, True),
    (None, Role.public, Action.transfer, H, None, False),
    (None, Role.holder, Action.transfer, None, None, False),  # anonymous actor
    ("forestry-1", Role.forestry_regulator, Action.cancel_reversal, "buffer", None, True),
    ("issuer-1", Role.issuer, Action.issue, None, None, True),
    ("verifier-1", Role.verifier, Action.verify_issuance, H, None, True),
    ("auditor-1", Role.auditor, Action.view_all_holdings, H, None, True),
    # the role table still applies
    (H, Role.holder, Action.freeze, H, None, False),
    (H, Role.auditor, Action.transfer, H, None, False),
    # several roles
    (B, [Role.holder, Role.bank], Action.release_pledge, H, B, True),
    (M, ["holder", "market_operator"], Action.transfer, H, M, True),
    (M, ["holder"], Action.transfer, H, M, False),
]


@pytest.mark.parametrize(("actor", "role", "action", "holder", "lock", "expected"), CASES)
def test_may_act_on(actor, role, action, holder, lock, expected):
    assert may_act_on(actor, role, action, holder, lock) is expected
    if expected:
        require_on(actor, role, action, holder, lock)
    else:
        with pytest.raises(PermissionDenied) as e:
            require_on(actor, role, action, holder, lock)
        assert e.value.action == action.value
        assert e.value.zh and e.value.en


def test_ownership_rules_only_name_actions_someone_may_do():
    assert set(OWNERSHIP.values()) <= {"holder", "counterparty", "lock"}
    for action in OWNERSHIP:
        assert roles_for(action)


def test_require_on_explains_the_rule():
    with pytest.raises(PermissionDenied) as e:
        require_on(B2, Role.bank, Action.release_pledge, H, B)
    assert "bank-2" in e.value.en and "pledgee bank" in e.value.en
    assert "质押银行" in e.value.zh
    with pytest.raises(PermissionDenied) as e:
        require_on(None, Role.holder, Action.transfer, H, None)
    assert "anonymous" in e.value.en and "未登录" in e.value.zh
