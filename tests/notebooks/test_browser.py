"""End to end: the quickstart served as a Voila app, used from a real Chromium.

Voila runs as `voila 01-quickstart.ipynb` in a copy of the notebook and its `voila.json` (what
`cd notebooks && voila 01-quickstart.ipynb` does), on a free port of 127.0.0.1, with no key:
the embedded sandbox serves. Debian's Chromium (/usr/bin/chromium, never a downloaded build)
is driven by Playwright. A person's steps: type a prompt, pick 10 s, press Generate, watch the
video play; and type bad input, see the message, nothing sent. Every step leaves a screenshot
in .ci/artifacts/. Nothing may leave 127.0.0.1: Chromium resolves no other host, every other
request is aborted and fails the test, and Voila and its kernels run with `loopback_only/`.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from run_notebook import sandbox_environ

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "notebooks" / "01-quickstart.ipynb"
VOILA_CONFIG = REPO / "notebooks" / "voila.json"
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
class App:
    """A loaded Voila page and what the browser tried to reach."""

    page: Any
    url: str
    blocked: list[str] = field(default_factory=list)
    shots: int = 0

    def shot(self, name: str) -> None:
        self.shots += 1
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(
            path=str(ARTIFACTS / f"browser-{self.shots:02d}-{name}.png"), full_page=True
        )


@pytest.fixture(scope="module")
def voila_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not CHROMIUM.exists():
        why = f"{CHROMIUM} is missing: apt-get install -y chromium (CI installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    app_dir = tmp_path_factory.mktemp("voila-app")
    shutil.copy(NOTEBOOK, app_dir)
    shutil.copy(VOILA_CONFIG, app_dir)
    port = _free_port()
    log = app_dir / "voila.log"
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
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command,
            cwd=app_dir,
            env=sandbox_environ(os.environ, runs=None),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for_port(port, proc, log)
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(log, ARTIFACTS / "browser-voila.log")


@pytest.fixture(scope="module")
def app(voila_url: str) -> Iterator[App]:
    from playwright.sync_api import Route, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=60_000
        )
        try:
            context = browser.new_context(viewport={"width": 1200, "height": 900})
            page = context.new_page()
            page.set_default_timeout(30_000)
            app = App(page=page, url=voila_url)

            def guard(route: Route) -> None:
                url = route.request.url
                if urlsplit(url).hostname in LOCAL_HOSTS:
                    route.continue_()
                else:
                    app.blocked.append(url)
                    route.abort("blockedbyclient")

            context.route("**/*", guard)
            page.goto(voila_url, timeout=LOAD_MS)
            # The panel is a live widget: once its button shows, every cell has run and the
            # page talks to the kernel.
            page.get_by_role("button", name="Generate").wait_for(timeout=LOAD_MS)
            app.shot("loaded")
            yield app
            assert app.blocked == [], f"the page tried to leave 127.0.0.1: {app.blocked}"
        finally:
            browser.close()


def _badges(app: App) -> int:
    return int(app.page.locator(".kn-badge:visible").count())


def test_bad_input_shows_the_message_and_sends_nothing(app: App) -> None:
    from playwright.sync_api import expect

    page = app.page
    cards_before = _badges(app)
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
    prompt.fill("")


def test_generate_plays_a_video_of_the_requested_length(app: App) -> None:
    from playwright.sync_api import expect

    page = app.page
    sources_before = page.evaluate(VIDEO_SOURCES_JS)
    page.get_by_label("Prompt").fill("A lighthouse at night, waves breaking on the rocks")
    page.get_by_role("button", name=f"{REQUESTED_SECONDS} s").click()
    expect(page.get_by_text("0.70 credits").first).to_be_visible()  # the estimate followed
    app.shot("filled")

    cards_before = _badges(app)
    page.get_by_role("button", name="Generate").click()
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
    assert "/runs/01-quickstart/kling_outputs/" in video["src"], video
