"""`Studio.sweep(skip_done=True)` over real HTTP on a shared ledger (SQLite and PostgreSQL).

Two members share one ledger: what the first one already made is not generated again for the
second; the second's grid still shows every variant, the reused ones from the first's files,
from a copy fetched again from the video URL, or marked as being on another machine.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import kling_nb as kn
from kling_nb._ledger import Ledger
from kling_nb._render import grid_html
from kling_nb._render._card import card_text, job_card_html, reused_text
from kling_nb._render._grid import grid_cell_html
from kling_nb._render._html import esc
from kling_nb._reuse import ReusedJob, reusable_rows
from kling_nb.sandbox import Sandbox

KEY = "sk-sandbox-team"
PROMPTS = ["a fox in the snow", "a heron at dawn"]
MORE = [*PROMPTS, "a crane <b>over</b> the lake"]  # HTML in a prompt stays text


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(time_scale=0.01, pending_cap=8, seed=3) as sb:
        yield sb


def member(
    sb: Sandbox, root: Path, ledger: str | Path, name: str, machine: str, **kwargs: Any
) -> kn.Studio:
    studio = kn.Studio(
        api_key=KEY, base_url=sb.base_url, root=root, ledger=ledger, member=name, **kwargs
    )
    studio.log.machine = machine  # what a member's own laptop would record
    return studio


def creates(sb: Sandbox) -> int:
    return int(sum(sb.stats()["creates_by_key"].values()))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def ann_sweeps(sb: Sandbox, tmp_path: Path, ledger: str | Path) -> dict[str, dict[str, Any]]:
    """Ann sweeps the 4 variants PROMPTS × 5 s, 10 s; returns her rows by job id."""
    with member(sb, tmp_path / "ann", ledger, "ann", "ann-laptop") as ann:
        sweep = ann.sweep(PROMPTS, durations=[5, 10]).wait(60)
        assert [job.status for job in sweep] == ["succeeded"] * 4
    with Ledger(ledger) as log:  # as she left them: closed, her leases released
        return {row["job_id"]: row for row in log.by_ids([job.job_id for job in sweep])}


def test_the_second_member_makes_only_what_the_team_lacks(
    sandbox: Sandbox, tmp_path: Path, target: str | Path
) -> None:
    ann_rows = ann_sweeps(sandbox, tmp_path, target)
    before = creates(sandbox)
    # A budget for the two new videos only: the reused four cost nothing.
    with member(sandbox, tmp_path / "bob", target, "bob", "bob-desk", budget=1.05) as bob:
        sweep = bob.sweep(MORE, durations=[5, 10], skip_done=True).wait(60)
        assert creates(sandbox) - before == 2
        assert len(sweep) == 6
        assert [job.prompt for job in sweep] == [p for p in MORE for _ in (5, 10)]
        reused = [job for job in sweep if isinstance(job, ReusedJob)]
        assert {job.job_id for job in reused} == set(ann_rows)
        assert all(job.status == "succeeded" for job in sweep)
        for job in reused:  # ann's own files, on this machine, the right size
            assert job.origin.where == "here"
            assert job.result() == Path(ann_rows[job.job_id]["video_path"])
            assert job.job_id not in bob.jobs
        # No new rows for the reused variants; ann's rows untouched (no claim, no lease).
        frame = bob.log.df
        assert len(frame) == 6
        assert sorted(frame["member"]) == ["ann"] * 4 + ["bob"] * 2
        assert sweep.df["job_id"].tolist().count(reused[0].job_id) == 1
        for job_id, row in ann_rows.items():
            assert bob.log.row(job_id) == row
        html = grid_html([job.snapshot() for job in sweep])
        assert html.count('class="kn-cell"') == 6
        assert html.count('class="kn-reused"') == 4
        assert esc("from ann's run on ann-laptop") in html
        assert "<b>over</b>" not in html
        # skip_done=False (the default) samples every variant again: 6 creates, over budget.
        with pytest.raises(kn.ValidationError, match="budget"):
            bob.sweep(MORE, durations=[5, 10])
        bob.budget = None
        again = bob.sweep(MORE, durations=[5, 10]).wait(60)
        assert creates(sandbox) - before == 2 + 6
        assert not any(isinstance(job, ReusedJob) for job in again)
        assert len(bob.log.df) == 12


def test_a_reused_video_is_fetched_again_or_marked_elsewhere(
    tmp_path: Path, target: str | Path
) -> None:
    with Sandbox(time_scale=0.01, seed=4) as first:
        ann_rows = ann_sweeps(first, tmp_path, target)
        shutil.rmtree(tmp_path / "ann")  # her machine's files are gone; her URLs still serve
        with (
            Sandbox(time_scale=0.01, seed=5) as second,
            member(second, tmp_path / "bob", target, "bob", "bob-desk") as bob,
        ):
            sweep = bob.sweep(PROMPTS, durations=[5, 10], skip_done=True)
            assert creates(second) == 0
            for job in sweep:
                assert isinstance(job, ReusedJob)
                assert job.origin.where == "copy"
                path = job.result()
                assert path.parent == tmp_path / "bob" / "kling_outputs" / "reused"
                assert sha256(path) == ann_rows[job.job_id]["video_sha256"]
                assert job.filmstrip is not None
                assert bob.log.row(job.job_id) == ann_rows[job.job_id]
            assert first.stats()["media_reads"] >= 4
    # The first sandbox is gone: its URLs no longer serve the videos.
    with (
        Sandbox(time_scale=0.01, seed=6) as third,
        member(third, tmp_path / "carol", target, "carol", "carol-pc") as carol,
    ):
        sweep = carol.sweep(PROMPTS, durations=[5, 10], skip_done=True)
        assert creates(third) == 0
        html = grid_html([job.snapshot() for job in sweep])
        for job in sweep:
            assert isinstance(job, ReusedJob)
            assert job.origin.where == "elsewhere"
            assert job.status == "succeeded"
            assert job.snapshot()["video_url"] is None
            with pytest.raises(kn.KlingError, match="on another machine"):
                job.result()
        assert html.count(esc("from ann's run · video on another machine (ann-laptop)")) == 4
        assert "<video" not in html
        assert len(carol.log.df) == 4


def test_another_image_or_ratio_is_another_variant(
    sandbox: Sandbox, tmp_path: Path, target: str | Path
) -> None:
    frame, portrait = sandbox.sample_url("first-frame.png"), sandbox.sample_url("portrait.jpg")
    with member(sandbox, tmp_path / "ann", target, "ann", "ann-laptop") as ann:
        made = [
            ann.submit(kn.ImageToVideo(frame, prompt="a fox")),
            ann.submit(kn.OmniVideo("a fox", first_frame=frame, aspect_ratio="16:9")),
            ann.submit(kn.TextToVideo("a fox", aspect_ratio="16:9")),
        ]
        ann.wait(made, timeout=60)
        assert [job.status for job in made] == ["succeeded"] * 3
    with member(sandbox, tmp_path / "bob", target, "bob", "bob-desk") as bob:
        rows = reusable_rows(
            bob.log,
            [
                kn.ImageToVideo(frame, prompt="a fox"),
                kn.ImageToVideo(portrait, prompt="a fox"),
                kn.OmniVideo("a fox", first_frame=frame, aspect_ratio="16:9"),
                kn.OmniVideo("a fox", aspect_ratio="16:9"),  # no first frame: another variant
                kn.TextToVideo("a fox", aspect_ratio="16:9"),
                kn.TextToVideo("a fox", aspect_ratio="9:16"),
                kn.TextToVideo("a fox", aspect_ratio="16:9", duration=10),
            ],
        )
        found = [None if row is None else row["job_id"] for row in rows]
        assert found == [made[0].job_id, None, made[1].job_id, None, made[2].job_id, None, None]
        before = creates(sandbox)
        sweep = bob.sweep("a fox", aspect_ratios=["16:9", "9:16"], skip_done=True).wait(60)
        assert creates(sandbox) - before == 1
        assert [isinstance(job, ReusedJob) for job in sweep] == [True, False]
        assert sweep[0].job_id == made[2].job_id


@pytest.mark.parametrize("where", ["here", "copy", "elsewhere"])
def test_the_reused_line_is_escaped_text(where: str) -> None:
    snapshot = {
        "job_id": "j1",
        "status": "succeeded",
        "prompt": "p",
        "reused": {"member": "<img src=x onerror=alert(1)>", "machine": "m&m", "where": where},
    }
    card, cell = job_card_html(snapshot), grid_cell_html(snapshot)
    for html in (card, cell):
        assert "<img src=x" not in html
        assert esc("from <img src=x onerror=alert(1)>'s run") in html
        assert esc("m&m") in html
        assert ("on another machine" in html) is (where == "elsewhere")
    assert "reused: from <img src=x onerror=alert(1)>'s run" in card_text(snapshot)
    assert reused_text({"status": "succeeded"}) is None


def test_a_video_url_the_media_host_refuses_means_elsewhere(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    ledger = tmp_path / "team.sqlite"
    with member(sandbox, tmp_path / "ann", ledger, "ann", "ann-laptop") as ann:
        job = ann.sweep("a lighthouse").wait(60)[0]
        assert job.succeeded
    shutil.rmtree(tmp_path / "ann")
    with Ledger(ledger) as log:  # an expired presigned URL: the media host answers 403
        row = log.row(job.job_id)
        assert row is not None
        url = str(row["video_url"])
        assert log.update(job.job_id, video_url=url.split("?")[0] + "?sig=expired")
    reads = sandbox.stats()["media_reads"]
    with member(sandbox, tmp_path / "bob", ledger, "bob", "bob-desk") as bob:
        before = creates(sandbox)
        (reused,) = bob.sweep("a lighthouse", skip_done=True)
        assert creates(sandbox) == before
        assert isinstance(reused, ReusedJob)
        assert reused.origin.where == "elsewhere"
        assert reused.video_path is None
        text = reused_text(reused.snapshot())
        assert text is not None
        assert "on another machine (ann-laptop)" in text
        assert not list((tmp_path / "bob" / "kling_outputs").glob("reused/*.mp4"))
    assert sandbox.stats()["media_reads"] == reads
