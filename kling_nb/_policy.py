"""Retry and polling policy as pure functions: no I/O, clock and randomness passed in.

Two separate concerns (as in google-api-core): per-request *retry* (backoff after a transient
error) and the *poll schedule* (when to read a task's status next).
"""

from __future__ import annotations

import email.utils
import enum
import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from ._errors import (
    APIConnectionError,
    APIError,
    CreateOutcomeUnknownError,
    InvalidResponseError,
    KlingError,
    ServerError,
    TooManyPendingTasksError,
    UpstreamError,
)

__all__ = [
    "DEFAULT_PRIORS",
    "RETRYABLE_STATUS",
    "CreateDecision",
    "PollSchedule",
    "backoff_delay",
    "create_decision",
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


class CreateDecision(str, enum.Enum):
    """What to do after a create attempt failed (`create_decision` decides)."""

    RETRY = "retry"
    """Provably never sent: it may be sent again after a backoff."""
    WAIT_SLOT = "wait_slot"
    """429 kling_too_many_pending_tasks: no task was created; wait for a slot, then send."""
    RETRY_LATER = "retry_later"
    """424: no task was created and nothing billed; send again after a short wait."""
    UNKNOWN = "unknown"
    """The create may have reached the server: never send it again."""
    FAIL = "fail"
    """Refused (400/401/402/403/404/other 4xx, a local check), or unsent but out of attempts."""

    def __str__(self) -> str:
        return self.value


def create_decision(
    error: BaseException, *, attempt: int, max_unsent: int = 2, max_upstream: int = 3
) -> CreateDecision:
    """Decide what a failed `AsyncClient.create` call means for the next one.

    `attempt` is how many times this kind of fault was already retried. contract.md
    assumption 9: no idempotency key is documented, so a create that may have reached the
    server (a timeout after sending, a reset, a 5xx, a 2xx without a readable id) is never sent
    again: that could create and bill a second task. Only a create that provably never left,
    or that the server answered with 429 (pending cap) or 424 (no task created, contract.md's
    error table), may be sent again. Anything this function does not recognise is UNKNOWN.
    """
    if isinstance(error, CreateOutcomeUnknownError):
        return CreateDecision.UNKNOWN
    if isinstance(error, APIConnectionError):
        if error.sent is not False:
            return CreateDecision.UNKNOWN
        return CreateDecision.RETRY if attempt < max_unsent else CreateDecision.FAIL
    if isinstance(error, (ServerError, InvalidResponseError)):
        return CreateDecision.UNKNOWN
    if isinstance(error, TooManyPendingTasksError):
        return CreateDecision.WAIT_SLOT
    if isinstance(error, UpstreamError):
        return CreateDecision.RETRY_LATER if attempt < max_upstream else CreateDecision.FAIL
    if isinstance(error, APIError):
        # Any other answer is a refusal (4xx); an unmapped 5xx-like code is no proof of that.
        return CreateDecision.FAIL if 400 <= error.status_code < 500 else CreateDecision.UNKNOWN
    if isinstance(error, KlingError):
        # Our own checks (ValidationError, ConfigurationError, ...) raise before any send.
        return CreateDecision.FAIL
    return CreateDecision.UNKNOWN


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


_SQRT2: Final = math.sqrt(2.0)
_LOG_SQRT_2PI: Final = 0.5 * math.log(2.0 * math.pi)


def _log_survival(t: float, median: float, sigma: float) -> float:
    """log P(finish > t) of a lognormal finish time, accurate in both tails."""
    if t <= 0:
        return 0.0
    z = (math.log(t) - math.log(median)) / sigma
    if z < 0:
        return math.log1p(-0.5 * math.erfc(-z / _SQRT2))
    if z < 30:
        return math.log(0.5 * math.erfc(z / _SQRT2))
    return -0.5 * z * z - math.log(z) - _LOG_SQRT_2PI  # erfc underflows: Mills asymptote


@dataclass(frozen=True)
class PollSchedule:
    """When to poll a task next: sparse early, dense around the expected finish, capped.

    A task's finish time is modelled as lognormal (`median`, `sigma`), learned from the ledger
    per (model, mode, duration). Minimising expected notice latency plus `cost` seconds per
    status request gives a poll rate of sqrt(hazard / (2 cost)) (Keller's checking rule), i.e.
    a gap g with g * hazard * g = 2 cost: long gaps while finishing is unlikely, short ones
    when it is likely. The hazard is integrated over the gap (g * H(t, t+g) = 2 cost, H the
    cumulative hazard), not read at its start: with a narrow spread, or at the first poll, the
    hazard rises steeply within one gap, and a gap sized by its start would jump over the
    whole likely window (bench/polling.py: p95 notice latency 15 s -> 5 s at sigma 0.1).

    `cost = knob * scale` seconds per request. `scale` defaults to the median (scale-free);
    the Studio passes one time base for every kind of job, so a request buys as much latency
    on a long job as on a short one (which is what minimises the total over a mixed sweep).

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
    scale: float | None = None

    def delay(self, elapsed: float, *, rand: Rand = random.random) -> float:
        """Seconds from now until the next status read, `elapsed` seconds after create."""
        gap = self._gap(max(elapsed, 0.0))
        if not self.confident:
            gap = min(gap, 1.0 + self.growth * elapsed)
        gap = max(gap, self.min_delay)
        if self.jitter:
            gap *= 1.0 + self.jitter * (2.0 * rand() - 1.0)
        return max(gap, self.min_delay)

    def _gap(self, elapsed: float) -> float:
        """The longest gap g, up to the cap, with g * H(elapsed, elapsed + g) <= 2 cost.

        The cap is `max_delay` and half the median. Solved to about 2 % by safeguarded Newton
        steps in log space (typically three evaluations of the survival function).
        """
        cap = min(self.max_delay, max(0.5 * self.median, self.min_delay))
        if self.median <= 0 or self.sigma <= 0:
            return cap
        budget = 2.0 * self.knob * (self.median if self.scale is None else self.scale)
        start = _log_survival(elapsed, self.median, self.sigma)

        def spent(gap: float) -> float:
            return gap * (start - _log_survival(elapsed + gap, self.median, self.sigma))

        if spent(cap) <= budget:
            return cap
        hazard = lognormal_hazard(elapsed, self.median, self.sigma)
        gap = min(math.sqrt(budget / hazard), cap) if hazard > 0 else cap / 2
        lo, hi = 0.0, cap  # spent(lo) <= budget < spent(hi)
        for _ in range(60):
            if hi <= 1.01 * lo or hi <= 0.5 * self.min_delay:
                break
            used = spent(gap)
            if used <= budget:
                lo = gap
                if used >= 0.96 * budget:
                    break
            else:
                hi = gap
            # spent grows about as gap**2 where the hazard is flat: step as if it did,
            # falling back to bisection when the step leaves the bracket.
            step = gap * math.sqrt(budget / used) if used > 0 else 2.0 * gap
            gap = step if lo < step < hi else (math.sqrt(lo * hi) if lo > 0 else hi / 4)
        return lo


# Unscaled priors (median seconds from create to succeeded) for when the ledger has no history.
# Not published by WorldRouter or Kling: rough figures for queue plus render, chosen by us
# (contract.md says nothing about timing), and replaced by the ledger's medians once known.
DEFAULT_PRIORS: Final[Mapping[tuple[str, int], float]] = {
    ("std", 5): 90.0,
    ("std", 10): 150.0,
    ("pro", 5): 150.0,
    ("pro", 10): 270.0,
}
