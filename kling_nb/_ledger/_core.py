"""`Ledger`: a row per job, an event per transition, and judgements; SQLite or PostgreSQL.

It is written before every action (the row exists before the create request is sent) and at
every state change, so a crashed kernel loses nothing: `Studio.resume()` claims it back.
pandas views (`df`, `events`, `compare`, `ratings`, `judgements`) are built on demand, and
`export` writes a comparison page of its rows that stands on its own.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa

from .._views import view
from . import _compare, _frames, _judging, _leases, _ranks, _variants, _writes
from ._codec import decode_row
from ._engine import check_member, default_machine, parse_target, sql_for
from ._errors import LedgerConnectError
from ._leases import Claim
from ._schema import FINAL_STATES
from ._store import Store

if TYPE_CHECKING:
    import pandas as pd

    from .._judging import Vote

__all__ = ["Ledger", "comparison_row", "job_ids"]

T = TypeVar("T")
EXPORT_TITLE = "kling_nb comparison"
_ORDER = " ORDER BY submitted_at, job_id"
_ROW_SQL = "SELECT * FROM jobs WHERE job_id = ?"
_NOT_FINAL = f"status NOT IN ({', '.join(repr(state) for state in FINAL_STATES)})"


def _select(
    where: str | Callable[[sa.Connection], str], params: Mapping[str, object]
) -> Callable[[sa.Connection], list[Any]]:
    def read(db: sa.Connection) -> list[Any]:
        condition = where if isinstance(where, str) else where(db)
        query = sa.text(f"SELECT * FROM jobs WHERE {condition}{_ORDER}")  # noqa: S608 (ours)
        if "ids" in params:
            query = query.bindparams(sa.bindparam("ids", expanding=True))
        return [decode_row(row) for row in db.execute(query, dict(params)).mappings()]

    return read


class Ledger:
    """A record of every job: `df` for pandas, `events(job_id)` for its history.

    Stored in a SQLite file (WAL), or in a PostgreSQL database that a team shares. Safe to
    share between the kernel's loop and other threads, and between processes: every write runs,
    in order, on one writer thread with its own connection (the `a...` variants await it
    without blocking the loop); reads use a second connection under a lock. Every failed read or
    write raises `LedgerError`, which names the ledger (never a password) and the cause.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        timeout: float = 5.0,
        member: str | None = None,
        machine: str | None = None,
    ) -> None:
        """Open (create, or migrate to the current schema) the ledger at `path`.

        `path`: a SQLite file, or a `postgresql://user@host:port/db` URL (the password from
        the URL, `PGPASSWORD` or ~/.pgpass, as libpq allows). A URL that is not valid, or a
        server that cannot be reached or logged into, raises `LedgerConnectError` (a
        `kn.ConfigurationError`) naming the host. `timeout`: seconds a write waits for another
        process's lock before failing. `member` (default: the OS user) and `machine` (default:
        this host's name) are recorded on every job this Ledger inserts, and `member` on its
        ratings and judgements: on a shared ledger they say who ran what, from where.
        """
        self.member = check_member(member)
        self.machine = machine or default_machine()
        try:
            target = parse_target(path)
        except ValueError as exc:
            raise LedgerConnectError("postgresql://", "open", str(exc)) from None
        self.path: Path | None = target.path
        """The SQLite file, or None for a PostgreSQL ledger (see `url`)."""
        self.url: str | None = None if target.url is None else target.display
        """A PostgreSQL ledger's URL without its password, or None for a SQLite file."""
        self._store = Store(target, timeout=timeout)

    def __repr__(self) -> str:
        return f"Ledger({self._store.path!r})"

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Apply the queued writes, then close the file (it stays on disk)."""
        self._store.close()

    # -- writes ------------------------------------------------------------------------------

    def _stamped(self, row: Mapping[str, Any]) -> dict[str, Any]:
        return {"member": self.member, "machine": self.machine, **row}

    def insert(self, row: Mapping[str, Any]) -> None:
        """Add a job row (any columns, e.g. `owner`, `lease_until`) and its 'submitted' event."""
        work = _writes.insert_work(self._stamped(row), time.time())
        self._store.write(work, f"insert job {row['job_id']}")

    def update(
        self,
        job_id: str,
        *,
        owner: str | None = None,
        event: str | None = None,
        detail: object = None,
        **fields: Any,
    ) -> bool:
        """Set fields of a job row and, with `event`, append an event, in one transaction.

        With `owner`, it applies only if the row is owned by `owner`. Returns whether it
        applied: False means no such row, or that this owner lost the job (do not act on it).
        """
        work = _writes.update_work(job_id, owner, event, detail, fields, time.time())
        return self._store.write(work, f"update job {job_id}")

    def claim(
        self,
        owner: str,
        *,
        endpoint: str,
        key_fp: str | None,
        lease_s: float,
        now: float | None = None,
        legacy_endpoint: str | None = None,
    ) -> Claim:
        """Take over every unfinished job with a free lease that was created with these settings.

        In one transaction: a job that is not final, whose lease is free (no owner, or its
        lease ended before `now`) and that was created at `endpoint` with key `key_fp` (or an
        unknown key) becomes owned by `owner` until `now + lease_s`. A legacy row (no key
        fingerprint) created at a loopback `http://127.0.0.1:PORT` origin counts as created at
        `legacy_endpoint`, when given (v1 ledgers recorded the embedded sandbox's random port).
        Two processes claiming at once never get the same job.
        """
        at = time.time() if now is None else now
        work = _leases.claim_work(owner, endpoint, key_fp, lease_s, at, legacy_endpoint)
        return self._store.write(work, "claim jobs")

    def heartbeat(self, owner: str, lease_s: float, *, now: float | None = None) -> int:
        """Extend `owner`'s leases on its unfinished jobs to `now + lease_s`; how many."""
        until = (time.time() if now is None else now) + lease_s
        return self._store.write(_leases.heartbeat_work(owner, until), "renew leases")

    def release(self, owner: str, job_ids: Sequence[str] | None = None) -> int:
        """Give up `owner`'s leases (all, or on `job_ids`), e.g. at close; how many."""
        ids = None if job_ids is None else list(job_ids)
        return self._store.write(_leases.release_work(owner, ids), "release leases")

    # -- writes from the event loop -------------------------------------------------------------

    async def _awaited(self, work: Callable[[sa.Connection], T], action: str) -> T:
        future = asyncio.wrap_future(self._store.submit(work, action))
        # Shielded: cancelling the caller must not drop a queued write (it still applies).
        return await asyncio.shield(future)

    async def ainsert(self, row: Mapping[str, Any]) -> None:
        """`insert` on the writer thread, awaited without blocking the event loop."""
        work = _writes.insert_work(self._stamped(row), time.time())
        await self._awaited(work, f"insert job {row['job_id']}")

    async def aupdate(
        self,
        job_id: str,
        *,
        owner: str | None = None,
        event: str | None = None,
        detail: object = None,
        **fields: Any,
    ) -> bool:
        """`update` on the writer thread, awaited without blocking the event loop.

        Writes apply in the order they were issued. Cancelling the awaiting task does not
        cancel the write.
        """
        work = _writes.update_work(job_id, owner, event, detail, fields, time.time())
        return await self._awaited(work, f"update job {job_id}")

    async def aheartbeat(self, owner: str, lease_s: float) -> int:
        """`heartbeat` on the writer thread, awaited without blocking the event loop."""
        work = _leases.heartbeat_work(owner, time.time() + lease_s)
        return await self._awaited(work, "renew leases")

    # -- judging -----------------------------------------------------------------------------

    def add_rating(self, job_id: str, stars: int, *, note: str | None = None, rater: str) -> None:
        """Record `rater`'s 1-5 star rating of a job; it replaces their earlier rating."""
        work = _judging.rating_work(job_id, stars, note, rater, self.member, time.time())
        self._store.write(work, f"rate job {job_id}")

    def add_judgement(
        self, shown: Sequence[str], choice: str | None, *, tie: bool, rater: str
    ) -> int:
        """Record one comparison: the jobs `shown` (display order), the winner or None; its seq."""
        work = _judging.judgement_work(shown, choice, tie, rater, self.member, time.time())
        return self._store.write(work, "record a judgement")

    @property
    def ratings(self) -> pd.DataFrame:
        """Every rating: job_id, rater, stars, note, at (UTC datetime), member."""
        return _judging.ratings_frame(self._store)

    @property
    def judgements(self) -> pd.DataFrame:
        """Every judgement: seq, at (UTC datetime), rater, shown (list), choice, tie, member."""
        return _judging.judgements_frame(self._store)

    # -- reads -------------------------------------------------------------------------------

    def row(self, job_id: str) -> dict[str, Any] | None:
        """One job's row as a dict (raw columns, JSON decoded), or None."""
        action = f"read job {job_id}"
        if self._store.sqlite:
            rows = self._store.read_sqlite(_ROW_SQL, (job_id,), action)
            return decode_row(rows[0]) if rows else None
        found = self._store.read(_select("job_id = :job_id", {"job_id": job_id}), action)
        return found[0] if found else None

    def by_ids(self, job_ids: Sequence[str]) -> list[dict[str, Any]]:
        """The rows of these jobs (those that exist), oldest first."""
        ids = list(dict.fromkeys(job_ids))
        return self._store.read(_select("job_id IN :ids", {"ids": ids}), "read jobs")

    def by_tag(self, tag: str) -> list[dict[str, Any]]:
        """The rows of the jobs tagged `tag`, oldest first."""
        read = _select(lambda db: sql_for(db).tag_exists, {"tag": tag})
        return self._store.read(read, f"read jobs tagged {tag}")

    def succeeded_of(self, prompts: Sequence[str], models: Sequence[str]) -> list[dict[str, Any]]:
        """Succeeded rows (any member's) with one of these prompts and models, newest first."""
        return _variants.succeeded_rows(self._store, prompts, models)

    def unfinished(self) -> list[dict[str, Any]]:
        """Rows whose job is not final (`JobState.final` False), oldest first."""
        return self._store.read(_select(_NOT_FINAL, {}), "read unfinished jobs")

    def timing(
        self, model: str, mode: str | None, duration: int, *, last: int = 50
    ) -> tuple[float, float, int] | None:
        """(median, log-spread, n) of create-to-finish seconds of recent successes, or None."""
        return _frames.timing_stats(self._store, model, mode, duration, last)

    @property
    def df(self) -> pd.DataFrame:
        """Every job as a pandas DataFrame, one row per job, oldest first (see `COLUMNS`)."""
        return _frames.jobs_frame(self._store)

    def events(self, job_id: str | None = None) -> pd.DataFrame:
        """The transition history of one job (or all), with timestamps, as a DataFrame."""
        return _frames.events_frame(self._store, job_id)

    def compare(
        self,
        rows: pd.DataFrame | None = None,
        *,
        index: str | Sequence[str] = "prompt",
        columns: str | Sequence[str] = ("model", "mode", "duration"),
        values: str | Sequence[str] = ("total_s", "cost_estimate"),
        aggfunc: Any = "median",
    ) -> pd.DataFrame:
        """A pivot of the succeeded jobs for side-by-side comparison: prompts down, variants across.

        By default: median seconds from create to finish and estimated cost, for each prompt
        under each (model, mode, duration). Pass `rows` (a filtered `df`, with its `status`
        column) to compare a subset. Without `rows`, and with `aggfunc` one of "median",
        "mean", "count", "min", "max" or "sum" over plain columns, the database groups and
        aggregates the jobs (fast at a million); otherwise pandas pivots `df`. Once jobs are
        rated or judged, the pivot also holds `stars_mean` (mean stars) and `score` (the
        Bradley–Terry score of each cell's variant).
        """
        if rows is None:
            grouped = _compare.sql_compare(
                self._store, index=index, columns=columns, values=values, aggfunc=aggfunc,
                judgements=self.judgements, ratings=self.ratings,
            )  # fmt: skip
            if grouped is not None:
                return grouped
        frame = self.df if rows is None else rows
        names = [values] if isinstance(values, str) else list(values)
        how: Any = aggfunc
        if "job_id" in frame:
            fields = [*_frames.as_list(index), *_frames.as_list(columns)]
            frame, added = _ranks.judged_values(frame, self.judgements, self.ratings, fields)
            if added:
                how = dict.fromkeys(names, aggfunc) | dict.fromkeys(added, "mean")
                names += added
        return _frames.compare_frame(frame, index=index, columns=columns, values=names, aggfunc=how)

    def votes(self, job_ids: Sequence[str] | None = None) -> list[Vote]:
        """The judgements as `Vote`s, oldest first (with `job_ids`: those showing any of them)."""
        return _ranks.to_votes(self.judgements, job_ids)

    def rankings(
        self,
        by: str | Sequence[str] = ("prompt",),
        jobs: Sequence[Any] | None = None,
        *,
        rater: str | None = None,
    ) -> pd.DataFrame:
        """One row per variant (the `by` fields), best first, from the judgements and ratings.

        Columns: the `by` fields, `score` (Bradley–Terry log-strength), `ci_low`/`ci_high`
        (95 %), `wins`, `losses`, `ties`, `comparisons`, `stars_mean`, `stars_n`,
        `total_s_mean`, `cost_estimate_mean`. `jobs` (Jobs or job ids) limits it to those
        jobs (default: every job judged or rated); `rater` keeps one rater's records only.
        `attrs["position_bias"]` tells how often the left video won a two-way vote.
        """
        fields = _frames.as_list(by)
        judgements, ratings = self.judgements, self.ratings
        ids = _ranks.ranked_ids(judgements, ratings, jobs)
        frame = _frames.jobs_frame(self._store, ids)
        return _ranks.variant_rankings(
            frame, judgements, ratings, by=fields, jobs=jobs, rater=rater
        )

    def _export_frame(self, table: str) -> pd.DataFrame:
        if table not in _ranks.TABLES:
            raise ValueError(f"table={table!r}: one of {', '.join(_ranks.TABLES)}")
        frame: pd.DataFrame = getattr(self, "df" if table == "jobs" else table)
        return _ranks.table_for_export(table, frame)

    def to_csv(self, path: str | Path, *, table: str = "jobs") -> Path:
        """Write `df` (or `table="ratings"` / `"judgements"`) to a CSV file; returns its path."""
        target = Path(path)
        self._export_frame(table).to_csv(target, index=False)
        return target

    def to_parquet(self, path: str | Path, *, table: str = "jobs") -> Path:
        """Write `df` (or `table="ratings"` / `"judgements"`) to Parquet (needs pyarrow)."""
        target = Path(path)
        self._export_frame(table).to_parquet(target, index=False)
        return target

    def export(
        self,
        folder: str | os.PathLike[str],
        jobs: Any = None,
        *,
        title: str = EXPORT_TITLE,
        cost_unit: str = "credits",
    ) -> Path:
        """Write a comparison page of these jobs (default: every job) that stands on its own.

        `jobs`: Job objects, job ids, or a DataFrame with a `job_id` column (a filtered `df`).
        `folder` gets `index.html`, copies of the videos, posters and filmstrips, and
        `comparison.csv`; it plays offline in any browser, moved anywhere. Returns the path
        of `index.html`. A job id missing from the ledger raises `KeyError`.
        """
        if jobs is None:
            rows = self._store.read(_select("1 = 1", {}), "read the jobs")
        else:
            ids = job_ids(jobs)
            found = {row["job_id"]: row for row in self.by_ids(ids)}
            missing = [job_id for job_id in ids if job_id not in found]
            if missing:
                raise KeyError(f"no such jobs in {self}: {', '.join(missing)}")
            rows = [found[job_id] for job_id in dict.fromkeys(ids)]
        page_rows = [comparison_row(row, cost_unit) for row in rows]
        path: Path = view("export", folder, page_rows, title=title)
        return path


def job_ids(jobs: Any) -> list[str]:
    """The job ids of Job objects, ids, or a DataFrame's `job_id` column, in their order."""
    if isinstance(jobs, str):
        return [jobs]
    columns = getattr(jobs, "columns", None)
    if columns is not None:
        if "job_id" not in columns:
            raise ValueError("jobs: a DataFrame needs a 'job_id' column (e.g. a filtered log.df)")
        jobs = jobs["job_id"]
    items: Iterable[Any] = jobs
    return [item if isinstance(item, str) else str(item.job_id) for item in items]


def comparison_row(fields: Mapping[str, Any], cost_unit: str | None) -> dict[str, Any]:
    """A ledger row or a job snapshot as a row of the exported page (adds `total_s`)."""
    row = dict(fields)
    created, finished = row.get("created_at"), row.get("finished_at")
    if row.get("total_s") is None and isinstance(created, (int, float)):
        row["total_s"] = (
            round(finished - created, 3) if isinstance(finished, (int, float)) else None
        )
    row.setdefault("cost_unit", cost_unit)
    return row
