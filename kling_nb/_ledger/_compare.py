"""`Ledger.compare()` in the database: succeeded jobs grouped and aggregated in SQL.

At a million jobs, loading every row to pivot it in pandas costs seconds; the database groups
them instead, and pandas pivots the few grouped rows (one per index and columns value), so the
result is the pivot `_frames.compare_frame` builds from `df`. Medians: PostgreSQL has
`percentile_cont`; SQLite has none, so `Median` is registered on its connections. Only plain
columns group (not times, tags or request), and only the aggregations both engines share;
anything else returns None and the caller pivots `df` as before. Stars and scores come from
the small ratings and judgements tables: only the jobs they name, and the distinct variants,
are read.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

import sqlalchemy as sa

from ._frames import as_list, jobs_frame

if TYPE_CHECKING:
    import pandas as pd

    from ._store import Store

__all__ = ["SQL_AGGFUNCS", "Median", "sql_compare"]

SQL_AGGFUNCS: Final = ("median", "mean", "count", "min", "max", "sum")
"""The `aggfunc` names `compare()` computes in the database."""

_KEYS: Final = frozenset(
    (
        "job_id", "task_id", "family", "route", "model", "mode", "duration", "aspect_ratio",
        "prompt", "status", "polls", "cost_estimate", "cost_reported", "video_url",
        "video_path", "error", "create_state", "video_bytes", "video_sha256", "remote_status",
        "error_type", "error_code", "endpoint", "member", "machine",
    )
)  # fmt: skip
_DERIVED: Final = {
    "total_s": "finished_at - created_at",
    "queued_s": "COALESCE(running_at, finished_at) - created_at",
    "running_s": "finished_at - running_at",
}
_NUMERIC: Final = frozenset(("duration", "polls", "cost_estimate", "cost_reported", "video_bytes"))
_AGG: Final = {"mean": "AVG({})", "count": "COUNT({})", "min": "MIN({})", "max": "MAX({})",
               "sum": "COALESCE(SUM({}), 0)"}  # fmt: skip
_SUCCEEDED: Final = "succeeded"


def _value_sql(name: str, postgres: bool) -> str:
    """The SQL of a value column, as `df` has it (the durations rounded to ms, like `_shape`)."""
    if name in _DERIVED:
        if postgres:
            return f"CAST(ROUND(CAST({_DERIVED[name]} AS numeric), 3) AS double precision)"
        return f"ROUND({_DERIVED[name]}, 3)"
    return f"CAST({name} AS double precision)" if postgres else name


def supported(keys: Sequence[str], values: Sequence[str], aggfunc: object) -> bool:
    """Whether this pivot can be aggregated in SQL (else pandas pivots `df`)."""
    return (
        isinstance(aggfunc, str)
        and aggfunc in SQL_AGGFUNCS
        and bool(keys)
        and len(set(keys)) == len(keys)
        and all(key in _KEYS for key in keys)
        and all(value in _DERIVED or value in _NUMERIC for value in values)
        and not set(keys) & set(values)
    )


def _grouped_sql(keys: Sequence[str], values: Sequence[str], aggfunc: str, postgres: bool) -> str:
    group = ", ".join(keys)
    not_null = "".join(f" AND {key} IS NOT NULL" for key in keys)
    inner = ", ".join(
        [*keys, *(f"{_value_sql(v, postgres)} AS v{i}" for i, v in enumerate(values))]
    )
    source = f"SELECT {inner} FROM jobs WHERE status = :status{not_null}"  # noqa: S608 (ours)
    if aggfunc != "median":
        aggs = ", ".join(_AGG[aggfunc].format(f"v{i}") for i in range(len(values)))
        return f"SELECT {group}, {aggs} FROM ({source}) AS s GROUP BY {group}"  # noqa: S608
    if postgres:
        aggs = ", ".join(
            f"percentile_cont(0.5) WITHIN GROUP (ORDER BY v{i})" for i in range(len(values))
        )
    else:  # SQLite has no median: `Median`, registered on each connection (see _store)
        aggs = ", ".join(f"kn_median(v{i})" for i in range(len(values)))
    return f"SELECT {group}, {aggs} FROM ({source}) AS s GROUP BY {group}"  # noqa: S608


class Median:
    """SQLite's `kn_median(x)` aggregate: the median of the non-NULL values, as pandas has it.

    Measured at 1,000,000 jobs against numbering each value's rows with window functions
    (ROW_NUMBER over the group, then the middle one or two averaged): about 2x faster, as
    SQLite then sorts only by the group, not once more per value.
    """

    def __init__(self) -> None:
        self.values: list[float] = []

    def step(self, value: float | None) -> None:
        """Add one row's value (NULL is skipped)."""
        if value is not None:
            self.values.append(value)

    def finalize(self) -> float | None:
        """The median, or NULL for a group without values."""
        ordered = sorted(self.values)
        n = len(ordered)
        if not n:
            return None
        mid = n // 2
        return float(ordered[mid]) if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def grouped_frame(
    store: Store, keys: Sequence[str], values: Sequence[str], aggfunc: str
) -> pd.DataFrame:
    """One row per group of succeeded jobs: the `keys`, then each value aggregated."""
    import pandas as pd

    def read(db: sa.Connection) -> list[tuple[Any, ...]]:
        query = _grouped_sql(keys, values, aggfunc, db.dialect.name == "postgresql")
        return [tuple(row) for row in db.execute(sa.text(query), {"status": _SUCCEEDED})]

    records = store.read(read, "compare the jobs")
    frame: pd.DataFrame = pd.DataFrame.from_records(records, columns=[*keys, *values])
    for name in values:
        frame[name] = pd.to_numeric(frame[name])
    return frame


