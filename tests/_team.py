"""Helpers of tests/test_ledger_team.py: member processes, and watching them through the ledger."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

import kling_nb

WORKER = Path(__file__).with_name("_team_worker.py")
REPO = Path(kling_nb.__file__).resolve().parent.parent


@dataclasses.dataclass
class Member:
    """One member's OS process and the files it reads and writes."""

    name: str
    spec: Path
    proc: subprocess.Popen[bytes]

    @property
    def out(self) -> Path:
        return self.spec.with_suffix(".out.json")

    def result(self, timeout: float) -> dict[str, Any]:
        """Wait for the process to end well; what it wrote."""
        code = self.proc.wait(timeout=timeout)
        log = self.spec.with_suffix(".log").read_text(errors="replace")
        assert code == 0, f"{self.name} exited {code}:\n{log[-4000:]}"
        result: dict[str, Any] = json.loads(self.out.read_text())
        return result


def launch(folder: Path, name: str, spec: dict[str, Any]) -> Member:
    """Start `python _team_worker.py` for one member (this checkout first on its path)."""
    path = folder / f"{name}-{spec['action']}.json"
    path.write_text(json.dumps(spec))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    log = path.with_suffix(".log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, str(WORKER), str(path)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    log.close()
    return Member(name, path, proc)


def engine_of(target: str | Path) -> sa.Engine:
    """A plain engine on the ledger, for watching it from the test (read-only use)."""
    if isinstance(target, Path):
        return sa.create_engine(f"sqlite:///{target}", poolclass=sa.pool.NullPool)
    return sa.create_engine(str(target).replace("postgresql://", "postgresql+psycopg://", 1))


def rows_of(engine: sa.Engine, member: str) -> list[dict[str, Any]]:
    """`member`'s ledger rows (job_id, status, task_id); none before the ledger has a table."""
    query = sa.text("SELECT job_id, status, task_id FROM jobs WHERE member = :m")
    try:
        with engine.connect() as db:
            return [dict(row) for row in db.execute(query, {"m": member}).mappings()]
    except sa.exc.DBAPIError:
        return []


def wait_for(what: str, ready: Callable[[], bool], timeout: float, poll: float = 0.02) -> None:
    """Poll `ready()` until it is true; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not ready():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(poll)


def partial_downloads(outputs: Path, job_ids: set[str]) -> dict[str, int]:
    """The byte offset a resumed download of each of `job_ids` may start from.

    A `.part` with its validator resumes from its size; one without a validator is discarded
    and the download starts over (kling_nb._download._resume_state).
    """
    found = {}
    for part in outputs.glob("*.mp4.part"):
        job_id = part.name.removesuffix(".mp4.part")
        if job_id in job_ids:
            validator = part.with_name(part.name + ".validator")
            found[job_id] = part.stat().st_size if validator.exists() else 0
    return found
