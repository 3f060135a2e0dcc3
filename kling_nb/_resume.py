"""What `Studio.resume()` does with each unfinished ledger row (pure: rows in, events out)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ._errors import ValidationError, error_from_fields
from ._families import AnyRequest, family_of, request_from_row
from ._jobs import Job, JobHost
from ._ledger import Claim
from ._models import Task, parse_status
from ._states import Event, JobState, transition

__all__ = ["ResumeReport", "job_from_row", "plan_resume"]

J = TypeVar("J", bound=Job)


def plan_resume(
    row: Mapping[str, Any], *, now: float, timeout: float
) -> tuple[Event, dict[str, Any]]:
    """The event that re-attaches an unfinished row, and the ledger fields it sets.

    A row with a task id is polled (or downloaded) again with a fresh deadline; a row whose
    create was on the wire when the process died is `unknown` (never re-sent: no idempotency
    key, contract.md assumption 9); a row that never left the local queue is queued again.
    """
    state = JobState.parse(row["status"])
    if not row.get("task_id"):
        if state is JobState.CREATING or row.get("create_state") == "sending":
            event = Event.DETACH
            return event, {
                "status": transition(JobState.CREATING, event).value,
                "create_state": "unknown",
                "error": "the create request may have reached the server before a crash; "
                "not re-sent (that could bill twice)",
                "error_type": "CreateOutcomeUnknownError",
            }
        event = Event.RESUME_WAITING
        return event, {"status": transition(state, event).value, "create_state": "pending"}
    remote = str(row.get("remote_status") or "")
    if state in (JobState.DOWNLOADING, JobState.FETCH_FAILED) or (
        remote == "succeeded" and row.get("video_url")
    ):
        event = Event.RESUME_DOWNLOADING
    elif remote == "running" or state is JobState.RUNNING:
        event = Event.RESUME_RUNNING
    else:
        event = Event.RESUME_QUEUED
    return event, {"status": transition(state, event).value, "deadline_at": now + timeout}


@dataclass(frozen=True)
class ResumeReport:
    """What one `resume()` found: how many it took, and what it left alone and why."""

    resumed: int
    other_settings: int
    held: int
    endpoints: tuple[str, ...]

    @classmethod
    def of(cls, claim: Claim, endpoint: str) -> ResumeReport:
        """Summarise a ledger claim made from `endpoint`."""
        elsewhere = sorted(
            {str(row.get("endpoint") or "?") for row in claim.other_settings} - {endpoint}
        )
        return cls(len(claim.claimed), len(claim.other_settings), len(claim.held), tuple(elsewhere))

    @property
    def note(self) -> str:
        """A sentence for the user when something was left alone ('' otherwise)."""
        parts = []
        if self.other_settings:
            where = f" ({', '.join(self.endpoints)})" if self.endpoints else " (another API key)"
            parts.append(
                f"{self.other_settings} unfinished job(s) were created with other settings{where} "
                "and were left alone: resume with the base URL and key they were created with"
            )
        if self.held:
            parts.append(f"{self.held} job(s) are driven by another live Studio")
        return "; ".join(parts)


def job_from_row(host: JobHost, row: Mapping[str, Any], make: type[J] = Job) -> J:  # type: ignore[assignment]
    """Rebuild a Job (or a `make` subclass) from its ledger row (request, task, times, error)."""
    try:
        request: AnyRequest | None = request_from_row(row)
    except (ValidationError, KeyError):
        # e.g. a local first frame deleted since: the job can still be polled by task id.
        request = None
    job = make(
        host,
        row["job_id"],
        request,
        tags=tuple(row["tags"] or ()),
        cost_estimate=row["cost_estimate"],
        submitted_at=row["submitted_at"],
        state=JobState.parse(row["status"]),
    )
    job.body = row["request"] or None
    job.created_at = row["created_at"]
    job.running_at = row["running_at"]
    job.polls = row["polls"] or 0
    for name in ("video_path", "poster", "filmstrip"):
        value = row.get(name)
        setattr(job, name, Path(value) if value else None)
    job.attempts = row.get("attempts") or 0
    if row.get("error_type") or row.get("error"):
        job.error = error_from_fields(
            {
                "error_type": row.get("error_type"),
                "error_status": row.get("error_status"),
                "error_code": row.get("error_code"),
                "error_message": row.get("error"),
                "error_details": row.get("error_detail") or {},
            }
        )
    if row["task_id"]:
        family_of(row["route"])  # a route no family owns is refused, as `as_route` did
        job.task = Task(
            id=row["task_id"],
            route=str(row["route"]),
            model=row["model"],
            status=parse_status(row.get("remote_status") or "queued"),
            video_url=row.get("video_url"),
        )
    return job
