"""Failed-login throttle in memory: per client address and per username, over a sliding window."""

from __future__ import annotations

import threading
import time
from collections import deque


class LoginThrottle:
    """At most `per_client` failures per address and `per_user` per unknown username within `window_s`;
    beyond that a login is refused (429) until the oldest failure leaves the window. Real accounts are
    locked in the database instead (hub.users, lifted by a reset from the API or the console); counting
    unknown names here makes the two answer alike."""

    def __init__(self, per_client: int = 20, per_user: int = 5, window_s: float = 900.0):
        self.per_client, self.per_user, self.window_s = per_client, per_user, window_s
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        q = self._failures.get(key, deque())
        while q and q[0] <= now - self.window_s:
            q.popleft()
        return q

    def retry_after(self, client: str, username: str, now: float | None = None) -> float:
        """Seconds until a login from `client` for `username` is heard again; 0 when it may go ahead."""
        now = time.monotonic() if now is None else now
        with self._lock:
            waits = [q[0] + self.window_s - now for key, limit in ((("c", client), self.per_client),
                                                                   (("u", username), self.per_user))
                     if len(q := self._recent(key, now)) >= limit]
        return max(waits, default=0.0)

    def failed(self, client: str, username: str, unknown_user: bool, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            if len(self._failures) > 100_000:  # a flood of distinct names must not grow memory without end
                self._failures = {k: q for k, q in self._failures.items() if self._recent(k, now)}
            for key in (("c", client), ("u", username)) if unknown_user else (("c", client),):
                self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop(("u", username), None)
