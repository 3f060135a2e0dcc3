"""`JobCard` and `show_job`: live updates, the timer, and the static copy a saved notebook keeps."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from _widget_helpers import BALANCE_402, make_job, put, video_srcs
from IPython.utils.capture import capture_output

import kling_nb as kn
from kling_nb.widgets import JobCard, display_bundles, show_job
from kling_nb.widgets._display import WIDGET_VIEW_MIME


def wait_for(predicate: Any, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def body_items(card: JobCard) -> tuple[dict[str, Any], ...]:
    items: tuple[dict[str, Any], ...] = card.children[2].outputs
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
    assert card.children[2].outputs is first[0:] or card.children[2].outputs == first
    put(job, "failed")
    job.changed()
    assert card.children[2].outputs != first


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


def test_show_job_publishes_the_widget_then_a_static_copy(
    studio: kn.Studio, published: list[dict[str, Any]]
) -> None:
    job = make_job(studio, "queued", created_at=time.time())
    card = show_job(job)
    widget_out, static_out = published
    assert widget_out["data"][WIDGET_VIEW_MIME]["model_id"] == card.model_id
    assert "text/html" not in widget_out["data"]
    html_copy = static_out["data"]["text/html"]
    assert f"kn-static-{card.model_id}" in html_copy
    assert ">queued<" in html_copy
    assert static_out["display_id"]
    assert not static_out["update"]
    # The live widget carries the rule that hides its own static copy.
    hider = card.children[0]
    assert hider.value == f"<style>.kn-static-{card.model_id}{{display:none}}</style>"
    assert hider.layout.display == "none"


def test_static_copy_follows_state_changes_but_not_ticks(
    studio: kn.Studio, published: list[dict[str, Any]], tmp_path: Path
) -> None:
    job = make_job(studio, "running", created_at=time.time())
    card = show_job(job, base_dir=tmp_path)
    card.update(tick_only=True)
    assert len(published) == 2
    job.video_path = tmp_path / "kling_outputs" / "job-1.mp4"
    put(job, "succeeded")
    job.finished_at = time.time()
    job.changed()
    update = published[-1]
    assert update["update"]
    assert update["display_id"] == published[1]["display_id"]
    assert video_srcs(update["data"]["text/html"]) == ["kling_outputs/job-1.mp4"]
    job.changed()  # nothing changed: nothing re-published
    assert len(published) == 3


def test_job_ipython_display_goes_through_show_job_in_a_real_shell(
    studio: kn.Studio, shell: Any, tmp_path: Path
) -> None:
    job = make_job(studio, "running", created_at=time.time())
    with capture_output() as captured:
        shell.display_formatter.format(job)  # IPython calls job._ipython_display_()
        job.video_path = tmp_path / "kling_outputs" / "job-1.mp4"
        put(job, "succeeded")
        job.finished_at = time.time()
        job.changed()
    outputs = captured.outputs
    assert WIDGET_VIEW_MIME in outputs[0].data
    assert set(outputs[1].data) == {"text/html"}
    assert outputs[1].transient["display_id"] == outputs[2].transient["display_id"]
    assert outputs[2].update
    assert "<video" in outputs[2].data["text/html"]
    assert "base64" not in outputs[2].data["text/html"]


def test_display_bundles_is_what_show_job_publishes(
    studio: kn.Studio, published: list[dict[str, Any]]
) -> None:
    card = show_job(make_job(studio, "succeeded"))
    assert display_bundles(card) == [p["data"] for p in published]


def test_job_repr_html_is_the_card(studio: kn.Studio) -> None:
    job = make_job(studio, "failed", error=RuntimeError("boom"))
    assert 'class="kn-card"' in job._repr_html_()


@pytest.mark.parametrize("status", ["waiting", "creating", "queued", "running", "downloading"])
def test_active_cards_start_a_timer(studio: kn.Studio, status: str) -> None:
    card = JobCard(make_job(studio, status), tick=10)
    assert card.timer_running
    card.close()
