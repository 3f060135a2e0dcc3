"""`Timing`: how long jobs of each kind take, learned from the ledger, and when to poll them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from ._families import FAMILIES
from ._models import MODELS
from ._policy import DEFAULT_PRIORS, PollSchedule

__all__ = ["Timing"]

Kind = tuple[str, str | None, int]
"""(model, mode, duration): jobs of one kind take about as long as each other."""

Learned = Callable[[str, str | None, int], "tuple[float, float, int] | None"]

OMNI_FACTOR: Final = 1.3
"""Omni renders are assumed slower than text/image ones (a prior, replaced once learned)."""

# A guess (contract-families.md says nothing about Seedance's or Grok's render times): seconds
# of wall time per generated second, by resolution; the learned median replaces it.
FAMILY_SECONDS_PER_SECOND: Final[Mapping[str, Mapping[str, float]]] = {
    "seedance": {"480p": 12.0, "720p": 18.0, "1080p": 30.0},
    "grok": {"480p": 8.0, "720p": 12.0},
}
_FAMILY_OF_MODEL: Final = {model: f.name for f in FAMILIES for model in f.models}


class Timing:
    """Expected create-to-finish seconds and poll schedules per kind of job.

    `learned(model, mode, duration)` returns (median, log-spread, count) of recent successes
    (the ledger's `timing`), or None. `time_scale` shrinks the priors for a fast sandbox;
    `floor` is the shortest gap between status reads.
    """

    def __init__(self, learned: Learned, *, time_scale: float = 1.0, floor: float = 1.0) -> None:
        self._learned = learned
        self.time_scale = time_scale
        self.floor = floor
        self._expected: dict[Kind, float | None] = {}
        self._schedules: dict[Kind, PollSchedule] = {}
        self._medians: dict[Kind, float] = {}

    def prior(self, model: str, mode: str | None, duration: int) -> float:
        """Our guess before anything is learned (contract.md says nothing about timing)."""
        per_second = FAMILY_SECONDS_PER_SECOND.get(_FAMILY_OF_MODEL.get(model, "kling"))
        if per_second is not None:  # Seedance/Grok: `mode` is the resolution
            return per_second.get(mode or "720p", 18.0) * max(duration, 1) * self.time_scale
        base = DEFAULT_PRIORS.get((mode or "std", duration), 150.0)
        omni = OMNI_FACTOR if MODELS.get(model) == ("omni-video",) else 1.0
        return base * omni * self.time_scale

    def expected(self, kind: Kind) -> float:
        """Expected create-to-finish seconds (the learned median, else the prior)."""
        if kind not in self._expected:
            try:
                learned = self._learned(*kind)
            except Exception:  # a closed or unreadable ledger: a card still gets an ETA
                return self.prior(*kind)
            self._expected[kind] = learned[0] if learned else None
        cached = self._expected[kind]
        return cached if cached is not None else self.prior(*kind)

    def forget(self, kind: Kind) -> None:
        """A job of this kind finished: learn again next time."""
        self._expected.pop(kind, None)
        self._schedules.pop(kind, None)

    def schedule(self, kind: Kind) -> PollSchedule:
        """The poll schedule for jobs of this kind."""
        cached = self._schedules.get(kind)
        if cached is not None:
            return cached
        try:
            learned = self._learned(*kind)
        except Exception:
            learned = None
        if learned is not None and learned[2] >= 3:
            median, spread, count = learned
            self._medians[kind] = median
            schedule = PollSchedule(
                median=median,
                sigma=min(max(spread, 0.15), 1.0),
                confident=count >= 5,
                min_delay=min(self.floor, median / 20),
                scale=self._time_base(),
            )
        else:
            median = self.prior(*kind)
            schedule = PollSchedule(
                median=median,
                sigma=0.6,
                min_delay=min(self.floor, median / 20),
                scale=self._time_base(),
            )
        self._schedules[kind] = schedule
        return schedule

    def _time_base(self) -> float:
        """One unit for the poll cost of every kind of job (`PollSchedule.scale`).

        The median of the learned medians of the kinds seen so far (else a std 5 s job's
        prior): with one unit, a status request buys as much notice latency on a long job as
        on a short one, which minimises the total over a mixed sweep (bench/polling.py).
        """
        learned = sorted(self._medians.values())
        if not learned:
            return self.prior("kling-v3", "std", 5)
        mid = len(learned) // 2
        return learned[mid] if len(learned) % 2 else (learned[mid - 1] + learned[mid]) / 2
