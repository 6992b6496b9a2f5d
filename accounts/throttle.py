"""Sign-in throttling: slow down password guessing without letting a stranger lock a real user out.

Failed sign-ins are counted over a sliding window, twice:

- per user name and client address: after ``per_user`` failures within ``window`` that pair is refused
  until its oldest failure leaves the window (guessing one user's password from one place);
- per client address alone: after ``per_address`` failures (spraying many user names from one place).

A refused attempt is not checked at all (no password hash is computed, so a flood costs little) and is not
counted, so waiting out the window always works. A successful sign-in clears the pair's failures. The
user's account is never locked as such: the same user signs in from another address at once.

Pure: the caller passes the time. State is in memory, per process (a restart forgets it).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Refusal:
    """Why a sign-in attempt is refused, and for how long."""

    retry_after: timedelta

    @property
    def seconds(self) -> int:
        """Whole seconds to wait, at least one (for a ``Retry-After`` header)."""
        return max(1, int(-(-self.retry_after.total_seconds() // 1)))

    def sentence(self) -> str:
        return f"Too many failed sign-ins; try again in {self.seconds} s."


class SignInThrottle:
    def __init__(self, per_user: int = 5, per_address: int = 30, window: timedelta = timedelta(minutes=15)) -> None:
        if per_user < 1 or per_address < 1 or window <= timedelta(0):
            raise ValueError("Sign-in limits must be at least one failure over a positive window.")
        self.per_user = per_user
        self.per_address = per_address
        self.window = window
        self._lock = threading.Lock()
        self._failures: dict[tuple[str, ...], deque[datetime]] = {}

    def check(self, username: str, address: str, now: datetime) -> Refusal | None:
        """``None`` if this attempt may be checked; otherwise how long until one may."""
        with self._lock:
            waits = [self._wait(key, limit, now) for key, limit in self._keys(username, address)]
        longest = max((w for w in waits if w is not None), default=None)
        return Refusal(longest) if longest is not None else None

    def failed(self, username: str, address: str, now: datetime) -> None:
        with self._lock:
            for key, _limit in self._keys(username, address):
                self._failures.setdefault(key, deque()).append(now)
            self._forget_old(now)

    def succeeded(self, username: str, address: str) -> None:
        with self._lock:
            self._failures.pop(("user", username.casefold(), address), None)

    def _keys(self, username: str, address: str) -> list[tuple[tuple[str, ...], int]]:
        return [(("user", username.casefold(), address), self.per_user), (("address", address), self.per_address)]

    def _wait(self, key: tuple[str, ...], limit: int, now: datetime) -> timedelta | None:
        times = self._failures.get(key)
        if not times:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) < limit:
            return None
        # refused until enough failures leave the window to bring the count under the limit
        return times[len(times) - limit] + self.window - now

    def _forget_old(self, now: datetime) -> None:
        """Drop keys whose failures all left the window, so memory stays bounded by recent failures."""
        if len(self._failures) < 1024:
            return
        for key in [k for k, times in self._failures.items() if not times or times[-1] <= now - self.window]:
            del self._failures[key]
