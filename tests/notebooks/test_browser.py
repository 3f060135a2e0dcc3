"""End to end: the app (`notebooks/app.ipynb`) served by Voila, used from a real Chromium.

Voila runs as `voila app.ipynb` in a copy of the notebook and its `voila.json` (what the
README's `cd notebooks && voila app.ipynb` does), on a free port of 127.0.0.1, with no key:
the embedded sandbox serves. The copy of `voila.json` only culls faster (seconds, not minutes);
the template it names is the repository's (`share/jupyter`, on JUPYTER_PATH). Debian's Chromium
(/usr/bin/chromium, never a downloaded build) is driven by Playwright.

What a visitor must get: loading the page (in a browser or with a bare GET, like curl) creates
no job; an idle page's kernel is culled; a double click on Generate makes exactly one job and
one sandbox task; the video plays at the requested length; bad input shows the message and
sends nothing. Every step leaves a screenshot in .ci/artifacts/. Nothing may leave 127.0.0.1:
Chromium resolves no other host, every other request is aborted and fails the test, a
Content-Security-Policy violation fails it too, and Voila and its kernels run with
`loopback_only/`.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from run_notebook import sandbox_environ

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "notebooks" / "app.ipynb"
VOILA_CONFIG = REPO / "notebooks" / "voila.json"
TEMPLATES = REPO / "share" / "jupyter"
ARTIFACTS = REPO / ".ci" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Belt and braces: no host name but the loopback one resolves at all.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
]
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})
STARTUP_S = 60.0
LOAD_MS = 90_000
VIDEO_MS = 60_000
REQUESTED_SECONDS = 10
CULL_IDLE_S = 4
CULL_INTERVAL_S = 1

# The newest visible <video> whose source was not on the page before; play() it once (muted,
# like a person pressing play) so that it must decode frames.
NEW_VIDEO_JS = """
([before]) => {
  const shown = Array.from(document.querySelectorAll('video'))
    .filter(v => v.getClientRects().length > 0 && !before.includes(v.currentSrc || v.src));
  const v = shown[shown.length - 1];
  if (!v) return null;
  if (v.readyState >= 1 && v.paused && !v.dataset.knPlayed) {
    v.dataset.knPlayed = '1';
    const p = v.play();
    if (p && p.catch) p.catch(() => {});
  }
  return {src: v.currentSrc || v.src, readyState: v.readyState, duration: v.duration,
          error: v.error ? v.error.code : null};
}
"""
VIDEO_READY_JS = f"""
(before) => {{
  const found = ({NEW_VIDEO_JS})([before]);
  return found !== null && (found.readyState >= 2 || found.error !== null) ? found : null;
}}
"""
VIDEO_SOURCES_JS = "Array.from(document.querySelectorAll('video')).map(v => v.currentSrc || v.src)"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"voila exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"voila did not listen on {port} within {STARTUP_S} s:\n{log.read_text()}")


@dataclass
class Voila:
    """A running `voila app.ipynb`: its URL, its folder (the runs land under it), its process."""

    url: str
    folder: Path
    proc: subprocess.Popen[bytes]

    @property
    def runs(self) -> Path:
        return self.folder / "runs" / "app"

    def ledger_rows(self) -> int:
        """Jobs in the app's ledger (0 before the first page load made the file)."""
        return _count(self.runs / "kling_runs.sqlite", "SELECT count(*) FROM jobs")

    def sandbox_tasks(self) -> int:
        """Tasks the embedded sandboxes created (their shared state file): the creates."""
        return _count(self.runs / ".kling_sandbox" / "state.sqlite", "SELECT count(*) FROM tasks")

    def kernels(self) -> int:
        """Kernel processes Voila has running now."""
        found = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
                cmdline = (stat.parent / "cmdline").read_bytes()
            except (OSError, IndexError, ValueError):
                continue  # the process ended while we looked
            found += ppid == self.proc.pid and b"ipykernel_launcher" in cmdline
        return found


def _count(path: Path, query: str) -> int:
    if not path.exists():
        return 0
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return int(db.execute(query).fetchone()[0])


def _voila_config() -> str:
    """The app's voila.json with culling in seconds, so the test can watch it happen."""
    config = json.loads(VOILA_CONFIG.read_text())
    culling = config["MappingKernelManager"]
    assert culling["cull_idle_timeout"] > 0
    assert culling["cull_interval"] > 0
    culling.update(cull_idle_timeout=CULL_IDLE_S, cull_interval=CULL_INTERVAL_S)
    return json.dumps(config)


@pytest.fixture(scope="module")
def voila(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Voila]:
    if not CHROMIUM.exists():
        why = f"{CHROMIUM} is missing: apt-get install -y chromium (CI installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    folder = tmp_path_factory.mktemp("voila-app")
    shutil.copy(NOTEBOOK, folder)
    (folder / VOILA_CONFIG.name).write_text(_voila_config())
    port = _free_port()
    log = folder / "voila.log"
    command = [
        sys.executable,
        "-m",
        "voila",
        NOTEBOOK.name,
        "--no-browser",
        f"--port={port}",
        "--Voila.ip=127.0.0.1",
        "--Voila.port_retries=0",
    ]
    env = sandbox_environ(os.environ, runs=None)
    env["JUPYTER_PATH"] = os.pathsep.join(
        [str(TEMPLATES), *filter(None, [env.get("JUPYTER_PATH")])]
    )
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_for_port(port, proc, log)
        yield Voila(url=f"http://127.0.0.1:{port}/", folder=folder, proc=proc)
    finally:
        stop_server(proc, log, "browser-voila.log")


def stop_server(
    proc: subprocess.Popen[bytes], log: Path, artifact: str, *, grace: float = 15
) -> None:
    """Stop a server this test started, and keep its log as a CI artefact."""
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(log, ARTIFACTS / artifact)


