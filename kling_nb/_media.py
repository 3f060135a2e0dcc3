"""The download engine's disk side: a body is written and hashed off the event loop, and the
MP4 check that every finished download passes.

`FileSink` gathers a streamed body into ~1 MiB batches of chunks and hands each to a writer
thread and a hashing thread (both release the GIL), so the network read, the file write and
the hash overlap instead of taking turns. bench/download.py measures the choice.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import struct
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future
from types import TracebackType
from typing import BinaryIO, Final

import httpcore
import httpx

from ._pools import disk_pool

__all__ = ["BUFFER_SIZE", "READ_SIZE", "FileSink", "mp4_structure_ok", "widen_reads"]

BUFFER_SIZE: Final = 1 << 20
READ_SIZE: Final = 1 << 20
_DEPTH: Final = 2
_REQUIRED_BOXES: Final = frozenset({b"ftyp", b"moov", b"mdat"})
_MAX_BOXES: Final = 100_000


class FileSink:
    """Appends chunks to `handle` and `digest` in order: one thread writes while another hashes.

    Chunks gather (by reference, not copied) until `buffer_size` bytes; each full batch is
    written and hashed on the process's disk pool (`_pools.disk_pool`) while the loop reads on,
    with at most `depth` batches waiting (memory stays a few MiB). A batch's write starts when
    the previous one ended, and so does its hash, so each stays in order without a thread of
    its own (a thread start blocks the loop). The write and sha256 both release the GIL, so
    reading, writing and hashing overlap. A body under one buffer uses no thread. `close()`
    (or leaving the `with` block) blocks until every byte added is in the file, also after a
    cut or a cancellation: a `.part` file must hold every byte received to be resumed. After
    a failed write no later one runs, so the file never has a gap.
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
        self._batch: list[bytes] = []
        self._batched = 0
        self._pending: deque[tuple[Future[None], Future[None]]] = deque()
        self._pool: Executor | None = None
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
        """Take one chunk (kept, not copied: pass bytes); waits only when `depth` batches
        are already queued."""
        self._batch.append(chunk)
        self._batched += len(chunk)
        if self._batched < self._size:
            return
        if self._pool is None:
            self._pool = disk_pool()
        batch = self._take()
        last = self._pending[-1] if self._pending else (None, None)
        write = _after(last[0], self._pool, self._write, batch)
        self._pending.append((write, _after(last[1], self._pool, self._hash, batch)))
        while len(self._pending) > self._depth:
            await self._settle_first()

    async def drain(self) -> None:
        """Wait for every queued batch, then write the rest; raises the first OSError."""
        while self._pending:
            await self._settle_first()
        batch = self._take()
        self._write(batch)
        self._hash(batch)

    def _take(self) -> list[bytes]:
        batch, self._batch, self._batched = self._batch, [], 0
        return batch

    async def _settle_first(self) -> None:
        # shield: a cancelled wait must not cancel a queued write (its bytes would be lost);
        # close() then waits for it.
        for future in self._pending[0]:
            await asyncio.shield(asyncio.wrap_future(future))
        self._pending.popleft()

    def close(self, *, raise_errors: bool = True) -> None:
        """Block until every byte added is written (or a write failed)."""
        error: BaseException | None = None
        try:
            while self._pending:
                for future in self._pending.popleft():
                    try:
                        future.result()
                    except Exception as exc:
                        error = error or exc
            if self._batch and not self._failed:
                batch = self._take()
                self._write(batch)
                self._hash(batch)
        except Exception as exc:
            error = error or exc
        if error is not None and raise_errors:
            raise error

    def _write(self, batch: list[bytes]) -> None:
        for chunk in batch:
            if self._failed:
                return
            try:
                self._handle.write(chunk)
            except BaseException:
                self._failed = True
                raise

    def _hash(self, batch: list[bytes]) -> None:
        for chunk in batch:
            self._digest.update(chunk)


def _after(
    previous: Future[None] | None,
    pool: Executor,
    work: Callable[[list[bytes]], None],
    batch: list[bytes],
) -> Future[None]:
    """`work(batch)` on `pool` once `previous` has ended (whatever its outcome)."""
    done: Future[None] = Future()

    def run() -> None:
        try:
            work(batch)
        except BaseException as exc:
            done.set_exception(exc)
        else:
            done.set_result(None)

    def start(_: object = None) -> None:
        try:
            pool.submit(run)
        except RuntimeError:  # the pool is shut down (interpreter exit): run here
            run()

    if previous is None:
        start()
    else:
        previous.add_done_callback(start)
    return done


def widen_reads(response: httpx.Response, size: int = READ_SIZE) -> bool:
    """Let httpcore (and asyncio) read up to `size` bytes a call on this plain-HTTP response's
    connection.

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
    # Under httpcore, anyio's stream gets what asyncio's transport read: 256 KiB a recv
    # (`max_size`). Reading up to `size` cuts the loop's CPU per byte by about a third.
    transport = getattr(getattr(found._network_stream, "_stream", None), "_transport", None)
    if isinstance(getattr(transport, "max_size", None), int):
        transport.max_size = max(size, transport.max_size)  # type: ignore[union-attr]
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
