"""The `Sandbox` runner, the app's extras, and the `kling-nb sandbox` command line."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
from typing import Any

import httpx
import pytest

import kling_nb.sandbox as sandbox_pkg
from kling_nb.sandbox import DEFAULT_KEY, KEYS, Faults, Sandbox
from kling_nb.sandbox._cli import build_parser, main

from ._sandbox_helpers import TEAM, auth, create, t2v


def test_starts_fast_and_accepts_connections_at_once() -> None:
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        sandbox = Sandbox().start()
        timings.append(time.perf_counter() - started)
        try:
            with socket.create_connection(("127.0.0.1", sandbox.port), timeout=1):
                pass
            assert httpx.get(sandbox.base_url + "/").status_code == 200
        finally:
            sandbox.stop()
    assert max(timings) < 2.0, timings


def is_running(sandbox: Sandbox) -> bool:
    # A call, so mypy does not keep the narrowing from the `assert sandbox.running` above.
    return sandbox.running


def test_start_stop_lifecycle() -> None:
    sandbox = Sandbox()
    assert repr(sandbox) == "<Sandbox not started stopped>"
    with pytest.raises(RuntimeError, match="not been started"):
        _ = sandbox.base_url
    with sandbox:
        assert sandbox.running
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", sandbox.base_url)
        assert repr(sandbox) == f"<Sandbox {sandbox.base_url} running>"
        assert sandbox.start() is sandbox  # already running: no second server
        port = sandbox.port
    assert not is_running(sandbox)
    started = time.perf_counter()
    sandbox.stop()  # idempotent
    assert time.perf_counter() - started < 0.1
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
    # Can start again (fresh state without a state_path).
    with sandbox:
        assert httpx.get(sandbox.base_url + "/").status_code == 200


def test_stop_is_quick() -> None:
    sandbox = Sandbox().start()
    httpx.get(sandbox.base_url + "/")
    started = time.perf_counter()
    sandbox.stop()
    assert time.perf_counter() - started < 1.0


def test_busy_port_raises() -> None:
    with Sandbox() as first, pytest.raises(OSError, match="in use"):
        Sandbox(port=first.port).start()


def test_keys_and_defaults() -> None:
    sandbox = Sandbox()
    assert sandbox.api_key == DEFAULT_KEY == TEAM
    assert set(sandbox.keys) == {
        "sk-sandbox-team",
        "sk-sandbox-team2",
        "sk-sandbox-solo",
        "sk-sandbox-broke",
    }
    assert all(isinstance(purpose, str) and purpose for purpose in sandbox.keys.values())
    assert KEYS["sk-sandbox-solo"].team is None
    assert len({spec.team for spec in KEYS.values()}) == 4
    assert sandbox.faults == Faults()
    assert not Faults().any
    assert Faults(status_slow=0.1).any


@pytest.mark.parametrize(
    "kwargs",
    [
        {"upstream_424": 1.5},
        {"status_5xx": -0.1},
        {"task_fail": 0.6, "task_expire": 0.6},
        {"slow_seconds": -1},
    ],
)
def test_faults_are_validated(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="Faults"):
        Faults(**kwargs)


@pytest.mark.parametrize("kwargs", [{"time_scale": -1}, {"pending_cap": 0}])
def test_config_is_validated(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        Sandbox(**kwargs)


async def test_works_from_inside_a_running_event_loop() -> None:
    # pytest-asyncio runs this on a loop, as a Jupyter kernel would: start() must not need it.
    with Sandbox() as sandbox:
        async with httpx.AsyncClient(base_url=sandbox.base_url) as http:
            assert (await http.get("/")).status_code == 200
        await asyncio.sleep(0)


def test_works_under_nest_asyncio_like_a_notebook() -> None:
    code = textwrap.dedent(
        """
        import asyncio, httpx, nest_asyncio2
        nest_asyncio2.apply()
        from kling_nb.sandbox import Sandbox

        async def cell():
            sandbox = Sandbox().start()
            async with httpx.AsyncClient(base_url=sandbox.base_url) as http:
                r = await http.post("/v1/videos/text2video",
                    json={"Model": "kling-v3", "Prompt": "x"},
                    headers={"Authorization": "Bearer sk-sandbox-team"})
                assert r.status_code == 200, r.text
            sandbox.stop()
            print("ok")

        asyncio.run(cell())
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


