"""Rows, files and lock helpers shared by the ledger tests (and the claim worker processes)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kling_nb._ledger import Ledger

FIXTURE_V1 = Path(__file__).parent / "fixtures" / "ledger_v1" / "kling_runs.sqlite"
# Written by the v2 code (commit 7d058f2): two jobs, a rating and a judgement.
FIXTURE_V2 = Path(__file__).parent / "fixtures" / "ledger_v2" / "kling_runs.sqlite"
# Written by the v3 code (before the family column): two jobs and a rating.
FIXTURE_V3 = Path(__file__).parent / "fixtures" / "ledger_v3" / "kling_runs.sqlite"
FIXTURE_V4 = Path(__file__).parent / "fixtures" / "ledger_v4" / "kling_runs.sqlite"
ENDPOINT = "https://inference-api.worldrouter.ai"


def job(job_id: str, **fields: Any) -> dict[str, Any]:
    """A minimal job row (a 5 s kling-v3 std text2video job, waiting) with `fields` over it."""
    row: dict[str, Any] = {
        "job_id": job_id,
        "route": "text2video",
        "model": "kling-v3",
        "mode": "std",
        "duration": 5,
        "prompt": f"prompt of {job_id}",
        "status": "waiting",
        "request": {"Model": "kling-v3", "Prompt": f"prompt of {job_id}"},
        "endpoint": ENDPOINT,
    }
    row.update(fields)
    return row


def claim_worker(path: str, owner: str, rounds: int, barrier: Any, out: Any) -> None:
    """A process that inserts free rows and claims every free row, `rounds` times."""
    ledger = Ledger(path)
    barrier.wait()
    inserted: list[str] = []
    claimed: list[str] = []
    for i in range(rounds):
        for k in range(2):
            job_id = f"{owner}-{i:03d}-{k}"
            ledger.insert(job(job_id))
            inserted.append(job_id)
        found = ledger.claim(owner, endpoint=ENDPOINT, key_fp=None, lease_s=3600)
        claimed += [row["job_id"] for row in found.claimed]
    ledger.close()
    out.put((owner, inserted, claimed))


def copy_v1(tmp_path: Path, fixture: Path = FIXTURE_V1) -> Path:
    """A copy of the committed v1 ledger (written by the old code) in tmp_path."""
    target = tmp_path / "kling_runs.sqlite"
    shutil.copy(fixture, target)
    return target


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make a file or folder really read-only for this process, then writable again.

    Root ignores permission bits, so as root the file is made immutable (chattr +i, ext4 and
    most local filesystems); the test is skipped where that is not possible.
    """
    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield
        finally:
            path.chmod(mode)
        return
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(path)], check=False).returncode:
        pytest.skip("cannot make a path read-only here (root, and no chattr +i)")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(path)], check=True)
