"""Login throttling: too many failed logins for one username, or from one client address, within a
window, and further attempts are refused for a while (429 with ``Retry-After``).

Pure and in-process (a dict and a clock, one lock): each server process counts on its own, which
is what a single ``tanhui serve`` needs; several workers multiply the allowance by their number.
A successful login clears its username's failures (not its address's: an address guessing many
usernames keeps its count). Only failures count, so a user who types the password right is never
slowed down by others' mistakes on a different username.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from tanhui.errors import TanhuiError

__all__ = ["LoginThrottle", "TooManyAttempts"]


class TooManyAttempts(TanhuiError):
    """Refused before checking the password: too many recent failures (HTTP 429)."""

    def __init__(self, retry_after: int) -> None:
        minutes = max(1, math.ceil(retry_after / 60))
        super().__init__(
            f"登录失败次数过多，请 {minutes} 分钟后再试。",
            f"Too many failed logins; try again in {minutes} minute(s).",
            hint_zh="如忘记密码，请联系系统管理员重置。",
            hint_en="If the password is forgotten, ask an administrator to reset it.",
        )
        self.retry_after = retry_after


@dataclass
class LoginThrottle:
    """Sliding-window counters of failed logins per username and per client address."""

    per_username: int = 5
    per_address: int = 100  # generous: a county office may share one address
    window_seconds: float = 15 * 60
    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, deque[float]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def check(self, username: str, address: str | None) -> None:
        """Raise :class:`TooManyAttempts` if either key is over its limit now."""
        now = self.clock()
        with self._lock:
            waits = [
                self._wait(key, limit, now)
                for key, limit in self._keys(username, address)
                if limit > 0
            ]
        wait = max(waits, default=0.0)
        if wait > 0:
            raise TooManyAttempts(max(1, math.ceil(wait)))

    def failed(self, username: str, address: str | None) -> None:
        now = self.clock()
        with self._lock:
            for key, _limit in self._keys(username, address):
                times = self._failures.setdefault(key, deque())
                times.append(now)
                self._prune(key, now)
            if len(self._failures) > 100_000:  # a flood of made-up names: forget the stale ones
                for key in list(self._failures):
                    self._prune(key, now)

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop(_user_key(username), None)

    def _keys(self, username: str, address: str | None) -> list[tuple[str, int]]:
        keys = [(_user_key(username), self.per_username)]
        if address:
            keys.append((f"a:{address}", self.per_address))
        return keys

    def _prune(self, key: str, now: float) -> None:
        times = self._failures.get(key)
        if times is None:
            return
        while times and times[0] <= now - self.window_seconds:
            times.popleft()
        if not times:
            del self._failures[key]

    def _wait(self, key: str, limit: int, now: float) -> float:
        self._prune(key, now)
        times = self._failures.get(key)
        if times is None or len(times) < limit:
            return 0.0
        # refused until enough of the failures age out of the window to leave room for one more
        return times[len(times) - limit] + self.window_seconds - now


def _user_key(username: str) -> str:
    return "u:" + username.strip().casefold()
