"""The ledger: one SQLite file per Studio root recording every job, its events and judgements.

Modules, one concern each: `_schema` (tables, versions, migrations), `_store` (connections,
transactions, the writer thread), `_writes` and `_leases` (job writes, ownership), `_judging`
(ratings, judgements), `_frames` (pandas views, timing), `_errors` (`LedgerError`).
"""

from __future__ import annotations

from ._core import Ledger
from ._errors import LedgerError
from ._frames import COLUMNS
from ._leases import Claim
from ._schema import FINAL_STATES, VERSION

__all__ = ["COLUMNS", "FINAL_STATES", "VERSION", "Claim", "Ledger", "LedgerError"]
