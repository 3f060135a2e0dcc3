"""End to end: blind judging in a Voila app, from a real Chromium.

A small notebook (written here) makes one prompt with each of WorldRouter's families (Kling,
Seedance, Grok) on the sandbox, shows `studio.judge(jobs)` and its live rankings by family. A
person's steps: see two unlabelled videos, vote, read the reveal, move on; three times. After each
vote the rankings table (a live widget) counts one more win. The page is checked to name no job
before the first vote. Chromium is Debian's, driven by Playwright; nothing may leave 127.0.0.1
(see `test_browser.py`, whose helpers this reuses).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
VOILA_CONFIG = REPO / "notebooks" / "voila.json"
APP_CELLS = [
    "import kling_nb as kn\n"
    "studio = kn.Studio(root='runs/judge-app')\n"
    "jobs = studio.sweep('a lantern on a pier at dusk',"
    " models=['kling-v3', 'seedance-2.0', 'grok-imagine-video'])\n"
    "jobs.wait(timeout=300)\n"
    "assert [j.status for j in jobs] == ['succeeded'] * 3\n"
    "print('ids:', ' '.join(j.job_id for j in jobs))",
    "judge = studio.judge(jobs, rater='browser', rounds=3)\njudge",
    "judge.rankings(by=('family',))",
]
# Wins in the visible (live) rankings table: the column headed "wins", summed.
WINS_JS = """
() => {
  const table = Array.from(document.querySelectorAll('.kn-rankings table'))
    .find(t => t.getClientRects().length > 0);
  if (!table) return null;
  const heads = Array.from(table.querySelectorAll('th')).map(th => th.textContent.trim());
  const col = heads.indexOf('wins');
  return Array.from(table.querySelectorAll('tbody tr'))
    .reduce((sum, tr) => sum + Number(tr.children[col].textContent.trim() || 0), 0);
}
"""


def _notebook() -> dict[str, Any]:
    cells = [
        {"cell_type": "code", "metadata": {}, "source": src, "outputs": [], "execution_count": None}
        for src in APP_CELLS
    ]
    kernel = {"display_name": "Python 3", "language": "python", "name": "python3"}
    return {"cells": cells, "metadata": {"kernelspec": kernel}, "nbformat": 4, "nbformat_minor": 5}


@pytest.fixture(scope="module")
def voila_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import test_browser as base
    from run_notebook import sandbox_environ

    if not base.CHROMIUM.exists():
        why = f"{base.CHROMIUM} is missing: apt-get install -y chromium (CI installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    app_dir = tmp_path_factory.mktemp("voila-judge")
    (app_dir / "judge.ipynb").write_text(json.dumps(_notebook()))
    shutil.copy(VOILA_CONFIG, app_dir)
    port = base._free_port()
    log = app_dir / "voila.log"
    command = [sys.executable, "-m", "voila", "judge.ipynb", "--no-browser", f"--port={port}"]
    command += ["--Voila.ip=127.0.0.1", "--Voila.port_retries=0"]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command,
            cwd=app_dir,
            env=sandbox_environ(os.environ, runs=None),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        base._wait_for_port(port, proc, log)
        yield f"http://127.0.0.1:{port}/"
    finally:
        base.stop_server(proc, log, "browser-judge-voila.log")


def test_three_votes_in_the_judge_widget_update_the_rankings(voila_url: str) -> None:
    import test_browser as base
    from playwright.sync_api import Route, expect, sync_playwright

    blocked: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(base.CHROMIUM), args=base.CHROMIUM_ARGS, timeout=60_000
        )
        try:
            context = browser.new_context(viewport={"width": 1200, "height": 1000})
            page = context.new_page()
            page.set_default_timeout(30_000)

            def guard(route: Route) -> None:
                if urlsplit(route.request.url).hostname in base.LOCAL_HOSTS:
                    route.continue_()
                else:
                    blocked.append(route.request.url)
                    route.abort("blockedbyclient")

            context.route("**/*", guard)
            page.goto(voila_url, timeout=base.LOAD_MS)
            vote_a = page.get_by_role("button", name="A is better")
            vote_a.wait_for(timeout=base.LOAD_MS)
            shot = base.ARTIFACTS / "browser-judge-{:02d}.png"
            base.ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shot).format(0), full_page=True)
            _check_blind(page)
            assert page.evaluate(WINS_JS) == 0
            for vote in range(1, 4):
                label = "B" if vote == 2 else "A"
                page.get_by_role("button", name=f"{label} is better").click()
                expect(page.get_by_text("★ your choice")).to_be_visible()
                page.wait_for_function(f"() => ({WINS_JS})() === {vote}", timeout=30_000)
                page.screenshot(path=str(shot).format(vote), full_page=True)
                page.get_by_role("button", name="next match-up →").click()
            expect(page.get_by_text("vote 3 of 3").first).to_be_visible()
            assert not vote_a.is_visible()
        finally:
            browser.close()
    assert blocked == [], f"the page tried to leave 127.0.0.1: {blocked}"


def _check_blind(page: Any) -> None:
    """Before the first vote the judge view names no job, prompt or original file."""
    ids_text = page.get_by_text("ids:").first.text_content() or ""
    ids = ids_text.split("ids:", 1)[1].split()
    assert len(ids) == 3
    view = page.locator(".kn-judge-view").first.inner_html()
    for job_id in ids:
        assert job_id not in view
    assert "lantern" not in view
    sources = page.evaluate(
        "Array.from(document.querySelectorAll('.kn-judge-view video')).map(v => v.src)"
    )
    assert len(sources) == 2
    for src in sources:
        assert "/kling_outputs/judge/" in src, src
