"""A transport that plays the faults people meet, on the wire to the real sandbox.

Every request goes over real HTTP to the sandbox (`httpx.AsyncHTTPTransport`), except those a
rule catches: a rule can refuse the connection, answer with a garbled body, delay, fail or
drip the media host's bytes, or cut a body. It counts every request it sees, so tests can
prove how many creates left.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import httpx

import kling_nb as kn

Action = Callable[[httpx.Request, httpx.AsyncBaseTransport], Awaitable[httpx.Response]]


@dataclass
class Rule:
    """Apply `action` to the next `times` requests with this method whose path starts so."""

    method: str
    prefix: str
    action: Action
    times: int = 1
    exclude_suffix: str | None = None

    def matches(self, request: httpx.Request) -> bool:
        path = request.url.path
        if self.exclude_suffix is not None and path.endswith(self.exclude_suffix):
            return False
        return self.times > 0 and request.method == self.method and path.startswith(self.prefix)


@dataclass
class Faulty(httpx.AsyncBaseTransport):
    """The sandbox over real HTTP, with faults on demand."""

    rules: list[Rule] = field(default_factory=list)
    seen: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()

    def add(self, method: str, prefix: str, action: Action, times: int = 1) -> Rule:
        rule = Rule(method, prefix, action, times)
        self.rules.append(rule)
        return rule

    def count(self, method: str, prefix: str) -> int:
        return sum(1 for m, p in self.seen if m == method and p.startswith(prefix))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((request.method, request.url.path))
        for rule in self.rules:
            if rule.matches(request):
                rule.times -= 1
                return await rule.action(request, self.inner)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


CREATE = "/v1/videos/"
MEDIA = "/media/"


@dataclass(frozen=True)
class Routes:
    """One family's wire paths, for rules: its create POST and its status GET prefix."""

    family: str
    create: str
    status: str
    request: Callable[[str], object]


FAMILY_ROUTES = {
    "kling": Routes("kling", CREATE, "/v1/videos/text2video/", kn.TextToVideo),
    "seedance": Routes(
        "seedance",
        "/api/v3/contents/generations/tasks",
        "/api/v3/contents/generations/tasks/",
        kn.SeedanceVideo,
    ),
    "grok": Routes(
        "grok",
        "/v1/videos/generations",
        "/v1/videos/generations/",
        lambda prompt: kn.GrokVideo(prompt, duration=5),
    ),
}
"""The families' routes (contract-families.md); the media host is shared by all three."""


def answer(status: int, body: bytes, content_type: str = "application/json") -> Action:
    """Answer without asking the server."""

    async def act(request: httpx.Request, inner: httpx.AsyncBaseTransport) -> httpx.Response:
        return httpx.Response(status, content=body, headers={"content-type": content_type})

    return act


def after_server(status: int, body: bytes) -> Action:
    """Let the server act (a create does create), then answer garbage instead of its reply."""

    async def act(request: httpx.Request, inner: httpx.AsyncBaseTransport) -> httpx.Response:
        response = await inner.handle_async_request(request)
        await response.aread()
        return httpx.Response(status, content=body, headers={"content-type": "text/html"})

    return act


def refuse() -> Action:
    """Nothing listens: the request provably never left."""

    async def act(request: httpx.Request, inner: httpx.AsyncBaseTransport) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    return act


def delayed(seconds: float) -> Action:
    """Reach the server after `seconds` (a create slow on the wire)."""

    async def act(request: httpx.Request, inner: httpx.AsyncBaseTransport) -> httpx.Response:
        await asyncio.sleep(seconds)
        return await inner.handle_async_request(request)

    return act


def drip(chunk: int, every: float) -> Action:
    """The media host sends `chunk` bytes every `every` seconds, with an honest length."""

    async def act(request: httpx.Request, inner: httpx.AsyncBaseTransport) -> httpx.Response:
        response = await inner.handle_async_request(request)
        data = await response.aread()

        async def slow() -> AsyncIterator[bytes]:
            for start in range(0, len(data), chunk):
                await asyncio.sleep(every)
                yield data[start : start + chunk]

        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-encoding"}
        return httpx.Response(response.status_code, headers=headers, content=slow())

    return act
