"""Team balances: a price held at create, charged on success or released otherwise."""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Mapping
from typing import Any

from .._models import Status
from ._lifecycle import TaskRecord

__all__ = ["Billing"]


class Billing:
    """Balances, holds and pending tasks per team (not locked: `SandboxState` locks it)."""

    def __init__(self, starting: Mapping[str, int]) -> None:
        self.starting = dict(starting)
        self.balances = dict(starting)
        self.held: Counter[str] = Counter()
        self.charged: Counter[str] = Counter()
        self.released: Counter[str] = Counter()
        self.max_pending: Counter[str] = Counter()
        self._pending: dict[str, set[str]] = {}
        self._pending_family: dict[tuple[str, str], set[str]] = {}
        self._due: list[tuple[float, str]] = []

    def restore(self, saved: Mapping[str, int]) -> None:
        """Take the balances a state file kept, topping nearly spent demo teams back up."""
        self.balances.update(saved)
        # A restart tops a demo team that has spent most of its credit back up to its starting
        # credit, so a notebook re-run many times on one folder does not drift into 402s.
        for team, credit in self.starting.items():
            if self.balances.get(team, 0) < credit // 4:
                self.balances[team] = credit

    def pending(self, team: str, family: str | None = None) -> int:
        """How many of the team's tasks (of `family`, or of every family) are not settled."""
        if family is None:
            return len(self._pending.get(team, ()))
        return len(self._pending_family.get((team, family), ()))

    def available(self, team: str) -> int:
        """Balance minus holds, in nano-credits."""
        return self.balances.get(team, 0) - self.held[team]

    def hold(self, task: TaskRecord) -> None:
        """Hold the task's price until its terminal time."""
        self.held[task.team] += task.cost_nano
        self._pending.setdefault(task.team, set()).add(task.id)
        self._pending_family.setdefault((task.team, task.family), set()).add(task.id)
        heapq.heappush(self._due, (task.finished_at, task.id))

    def note_peak(self, team: str) -> None:
        """Record the team's pending count if it is its highest yet (after a create)."""
        self.max_pending[team] = max(self.max_pending[team], self.pending(team))

    def settle_due(self, now: float, tasks: Mapping[str, TaskRecord]) -> list[TaskRecord]:
        """Settle every task whose terminal time has passed; return the ones settled now."""
        settled: list[TaskRecord] = []
        while self._due and self._due[0][0] <= now:
            _, task_id = heapq.heappop(self._due)
            task = tasks[task_id]
            if task.settled:
                continue
            self.held[task.team] -= task.cost_nano
            self._pending[task.team].discard(task.id)
            self._pending_family[task.team, task.family].discard(task.id)
            if task.outcome == Status.SUCCEEDED.value:
                self.balances[task.team] -= task.cost_nano
                self.charged[task.team] += task.cost_nano
            else:
                self.released[task.team] += task.cost_nano
            task.settled = True
            settled.append(task)
        return settled

    def stats(self) -> dict[str, Any]:
        """`pending`, `max_pending` and `balances` of `SandboxState.stats`."""
        return {
            "pending": {team: len(ids) for team, ids in self._pending.items()},
            "max_pending": dict(self.max_pending),
            "pending_by_family": {
                f"{team}/{family}": len(ids) for (team, family), ids in self._pending_family.items()
            },
            "balances": {
                team: {
                    "balance_nano": balance,
                    "held_nano": self.held[team],
                    "available_nano": balance - self.held[team],
                    "charged_nano": self.charged[team],
                    "released_nano": self.released[team],
                }
                for team, balance in self.balances.items()
            },
        }
