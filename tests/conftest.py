"""Shared fixtures: the in-memory fake API (`mock_api`), clients over it, a PNG, fast schedules."""

from __future__ import annotations

import asyncio
import types
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _mock import BASE_URL, FAST, TEAM_KEY, ClientFactory, FakeAPI, write_png
from _postgres import pg_server, pg_url, target  # noqa: F401 (fixtures: a real PostgreSQL)

import kling_nb as kn
from kling_nb import _client


@pytest.fixture(autouse=True)
def _no_real_config(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's real key or base URL must never leak into (or out of) a test,
    # except the smoke tests that exist to use them.
    if request.node.get_closest_marker("realapi") is not None:
        return
    monkeypatch.delenv("WORLDROUTER_API_KEY", raising=False)
    monkeypatch.delenv("WORLDROUTER_BASE_URL", raising=False)


@pytest.fixture
def mock_api() -> FakeAPI:
    """The in-memory fake router (a MockTransport handler that records every request)."""
    return FakeAPI()


@pytest.fixture
def fake(mock_api: FakeAPI) -> FakeAPI:
    """A short alias of `mock_api`."""
    return mock_api


@pytest.fixture
async def make_client(mock_api: FakeAPI) -> AsyncIterator[ClientFactory]:
    """Build `AsyncClient`s over the fake's transport; all are closed after the test."""
    made: list[kn.AsyncClient] = []

    def factory(api_key: str = TEAM_KEY, **kwargs: Any) -> kn.AsyncClient:
        kwargs.setdefault("base_url", BASE_URL)
        kwargs.setdefault("transport", mock_api.transport)
        client = kn.AsyncClient(api_key, **kwargs)
        made.append(client)
        return client

    yield factory
    for client in made:
        await client.aclose()


@pytest.fixture
def client(make_client: ClientFactory) -> kn.AsyncClient:
    """A client with the team key over the fake API (max_retries=2, the default)."""
    return make_client()


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record every `asyncio.sleep` the client asks for, and sleep (almost) not at all.

    Only `kling_nb._client`'s view of asyncio is replaced, so the event loop, httpx and
    pytest-asyncio keep the real one.
    """
    recorded: list[float] = []
    real_sleep = asyncio.sleep

    async def fake_sleep(delay: float, result: Any = None) -> Any:
        recorded.append(delay)
        await real_sleep(0)
        return result

    fake = types.SimpleNamespace(sleep=fake_sleep, wait_for=asyncio.wait_for)
    monkeypatch.setattr(_client, "asyncio", fake)
    return recorded


@pytest.fixture
def fast_schedule() -> kn.PollSchedule:
    return FAST


@pytest.fixture
def png_path(tmp_path: Path) -> Path:
    """A real PNG on disk (what a user would pick as a first frame)."""
    return write_png(tmp_path / "first frame.png")


@pytest.fixture
def recorder() -> tuple[list[httpx.Request], httpx.MockTransport]:
    """A MockTransport that records calls and answers 500: for proving nothing was sent."""
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(500)

    return calls, httpx.MockTransport(handler)
