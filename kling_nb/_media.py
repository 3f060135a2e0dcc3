"""The download engine's disk side: a body is written and hashed off the event loop, and the
MP4 check that every finished download passes.

`FileSink` gathers a streamed body into ~1 MiB buffers and hands each to one writer thread
that writes and hashes it (both release the GIL), so the network read, the file write and the
hash overlap instead of taking turns on the loop. bench/download.py measures the choice.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import struct
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import BinaryIO, Final

import httpcore
import httpx

__all__ = ["BUFFER_SIZE", "READ_SIZE", "FileSink", "mp4_structure_ok", "widen_reads"]

BUFFER_SIZE: Final = 1 << 20
READ_SIZE: Final = 1 << 20
_DEPTH: Final = 2
_REQUIRED_BOXES: Final = frozenset({b"ftyp", b"moov", b"mdat"})
_MAX_BOXES: Final = 100_000


class FileSink:
    """Appends chunks to `handle` and `digest` in order, through one writer thread.

    Chunks gather until `buffer_size` bytes; each full buffer goes to the writer while the
    loop reads on, with at most `depth` buffers waiting (memory stays a few MiB). A body under
    one buffer never starts a thread. `close()` (or leaving the `with` block) blocks until
    every byte added is in the file, also after a cut or a cancellation: a `.part` file must
    hold every byte received to be resumed. After a failed write no later one runs, so the
    file never has a gap.
    """

    def __init__(
        self,
        handle: BinaryIO,
        digest: hashlib._Hash,
        *,
        buffer_size: int = BUFFER_SIZE,
        depth: int = _DEPTH,
    ) -> None:
        self._handle = handle
        self._digest = digest
        self._size = max(buffer_size, 1)
        self._depth = max(depth, 1)
        self._buffer = bytearray()
        self._pending: deque[Future[None]] = deque()
        self._executor: ThreadPoolExecutor | None = None
        self._failed = False

    def __enter__(self) -> FileSink:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Already failing: settle the file, but let the first error be the one raised.
        self.close(raise_errors=exc is None)

    async def add(self, chunk: bytes) -> None:
        """Take one chunk; waits only when `depth` buffers are already queued."""
        self._buffer += chunk
        if len(self._buffer) < self._size:
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="kling-download")
        data, self._buffer = self._buffer, bytearray()
        self._pending.append(self._executor.submit(self._write, data))
        while len(self._pending) > self._depth:
            await self._settle_first()

    async def drain(self) -> None:
        """Wait for every queued write, then write the rest; raises the first OSError."""
        while self._pending:
            await self._settle_first()
        self._write(self._buffer)
        self._buffer = bytearray()

    async def _settle_first(self) -> None:
        # shield: a cancelled wait must not cancel a queued write (its bytes would be lost);
        # close() then waits for it.
        await asyncio.shield(asyncio.wrap_future(self._pending[0]))
        self._pending.popleft()

    def close(self, *, raise_errors: bool = True) -> None:
        """Block until every byte added is written (or a write failed), then stop the thread."""
        error: BaseException | None = None
        try:
            while self._pending:
                try:
                    self._pending.popleft().result()
                except Exception as exc:
                    error = error or exc
            if self._buffer and not self._failed:
                data, self._buffer = self._buffer, bytearray()
                self._write(data)
        except Exception as exc:
            error = error or exc
        finally:
            if self._executor is not None:
                self._executor.shutdown(wait=True)
                self._executor = None
        if error is not None and raise_errors:
            raise error

    def _write(self, data: bytes | bytearray) -> None:
        if self._failed:
            return
        try:
            self._handle.write(data)
        except BaseException:
            self._failed = True
            raise
        self._digest.update(data)


def widen_reads(response: httpx.Response, size: int = READ_SIZE) -> bool:
    """Let httpcore read up to `size` bytes a call on this plain-HTTP response's connection.

    httpcore reads 64 KiB a call (`READ_NUM_BYTES`), so a 500 MB body takes ~8,000 trips
    through h11, httpx and the event loop, which cost more CPU than writing the bytes. There
    is no public setting: this sets the attribute on this one connection, reached through
    private attributes of httpx 0.28 / httpcore 1.0, and returns False (changing nothing) for
    any other layout (a MockTransport, HTTP/2, another release). TLS is left alone: a TLS read
    returns one record (16 KiB) whatever the size asked. tests/test_download_sink.py checks
    that it still takes with the installed versions.
    """
    if response.url.scheme != "http":
        return False
    found: object = response.stream
    for attr in ("_stream", "_httpcore_stream", "_stream", "_connection"):
        found = getattr(found, attr, None)
    if not isinstance(found, httpcore.AsyncHTTP11Connection):
        return False
    found.READ_NUM_BYTES = max(size, found.READ_NUM_BYTES)
    return True


def mp4_structure_ok(path: str | os.PathLike[str]) -> bool:
    """True if the file's top-level ISO-BMFF boxes tile it exactly and include ftyp, moov, mdat.

    Box sizes may be 32-bit, 64-bit (size 1 plus a 64-bit field) or 0 (to the end of file).
    Only box headers are read, so a large file is checked in microseconds.
    """
    try:
        size = os.path.getsize(path)
        seen: set[bytes] = set()
        pos = 0
        with open(path, "rb") as handle:
            while pos < size and len(seen) <= _MAX_BOXES:
                handle.seek(pos)
                head = handle.read(8)
                if len(head) < 8:
                    return False
                box_size, kind = struct.unpack(">I4s", head)
                header = 8
                if box_size == 1:
                    wide = handle.read(8)
                    if len(wide) < 8:
                        return False
                    (box_size,) = struct.unpack(">Q", wide)
                    header = 16
                elif box_size == 0:
                    box_size = size - pos
                if box_size < header or pos + box_size > size or not _box_type(kind):
                    return False
                seen.add(kind)
                pos += box_size
    except OSError:
        return False
    return pos == size and seen >= _REQUIRED_BOXES


def _box_type(kind: bytes) -> bool:
    return all(32 <= byte < 127 for byte in kind)
