"""What `job.rate`, `studio.prefer` and `studio.judge` do: ledger records and blind copies.

Ratings and judgements go to the ledger's own tables (they survive restarts and export with
the rest), each carrying its rater's name: the OS user unless one is given. `studio.judge`
hands the judge widget opaque copies of the videos (`kling_outputs/judge/<random>.mp4`, hard
links where the file system allows), so nothing in the page names a job before the vote. The
folder is not hidden (no leading dot) because Jupyter's file server refuses hidden files.
"""

from __future__ import annotations

import getpass
import os
import secrets
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from ._errors import ValidationError
from ._judging import Vote
from ._views import view

if TYPE_CHECKING:
    import pandas as pd

    from ._jobs import Job
    from ._ledger import Ledger
    from ._pricing import RateCard

__all__ = [
    "BLIND_FOLDER",
    "Judging",
    "blind_copy",
    "default_rater",
    "job_id_of",
    "judge_entries",
    "prefer",
    "rate",
    "record_vote",
]

BLIND_FOLDER: Final = "judge"
"""The folder under `kling_outputs/` that holds the blind copies."""


def default_rater() -> str:
    """The OS user's name (what a rating or judgement carries when no rater is given)."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (some containers)
        name = ""
    return name.strip() or "anonymous"


def job_id_of(job: object) -> str:
    """The job id of a `Job` or of a job-id string."""
    if isinstance(job, str) and job:
        return job
    job_id = getattr(job, "job_id", None)
    if isinstance(job_id, str) and job_id:
        return job_id
    raise ValidationError("job", job, "a Job or a job id")


def rate(ledger: Ledger, job: object, stars: int, *, note: str | None, rater: str | None) -> None:
    """Record a 1-5 star rating of `job`; the rater's newer rating replaces the older."""
    ledger.add_rating(job_id_of(job), stars, note=note, rater=rater or default_rater())


def record_vote(ledger: Ledger, vote: Vote) -> int:
    """Write one `Vote` (display order kept: position bias is measured from it); its seq."""
    rater = vote.rater or default_rater()
    return ledger.add_judgement(vote.shown, vote.choice, tie=vote.tie, rater=rater)


def prefer(ledger: Ledger, winner: object, loser: object, *, rater: str | None, tie: bool) -> int:
    """One pairwise judgement: `winner` beat `loser` (or, with `tie`, neither did); its seq.

    Nothing was displayed, so there is no left or right: the pair is stored in job-id order,
    which says nothing about which one won.
    """
    first, second = job_id_of(winner), job_id_of(loser)
    if first == second:
        raise ValidationError("loser", second, "a different job than the winner")
    shown = tuple(sorted((first, second)))
    vote = Vote(0.0, rater or default_rater(), shown, None if tie else first, tie)
    return record_vote(ledger, vote)


def blind_copy(source: Path, folder: Path) -> Path:
    """A hard link (else a copy) of `source` under `folder`, named at random."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{secrets.token_hex(8)}{source.suffix.lower()}"
    try:
        os.link(source, target)
    except OSError:  # another file system, or links not allowed
        shutil.copyfile(source, target)
    return target


def _reveal(job: Job, pricing: RateCard) -> dict[str, str]:
    fields = {
        "prompt": job.prompt,
        "model": job.model,
        "mode": job.mode or "",
        "duration": f"{job.duration} s",
        "seconds taken": f"{job.elapsed:.1f} s",
        "cost": pricing.format(job.cost_estimate) if job.cost_estimate is not None else "",
        "job": job.job_id,
    }
    return {name: value for name, value in fields.items() if value}


def judge_entries(jobs: Iterable[Job], folder: Path, pricing: RateCard) -> list[dict[str, Any]]:
    """One judge item per finished job with a video: blind copies of its video and poster.

    Each entry: `item_id`, `job_ids`, `video` and `poster` (paths of the copies), `reveal`.
    """
    entries: list[dict[str, Any]] = []
    for job in jobs:
        path = job.video_path
        if not job.succeeded or path is None or not path.is_file():
            continue
        video = blind_copy(path, folder)
        poster = blind_copy(job.poster, folder) if job.poster and job.poster.is_file() else None
        entries.append(
            {
                "item_id": job.job_id,
                "job_ids": (job.job_id,),
                "video": str(video),
                "poster": str(poster) if poster else None,
                "reveal": _reveal(job, pricing),
            }
        )
    return entries


class Judging:
    """The judging methods of `Studio` (a mixin, so the Studio itself stays small)."""

    log: Ledger
    outputs: Path
    pricing: RateCard
    jobs: dict[str, Job]

    def prefer(
        self, winner: Job | str, loser: Job | str, *, rater: str | None = None, tie: bool = False
    ) -> int:
        """Record that `winner` beat `loser` (a Job or a job id); `tie=True`: neither did.

        `rater` defaults to the OS user. Returns the judgement's sequence number.
        """
        return prefer(self.log, winner, loser, rater=rater, tie=tie)

    def judge(
        self,
        jobs: Iterable[Job] | None = None,
        *,
        k: int = 2,
        blind: bool = True,
        rater: str | None = None,
        rounds: int | None = None,
    ) -> Any:
        """A blind preference widget over the finished `jobs` (default: all of this Studio's).

        It shows `k` videos at a time, labelled A, B, ... in random order; each vote goes to
        the ledger (`log.judgements`) under `rater` (default: the OS user), and only then are
        the identities shown. `rounds` votes end the session; `widget.rankings()` is a live
        table of the scores that follows the votes.
        """
        chosen = list(self.jobs.values()) if jobs is None else list(jobs)
        folder = self.outputs / BLIND_FOLDER
        entries = judge_entries(chosen, folder, self.pricing)
        if len(entries) < max(k, 2):
            raise ValidationError("jobs", f"{len(entries)} finished", f"at least {max(k, 2)}")
        ids = [entry["item_id"] for entry in entries]
        ledger = self.log

        def rank(by: Sequence[str]) -> pd.DataFrame:
            return ledger.rankings(by=tuple(by), jobs=ids)

        return view(
            "judge",
            entries,
            k=k,
            blind=blind,
            rater=rater or default_rater(),
            rounds=rounds,
            record=lambda vote: record_vote(ledger, vote),
            history=ledger.votes(ids),
            rank=rank,
            studio=self,  # its views turn static when this Studio closes
        )
