"""A job as ledger columns: its error (type, status and code kept) and its whole current row."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._errors import error_fields

if TYPE_CHECKING:
    from ._jobs import Job

__all__ = ["error_columns", "ledger_fields"]


def error_columns(error: BaseException) -> dict[str, Any]:
    """A job error as ledger columns (type, status and code kept, not only text)."""
    fields = error_fields(error)
    return {
        "error": fields.get("error_message"),
        "error_type": fields.get("error_type"),
        "error_status": fields.get("error_status"),
        "error_code": fields.get("error_code"),
        "error_detail": fields.get("error_details") or None,
    }


def ledger_fields(job: Job) -> dict[str, Any]:
    """The ledger columns that describe the job now (to re-write a refused row)."""
    task = job.task
    fields: dict[str, Any] = {
        "status": job.status,
        "task_id": job.task_id,
        "created_at": job.created_at,
        "running_at": job.running_at,
        "finished_at": job.finished_at,
        "deadline_at": job.deadline_at,
        "polls": job.polls,
        "remote_status": str(task.status) if task else None,
        "video_url": task.video_url if task else None,
        "video_path": str(job.video_path) if job.video_path else None,
    }
    if job.error is not None:
        fields.update(error_columns(job.error))
    return fields
