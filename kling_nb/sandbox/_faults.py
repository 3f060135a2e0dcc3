"""Failure injection: which faults the sandbox plays, and the seeded dice that decide when."""

from __future__ import annotations

import random
from dataclasses import dataclass, fields
from typing import Literal

__all__ = ["FaultInjector", "Faults", "StatusFault"]

Outcome = Literal["succeeded", "failed", "expired"]
_NOT_RATES = ("seed", "slow_seconds", "media_chunk_seconds")


@dataclass(frozen=True)
class Faults:
    """Rates (0 to 1) of each fault the sandbox injects; all off by default.

    - `upstream_424`: a create is answered 424 (no task created, nothing billed).
    - `task_fail` / `task_expire`: a created task ends `failed` / `expired` instead of succeeding.
    - `status_5xx`: a status read is answered 500, 502 or 503.
    - `status_slow`: a status read waits `slow_seconds` before answering.
    - `status_reset`: a status read's connection is aborted mid-response (no valid response).
    - `media_chunk_seconds`: every video body is sent in 4 KiB chunks this many seconds apart
      (0: at once), so a client can be cut in the middle of a download.
    - `seed`: seeds every fault's dice, so a run is reproducible.
    """

    upstream_424: float = 0.0
    task_fail: float = 0.0
    task_expire: float = 0.0
    status_5xx: float = 0.0
    status_slow: float = 0.0
    slow_seconds: float = 2.0
    status_reset: float = 0.0
    media_chunk_seconds: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name in _NOT_RATES:
                continue
            rate = getattr(self, f.name)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"Faults.{f.name}={rate!r} is not a rate between 0 and 1")
        if self.task_fail + self.task_expire > 1.0:
            raise ValueError("Faults.task_fail + Faults.task_expire must not exceed 1")
        for name in ("slow_seconds", "media_chunk_seconds"):
            if getattr(self, name) < 0:
                raise ValueError(f"Faults.{name}={getattr(self, name)!r} must be >= 0")

    @property
    def any(self) -> bool:
        """True when at least one fault has a non-zero rate."""
        return any(
            getattr(self, f.name) > 0
            for f in fields(self)
            if f.name not in ("seed", "slow_seconds")
        )


@dataclass(frozen=True)
class StatusFault:
    """What to do to one status read: reset it, fail it with `status`, or delay it."""

    kind: Literal["reset", "5xx", "slow"]
    status: int = 0
    delay: float = 0.0


class FaultInjector:
    """Rolls the dice for each fault kind.

    Each kind has its own seeded stream, so turning one fault on does not change
    when the others fire.
    """

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self._rng = {
            kind: random.Random(f"{faults.seed}:{kind}")
            for kind in ("424", "outcome", "5xx", "slow", "reset", "pick")
        }

    def create_upstream_error(self) -> tuple[int, str] | None:
        """Return `(upstream_status, upstream_code)` when this create should get a 424."""
        if self._rng["424"].random() >= self.faults.upstream_424:
            return None
        if self._rng["pick"].random() < 0.5:
            return 500, "upstream_internal_error"
        return 504, "upstream_timeout"

    def task_outcome(self) -> Outcome:
        """Decide at create time how a task ends."""
        roll = self._rng["outcome"].random()
        if roll < self.faults.task_fail:
            return "failed"
        if roll < self.faults.task_fail + self.faults.task_expire:
            return "expired"
        return "succeeded"

    def status_fault(self) -> StatusFault | None:
        """Decide whether this status read is reset, answered 5xx, or slowed (in that order)."""
        f = self.faults
        if self._rng["reset"].random() < f.status_reset:
            return StatusFault("reset")
        if self._rng["5xx"].random() < f.status_5xx:
            return StatusFault("5xx", status=self._rng["pick"].choice((500, 502, 503)))
        if self._rng["slow"].random() < f.status_slow:
            return StatusFault("slow", delay=f.slow_seconds)
        return None
