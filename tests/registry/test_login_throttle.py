"""The login throttle: a sliding window of failures per username and per address."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tanhui.registry.throttle import LoginThrottle, TooManyAttempts


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_five_failures_lock_the_username_until_the_first_ages_out():
    clock = Clock()
    t = LoginThrottle(per_username=5, per_address=100, window_seconds=900, clock=clock)
    for _ in range(5):
        t.check("farm", "10.0.0.1")
        t.failed("Farm ", "10.0.0.1")  # names compare trimmed and case-folded
        clock.now += 10
    with pytest.raises(TooManyAttempts) as refused:
        t.check("FARM", "10.0.0.2")  # another address: still the same username
    # the first failure was at 1000, it leaves the window at 1900; now is 1050
    assert refused.value.retry_after == 850
    assert "15 分钟" in refused.value.zh and "15 minute" in refused.value.en
    t.check("bank", "10.0.0.1")  # another username from the same address is fine
    clock.now = 1_900.0
    t.check("farm", "10.0.0.1")  # one failure aged out: one more try allowed
    t.failed("farm", "10.0.0.1")
    with pytest.raises(TooManyAttempts):
        t.check("farm", None)


def test_a_success_clears_the_username_but_not_the_address():
    clock = Clock()
    t = LoginThrottle(per_username=3, per_address=4, window_seconds=60, clock=clock)
    for name in ("a", "a", "b"):
        t.failed(name, "1.2.3.4")
    t.succeeded("a")
    t.check("a", None)
    t.failed("c", "1.2.3.4")  # the address's fourth failure
    with pytest.raises(TooManyAttempts) as refused:
        t.check("d", "1.2.3.4")
    assert refused.value.retry_after == 60
    t.check("d", "5.6.7.8")


@settings(max_examples=200, deadline=None)
@given(
    limit=st.integers(1, 6),
    window=st.integers(1, 100),
    steps=st.lists(st.tuples(st.integers(0, 40), st.booleans()), max_size=40),
)
def test_matches_a_naive_count_of_recent_failures(limit, window, steps):
    """Refused exactly when ``limit`` failures lie in the last ``window`` seconds (naive model)."""
    clock = Clock()
    t = LoginThrottle(per_username=limit, per_address=0, window_seconds=window, clock=clock)
    failures: list[float] = []
    for advance, fail in steps:
        clock.now += advance
        recent = [f for f in failures if f > clock.now - window]
        expected_refused = len(recent) >= limit
        try:
            t.check("u", None)
        except TooManyAttempts as exc:
            assert expected_refused
            oldest_to_go = sorted(recent)[len(recent) - limit]
            assert exc.retry_after == max(1, -int(-(oldest_to_go + window - clock.now) // 1))
            continue
        assert not expected_refused
        if fail:
            t.failed("u", None)
            failures.append(clock.now)
