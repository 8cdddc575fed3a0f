"""Password logins: throttled per account and per client address, the same cost for unknown users, and bcrypt
kept off the path that serves token-authenticated requests.

* Every failed password check is counted per account name and per client address over a sliding window; past
  the limit, further attempts are refused with 429 (and ``Retry-After``) *before* any hash is computed, so a
  guessing client costs the server nothing. A success clears the account's count.
* An unknown or disabled user is checked against a dummy bcrypt hash, so the answer takes as long as for a
  real user (no user enumeration by timing).
* At most ``concurrent`` bcrypt checks run at a time (:class:`threading.BoundedSemaphore`); a check that can't
  start within ``wait_seconds`` is refused with 429. Token authentication (one SHA-256 and an indexed lookup)
  never waits for this, so anonymous clients sending bad Basic credentials don't slow token users down.

The counts live in this process (a server started several times keeps a count per process).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field


class LoginThrottled(Exception):
    """Too many failed logins (or password checks at once); ``retry_after`` seconds to wait."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class LoginGuard:
    """Failure counts per account and per address, and the slots for password checks."""

    account_limit: int = 10  # failures per account name within `window`
    address_limit: int = 30  # failures per client address within `window`
    window: float = 900.0
    concurrent: int = 1
    wait_seconds: float = 5.0
    clock: Callable[[], float] = time.monotonic
    max_keys: int = 100_000
    _failures: OrderedDict[str, deque[float]] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _slots: threading.BoundedSemaphore = field(init=False)

    def __post_init__(self) -> None:
        self._slots = threading.BoundedSemaphore(self.concurrent)

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._failures.get(key)
        if q is None:
            return deque()
        while q and q[0] <= now - self.window:
            q.popleft()
        return q

    def check(self, account: str, address: str) -> None:
        """LoginThrottled when the account or the address is over its limit."""
        now = self.clock()
        with self._lock:
            for key, limit, what in ((f"a:{account.lower()}", self.account_limit, "this account"),
                                     (f"c:{address}", self.address_limit, "this client address")):
                q = self._recent(key, now)
                if len(q) >= limit:
                    retry = max(1.0, q[0] + self.window - now)
                    raise LoginThrottled(f"too many failed logins for {what}: try again in {retry:.0f} s", retry)

    def failed(self, account: str, address: str) -> None:
        """Count one failure."""
        now = self.clock()
        with self._lock:
            for key in (f"a:{account.lower()}", f"c:{address}"):
                q = self._recent(key, now)
                q.append(now)
                self._failures[key] = q
                self._failures.move_to_end(key)
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)

    def succeeded(self, account: str) -> None:
        """Clear the account's failures."""
        with self._lock:
            self._failures.pop(f"a:{account.lower()}", None)

    def slot(self) -> _Slot:
        """A context manager holding one password-check slot (LoginThrottled when none frees up in time)."""
        return _Slot(self)


class _Slot:
    def __init__(self, guard: LoginGuard) -> None:
        self.guard = guard

    def __enter__(self) -> None:
        if not self.guard._slots.acquire(timeout=self.guard.wait_seconds):
            raise LoginThrottled("too many password checks at once: try again", 1.0)

    def __exit__(self, *exc: object) -> None:
        self.guard._slots.release()


_DUMMY: list[str] = []


def dummy_hash() -> str:
    """A bcrypt hash of a random password, made once, to check unknown users against."""
    if not _DUMMY:
        import secrets

        from hullscan.server.auth import hash_password

        _DUMMY.append(hash_password(secrets.token_urlsafe(16)))
    return _DUMMY[0]
