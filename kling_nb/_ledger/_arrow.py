"""Whole-table reads of a PostgreSQL ledger through ADBC: rows straight into Arrow columns.

At a million jobs, psycopg builds ~30 million Python objects that pandas then turns back into
columns; the ADBC driver (C, no Python object per value) fills Arrow arrays instead, several
times faster (bench/ledger.py). SQLite ledgers are not read this way (see `arrow_frame`).
The frame is made to look exactly like the one `DataFrame.from_records` builds from the
driver's tuples (an all-NULL column stays an object column of None), so `Ledger.df` keeps
its dtypes. When a driver is missing or a column's type
is not what the schema says, this returns None and the
caller reads through SQLAlchemy's driver as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from ._schema import JOB_COLUMNS

if TYPE_CHECKING:
    import pandas as pd

    from ._engine import Target

__all__ = ["arrow_frame"]

_NUMERIC: Final = frozenset(
    name for name, kind in JOB_COLUMNS if kind.startswith(("REAL", "INTEGER"))
)


def _connect(target: Target) -> Any:
    import adbc_driver_postgresql.dbapi as pg_adbc  # type: ignore[import-untyped,unused-ignore]

    assert target.url is not None
    url = target.url.set(drivername="postgresql")
    return pg_adbc.connect(url.render_as_string(hide_password=False))


def _read(target: Target, query: str) -> Any:
    with _connect(target) as db, db.cursor() as cursor:
        cursor.execute(query)
        return cursor.fetch_arrow_table()


def _types_fit(table: Any, columns: Sequence[str]) -> bool:
    import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]

    for name in columns:
        kind = table.schema.field(name).type
        if pa.types.is_null(kind) or table.column(name).null_count == table.num_rows:
            continue  # all NULL: typed int64 by the SQLite driver, an object column of None here
        numeric = pa.types.is_integer(kind) or pa.types.is_floating(kind)
        text = pa.types.is_string(kind) or pa.types.is_large_string(kind)
        if not (numeric if name in _NUMERIC else text):
            return False
    return True


def arrow_frame(target: Target, query: str, columns: Sequence[str]) -> pd.DataFrame | None:
    """The rows of `query` (a SELECT of `columns` from jobs) as a frame, or None (see above)."""
    if target.url is None:
        # Not on SQLite: the ADBC driver carries its own copy of the SQLite library, and two
        # copies in one process release each other's POSIX locks when either closes the file
        # (sqlite.org/howtocorrupt.html, 2.2.1). It showed: the Studio's next read of its own
        # ledger failed with "disk I/O error" (tests/test_ledger_frames.py).
        return None
    try:
        table = _read(target, query)
    except ImportError:
        return None
    except Exception:  # any driver failure: the SQLAlchemy path reads it, or says why
        return None
    if table.num_rows == 0 or not _types_fit(table, columns):
        return None
    import pandas as pd

    frame: pd.DataFrame = table.to_pandas()
    for name in columns:
        if table.column(name).null_count == table.num_rows:
            frame[name] = pd.Series([None] * table.num_rows, dtype=object)
    return frame