@dataclass
class App:
    """A Voila page in Chromium, and what the browser tried to reach or was refused."""

    page: Any
    voila: Voila
    blocked: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    shots: int = 0

    def shot(self, name: str) -> None:
        self.shots += 1
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(
            path=str(ARTIFACTS / f"browser-{self.shots:02d}-{name}.png"), full_page=True
        )

    def load(self) -> None:
        """Open (or reload) the app and wait until its panel is live."""
        self.page.goto(self.voila.url, timeout=LOAD_MS)
        # The panel is a live widget: once its button shows, every cell has run and the
        # page talks to the kernel.
        self.page.get_by_role("button", name="Generate").wait_for(timeout=LOAD_MS)


@pytest.fixture(scope="module")
def app(voila: Voila) -> Iterator[App]:
    from playwright.sync_api import ConsoleMessage, Route, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=60_000
        )
        try:
            context = browser.new_context(viewport={"width": 1200, "height": 900})
            page = context.new_page()
            page.set_default_timeout(30_000)
            app = App(page=page, voila=voila)

            def guard(route: Route) -> None:
                url = route.request.url
                if urlsplit(url).hostname in LOCAL_HOSTS:
                    route.continue_()
                else:
                    app.blocked.append(url)
                    route.abort("blockedbyclient")

            def console(message: ConsoleMessage) -> None:
                if "Content Security Policy" in message.text:
                    app.refused.append(message.text)

            context.route("**/*", guard)
            page.on("console", console)
            app.load()
            app.shot("loaded")
            yield app
            assert app.blocked == [], f"the page tried to leave 127.0.0.1: {app.blocked}"
            assert app.refused == [], f"the page broke its own CSP: {app.refused}"
        finally:
            browser.close()


def _badges(app: App) -> int:
    return int(app.page.locator(".kn-badge:visible").count())


def _get(url: str) -> str:
    """The page as a bare GET fetches it (curl): Voila runs the notebook for it too."""
    with urllib.request.urlopen(url, timeout=LOAD_MS / 1000) as response:  # noqa: S310 (ours)
        return str(response.read().decode("utf-8"))


def test_loading_the_page_creates_no_job_and_idle_kernels_are_culled(app: App) -> None:
    voila = app.voila
    rows, tasks = voila.ledger_rows(), voila.sandbox_tasks()
    for _ in range(2):
        app.load()
    app.shot("reloaded")
    assert "Generate" in _get(voila.url)  # a visit without a browser (curl)
    assert (voila.ledger_rows(), voila.sandbox_tasks()) == (rows, tasks) == (0, 0)

    # The kernels of the reloaded pages and of the curl visit have nobody connected: they are
    # culled once idle (Voila 0.5.13's own shutdown on unload is refused: '_xsrf' missing).
    # The open page's kernel stays.
    deadline = time.monotonic() + CULL_IDLE_S + 4 * CULL_INTERVAL_S + 20
    while voila.kernels() > 1 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert voila.kernels() == 1
    log = (voila.folder / "voila.log").read_text()
    assert f"idle durations > {CULL_IDLE_S} seconds" in log  # the culling voila.json asks for
    assert "seconds of inactivity" in log
    app.page.get_by_role("button", name="Generate").wait_for()  # this page still works


def test_bad_input_shows_the_message_and_sends_nothing(app: App) -> None:
    from playwright.sync_api import expect

    page = app.page
    cards_before = _badges(app)
    rows = app.voila.ledger_rows()
    prompt = page.get_by_label("Prompt")
    generate = page.get_by_role("button", name="Generate")

    prompt.fill("")
    generate.click()
    expect(page.get_by_text("prompt: must be a non-empty description")).to_be_visible()
    app.shot("empty-prompt")

    prompt.fill("a fox " * 420)  # 2520 characters: over the 2500 limit
    generate.click()
    expect(page.get_by_text("at most 2500 characters")).to_be_visible()
    app.shot("prompt-too-long")

    page.wait_for_timeout(1000)  # a card, had one been made, would show by now
    assert _badges(app) == cards_before
    assert app.voila.ledger_rows() == rows
    prompt.fill("")


def test_a_double_click_makes_one_job_that_plays(app: App) -> None:
    from playwright.sync_api import expect

    page = app.page
    voila = app.voila
    rows, tasks = voila.ledger_rows(), voila.sandbox_tasks()
    sources_before = page.evaluate(VIDEO_SOURCES_JS)
    page.get_by_label("Prompt").fill("A lighthouse at night, waves breaking on the rocks")
    page.get_by_role("button", name=f"{REQUESTED_SECONDS} s").click()
    expect(page.get_by_text("0.70 credits").first).to_be_visible()  # the estimate followed
    app.shot("filled")

    cards_before = _badges(app)
    page.get_by_role("button", name="Generate").dblclick()
    expect(page.locator(".kn-badge:visible")).to_have_count(cards_before + 1)
    app.shot("submitted")

    handle = page.wait_for_function(
        VIDEO_READY_JS, arg=sources_before, timeout=VIDEO_MS, polling=250
    )
    video = handle.json_value()
    app.shot("video")
    assert video["error"] is None, video
    assert video["readyState"] >= 2, video
    assert abs(video["duration"] - REQUESTED_SECONDS) <= 0.3, video
    assert urlsplit(video["src"]).hostname == "127.0.0.1", video
    assert "/runs/app/kling_outputs/" in video["src"], video

    assert _badges(app) == cards_before + 1
    assert voila.ledger_rows() == rows + 1
    assert voila.sandbox_tasks() == tasks + 1
    # The app's ledger table shows the finished job.
    expect(page.locator("table").filter(has_text="succeeded")).to_be_visible()
