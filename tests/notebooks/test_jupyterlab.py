"""Saved notebooks in a real JupyterLab: run 01 and 02, save, shut the kernel down, reopen.

Two ways a person meets a saved notebook, both checked in light and dark theme:

- reopened on the same server (JupyterLab signed it on save: *trusted*, so a saved widget view
  would draw "Error displaying widget: model not found");
- opened in a second JupyterLab with fresh data and runtime folders (*untrusted*: sanitized
  HTML and `text/plain` fallbacks, where stale text like `<JobCard … waiting>` used to show).

Either way: no widget error, no fallback text that contradicts the output, every video plays,
every video has its filmstrip, no console error from the project, and the cards read in the
dark theme. JupyterLab runs with `--allow-root`, `expose_app_in_browser` (to drive it through
`window.jupyterapp`), windowing mode `none` (every output in the DOM) and news off, in a
throwaway settings folder. Screenshots go to .ci/artifacts/.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest

# The `test` extra brings JupyterLab and nbclient; the `fast` extra (other Pythons) does not.
pytest.importorskip("jupyterlab")
pytest.importorskip("nbclient")
from run_notebook import sandbox_environ
from test_browser import CHROMIUM, CHROMIUM_ARGS, _free_port, stop_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / ".ci" / "artifacts"
NOTEBOOKS = ("01-quickstart.ipynb", "02-prompt-comparison.ipynb")
RUN_S = 240.0
SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}
STALE = ("Error displaying widget", "<JobCard", "<ComparisonGrid", "<StudioPanel", "waiting>")
PROJECT = ("kling", "kn-", ".mp4", ".strip.jpg", "widget", "model not found")

READY_JS = """() => {
  const w = window.jupyterapp && jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!(w && w.context && w.context.isReady && w.content && k && k.status === 'idle');
}"""
STATE_JS = """() => {
  const w = jupyterapp.shell.currentWidget;
  const cells = w.content.widgets.filter(c => c.model.type === 'code');
  const mimes = [];
  cells.forEach(c => { for (let i = 0; i < c.model.outputs.length; i++) {
    mimes.push(Object.keys(c.model.outputs.get(i).data || {})); } });
  return {
    status: w.sessionContext.session.kernel.status,
    ran: cells.every(c => c.model.executionCount !== null),
    widgets: mimes.filter(m => m.includes('application/vnd.jupyter.widget-view+json')).length,
    trusted: cells.every(c => c.model.trusted),
    dirty: w.context.model.dirty,
  };
}"""
VIDEOS_JS = """() => Array.from(jupyterapp.shell.currentWidget.node.querySelectorAll('video'))
  .map(v => {
    if (!v.dataset.knPlayed) { v.dataset.knPlayed = '1'; v.muted = true;
      const p = v.play(); if (p && p.catch) p.catch(() => {}); }
    const strip = v.nextElementSibling;
    return {src: v.currentSrc || v.src, ready: v.readyState, duration: v.duration,
            error: v.error ? v.error.code : null, shown: v.getClientRects().length > 0,
            strip: !!(strip && strip.classList.contains('kn-filmstrip') &&
                      strip.naturalWidth > 0)};
  })"""
COLORS_JS = """() => Array.from(jupyterapp.shell.currentWidget.node.querySelectorAll('.kn-card'))
  .map(c => { const s = getComputedStyle(c); let b = c, bg = 'rgba(0, 0, 0, 0)';
    while (b && (bg === 'rgba(0, 0, 0, 0)' || bg === 'transparent')) {
      bg = getComputedStyle(b).backgroundColor; b = b.parentElement; }
    return {color: s.color, background: bg}; })"""


def _luminance(css: str) -> float:
    parts = [float(x) for x in css[css.index("(") + 1 : css.index(")")].split(",")[:3]]
    return sum(w * v / 255 for w, v in zip((0.2126, 0.7152, 0.0722), parts, strict=True))


@contextmanager
def jupyterlab(folder: Path, home: Path) -> Iterator[str]:
    """A JupyterLab on 127.0.0.1 serving `folder`, with its own data/runtime/settings dirs."""
    settings = home / "settings"
    for name, value in SETTINGS.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    env = sandbox_environ(os.environ, "runs")
    env.update(
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
        JUPYTER_DATA_DIR=str(home / "data"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        JUPYTER_CONFIG_DIR=str(home / "config"),
    )
    port, token = _free_port(), secrets.token_hex(16)
    log = home / "jupyterlab.log"
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--allow-root",
        f"--port={port}",
        "--ServerApp.ip=127.0.0.1",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        "--LabApp.expose_app_in_browser=True",
        f"--ServerApp.root_dir={folder}",
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while b"is running at" not in log.read_bytes() and b"http://127.0.0.1" not in (
            log.read_bytes()
        ):
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.3)
        yield f"http://127.0.0.1:{port}/lab/workspaces/{{ws}}/tree/{{nb}}?token={token}"
    finally:
        stop_server(proc, log, f"jupyterlab-{home.name}.log", grace=20)
        _stop_kernels(home / "runtime")


def _stop_kernels(runtime: Path) -> None:
    """Stop kernels this server started (their command line names its runtime folder)."""
    for proc_dir in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc_dir / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if b"ipykernel" in cmdline and str(runtime).encode() in cmdline:
            with suppress(OSError):
                os.kill(int(proc_dir.name), 15)


class Lab:
    """A Chromium page on one JupyterLab, and the console errors it saw."""

    def __init__(self, browser: Any, url: str, name: str) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.page.set_default_timeout(60_000)
        self.url = url
        self.name = name
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def open(self, notebook: str, workspace: str) -> None:
        self.page.goto(self.url.format(ws=workspace, nb=notebook), timeout=90_000)
        self.page.wait_for_function(READY_JS, timeout=90_000)

    def run(self, command: str, args: dict[str, Any] | None = None) -> None:
        self.page.evaluate("([c, a]) => jupyterapp.commands.execute(c, a)", [command, args or {}])

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = self.page.evaluate(STATE_JS)
        return state

    def wait(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, f"{what}: {self.state()}"
            time.sleep(0.5)

    def shot(self, label: str) -> None:
        # JupyterLab 4 scrolls the notebook inside its own panel: size the page to all of it.
        height = self.page.evaluate(
            "() => { const c = jupyterapp.shell.currentWidget.content.node;"
            " const n = c.querySelector('.jp-WindowedPanel-outer') || c; n.scrollTop = 0;"
            " return n.scrollHeight; }"
        )
        self.page.set_viewport_size({"width": 1280, "height": min(int(height) + 200, 12_000)})
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"jupyterlab-{self.name}-{label}.png"))
        self.page.set_viewport_size({"width": 1280, "height": 900})


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=60_000
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def saved(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Lab]]:
    """Notebooks 01 and 02 run, saved and shut down in JupyterLab A; A stays up for reopens."""
    folder = tmp_path_factory.mktemp("lab-notebooks")
    for name in NOTEBOOKS:
        shutil.copy(REPO / "notebooks" / name, folder)
    with jupyterlab(folder, tmp_path_factory.mktemp("same")) as url:
        lab = Lab(browser, url, "same")
        for name in NOTEBOOKS:
            stem = name.split("-")[0]
            lab.open(name, f"run{stem}")
            lab.run("notebook:clear-all-cell-outputs")
            lab.wait(lambda: not lab.state()["ran"], 30, "outputs not cleared")
            lab.run("notebook:run-all-cells")
            lab.wait(
                lambda: (s := lab.state())["ran"] and s["status"] == "idle" and not s["widgets"],
                RUN_S,
                f"{name} did not finish with static outputs",
            )
            lab.run("docmanager:save")
            lab.wait(lambda: not lab.state()["dirty"], 30, "not saved")
            lab.page.evaluate("() => jupyterapp.shell.currentWidget.sessionContext.shutdown()")
            lab.run("application:close-all")
        yield folder, lab


def check_notebook(lab: Lab, name: str, *, trusted: bool) -> None:
    state = lab.state()
    assert state["trusted"] is trusted, state
    assert state["widgets"] == 0
    text = lab.page.evaluate("() => jupyterapp.shell.currentWidget.content.node.innerText")
    for stale in STALE:
        assert stale not in text, f"{name}: {stale!r} shown"
    assert "enter a key below" not in text
    expected = 1 if name.startswith("01") else 4
    deadline = time.monotonic() + 60
    while True:
        videos = lab.page.evaluate(VIDEOS_JS)
        if len(videos) == expected and all(v["ready"] >= 2 or v["error"] for v in videos):
            break
        assert time.monotonic() < deadline, videos
        time.sleep(0.5)
    for video in videos:
        assert video["error"] is None, video
        assert video["shown"], video
        assert video["duration"] == pytest.approx(5, abs=0.5), video
        assert video["strip"], video


def check_themes(lab: Lab, name: str) -> None:
    lab.shot(f"{name[:2]}-light")
    lab.run("apputils:change-theme", {"theme": "JupyterLab Dark"})
    lab.page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
    lab.page.wait_for_timeout(500)
    lab.shot(f"{name[:2]}-dark")
    for colors in lab.page.evaluate(COLORS_JS):
        # Light text on a dark card: the theme's colours reach the static HTML.
        assert _luminance(colors["color"]) > 0.6, colors
        assert _luminance(colors["background"]) < 0.4, colors
    lab.run("apputils:change-theme", {"theme": "JupyterLab Light"})
    lab.page.wait_for_function("() => document.body.dataset.jpThemeLight === 'true'")


def project_errors(lab: Lab) -> list[str]:
    return [e for e in lab.errors if any(word in e.lower() for word in PROJECT)]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_reopened_on_the_same_server(saved: tuple[Path, Lab], name: str) -> None:
    _folder, lab = saved
    lab.errors.clear()
    lab.open(name, f"reopen{name[:2]}")
    check_notebook(lab, name, trusted=True)
    check_themes(lab, name)
    assert project_errors(lab) == []
    lab.page.evaluate("() => jupyterapp.shell.currentWidget.sessionContext.shutdown()")


def test_opened_untrusted_in_a_second_jupyterlab(
    saved: tuple[Path, Lab], browser: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder, _lab = saved
    with jupyterlab(folder, tmp_path_factory.mktemp("fresh")) as url:
        lab = Lab(browser, url, "fresh")
        for name in NOTEBOOKS:
            lab.open(name, f"fresh{name[:2]}")
            check_notebook(lab, name, trusted=False)
            check_themes(lab, name)
            lab.page.evaluate("() => jupyterapp.shell.currentWidget.sessionContext.shutdown()")
        assert project_errors(lab) == []
