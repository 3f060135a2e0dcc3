"""Streaming downloads: to a `.part` file, resumed only against a validator, checked, renamed.

One call of `stream_to_file` is one attempt; `AsyncClient.download_file` owns retries, the
deadline and fresh URLs. Every local OSError becomes `DownloadError(reason="disk")`.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TypeVar

import httpx

from ._errors import DownloadError
from ._media import FileSink, mp4_structure_ok, widen_reads

__all__ = [
    "CorruptDownloadError",
    "DownloadResult",
    "IncompleteDownloadError",
    "hash_file",
    "media_target",
    "mp4_structure_ok",
    "safe_name",
    "stream_to_file",
]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MEDIA_GONE: Final = frozenset({403, 404, 410})
_CUT: Final = (httpx.ReadError, httpx.RemoteProtocolError, httpx.ReadTimeout)
T = TypeVar("T")
Progress = Callable[[int, "int | None"], None]


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
    """The body ended (or stalled) short of its length; the `.part` file keeps what arrived."""

    def __init__(self, received: int, expected: int | None, why: str = "ended") -> None:
        self.received = received
        self.expected = expected
        super().__init__(f"download {why} after {received} of {expected} bytes")


class CorruptDownloadError(Exception):
    """What arrived fails its checks (length or MP4 structure); the `.part` file is removed."""


def _disk(path: Path, action: Callable[[], T]) -> T:
    """Run a local file operation; an OSError becomes `DownloadError(reason="disk")`."""
    try:
        return action()
    except OSError as exc:
        raise _disk_error(path, exc) from None


def _disk_error(path: Path, exc: OSError) -> DownloadError:
    return DownloadError(
        f"cannot write the video to {path}: {exc.strerror or exc}",
        reason="disk",
        retryable=True,
        path=str(path),
    )


def _side_files(dest: Path) -> tuple[Path, Path]:
    return dest.with_name(dest.name + ".part"), dest.with_name(dest.name + ".part.validator")


def _resume_state(part: Path, validator_file: Path) -> tuple[int, str | None]:
    """Bytes to resume from and the validator they were fetched under (If-Range).

    A `.part` without a recorded validator may hold another file's bytes: start over.
    """
    validator = validator_file.read_text().strip() if validator_file.exists() else ""
    if part.exists() and validator:
        return part.stat().st_size, validator
    part.unlink(missing_ok=True)
    validator_file.unlink(missing_ok=True)
    return 0, None


def _validator(response: httpx.Response) -> str | None:
    # A weak ETag may not be used with If-Range (RFC 9110 13.1.5); Last-Modified may.
    etag = response.headers.get("etag")
    if etag and not etag.startswith("W/"):
        return str(etag)
    modified = response.headers.get("last-modified")
    return str(modified) if modified else None


def _range_start(response: httpx.Response) -> int | None:
    m = re.fullmatch(r"bytes (\d+)-\d+/(?:\d+|\*)", response.headers.get("content-range", ""))
    return int(m.group(1)) if m else None


def _whole_size(response: httpx.Response) -> int | None:
    m = re.fullmatch(r"bytes \*/(\d+)", response.headers.get("content-range", ""))
    return int(m.group(1)) if m else None


def _expected_total(response: httpx.Response, offset: int) -> int | None:
    content_range = response.headers.get("content-range", "")
    if response.status_code == 206 and "/" in content_range:
        total = content_range.rsplit("/", 1)[1]
        return int(total) if total.isdigit() else None
    length = response.headers.get("content-length")
    if length is not None and length.isdigit():
        return int(length) + offset
    return None


async def stream_to_file(
    http: httpx.AsyncClient,
    url: str,
    dest: Path,
    *,
    on_progress: Progress | None = None,
    stall_timeout: float = 30.0,
) -> DownloadResult:
    """One attempt to GET `url` into `dest` via `dest.part`, resuming a validated partial file.

    Raises `httpx.HTTPStatusError` for an error status, `IncompleteDownloadError` if the body
    is cut or stalls for `stall_timeout` s (the `.part` is kept), `CorruptDownloadError` if the
    result fails its length or MP4 checks (the `.part` is removed), `DownloadError("disk")`
    for local failures, and httpx transport errors as they come. The key is never sent.
    """
    part, validator_file = _side_files(dest)
    offset, validator = _disk(part, lambda: _resume_state(part, validator_file))
    headers = {"Accept-Encoding": "identity"}
    if offset and validator:
        # If-Range: a server whose file changed since answers 200 with the whole new body.
        headers.update({"Range": f"bytes={offset}-", "If-Range": validator})
    timeout = httpx.Timeout(stall_timeout)  # read: no byte for stall_timeout s cuts the body
    async with http.stream("GET", url, headers=headers, auth=None, timeout=timeout) as response:
        if response.status_code == 416 and offset:
            if _whole_size(response) == offset:  # whole already: its process died before the rename
                digest = _disk(part, lambda: hash_file(part))
                return _finish(dest, part, validator_file, offset, offset, digest)
            _disk(part, lambda: _discard(part, validator_file))
            return await stream_to_file(
                http, url, dest, on_progress=on_progress, stall_timeout=stall_timeout
            )
        response.raise_for_status()
        if response.status_code != 206:
            offset = 0
        elif _range_start(response) != offset:
            _disk(part, lambda: _discard(part, validator_file))
            raise IncompleteDownloadError(0, None, "got the wrong range")
        fresh = _validator(response)
        _disk(part, lambda: _keep_validator(validator_file, fresh))
        expected = _expected_total(response, offset)
        received, digest = await _receive(response, part, offset, expected, on_progress)
    return _finish(dest, part, validator_file, received, expected, digest)


async def _receive(
    response: httpx.Response,
    part: Path,
    offset: int,
    expected: int | None,
    on_progress: Progress | None,
) -> tuple[int, hashlib._Hash]:
    received = offset
    try:
        # Hash while writing (one pass); a resumed file hashes its old part first.
        digest = hash_file(part) if offset else hashlib.sha256()
        widen_reads(response)
        with part.open("ab" if offset else "wb") as handle, FileSink(handle, digest) as sink:
            try:
                # No chunk_size: a re-chunking buffer would drop what arrived before a cut;
                # the sink writes every byte it was given, a cut or a cancellation included.
                async for chunk in response.aiter_raw():
                    await sink.add(chunk)
                    received += len(chunk)
                    if expected is not None and received > expected:
                        break
                    if on_progress is not None:
                        on_progress(received, expected)
            except _CUT as exc:
                why = "stalled" if isinstance(exc, httpx.ReadTimeout) else "was cut"
                raise IncompleteDownloadError(received, expected, why) from None
            await sink.drain()
    except OSError as exc:
        raise _disk_error(part, exc) from None
    return received, digest


def _finish(
    dest: Path,
    part: Path,
    validator_file: Path,
    received: int,
    expected: int | None,
    digest: hashlib._Hash,
) -> DownloadResult:
    if expected is not None and received < expected:
        raise IncompleteDownloadError(received, expected)
    problem = None
    if expected is not None and received > expected:
        problem = f"{received} bytes arrived where {expected} were announced"
    elif not mp4_structure_ok(part):
        problem = f"{received} bytes arrived but they are not a whole MP4 file"
    if problem is not None:
        _disk(part, lambda: _discard(part, validator_file))
        raise CorruptDownloadError(problem)
    _disk(dest, lambda: os.replace(part, dest))
    _disk(dest, lambda: validator_file.unlink(missing_ok=True))
    return DownloadResult(dest, received, digest.hexdigest())


def _discard(part: Path, validator_file: Path) -> None:
    part.unlink(missing_ok=True)
    validator_file.unlink(missing_ok=True)


def _keep_validator(validator_file: Path, validator: str | None) -> None:
    if validator:
        validator_file.write_text(validator)
    else:
        # Without a validator a cut .part could never be resumed safely: forget any old one.
        validator_file.unlink(missing_ok=True)


def hash_file(path: Path) -> hashlib._Hash:
    """The sha256 of a whole file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest


def media_target(task_id: str, dest: str | os.PathLike[str]) -> Path:
    """The file a task's video goes to: `dest` itself, or `<task id>.mp4` inside a folder.

    A folder is one that exists, one written with a trailing slash, or a new name without an
    extension ("videos"): a video file always has one. Folders are made as needed.
    """
    target = Path(dest).expanduser()
    folder = target.is_dir() or str(dest).endswith(("/", os.sep)) or not target.suffix
    try:
        (target if folder else target.parent).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(
            f"cannot make the folder for {target}: {exc.strerror or exc}",
            reason="disk",
            retryable=True,
            path=str(target),
        ) from None
    return target / f"{safe_name(task_id)}.mp4" if folder else target
