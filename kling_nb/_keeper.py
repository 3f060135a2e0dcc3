"""`Keeper`: a Studio's hold on its ledger rows: lease-guarded writes, heartbeats, rewrites."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Final

from ._jobrows import ledger_fields
from ._jobs import Job
from ._ledger import Ledger, LedgerError
from ._pipeline import LeaseLostError
from ._states import Event

__all__ = ["LEASE_SECONDS", "Keeper"]

log = logging.getLogger("kling_nb")

LEASE_SECONDS: Final = 60.0
"""How long a Studio's claim on its jobs lasts without a heartbeat (another may take over)."""
SEND_PATIENCE: Final = 30.0
"""Seconds a create waits (unsent) for a ledger that refuses the write that must precede it."""


class Keeper:
    """Writes one Studio's transitions to the ledger, only while it still owns each job."""

    def __init__(self, ledger: Ledger, owner: str) -> None:
        self.log = ledger
        self.owner = owner
        self.unsaved: set[Job] = set()

    async def record(self, job: Job, event: Event, fields: dict[str, Any], detail: object) -> None:
        """Persist one transition of `job`, guarded by the lease on it.

        The send of a create must be on disk before it leaves, so its write failing stops the
        job. Later writes describe what already happened: if the disk refuses them the job
        goes on in memory and the row is written again by the heartbeat.
        """
        waited = 0.0
        while True:
            try:
                applied = await self.log.aupdate(
                    job.job_id, owner=self.owner, event=event.value, detail=detail, **fields
                )
                break
            except LedgerError as exc:
                if event is not Event.SEND:
                    log.warning("job %s: ledger write failed (%s); kept in memory", job.job_id, exc)
                    self.unsaved.add(job)
                    return
                if waited >= SEND_PATIENCE:
                    raise
                # A ledger server restarting (a team ledger) is back within seconds: the create
                # waits, unsent, rather than failing a job that could still run.
                log.info(
                    "job %s: ledger unavailable (%s); retrying before sending", job.job_id, exc
                )
                pause = min(0.5 * 2 ** min(waited, 5), 5.0)
                await asyncio.sleep(pause)
                waited += pause
        if not applied:
            raise LeaseLostError(
                f"job {job.job_id} is driven by another Studio now; this one stopped following it"
            )

    async def beat(self, closing: Callable[[], bool], lease_s: Callable[[], float]) -> None:
        """Renew the leases and re-write refused rows until `closing()`."""
        while not closing():
            await asyncio.sleep(lease_s() / 4)
            try:
                await self.log.aheartbeat(self.owner, lease_s())
                await self.rewrite()
            except LedgerError as exc:
                log.warning("ledger heartbeat failed: %s", exc)

    async def rewrite(self) -> None:
        """Write again the rows the disk refused earlier (raises LedgerError if it still does)."""
        for job in list(self.unsaved):
            await self.log.aupdate(job.job_id, owner=self.owner, **ledger_fields(job))
            self.unsaved.discard(job)
