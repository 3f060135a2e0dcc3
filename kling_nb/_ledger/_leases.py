"""Leases: which Studio drives which job, so two never drive (or re-create) the same one.

A Studio `claim`s the unfinished jobs created with its settings whose lease is free, extends its
leases by `heartbeat` while it runs, and `release`s them when it closes. A crashed Studio's
leases run out, and the next claim takes its jobs over. On PostgreSQL a claim reads the rows
`FOR UPDATE SKIP LOCKED` in its transaction, so two claims at once never take the same row
(SQLite's `BEGIN IMMEDIATE` already lets one writer in at a time).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import sqlalchemy as sa

from ._codec import decode_row
from ._engine import sql_for
from ._schema import FINAL_STATES
from ._writes import EVENT_SQL, event

__all__ = ["Claim", "claim_work", "heartbeat_work", "release_work"]

# Our own constants, inlined: no parameter lists to expand.
_NOT_FINAL: Final = f"status NOT IN ({', '.join(repr(state) for state in FINAL_STATES)})"
# v1 ledgers recorded the embedded sandbox's origin, a random loopback port.
_LOOPBACK: Final = re.compile(r"http://127\.0\.0\.1:\d+/?")


@dataclasses.dataclass(frozen=True)
class Claim:
    """What `Ledger.claim` found among the unfinished jobs (rows as dicts, oldest first)."""

    claimed: list[dict[str, Any]]
    """Now owned by the claimer, with a fresh lease."""
    other_settings: list[dict[str, Any]]
    """Created at another endpoint or with another key: not this Studio's to drive."""
    held: list[dict[str, Any]]
    """Leased by another owner whose lease has not run out."""


def _same_settings(
    row: Mapping[Any, Any], endpoint: str, key_fp: str | None, legacy_endpoint: str | None
) -> bool:
    if row["key_fp"] is not None and row["key_fp"] != key_fp:
        return False
    if row["endpoint"] == endpoint:
        return True
    return (
        legacy_endpoint is not None
        and legacy_endpoint == endpoint
        and row["key_fp"] is None
        and isinstance(row["endpoint"], str)
        and _LOOPBACK.fullmatch(row["endpoint"]) is not None
    )


def claim_work(
    owner: str,
    endpoint: str,
    key_fp: str | None,
    lease_s: float,
    now: float,
    legacy_endpoint: str | None,
) -> Callable[[sa.Connection], Claim]:
    """The transaction of `Ledger.claim` (see there)."""

    def work(db: sa.Connection) -> Claim:
        query = (
            f"SELECT * FROM jobs WHERE {_NOT_FINAL} "  # noqa: S608 (our own conditions)
            f"ORDER BY submitted_at, job_id{sql_for(db).lock_rows}"
        )
        rows = db.execute(sa.text(query)).mappings().all()
        claimed: list[dict[str, Any]] = []
        other: list[dict[str, Any]] = []
        held: list[dict[str, Any]] = []
        for row in rows:
            if not _same_settings(row, endpoint, key_fp, legacy_endpoint):
                other.append(decode_row(row))
            elif row["owner"] is None or (
                row["lease_until"] is not None and row["lease_until"] < now
            ):
                claimed.append(_take(db, row, owner, now + lease_s, now))
            elif row["owner"] != owner:
                held.append(decode_row(row))
        return Claim(claimed=claimed, other_settings=other, held=held)

    return work


_TAKE: Final = sa.text(
    "UPDATE jobs SET owner = :owner, lease_until = :until, updated_at = :now WHERE job_id = :job_id"
)


def _take(
    db: sa.Connection, row: Mapping[Any, Any], owner: str, until: float, now: float
) -> dict[str, Any]:
    db.execute(_TAKE, {"owner": owner, "until": until, "now": now, "job_id": row["job_id"]})
    detail = json.dumps({"owner": owner, "from": row["owner"]})
    db.execute(EVENT_SQL, event(row["job_id"], now, "claimed", row["status"], detail))
    taken = decode_row(row)
    taken.update(owner=owner, lease_until=until, updated_at=now)
    return taken


def heartbeat_work(owner: str, until: float) -> Callable[[sa.Connection], int]:
    """Extend `owner`'s leases on its unfinished jobs to `until`; the work counts them."""
    query = sa.text(
        f"UPDATE jobs SET lease_until = :until WHERE owner = :owner AND {_NOT_FINAL}"  # noqa: S608
    )

    def work(db: sa.Connection) -> int:
        return db.execute(query, {"until": until, "owner": owner}).rowcount

    return work


def release_work(owner: str, job_ids: Sequence[str] | None) -> Callable[[sa.Connection], int]:
    """Give up `owner`'s leases (all, or on `job_ids`); the work counts the rows released."""
    query = "UPDATE jobs SET owner = NULL, lease_until = NULL WHERE owner = :owner"

    def work(db: sa.Connection) -> int:
        if job_ids is None:
            return db.execute(sa.text(query), {"owner": owner}).rowcount
        one = sa.text(query + " AND job_id = :job_id")
        return sum(db.execute(one, {"owner": owner, "job_id": j}).rowcount for j in job_ids)

    return work
