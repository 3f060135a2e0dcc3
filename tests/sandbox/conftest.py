"""Fixtures of the sandbox conformance suite: live sandboxes on 127.0.0.1 and raw httpx clients."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest

from kling_nb.sandbox import Sandbox

from ._sandbox_helpers import FAST, FROZEN

SandboxFactory = Callable[..., Sandbox]


_stopping: list[threading.Thread] = []


@pytest.fixture(scope="session", autouse=True)
def _join_stopping_sandboxes() -> Iterator[None]:
    yield
    for thread in _stopping:
        thread.join(timeout=10)


@pytest.fixture
def make_sandbox() -> Iterator[SandboxFactory]:
    """Start sandboxes with any options; every one is stopped after the test.

    `stop()` waits out uvicorn's 0.1 s shutdown grace, so the fixture stops in the
    background and the session joins every stop at its end. (`stop()` itself is tested
    in the foreground in test_sandbox_server.py.)
    """
    started: list[Sandbox] = []

    def factory(**kwargs: Any) -> Sandbox:
        kwargs.setdefault("time_scale", FAST)
        sandbox = Sandbox(**kwargs).start()
        started.append(sandbox)
        return sandbox

    yield factory
    for sandbox in started:
        thread = threading.Thread(target=sandbox.stop, name="stop-sandbox")
        thread.start()
        _stopping.append(thread)


@pytest.fixture
def sandbox(make_sandbox: SandboxFactory) -> Sandbox:
    """A fast sandbox: a 5 s std task finishes in about 0.2 s."""
    return make_sandbox()


@pytest.fixture
def frozen(make_sandbox: SandboxFactory) -> Sandbox:
    """A real-time sandbox: tasks stay queued for the whole test."""
    return make_sandbox(time_scale=FROZEN)


@pytest.fixture
async def http(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    """A raw httpx client on the fast sandbox (no auth header: tests pass their key)."""
    async with httpx.AsyncClient(base_url=sandbox.base_url, timeout=10) as client:
        yield client


@pytest.fixture
async def frozen_http(frozen: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    """A raw httpx client on the real-time sandbox."""
    async with httpx.AsyncClient(base_url=frozen.base_url, timeout=10) as client:
        yield client
