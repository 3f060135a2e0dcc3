"""`JobCard` and `show_job`: live updates, the timer, and the static copy a saved notebook keeps."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from _widget_helpers import BALANCE_402, make_job, put, video_srcs
from IPython.utils.capture import capture_output
from PIL import Image

import kling_nb as kn
from kling_nb.widgets import JobCard, display_bundles, show_job, static_job_bundle
from kling_nb.widgets._display import WIDGET_VIEW_MIME


def wait_for(predicate: Any, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def body_items(card: JobCard) -> tuple[dict[str, Any], ...]:
    items: tuple[dict[str, Any], ...] = card.children[1].outputs
    return items


def test_card_follows_the_job_through_its_states(studio: kn.Studio, tmp_path: Path) -> None:
    job = make_job(studio, "waiting")
    card = JobCard(job, base_dir=tmp_path, tick=0)
    assert "waiting for a free slot" in card.status_html
    assert len(body_items(card)) == 1

    put(job, "queued")
    job.created_at = time.time()
    job.changed()
    assert ">queued<" in card.status_html
    assert "ETA ~" in card.status_html

    put(job, "running")
    job.running_at = time.time()
    job.changed()
    assert ">running<" in card.status_html

    job.video_path = tmp_path / "kling_outputs" / "job-1.mp4"
    put(job, "succeeded")
    job.finished_at = time.time()
    job.changed()
    assert ">succeeded<" in card.status_html
    assert video_srcs(card.body_html) == ["kling_outputs/job-1.mp4"]
    (item,) = body_items(card)
    assert item["output_type"] == "display_data"
    assert item["data"]["text/html"] == card.body_html


def test_card_shows_a_402_in_words(studio: kn.Studio) -> None:
    job = make_job(studio, "waiting")
    card = JobCard(job, tick=0)
    put(job, "error")
    job.error = kn.InsufficientBalanceError(
        "team balance too low (team balance too low: needs 350000000, has 0)",
        status_code=402,
        code="kling_balance_too_low",
    )
    job.changed()
    assert "team balance too low: needs 350000000, has 0" in card.body_html
    assert "Traceback" not in card.body_html
    assert BALANCE_402.split(":")[0] in card.body_html  # the raw text sits below the words


def test_body_output_is_replaced_only_when_the_body_changes(studio: kn.Studio) -> None:
    job = make_job(studio, "running", created_at=time.time())
    card = JobCard(job, tick=0)
    first = body_items(card)
    job.changed()  # same state: nothing new below the status line
    assert card.children[1].outputs is first[0:] or card.children[1].outputs == first
    put(job, "failed")
    job.changed()
    assert card.children[1].outputs != first


def test_timer_refreshes_elapsed_then_stops_with_the_job(studio: kn.Studio) -> None:
    job = make_job(studio, "running", created_at=time.time() - 5)
    card = JobCard(job, tick=0.05)
    assert card.timer_running
    seen = card.status_html
    wait_for(lambda: card.status_html != seen)  # elapsed moved without any job change

    put(job, "failed")
    job.finished_at = time.time()
    job.changed()
    wait_for(lambda: not card.timer_running)


def test_no_timer_for_a_finished_job_and_close_stops_a_running_one(studio: kn.Studio) -> None:
    done = JobCard(make_job(studio, "succeeded"), tick=0.05)
    assert not done.timer_running
    card = JobCard(make_job(studio, "queued", job_id="job-2"), tick=0.05)
    assert card.timer_running
    card.close()
    wait_for(lambda: not card.timer_running)


def test_timer_is_not_started_on_a_closed_studio(tmp_path: Path) -> None:
    studio = kn.Studio(api_key="sk-test", base_url="http://127.0.0.1:9", root=tmp_path)
    job = make_job(studio, "running")
    studio.close()
    assert not JobCard(job, tick=0.05).timer_running


def test_repr_is_cheap_and_holds_no_prompt(studio: kn.Studio) -> None:
    card = JobCard(make_job(studio, "running", prompt="secret plans"), tick=0)
    assert repr(card) == "<JobCard job-1 running>"
    assert "secret" not in repr(card)


def finish_with_video(job: Any, tmp_path: Path, *, strip: bool = True) -> Path:
    """Put `job` into succeeded with a video path and (optionally) a real JPEG filmstrip."""
    video = tmp_path / "kling_outputs" / f"{job.job_id}.mp4"
    video.parent.mkdir(parents=True, exist_ok=True)
    job.video_path = video
    if strip:
        job.filmstrip = video.with_name(f"{job.job_id}.strip.jpg")
        Image.new("RGB", (800, 90), (30, 120, 200)).save(job.filmstrip, "JPEG")
    put(job, "succeeded")
    job.finished_at = time.time()
    job.changed()
    return video


def test_show_job_publishes_the_live_card_with_a_stateless_text(
    studio: kn.Studio, published: list[dict[str, Any]]
) -> None:
    job = make_job(studio, "queued", created_at=time.time())
    card = show_job(job)
    assert card is not None
    (live,) = published
    assert live["data"][WIDGET_VIEW_MIME]["model_id"] == card.model_id
    assert set(live["data"]) == {WIDGET_VIEW_MIME, "text/plain"}
    assert live["display_id"]
    assert not live["update"]
    # A saved notebook may keep this text while the job runs on: it names no state.
    assert "queued" not in live["data"]["text/plain"]
    assert "live card of job job-1" in live["data"]["text/plain"]


def test_the_final_card_replaces_the_live_one_once_the_job_is_final(
    studio: kn.Studio, published: list[dict[str, Any]], tmp_path: Path
) -> None:
    job = make_job(studio, "running", created_at=time.time())
    card = show_job(job, base_dir=tmp_path)
    assert card is not None
    card.update(tick_only=True)
    job.changed()  # still running: the live card stays
    assert len(published) == 1
    finish_with_video(job, tmp_path)
    final = published[-1]
    assert final["update"]
    assert final["display_id"] == published[0]["display_id"]
    assert set(final["data"]) == {"text/html", "text/plain"}  # no widget view left
    html_text = final["data"]["text/html"]
    assert video_srcs(html_text) == ["kling_outputs/job-1.mp4"]
    assert 'class="kn-filmstrip" src="data:image/jpeg;base64,' in html_text
    assert "succeeded" in final["data"]["text/plain"]
    assert "video: kling_outputs/job-1.mp4" in final["data"]["text/plain"]
    assert not card.timer_running
    job.changed()  # nothing changed: nothing re-published
    assert len(published) == 2


def test_a_parked_job_stays_live_until_its_studio_closes(
    tmp_path: Path, published: list[dict[str, Any]]
) -> None:
    studio = kn.Studio(api_key="sk-test", base_url="http://127.0.0.1:9", root=tmp_path)
    job = make_job(studio, "running", created_at=time.time())
    card = show_job(job, base_dir=tmp_path)
    assert card is not None
    put(job, "timeout")  # parked: resume() may drive it again
    job.changed()
    assert len(published) == 1
    studio.close()
    wait_for(lambda: len(published) == 2)
    final = published[-1]
    assert final["update"]
    assert final["display_id"] == published[0]["display_id"]
    assert ">timeout<" in final["data"]["text/html"]
    assert WIDGET_VIEW_MIME not in final["data"]


def test_job_ipython_display_goes_through_show_job_in_a_real_shell(
    studio: kn.Studio, shell: Any, tmp_path: Path
) -> None:
    job = make_job(studio, "running", created_at=time.time())
    with capture_output() as captured:
        shell.display_formatter.format(job)  # IPython calls job._ipython_display_()
        finish_with_video(job, tmp_path, strip=False)
    live, final = captured.outputs
    assert WIDGET_VIEW_MIME in live.data
    assert live.transient["display_id"] == final.transient["display_id"]
    assert final.update
    assert set(final.data) == {"text/html", "text/plain"}
    assert "<video" in final.data["text/html"]
    assert "base64" not in final.data["text/html"]  # no filmstrip file: no picture, no video


def test_a_final_job_shows_its_static_card_without_a_widget(
    studio: kn.Studio, published: list[dict[str, Any]], tmp_path: Path
) -> None:
    job = make_job(studio, "running", created_at=time.time())
    finish_with_video(job, tmp_path)
    assert show_job(job, base_dir=tmp_path) is None
    (static,) = published
    assert static["data"] == static_job_bundle(job, base_dir=tmp_path)
    card = JobCard(job, base_dir=tmp_path, tick=0)
    assert display_bundles(card)[1] == static["data"]


def test_job_repr_html_is_the_card(studio: kn.Studio) -> None:
    job = make_job(studio, "failed", error=RuntimeError("boom"))
    assert 'class="kn-card"' in job._repr_html_()


@pytest.mark.parametrize("status", ["waiting", "creating", "queued", "running", "downloading"])
def test_active_cards_start_a_timer(studio: kn.Studio, status: str) -> None:
    card = JobCard(make_job(studio, status), tick=10)
    assert card.timer_running
    card.close()
