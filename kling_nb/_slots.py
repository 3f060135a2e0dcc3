"""`Slots`: how many tasks a Studio has in flight, adapting to the server's pending cap."""

from __future__ import annotations

import asyncio
import contextlib

__all__ = ["Slots"]


class Slots:
    """Counts tasks in flight against `limit`; waiters queue in order (lives on the loop).

    `limit` starts at `max_in_flight` and adapts to the server's pending cap: a 429 lowers it
    to the slots held at that moment, and every task that ends raises it by one again (up to
    `ceiling`) to probe for room. So a Studio allowed more than the cap queues locally, at
    about one 429 per finished task, instead of every queued job retrying into 429s.
    """

    def __init__(self, limit: int) -> None:
        self.ceiling = limit
        self.limit = limit
        self.used = 0
        self.peak = 0
        self.ended = 0  # created tasks that have ended: each frees room under the server's cap
        self._changed = asyncio.Condition()

    async def acquire(self) -> None:
        """Wait for a free slot and take it."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.used < self.limit)
            self._take()

    def take_now(self) -> None:
        """Count an already-created task (on resume) without waiting."""
        self._take()

    def _take(self) -> None:
        self.used += 1
        self.peak = max(self.peak, self.used)

    async def release(self, *, ended: bool = False) -> None:
        """Free a slot; `ended` when it held a created task that is now terminal."""
        async with self._changed:
            self.used = max(self.used - 1, 0)
            if ended:
                self.ended += 1
                self.limit = min(self.limit + 1, self.ceiling)
            self._changed.notify_all()

    def note_cap(self) -> None:
        """The server refused a create (429): hold the limit to the slots in use now."""
        self.limit = max(min(self.limit, self.used), 1)

    async def wait_release(self, timeout: float, *, since: int | None = None) -> None:
        """Return when a created task has ended (room under the cap), or after `timeout` seconds.

        Only an ended task counts: a slot freed by another create's 429 would wake every
        waiter into another 429 at once (bench/sweep.py: 34,712 429s for 200 jobs). `since`
        is the `ended` count when the 429 came: a task that ended meanwhile counts.
        """
        async with self._changed:
            seen = self.ended if since is None else since
            # asyncio.TimeoutError is only an alias of TimeoutError from Python 3.11 on.
            with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait_for(lambda: self.ended != seen), timeout)
