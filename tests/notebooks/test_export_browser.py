"""End to end: an exported comparison opened from disk in a real Chromium plays every video.

The export is made from real sandbox MP4s (H.264/yuv420p), then moved to another folder, and
opened as `file://.../index.html` in Debian's Chromium (/usr/bin/chromium) driven by
Playwright: no server, no kernel. A person presses "play all in sync"; every video must reach
readyState >= 2 with the requested duration and play, with no console error and no request
other than file://. Screenshots land in .ci/artifacts/.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kling_nb._export import export_comparison
from kling_nb.sandbox import VideoSpec, render_mp4

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / ".ci" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # Belt and braces: no host name resolves at all, so nothing could leave the machine.
    "--host-resolver-rules=MAP * ~NOTFOUND",
]
# (name, seconds, width, height): both aspect ratios and both durations a user can ask for.
VIDEOS = [("fox-std", 5, 320, 180), ("fox-pro", 10, 180, 320), ("owl", 5, 240, 240)]
PLAYING_JS = """
() => {
  const vids = Array.from(document.querySelectorAll('video'));
  const state = vids.map(v => ({src: v.currentSrc, readyState: v.readyState,
    duration: v.duration, paused: v.paused, time: v.currentTime,
    error: v.error ? v.error.code : null}));
  return state.every(s => s.error !== null || (s.readyState >= 2 && !s.paused && s.time > 0.2))
    ? state : null;
}
"""
STATE_JS = """
() => Array.from(document.querySelectorAll('video')).map(v => ({paused: v.paused,
  time: v.currentTime, shown: v.getClientRects().length > 0}))
"""
SHOWN_IMAGES_JS = """
() => Array.from(document.images).filter(i => i.getClientRects().length > 0)
  .map(i => ({src: i.currentSrc, width: i.naturalWidth}))
"""


@dataclass
class Opened:
    """A page opened from disk, and what the browser did while showing it."""

    page: Any
    folder: Path
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"export-{name}.png"), full_page=True)


def _rows(folder: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for name, seconds, width, height in VIDEOS:
        spec = VideoSpec(f"a {name} at dusk", "kling-v3", "std", seconds, width, height)
        video = folder / f"{name}.mp4"
        video.write_bytes(render_mp4(spec))
        rows.append(
            {"job_id": f"job-{name}", "prompt": spec.prompt, "model": "kling-v3", "mode": "std",
             "duration": seconds, "status": "succeeded", "total_s": 40.0 + seconds,
             "cost_estimate": 0.07 * seconds, "video_path": str(video)}
        )  # fmt: skip
    rows.append(
        {"job_id": "job-failed", "prompt": "<b>a storm</b>", "model": "kling-v3", "mode": "pro",
         "duration": 5, "status": "failed", "error": "HTTP 424: upstream timed out"}
    )  # fmt: skip
    return rows


@pytest.fixture(scope="module")
def export_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not CHROMIUM.exists():
        why = f"{CHROMIUM} is missing: apt-get install -y chromium (CI installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    outputs = tmp_path_factory.mktemp("outputs")
    made = tmp_path_factory.mktemp("made")
    export_comparison(made / "share", _rows(outputs), title="Foxes & owls")
    shutil.rmtree(outputs)  # the export must not lean on the originals
    moved = tmp_path_factory.mktemp("moved") / "somewhere else"
    shutil.move(str(made / "share"), str(moved))
    return moved


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=60_000
        )
        try:
            yield launched
        finally:
            launched.close()


def _open(browser: Any, folder: Path, *, scheme: str = "light") -> Opened:
    from playwright.sync_api import Route

    context = browser.new_context(viewport={"width": 1200, "height": 900}, color_scheme=scheme)
    page = context.new_page()
    page.set_default_timeout(30_000)
    opened = Opened(page=page, folder=folder)

    def block(route: Route) -> None:
        opened.requests.append(route.request.url)
        route.abort("blockedbyclient")

    context.route("http*://**/*", block)  # file:// is never routed; anything else is a leak
    page.on("request", lambda request: opened.requests.append(request.url))
    page.on("console", lambda msg: msg.type == "error" and opened.errors.append(msg.text))
    page.on("pageerror", lambda exc: opened.errors.append(str(exc)))
    page.goto((folder / "index.html").as_uri())
    return opened


def test_the_export_plays_every_video_from_disk(browser: Any, export_folder: Path) -> None:
    opened = _open(browser, export_folder)
    page = opened.page
    assert page.title() == "Foxes & owls"
    opened.shot("opened")

    page.get_by_role("button", name="play all in sync").click()
    videos = page.wait_for_function(PLAYING_JS, timeout=30_000, polling=200).json_value()
    opened.shot("playing")

    assert len(videos) == len(VIDEOS)
    for video, (name, seconds, _, _) in zip(videos, VIDEOS, strict=True):
        assert video["error"] is None, video
        assert video["src"] == (export_folder / "videos" / f"job-{name}.mp4").as_uri(), video
        assert video["readyState"] >= 2, video
        assert abs(video["duration"] - seconds) <= 0.3, video
    times = [video["time"] for video in videos]
    assert max(times) - min(times) < 0.5, times  # started together

    page.get_by_role("button", name="pause all").click()
    assert all(state["paused"] for state in page.evaluate(STATE_JS))
    page.get_by_role("button", name="restart all").click()
    assert all(state["time"] == 0 for state in page.evaluate(STATE_JS))

    # Every job with a video shows the video, not its filmstrip.
    assert page.evaluate(SHOWN_IMAGES_JS) == []
    assert [state["shown"] for state in page.evaluate(STATE_JS)] == [True, True, True]
    assert "HTTP 424: upstream timed out" in page.inner_text("body")
    assert opened.errors == []
    others = [url for url in opened.requests if not url.startswith("file://")]
    assert others == [], others
    assert opened.requests, "the page's own requests were not recorded"


def test_a_missing_video_shows_its_filmstrip(browser: Any, export_folder: Path) -> None:
    partial = export_folder.parent / "partial"
    shutil.copytree(export_folder, partial)
    (partial / "videos" / "job-fox-pro.mp4").unlink()
    opened = _open(browser, partial)
    opened.page.wait_for_function(f"() => ({SHOWN_IMAGES_JS})().length > 0", timeout=15_000)
    opened.shot("missing-video")
    shown = opened.page.evaluate(SHOWN_IMAGES_JS)
    strip = (partial / "pictures" / "job-fox-pro.strip.jpg").as_uri()
    assert shown == [{"src": strip, "width": 800}]
    assert [state["shown"] for state in opened.page.evaluate(STATE_JS)] == [True, False, True]
    assert [url for url in opened.requests if not url.startswith("file://")] == []


@pytest.mark.parametrize(
    ("scheme", "background"), [("light", "rgb(255, 255, 255)"), ("dark", "rgb(13, 17, 23)")]
)
def test_the_page_follows_the_browsers_colour_scheme(
    browser: Any, export_folder: Path, scheme: str, background: str
) -> None:
    opened = _open(browser, export_folder, scheme=scheme)
    shown = opened.page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert shown == background
    opened.shot(f"scheme-{scheme}")
    assert opened.errors == []