def _variants(store: Store, keys: Sequence[str]) -> pd.DataFrame:
    """The distinct `keys` of the succeeded jobs (NULLs included: each is a ranked variant)."""
    import pandas as pd

    group = ", ".join(keys)

    def read(db: sa.Connection) -> list[tuple[Any, ...]]:
        query = f"SELECT DISTINCT {group} FROM jobs WHERE status = :status"  # noqa: S608 (ours)
        return [tuple(row) for row in db.execute(sa.text(query), {"status": _SUCCEEDED})]

    found: pd.DataFrame = pd.DataFrame.from_records(
        store.read(read, "read the variants"), columns=list(keys)
    )
    return found


def _with_judged(
    store: Store,
    grouped: pd.DataFrame,
    keys: list[str],
    judgements: pd.DataFrame,
    ratings: pd.DataFrame,
) -> tuple[pd.DataFrame, list[str]]:
    """`grouped` with `stars_mean` and `score` per group, as `_ranks.judged_values` gives them."""
    import pandas as pd

    from . import _ranks

    named = set(ratings["job_id"].astype(str))
    votes = _ranks.to_votes(judgements)
    named.update(job_id for vote in votes for job_id in vote.shown)
    if not named:
        return grouped, []
    rows = jobs_frame(store, sorted(named))
    # The variants no vote names still count: fit() centres every variant's score.
    others = _variants(store, keys)
    others.insert(0, "job_id", [f"\x00variant {i}" for i in range(len(others))])
    others["status"] = _SUCCEEDED
    base = rows[["job_id", "status", *keys]]
    frame = base if others.empty else pd.concat([base, others], ignore_index=True)
    judged, added = _ranks.judged_values(frame, judgements, ratings, keys)
    out = grouped
    if "stars_mean" in added:
        succeeded = judged[judged["status"] == _SUCCEEDED].dropna(subset=keys)
        stars = succeeded.groupby(keys)["stars_mean"].mean().rename("stars_mean")
        out = out.merge(stars.reset_index(), on=keys, how="left")
    if "score" in added:
        score = {
            _ranks.variant_key(row[:-1]): row[-1]
            for row in judged[[*keys, "score"]].itertuples(index=False, name=None)
        }
        cells = out[keys].itertuples(index=False, name=None)
        found = [score.get(_ranks.variant_key(key), math.nan) for key in cells]
        out = out.assign(score=pd.Series(found, index=out.index, dtype=float))
    return out, added


def sql_compare(
    store: Store,
    *,
    index: str | Sequence[str],
    columns: str | Sequence[str],
    values: str | Sequence[str],
    aggfunc: object,
    judgements: pd.DataFrame,
    ratings: pd.DataFrame,
) -> pd.DataFrame | None:
    """`Ledger.compare()` over every job, grouped in the database; None if SQL cannot do it."""
    keys = [*as_list(index), *as_list(columns)]
    names = as_list(values)
    if not supported(keys, names, aggfunc):
        return None
    assert isinstance(aggfunc, str)
    grouped = grouped_frame(store, keys, names, aggfunc)
    grouped, added = _with_judged(store, grouped, keys, judgements, ratings)
    # One row per cell already: "first" places each value where the pandas pivot would.
    pivot: pd.DataFrame = grouped.pivot_table(
        index=as_list(index), columns=as_list(columns), values=[*names, *added], aggfunc="first"
    )
    return pivot