async def test_index_and_stats_routes(frozen: Sandbox) -> None:
    # Frozen: the task stays queued, so the two snapshots cannot differ by a status change.
    async with httpx.AsyncClient(base_url=frozen.base_url) as http:
        index = (await http.get("/")).json()
        assert index["base_url"] == frozen.base_url
        assert set(index["keys"]) == set(KEYS)
        await create(http, "text2video", t2v())
        stats = (await http.get("/_sandbox/stats")).json()
    assert stats["tasks"] == 1
    assert stats == {**frozen.stats(), "responses": stats["responses"]}


async def test_every_response_has_a_request_id(http: httpx.AsyncClient, sandbox: Sandbox) -> None:
    responses = [
        await http.get("/"),
        await http.get("/nothing"),
        await http.delete("/v1/videos/text2video/x", headers=auth(TEAM)),
        await http.get(sandbox.sample_url()),
        await http.post("/v1/videos/text2video", json=t2v()),
    ]
    ids = [r.headers["x-request-id"] for r in responses]
    assert all(re.fullmatch(r"req_[0-9a-f]{24}", rid) for rid in ids)
    assert len(set(ids)) == len(ids)
    assert responses[2].status_code == 405
    assert responses[2].json()["detail"]["code"] == "method_not_allowed"


async def test_injected_resets_do_not_spam_the_log(
    make_sandbox: Any, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox = make_sandbox(time_scale=1.0, faults=Faults(status_reset=1.0))
    caplog.set_level(logging.ERROR)
    async with httpx.AsyncClient(base_url=sandbox.base_url) as http:
        task = await create(http, "text2video", t2v())
        with pytest.raises(httpx.TransportError):
            await http.get(f"/v1/videos/text2video/{task['id']}", headers=auth(TEAM))
    await asyncio.sleep(0.05)
    assert not [r for r in caplog.records if "ASGI" in r.getMessage()]


def test_cli_parser_knows_every_flag() -> None:
    args = build_parser().parse_args(
        [
            *("--host", "127.0.0.1", "--port", "0", "--time-scale", "0.5"),
            *("--pending-cap", "3", "--seed", "7", "--fault-424", "0.1", "--fault-fail", "0.2"),
            *("--fault-expire", "0.05", "--fault-5xx", "0.3", "--fault-slow", "0.4"),
            *("--fault-reset", "0.01", "--slow-seconds", "1.5", "--state", "/tmp/x.sqlite"),
        ]
    )
    assert args.port == 0
    assert args.time_scale == 0.5
    assert args.pending_cap == 3
    assert (args.fault_424, args.fault_fail, args.fault_expire) == (0.1, 0.2, 0.05)
    assert (args.fault_5xx, args.fault_slow, args.fault_reset) == (0.3, 0.4, 0.01)
    assert args.state == "/tmp/x.sqlite"
    assert build_parser().parse_args([]).port == 8765


def test_cli_rejects_bad_settings(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--port", "0", "--fault-424", "2"]) == 2
    assert "upstream_424" in capsys.readouterr().err
    assert main(["--port", "0", "--pending-cap", "0"]) == 2


def test_cli_serves_until_interrupted() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "kling_nb.sandbox", "--port", "0", "--time-scale", "0.01"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        lines = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "Ctrl-C" in line or not line:
                break
        text = "".join(lines)
        match = re.search(r"serving at (http://127\.0\.0\.1:\d+)", text)
        assert match, text
        for key in KEYS:
            assert key in text
        base = match.group(1)
        response = httpx.post(
            base + "/v1/videos/text2video",
            json={"Model": "kling-v3", "Prompt": "from the CLI"},
            headers=auth(TEAM),
        )
        assert response.status_code == 200
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_public_names_are_exported() -> None:
    public = {
        name
        for name in vars(sandbox_pkg)
        if not name.startswith("_") and name not in {"annotations"}
    }
    assert public == set(sandbox_pkg.__all__)
    for name in sandbox_pkg.__all__:
        assert getattr(sandbox_pkg, name).__doc__ or name.isupper()
