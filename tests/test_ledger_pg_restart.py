"""A team ledger's PostgreSQL server restarts in the middle of a sweep: only the bookkeeping
stalls; every job finishes and each task is created once."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import pytest
from _postgres import PgServer, running_server

import kling_nb as kn
from kling_nb.sandbox import Sandbox

pytestmark = pytest.mark.slow


@pytest.fixture
def own_server() -> Iterator[PgServer]:
    with running_server() as server:  # its own server: restarting it disturbs no other test
        with server.admin() as admin:
            admin.execute("CREATE DATABASE restart_test")
        yield server


def test_a_postgres_restart_mid_sweep_loses_and_duplicates_nothing(
    own_server: PgServer, tmp_path: object, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kling_nb")
    url = own_server.url("restart_test")
    with (
        Sandbox(time_scale=0.02, pending_cap=6, seed=11) as sb,
        kn.Studio(
            api_key="sk-sandbox-team", base_url=sb.base_url, root=tmp_path, ledger=url,
            max_in_flight=6,
        ) as studio,
    ):  # fmt: skip
        jobs = studio.sweep([f"a kite {i}" for i in range(20)])
        deadline = time.monotonic() + 30
        while sum(job.task_id is not None for job in jobs) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        restart = threading.Thread(target=own_server.restart)
        restart.start()  # from another thread: the notebook's loop never waits on it
        started = time.monotonic()
        while restart.is_alive():
            time.sleep(0.05)
            assert time.monotonic() - started < 60
        jobs.wait(timeout=180)
        assert [job.status for job in jobs] == ["succeeded"] * 20
        assert sum(sb.stats()["creates_by_key"].values()) == 20
    with kn.Studio(api_key="sk-sandbox-team", base_url=sb.base_url, root=tmp_path, ledger=url) as s:
        frame = s.log.df
    assert len(frame) == 20
    assert len(set(frame["task_id"])) == 20
    assert set(frame["status"]) == {"succeeded"}
    refused = [r for r in caplog.records if "ledger" in r.getMessage()]
    print(f"ledger writes refused during the restart: {len(refused)}")
