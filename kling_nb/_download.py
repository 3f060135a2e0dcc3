"""Streaming downloads: to a `.part` file, resumed with Range, size-checked, then renamed."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

__all__ = ["DownloadResult", "safe_name", "stream_to_file"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(text: str, *, default: str = "task", limit: int = 96) -> str:
    """A file-name-safe version of a server-provided id (no separators, no leading dots)."""
    name = _UNSAFE.sub("_", text).strip("._")[:limit]
    return name or default


@dataclass(frozen=True)
class DownloadResult:
    """Where a download landed, its size and sha256."""

    path: Path
    size: int
    sha256: str


class IncompleteDownloadError(Exception):
    """The body ended before the announced length; the `.part` file keeps what arrived."""

    def __init__(self, received: int, expected: int | None) -> None:
        self.received = received
        self.expected = expected
        super().__init__(f"download ended after {received} of {expected} bytes")


def _expected_total(response: httpx.Response, offset: int) -> int | None:
    content_range = response.headers.get("content-range", "")
    if response.status_code == 206 and "/" in content_range:
        total = content_range.rsplit("/", 1)[1]
        return int(total) if total.isdigit() else None
    length = response.headers.get("content-length")
    if length is not None and length.isdigit():
        return int(length) + (offset if response.status_code == 206 else 0)
    return None


async def stream_to_file(
    http: httpx.AsyncClient,
    url: str,
    dest: Path,
    *,
    on_progress: Callable[[int, int | None], None] | None = None,
) -> DownloadResult:
    """GET `url` into `dest` via `dest.part`, resuming a partial file with a Range request.

    Raises `httpx.HTTPStatusError` for an error status, `IncompleteDownloadError` if the body is cut
    (the `.part` file is kept so the next call resumes), and httpx transport errors as they come.
    """
    part = dest.with_name(dest.name + ".part")
    tag_file = dest.with_name(dest.name + ".part.etag")
    offset = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    if offset and tag_file.exists():
        # If-Range: a server whose file changed since the partial download answers 200 with
        # the whole new body instead of appending the wrong bytes to the old ones.
        headers["If-Range"] = tag_file.read_text().strip()
    async with http.stream("GET", url, headers=headers, auth=None) as response:
        if response.status_code == 416 and offset:
            # The .part file is already whole (or stale): start over without a Range.
            part.unlink()
            return await stream_to_file(http, url, dest, on_progress=on_progress)
        response.raise_for_status()
        if response.status_code != 206:
            offset = 0
        etag = response.headers.get("etag")
        if etag and not etag.startswith("W/"):
            tag_file.write_text(etag)
        expected = _expected_total(response, offset)
        received = offset
        # Hash while writing (one pass over the bytes); a resumed file hashes its old part first.
        digest = _hash_file(part) if offset else hashlib.sha256()
        with part.open("ab" if offset else "wb") as handle:
            try:
                # No chunk_size: a re-chunking buffer would drop what arrived before a cut,
                # and the .part file must keep every byte received.
                async for chunk in response.aiter_raw():
                    handle.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    if on_progress is not None:
                        on_progress(received, expected)
            except (httpx.ReadError, httpx.RemoteProtocolError, httpx.ReadTimeout) as exc:
                raise IncompleteDownloadError(received, expected) from exc
    if expected is not None and received != expected:
        raise IncompleteDownloadError(received, expected)
    os.replace(part, dest)
    tag_file.unlink(missing_ok=True)
    return DownloadResult(dest, received, digest.hexdigest())


def _hash_file(path: Path) -> hashlib._Hash:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest
