"""The succeeded jobs of some variants, whoever ran them (for `sweep(skip_done=True)`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import sqlalchemy as sa

from .._states import JobState
from ._codec import decode_row
from ._store import Store

__all__ = ["succeeded_rows"]

# Newest first: when a variant was made more than once, the latest video is the one shown.
# Filtered by the indexed `model` (jobs_variant) and by prompt; the caller compares bodies.
_QUERY: Final = sa.text(
    "SELECT * FROM jobs WHERE status = :status AND model IN :models AND prompt IN :prompts "
    "ORDER BY submitted_at DESC, job_id DESC"
).bindparams(
    sa.bindparam("models", expanding=True),
    sa.bindparam("prompts", expanding=True),
)


def succeeded_rows(
    store: Store, prompts: Sequence[str], models: Sequence[str]
) -> list[dict[str, Any]]:
    """The succeeded rows with one of these prompts and one of these models, newest first."""
    if not prompts or not models:
        return []
    params = {
        "status": JobState.SUCCEEDED.value,
        "models": sorted(set(models)),
        "prompts": sorted(set(prompts)),
    }

    def read(db: sa.Connection) -> list[dict[str, Any]]:
        return [decode_row(row) for row in db.execute(_QUERY, params).mappings()]

    return store.read(read, "read the succeeded jobs of a sweep's variants")
