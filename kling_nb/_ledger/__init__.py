"""The ledger: every job, its events and judgements, in a SQLite file or a team's PostgreSQL.

Modules, one concern each: `_schema` (tables, versions, migrations), `_store` (connections,
transactions, the writer thread), `_writes` and `_leases` (job writes, ownership), `_judging`
(ratings, judgements), `_frames` (pandas views, timing), `_errors` (`LedgerError`), `_engine`
(a SQLite path or a PostgreSQL URL as one SQLAlchemy engine; member and machine names).
"""

from __future__ import annotations

from ._copy import CopyReport, copy_ledger
from ._core import Ledger
from ._engine import ENV_LEDGER, is_url, ledger_location
from ._errors import LedgerConnectError, LedgerError
from ._frames import COLUMNS
from ._leases import Claim
from ._schema import FINAL_STATES, VERSION

__all__ = [
    "COLUMNS",
    "ENV_LEDGER",
    "FINAL_STATES",
    "VERSION",
    "Claim",
    "CopyReport",
    "Ledger",
    "LedgerConnectError",
    "LedgerError",
    "copy_ledger",
    "is_url",
    "ledger_location",
]
