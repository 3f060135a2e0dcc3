"""`Sandbox`: the sandbox app served by uvicorn on a daemon thread with its own event loop.

Its own thread and loop make it work the same from a script, inside pytest-asyncio tests,
and inside a running Jupyter kernel (whose loop is already busy).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette

from ._app import InjectedResetError, create_app, sandbox_state
from ._config import DEFAULT_KEY, DEFAULT_TIME_SCALE, KEYS, NANO, SandboxConfig
from ._faults import Faults
from ._images import SAMPLE_NAMES
from ._state import SandboxState

__all__ = ["Sandbox"]

_START_TIMEOUT = 10.0


class Sandbox:
    """A local WorldRouter Kling server on 127.0.0.1, in a background thread.

    Use it as a context manager, or call `start()` / `stop()`::

        with Sandbox() as sandbox:
            client = kn.AsyncClient(sandbox.api_key, base_url=sandbox.base_url)

    `port=0` picks a free port. `time_scale` multiplies realistic task times (the default
    makes a 5 s std video take about 3 s; 1.0 is real time). `pending_cap` is the per-team
    limit of non-terminal tasks of each family (`pending_caps` sets it per family, e.g.
    `{"seedance": 2}`); `faults` injects failures; `state_path` (an SQLite file)
    keeps tasks, balances and uploads across restarts; `fps` is the frame rate of the videos it
    renders (lower renders faster).
    """

    api_key: str = DEFAULT_KEY
    """The default demo key: a team-scoped key with credit."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        time_scale: float = DEFAULT_TIME_SCALE,
        pending_cap: int = 4,
        seed: int = 0,
        faults: Faults | None = None,
        state_path: str | Path | None = None,
        team_credit_nano: int = 20 * NANO,
        pending_caps: Mapping[str, int] | None = None,
        fps: int = 12,
    ) -> None:
        self.config = SandboxConfig(
            time_scale=time_scale,
            pending_cap=pending_cap,
            seed=seed,
            faults=faults or Faults(),
            state_path=Path(state_path) if state_path is not None else None,
            team_credit_nano=team_credit_nano,
            pending_caps=dict(pending_caps or {}),
            fps=fps,
        )
        self.host = host
        self._requested_port = port
        self._port: int | None = None
        self._app: Starlette | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Sandbox:
        """Start serving; returns once the server accepts connections."""
        if self.running:
            return self
        _hide_injected_resets()
        self._error = None
        self._app = create_app(self.config)
        sock = _bind(self.host, self._requested_port)
        self._port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            self._app,
            lifespan="on",
            log_config=None,
            access_log=False,
            ws="none",
            http="h11",
            server_header=False,
            timeout_keep_alive=5,
            timeout_graceful_shutdown=1,
            backlog=2048,
        )
        self._server = _Server(config)
        self._thread = threading.Thread(
            target=self._serve, args=(self._server, sock), name="kling-nb-sandbox", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the kling_nb sandbox did not start: {self._error!r}")
            time.sleep(0.002)
        return self

    def stop(self) -> None:
        """Stop serving and close the state file (idempotent)."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.request_exit()
        if thread is not None:
            thread.join(timeout=5)
            if thread.is_alive() and server is not None:
                server.force_exit = True
                thread.join(timeout=2)
        if self._app is not None:
            self._app.state.videos.close()
            sandbox_state(self._app).close()

    def _serve(self, server: _Server, sock: socket.socket) -> None:
        loop = asyncio.new_event_loop()
        try:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(server.serve(sockets=[sock]))
        except BaseException as exc:  # reported by start(); a thread has nowhere else to raise
            self._error = exc
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                loop.close()
                sock.close()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @staticmethod
    def prepare_state_dir(folder: str | Path) -> Path:
        """Create `folder` for the sandbox's own state files and return it.

        It gets a `.gitignore` containing `*` (unless it has one), so a state folder made
        inside a user's repository is never left there untracked. Use it only for a folder
        that holds nothing but sandbox state.
        """
        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        ignore = path / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# kling_nb sandbox state: never commit it\n*\n", encoding="utf-8")
        return path

    # -- what callers need -----------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True while the server thread serves."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def port(self) -> int:
        """The bound port (known once started)."""
        if self._port is None:
            raise RuntimeError("the sandbox has not been started")
        return self._port

    @property
    def base_url(self) -> str:
        """The origin to give a client, e.g. `http://127.0.0.1:54321`."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def keys(self) -> Mapping[str, str]:
        """The demo API keys and what each is for."""
        return {key: spec.purpose for key, spec in KEYS.items()}

    @property
    def app(self) -> Starlette:
        """The Starlette app being served."""
        if self._app is None:
            raise RuntimeError("the sandbox has not been started")
        return self._app

    @property
    def state(self) -> SandboxState:
        """The server's state (tasks, balances, counters)."""
        return sandbox_state(self.app)

    def url(self, path: str) -> str:
        """An absolute URL on this sandbox."""
        return self.base_url + "/" + path.lstrip("/")

    def sample_url(self, name: str = "first-frame.png") -> str:
        """The URL of a bundled sample first frame (`first-frame.png` 16:9, `portrait.jpg` 9:16)."""
        if name not in SAMPLE_NAMES:
            raise ValueError(f"no sample {name!r}; samples: {', '.join(SAMPLE_NAMES)}")
        return self.url(f"/samples/{name}")

    def stats(self) -> dict[str, Any]:
        """Counters for tests: creates per key/team, 429s, max pending, status reads, balances.

        See `SandboxState.stats` for every key.
        """
        return self.state.stats()

    @property
    def faults(self) -> Faults:
        """The faults currently injected."""
        return self.state.faults if self._app is not None else self.config.faults

    def set_faults(self, faults: Faults) -> None:
        """Change the injected faults of a running sandbox."""
        self.state.set_faults(faults)

    def __repr__(self) -> str:
        where = self.base_url if self._port is not None else "not started"
        return f"<Sandbox {where} {'running' if self.running else 'stopped'}>"


class _Server(uvicorn.Server):
    """uvicorn's server, with a main loop that wakes at once when asked to stop.

    uvicorn's own loop checks `should_exit` every 0.1 s; waiting on an event instead makes
    `Sandbox.stop()` (run after every test) that much faster.
    """

    _loop: asyncio.AbstractEventLoop | None = None
    _wake: asyncio.Event | None = None

    async def main_loop(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864_000
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 0.1)

    def request_exit(self) -> None:
        """Ask the server to exit, from any thread."""
        self.should_exit = True
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop already closed
                loop.call_soon_threadsafe(wake.set)


def _bind(host: str, port: int) -> socket.socket:
    # Bound here rather than by uvicorn, so the port is known (and connectable) at once.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must say TCP: asyncio only sets TCP_NODELAY on such sockets, and without it
    # every response (headers, then body) waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class _InjectedResetFilter(logging.Filter):
    """Drops uvicorn's traceback for the resets the sandbox injects on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, InjectedResetError)


_FILTER = _InjectedResetFilter()


def _hide_injected_resets() -> None:
    log = logging.getLogger("uvicorn.error")
    if _FILTER not in log.filters:
        log.addFilter(_FILTER)
