"""Retry and polling policy as pure functions: no I/O, clock and randomness passed in.

Two separate concerns (as in google-api-core): per-request *retry* (backoff after a transient
error) and the *poll schedule* (when to read a task's status next).
"""

from __future__ import annotations

import email.utils
import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

__all__ = [
    "DEFAULT_PRIORS",
    "RETRYABLE_STATUS",
    "PollSchedule",
    "backoff_delay",
    "create_may_retry",
    "lognormal_hazard",
    "parse_retry_after",
]

RETRYABLE_STATUS: Final = frozenset({408, 409, 429, 500, 502, 503, 504})
"""Statuses a *GET* may be retried on. A create POST is never retried on any of them."""

INITIAL_BACKOFF: Final = 0.5
MAX_BACKOFF: Final = 8.0
MAX_RETRY_AFTER: Final = 60.0

Rand = Callable[[], float]


def backoff_delay(
    attempt: int,
    *,
    rand: Rand = random.random,
    initial: float = INITIAL_BACKOFF,
    cap: float = MAX_BACKOFF,
    retry_after: float | None = None,
) -> float:
    """Seconds to sleep before retry number `attempt` (0-based).

    `min(initial * 2**attempt, cap)` scaled by a jitter in (0.75, 1]; a server's Retry-After,
    when given and sane (0..60 s), wins.
    """
    if retry_after is not None and 0 <= retry_after <= MAX_RETRY_AFTER:
        return retry_after
    base = min(initial * 2.0 ** max(attempt, 0), cap)
    return base * (1.0 - 0.25 * rand())


def parse_retry_after(headers: Mapping[str, str], *, now: float) -> float | None:
    """Seconds the server asked us to wait, from `retry-after-ms` or `Retry-After`.

    contract.md assumption 2: neither header is documented for WorldRouter; honour them if
    present. `Retry-After` may be seconds or an HTTP date (compared with `now`, epoch seconds).
    `headers` must be case-insensitive (httpx.Headers is).
    """
    ms = headers.get("retry-after-ms")
    if ms is not None:
        seconds = _finite(ms)
        if seconds is not None:
            return max(seconds / 1000.0, 0.0)
    value = headers.get("retry-after")
    if value is None:
        return None
    seconds = _finite(value)
    if seconds is not None:
        return max(seconds, 0.0)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(when.timestamp() - now, 0.0)


def _finite(text: str) -> float | None:
    # float() also takes "nan" and "inf", which are no delay at all.
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def create_may_retry(*, sent: bool) -> bool:
    """Whether a failed create POST may be sent again.

    contract.md assumption 9: no idempotency key is documented, so a create that may have
    reached the server (a timeout, a reset, any answer) is never re-sent automatically: that
    could create and bill a second task. Only a create that provably never left may be.
    """
    return not sent


def lognormal_hazard(t: float, median: float, sigma: float) -> float:
    """Hazard rate f(t)/S(t) of a lognormal finish time with this median and log-spread."""
    if t <= 0 or median <= 0 or sigma <= 0:
        return 0.0
    z = (math.log(t) - math.log(median)) / sigma
    pdf = math.exp(-0.5 * z * z) / (t * sigma * math.sqrt(2.0 * math.pi))
    survival = 0.5 * math.erfc(z / math.sqrt(2.0))
    if survival < 1e-12:
        # Mills-ratio asymptote, to stay finite deep in the tail.
        return (z + 1.0 / max(z, 1e-9)) / (t * sigma)
    return pdf / survival


@dataclass(frozen=True)
class PollSchedule:
    """When to poll a task next: sparse early, dense around the expected finish, capped.

    A task's finish time is modelled as lognormal (`median`, `sigma`), learned from the ledger
    per (model, mode, duration). Minimising expected notice latency plus `cost` seconds per
    status request gives a poll rate of sqrt(hazard / (2 cost)), i.e. a gap of
    sqrt(2 cost / hazard(t)): long gaps while finishing is unlikely, short ones when it is
    likely. `cost = knob * median` keeps the schedule scale-free.

    When the prior is a guess (`confident=False`), gaps are also held to `1 + growth * elapsed`
    so a task much faster than expected is still noticed quickly.
    """

    median: float
    sigma: float = 0.5
    knob: float = 0.004
    min_delay: float = 0.2
    max_delay: float = 30.0
    confident: bool = False
    growth: float = 0.5
    jitter: float = 0.1

    def delay(self, elapsed: float, *, rand: Rand = random.random) -> float:
        """Seconds from now until the next status read, `elapsed` seconds after create."""
        cost = self.knob * self.median
        hazard = lognormal_hazard(max(elapsed, 1e-6), self.median, self.sigma)
        gap = math.sqrt(2.0 * cost / hazard) if hazard > 0 else math.inf
        gap = min(gap, self.max_delay, max(0.5 * self.median, self.min_delay))
        if not self.confident:
            gap = min(gap, 1.0 + self.growth * elapsed)
        gap = max(gap, self.min_delay)
        if self.jitter:
            gap *= 1.0 + self.jitter * (2.0 * rand() - 1.0)
        return max(gap, self.min_delay)


# Unscaled priors (median seconds from create to succeeded) for when the ledger has no history.
# Not published by WorldRouter or Kling: rough figures for queue plus render, chosen by us
# (contract.md says nothing about timing), and replaced by the ledger's medians once known.
DEFAULT_PRIORS: Final[Mapping[tuple[str, int], float]] = {
    ("std", 5): 90.0,
    ("std", 10): 150.0,
    ("pro", 5): 150.0,
    ("pro", 10): 270.0,
}
