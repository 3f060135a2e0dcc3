"""A job's local life as data: `JobState`, `Event`, and the one pure `transition` function.

Every place that names a job state uses `JobState`; every change of state goes through
`transition(state, event)`, which rejects moves the lifecycle does not allow. The table below
is the whole lifecycle (tests walk every pair)::

    waiting ──send──▶ creating ──created──▶ queued ──running──▶ running
       ▲                 │  │                  │                   │
       └──── requeue ────┘  ├─unknown─▶ unknown (final)           │
                            └─refused─▶ error (final)             │
    queued/running ──succeeded──▶ downloading ──downloaded──▶ succeeded (final)
    queued/running ──failed/cancelled/expired──▶ failed / cancelled / expired (final)
    downloading ──fetch_failed──▶ fetch_failed   (parked: resume() fetches it again)
    queued/running ──deadline──▶ timeout         (parked: the remote task runs on)
    waiting/queued/running/downloading ──detach──▶ detached (parked: closed, lease lost, or
        the task is unreadable with this Studio's settings)
    parked ──resume──▶ waiting (nothing was sent) / queued / running / downloading
    active ──stop──▶ stopped (final: job.cancel(); a created task runs on remotely)

"Parked" states are neither active (no coroutine drives them) nor final: `resume()` picks
them up again. `succeeded` remotely is `downloading` locally until the video is on disk, so a
billed video is never final before it has been fetched.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Final

from ._models import Status

__all__ = ["Event", "IllegalTransitionError", "JobState", "state_for_status", "transition"]


class JobState(str, enum.Enum):
    """The local state of a job (stored as its value in the ledger's `status` column)."""

    WAITING = "waiting"
    """In the local queue (max_in_flight, the pending cap, a retry wait): nothing sent."""
    CREATING = "creating"
    """The create request is on its way."""
    UNKNOWN = "unknown"
    """The create may have reached the server but got no readable answer: never re-sent."""
    ERROR = "error"
    """Refused before a task existed (400/401/402/403, 424 after retries, a local check)."""
    QUEUED = "queued"
    RUNNING = "running"
    DOWNLOADING = "downloading"
    """The task succeeded remotely; the video is not on disk yet."""
    FETCH_FAILED = "fetch_failed"
    """The task succeeded but the download failed (disk, media host): resume() retries it."""
    SUCCEEDED = "succeeded"
    """The video is on disk."""
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    TIMEOUT = "timeout"
    """The local deadline passed while the task ran: resume() polls it again."""
    DETACHED = "detached"
    """This Studio stopped following the task (closed, or could not read it): resumable."""
    STOPPED = "stopped"
    """`job.cancel()`: local polling stopped; a created task runs on remotely."""

    def __str__(self) -> str:
        return self.value

    @property
    def active(self) -> bool:
        """A coroutine of the Studio drives the job right now."""
        return self in _ACTIVE

    @property
    def final(self) -> bool:
        """The job will never change again (resume() leaves it alone)."""
        return self in _FINAL

    @property
    def parked(self) -> bool:
        """Neither active nor final: `resume()` re-attaches it."""
        return not self.active and not self.final

    @property
    def billed(self) -> bool:
        """A remote task may exist and bill for this job (or did)."""
        return self in _BILLED

    @classmethod
    def parse(cls, value: object) -> JobState:
        """The state named by `value` (a JobState or its string); ValueError otherwise."""
        if isinstance(value, JobState):
            return value
        return cls(str(value))


_ACTIVE: Final = frozenset(
    {
        JobState.WAITING,
        JobState.CREATING,
        JobState.QUEUED,
        JobState.RUNNING,
        JobState.DOWNLOADING,
    }
)
_FINAL: Final = frozenset(
    {
        JobState.UNKNOWN,
        JobState.ERROR,
        JobState.SUCCEEDED,
        JobState.FAILED,
        JobState.CANCELLED,
        JobState.EXPIRED,
        JobState.STOPPED,
    }
)
# Billing settles at a terminal status and is per generated second (contract.md, billing):
# failed, cancelled and expired tasks generated nothing, so they are counted as unbilled.
_BILLED: Final = frozenset(
    {
        JobState.CREATING,
        JobState.UNKNOWN,
        JobState.QUEUED,
        JobState.RUNNING,
        JobState.DOWNLOADING,
        JobState.FETCH_FAILED,
        JobState.SUCCEEDED,
        JobState.TIMEOUT,
        JobState.DETACHED,
        JobState.STOPPED,
    }
)


class Event(str, enum.Enum):
    """What happened to a job: the input of `transition`."""

    SEND = "send"  # the create request is about to leave
    REQUEUE = "requeue"  # 429 / 424 / provably unsent: back to the local queue
    CREATED = "created"  # the create answered with a task id
    REFUSED = "refused"  # the create was refused, or a local check failed before sending
    OUTCOME_UNKNOWN = "outcome_unknown"  # the create may have reached the server
    STATUS_QUEUED = "status_queued"
    STATUS_RUNNING = "status_running"
    STATUS_SUCCEEDED = "status_succeeded"
    STATUS_FAILED = "status_failed"
    STATUS_CANCELLED = "status_cancelled"
    STATUS_EXPIRED = "status_expired"
    DOWNLOADED = "downloaded"
    FETCH_FAILED = "fetch_failed"
    DEADLINE = "deadline"
    DETACH = "detach"
    STOP = "stop"
    RESUME_QUEUED = "resume_queued"
    RESUME_RUNNING = "resume_running"
    RESUME_DOWNLOADING = "resume_downloading"
    RESUME_WAITING = "resume_waiting"

    def __str__(self) -> str:
        return self.value


class IllegalTransitionError(RuntimeError):
    """A move the lifecycle does not allow (a bug in kling_nb, never the user's input)."""

    def __init__(self, state: JobState, event: Event) -> None:
        self.state = state
        self.event = event
        super().__init__(f"no transition from {state.value!r} on {event.value!r}")


S = JobState
E = Event
_REMOTE: Final = (S.QUEUED, S.RUNNING)
_PARKED_TASK: Final = (S.TIMEOUT, S.DETACHED, S.FETCH_FAILED)

_TABLE: dict[tuple[JobState, Event], JobState] = {
    (S.WAITING, E.SEND): S.CREATING,
    (S.WAITING, E.REQUEUE): S.WAITING,
    (S.WAITING, E.REFUSED): S.ERROR,
    (S.WAITING, E.STOP): S.STOPPED,
    (S.WAITING, E.DETACH): S.DETACHED,
    (S.CREATING, E.CREATED): S.QUEUED,
    (S.CREATING, E.REQUEUE): S.WAITING,
    (S.CREATING, E.REFUSED): S.ERROR,
    (S.CREATING, E.OUTCOME_UNKNOWN): S.UNKNOWN,
    (S.DOWNLOADING, E.DOWNLOADED): S.SUCCEEDED,
    (S.DOWNLOADING, E.FETCH_FAILED): S.FETCH_FAILED,
    (S.DOWNLOADING, E.DEADLINE): S.FETCH_FAILED,
    (S.DOWNLOADING, E.DETACH): S.DETACHED,
    (S.DOWNLOADING, E.STOP): S.STOPPED,
}
for _state in _REMOTE:
    _TABLE.update(
        {
            (_state, E.STATUS_QUEUED): _state,  # never back from running to queued
            (_state, E.STATUS_RUNNING): S.RUNNING,
            (_state, E.STATUS_SUCCEEDED): S.DOWNLOADING,
            (_state, E.STATUS_FAILED): S.FAILED,
            (_state, E.STATUS_CANCELLED): S.CANCELLED,
            (_state, E.STATUS_EXPIRED): S.EXPIRED,
            (_state, E.DEADLINE): S.TIMEOUT,
            (_state, E.DETACH): S.DETACHED,
            (_state, E.STOP): S.STOPPED,
        }
    )
for _state in _PARKED_TASK:
    _TABLE.update(
        {
            (_state, E.RESUME_QUEUED): S.QUEUED,
            (_state, E.RESUME_RUNNING): S.RUNNING,
            (_state, E.RESUME_DOWNLOADING): S.DOWNLOADING,
            (_state, E.DETACH): S.DETACHED,
        }
    )
# A crash leaves rows in active states: resume() re-attaches them where they were.
for _state in (S.QUEUED, S.RUNNING, S.DOWNLOADING):
    _TABLE.update(
        {
            (_state, E.RESUME_QUEUED): S.QUEUED,
            (_state, E.RESUME_RUNNING): S.RUNNING,
            (_state, E.RESUME_DOWNLOADING): S.DOWNLOADING,
        }
    )
_TABLE[(S.WAITING, E.RESUME_WAITING)] = S.WAITING
_TABLE[(S.DETACHED, E.RESUME_WAITING)] = S.WAITING  # detached before its create was sent
# A row left `creating` by a crash: the create may have reached the server.
_TABLE[(S.CREATING, E.DETACH)] = S.UNKNOWN

TRANSITIONS: Final[Mapping[tuple[JobState, Event], JobState]] = dict(_TABLE)
"""Every allowed (state, event) pair and the state it leads to."""


def transition(state: JobState, event: Event) -> JobState:
    """The state after `event` in `state`; `IllegalTransitionError` if the move is not allowed."""
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise IllegalTransitionError(state, event) from None


_STATUS_EVENTS: Final[Mapping[Status, Event]] = {
    Status.QUEUED: E.STATUS_QUEUED,
    Status.RUNNING: E.STATUS_RUNNING,
    Status.SUCCEEDED: E.STATUS_SUCCEEDED,
    Status.FAILED: E.STATUS_FAILED,
    Status.CANCELLED: E.STATUS_CANCELLED,
    Status.EXPIRED: E.STATUS_EXPIRED,
}


def state_for_status(status: Status | str) -> Event:
    """The event a remote status stands for; unknown values count as running.

    contract.md assumption 4: unknown statuses are not terminal, so they keep the job polling.
    """
    if isinstance(status, Status):
        return _STATUS_EVENTS[status]
    return E.STATUS_RUNNING
