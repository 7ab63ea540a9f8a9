"""Agreement transfers and block agreements as proposals: band, session, parties, expiry."""

from __future__ import annotations

import datetime as dt

import pytest
from market_helpers import MONDAY, at

from tanhui.market import (
    Accept,
    AgreementConcluded,
    AgreementDesk,
    Decline,
    FeeSchedule,
    PreviousCloseSet,
    ProposalDeclined,
    ProposalExpired,
    ProposalMade,
    ProposalState,
    ProposalWithdrawn,
    Propose,
    Reason,
    Rejected,
    SetPreviousClose,
    Tick,
    Withdraw,
)

T = at(MONDAY, 10)
PM = at(MONDAY, 14)
LATER = at(MONDAY, 14, 59)


def desk(**kw) -> AgreementDesk:
    return AgreementDesk(5000, **kw)


def reason(events):
    (r,) = [e for e in events if isinstance(e, Rejected)]
    return r.reason


def test_propose_and_accept():
    d = desk(fees=FeeSchedule.from_bp(5, 5))
    assert d.propose("P1", "farm", "farm", "buyer", 500, 5400, LATER, T) == [
        ProposalMade("P1", "farm", "farm", "buyer", 500, 5400, False, LATER, T)
    ]
    assert reason(d.accept("P1", "farm", T)) is Reason.NOT_COUNTERPARTY
    ev = d.accept("P1", "buyer", T + dt.timedelta(minutes=1))
    value = 5400 * 500
    assert ev == [
        AgreementConcluded(
            "P1",
            "farm",
            "buyer",
            500,
            5400,
            value,
            False,
            value * 5 // 10_000,
            value * 5 // 10_000,
            T + dt.timedelta(minutes=1),
        )
    ]
    assert d.proposals["P1"].state is ProposalState.ACCEPTED
    assert reason(d.accept("P1", "buyer", T)) is Reason.PROPOSAL_CLOSED


def test_buyer_may_propose_too():
    d = desk()
    d.propose("P1", "buyer", "farm", "buyer", 10, 5000, LATER, T)
    assert d.proposals["P1"].counterparty == "farm"
    assert isinstance(d.accept("P1", "farm", T)[0], AgreementConcluded)


@pytest.mark.parametrize(
    ("args", "why"),
    [
        (("P1", "farm", "farm", "farm", 10, 5000, LATER, T), Reason.SAME_PARTY),
        (("P1", "bank", "farm", "buyer", 10, 5000, LATER, T), Reason.NOT_PARTY),
        (("P1", "farm", "farm", "buyer", 0, 5000, LATER, T), Reason.BAD_QUANTITY),
        (("P1", "farm", "farm", "buyer", 10, 5000, T, T), Reason.BAD_EXPIRY),
        (("P1", "farm", "farm", "buyer", 10, 5501, LATER, T), Reason.OUTSIDE_BAND),
        (("P1", "farm", "farm", "buyer", 10, 4499, LATER, T), Reason.OUTSIDE_BAND),
        (("P1", "farm", "farm", "buyer", 10, 0, LATER, T), Reason.BAD_PRICE),
        (("P1", "farm", "farm", "buyer", 10, 5000, LATER, at(MONDAY, 12)), Reason.OUTSIDE_SESSION),
        # ≥ 100,000 t is a block agreement: afternoon session only …
        (("P1", "farm", "farm", "buyer", 100_000, 5000, LATER, T), Reason.OUTSIDE_SESSION),
        # … and ±30 %
        (("P1", "farm", "farm", "buyer", 100_000, 6501, LATER, PM), Reason.OUTSIDE_BAND),
    ],
)
def test_proposal_refusals(args, why):
    assert reason(desk().propose(*args)) is why


def test_block_agreement_band_is_thirty_percent():
    d = desk()
    ev = d.propose("B1", "farm", "farm", "buyer", 123_700, 6500, LATER, PM)
    assert ev[0].block is True
    assert isinstance(d.accept("B1", "buyer", PM)[0], AgreementConcluded)
    # just under the threshold the ±10 % band applies
    assert reason(d.propose("B2", "farm", "farm", "buyer", 99_999, 6500, LATER, PM)) is (
        Reason.OUTSIDE_BAND
    )


def test_decline_withdraw_expire():
    d = desk()
    for pid in ("P1", "P2", "P3"):
        d.propose(pid, "farm", "farm", "buyer", 10, 5000, LATER, T)
    assert reason(d.decline("P1", "farm", T)) is Reason.NOT_COUNTERPARTY
    assert d.decline("P1", "buyer", T) == [ProposalDeclined("P1", T)]
    assert reason(d.withdraw("P2", "buyer", T)) is Reason.NOT_PROPOSER
    assert d.withdraw("P2", "farm", T) == [ProposalWithdrawn("P2", T)]
    assert reason(d.withdraw("P9", "farm", T)) is Reason.UNKNOWN_PROPOSAL
    assert d.tick(LATER - dt.timedelta(seconds=1)) == []
    ev = d.accept("P3", "buyer", LATER)  # expiry is inclusive
    assert ev == [ProposalExpired("P3", LATER), Rejected("P3", Reason.PROPOSAL_CLOSED, LATER)]
    assert [p.state for p in d.proposals.values()] == [
        ProposalState.DECLINED,
        ProposalState.WITHDRAWN,
        ProposalState.EXPIRED,
    ]
    assert reason(d.propose("P1", "farm", "farm", "buyer", 10, 5000, LATER, T)) is (
        Reason.DUPLICATE_ID
    )


def test_band_and_session_are_checked_again_at_acceptance():
    d = desk()
    tomorrow = at(MONDAY + dt.timedelta(days=1), 10)
    d.propose("P1", "farm", "farm", "buyer", 10, 5450, tomorrow + dt.timedelta(hours=1), T)
    assert reason(d.accept("P1", "buyer", at(MONDAY, 12))) is Reason.OUTSIDE_SESSION
    assert d.set_previous_close(4900, at(MONDAY, 15)) == [PreviousCloseSet(4900, at(MONDAY, 15))]
    assert reason(d.accept("P1", "buyer", tomorrow)) is Reason.OUTSIDE_BAND  # band 4410–5390
    assert d.proposals["P1"].state is ProposalState.OPEN
    assert reason(d.set_previous_close(0, tomorrow)) is Reason.BAD_PRICE


def test_journal_replay():
    journal = [
        Propose("P1", "farm", "farm", "buyer", 10, 5000, LATER, T),
        Propose("P2", "buyer", "farm", "buyer", 20, 5100, LATER, T),
        Decline("P2", "farm", T),
        SetPreviousClose(5050, T),
        Accept("P1", "buyer", PM),
        Propose("P3", "farm", "farm", "x", 5, 5000, PM + dt.timedelta(minutes=1), PM),
        Withdraw("P3", "x", PM),
        Tick(LATER),
    ]
    runs = []
    for _ in range(2):
        d = desk()
        runs.append(([e for c in journal for e in d.apply(c)], d.proposals, d.previous_close))
    assert runs[0] == runs[1]
    assert d.proposals["P3"].state is ProposalState.EXPIRED
