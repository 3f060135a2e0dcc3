"""A smoke test against the real WorldRouter API: skipped unless WORLDROUTER_API_KEY is set.

It bills nothing: it only reads a task id that does not exist and checks that the answer maps to
a typed error (the key is valid, the route is right, the envelope parses).
"""

from __future__ import annotations

import os

import pytest

import kling_nb as kn

REAL_KEY = os.environ.get("WORLDROUTER_API_KEY")
REAL_BASE = os.environ.get("WORLDROUTER_BASE_URL")

pytestmark = [
    pytest.mark.realapi,
    pytest.mark.skipif(not REAL_KEY, reason="WORLDROUTER_API_KEY is not set"),
]


async def test_unknown_task_reads_as_a_typed_error() -> None:
    async with kn.AsyncClient(REAL_KEY, base_url=REAL_BASE) as client:
        with pytest.raises((kn.NotFoundError, kn.AccessDeniedError)) as info:
            await client.get("kling-nb-smoke-does-not-exist", route="text2video")
    assert REAL_KEY is not None
    assert REAL_KEY not in str(info.value)
