"""`state_path`: a sandbox restarted on the same SQLite file knows its tasks, balances, uploads."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx

from kling_nb._errors import AccessDeniedError
from kling_nb.sandbox import NANO, PRICE_NANO_PER_SECOND, Sandbox

from ._sandbox_helpers import (
    FAST,
    TEAM,
    TEAM2,
    assert_problem,
    auth,
    create,
    i2v,
    image_bytes,
    t2v,
    wait_terminal,
)


async def test_tasks_balances_and_uploads_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "state" / "sandbox.sqlite"
    with Sandbox(time_scale=1.0, pending_cap=2, state_path=path) as first:
        port = first.port
        async with httpx.AsyncClient(base_url=first.base_url) as http:
            task = await create(http, "text2video", t2v(Mode="pro"))
            png = image_bytes("PNG")
            response = await http.post(
                "/v1/images/uploads",
                files={"image": ("a.png", png, "image/png")},
                headers=auth(TEAM),
            )
            upload_url = response.json()["url"]
        before = first.stats()["balances"]
    assert path.exists()

    with Sandbox(time_scale=1.0, pending_cap=2, state_path=path, port=port) as second:
        async with httpx.AsyncClient(base_url=second.base_url) as http:
            status = await http.get(f"/v1/videos/text2video/{task['id']}", headers=auth(TEAM))
            assert status.status_code == 200
            assert status.json()["status"] == "queued"
            other = await http.get(f"/v1/videos/text2video/{task['id']}", headers=auth(TEAM2))
            assert_problem(other, 403, "media_resource_access_denied", AccessDeniedError)
            served = await http.get(upload_url)  # the old signature still verifies
            assert served.status_code == 200
            assert served.content == png
            # The old task still counts against the pending cap.
            await create(http, "image2video", i2v(upload_url))
            over = await http.post("/v1/videos/text2video", json=t2v(), headers=auth(TEAM))
            assert over.status_code == 429
        stats = second.stats()
    assert stats["balances"]["team-sandbox"]["held_nano"] == (
        before["team-sandbox"]["held_nano"] + PRICE_NANO_PER_SECOND["std"] * 5
    )
    assert stats["tasks"] == 2


async def test_a_task_finishes_after_restart_and_is_charged_once(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.sqlite"
    price = PRICE_NANO_PER_SECOND["std"] * 5
    first = Sandbox(time_scale=FAST, state_path=path).start()
    port = first.port
    async with httpx.AsyncClient(base_url=first.base_url) as http:
        task = await create(http, "text2video", t2v())
    first.stop()  # the kernel died mid-task

    for _ in range(2):
        with Sandbox(time_scale=FAST, state_path=path, port=port) as again:
            async with httpx.AsyncClient(base_url=again.base_url) as http:
                final = await wait_terminal(http, "text2video", task["id"])
                assert final["status"] == "succeeded"
                video = await http.get(final["content"]["video_url"])
                assert video.status_code == 200
                assert video.content[4:8] == b"ftyp"
            balance = again.stats()["balances"]["team-sandbox"]
            assert balance["balance_nano"] == again.config.team_credit_nano - price
            assert balance["held_nano"] == 0


def test_persistence_is_off_by_default(tmp_path: Path) -> None:
    with Sandbox() as sandbox:
        assert sandbox.config.state_path is None
    assert list(tmp_path.iterdir()) == []


def test_a_restart_tops_up_a_nearly_spent_demo_team(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    credit = 4 * NANO
    with Sandbox(state_path=state, team_credit_nano=credit) as first:
        first.state._billing.balances["team-sandbox"] = NANO // 2  # spent most of it
        first.state._store.put_balances(first.state._billing.balances)
    with Sandbox(state_path=state, team_credit_nano=credit) as again:
        assert again.stats()["balances"]["team-sandbox"]["balance_nano"] == credit


def test_a_prepared_state_folder_is_never_left_untracked_in_a_repo(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "notes.txt").write_text("mine\n")
    folder = Sandbox.prepare_state_dir(tmp_path / ".kling_sandbox")
    with Sandbox(time_scale=0, state_path=folder / "state.sqlite"):
        pass
    assert (folder / "state.sqlite").exists()
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert status.splitlines() == ["?? notes.txt"]
    # A second call keeps what is there (a user may have edited the .gitignore).
    (folder / ".gitignore").write_text("*\n!keep.txt\n")
    Sandbox.prepare_state_dir(folder)
    assert (folder / ".gitignore").read_text() == "*\n!keep.txt\n"
