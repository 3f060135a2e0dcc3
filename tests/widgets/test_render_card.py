"""The job card HTML in every state, built from snapshot dicts (no Studio, no kernel)."""

from __future__ import annotations

import html
import json
import os
import re
from pathlib import Path

import pytest
from _widget_helpers import (
    BALANCE_402,
    assert_safe_html,
    finished,
    parse_tags,
    snapshot,
    video_srcs,
)

from kling_nb._render import (
    EMBED_MAX_BYTES,
    format_seconds,
    http_url,
    job_card_html,
    plain_error,
    relative_src,
    video_src,
)


def badge(markup: str) -> str:
    found = re.search(r'class="kn-badge"[^>]*>([^<]*)<', markup)
    assert found is not None
    return html.unescape(found[1])


def progress_values(markup: str) -> list[str | None]:
    return [attrs.get("value") for tag, attrs in parse_tags(markup) if tag == "progress"]


def test_waiting_card_says_it_waits_for_a_slot_and_has_no_bar() -> None:
    card = job_card_html(snapshot(status="waiting", task_id=None, created_at=None, elapsed_s=4.0))
    assert badge(card) == "waiting"
    assert "waiting for a free slot" in card
    assert progress_values(card) == []
    assert "<video" not in card


def test_creating_card() -> None:
    card = job_card_html(snapshot(status="creating", task_id=None, created_at=None))
    assert badge(card) == "creating"
    assert "sending the create request" in card


def test_queued_card_shows_elapsed_since_create_and_eta() -> None:
    card = job_card_html(snapshot(status="queued", elapsed_s=12.0, expected_s=100.0))
    assert badge(card) == "queued"
    # 12 s since submit, created 2 s after submit: 10 s since create, 90 s left.
    assert "10 s elapsed" in card
    assert "ETA ~1 min 30 s" in card
    assert progress_values(card) == ["0.100"]


def test_running_card_with_eta_bar_and_spec() -> None:
    card = job_card_html(snapshot())
    assert badge(card) == "running"
    assert "kling-v3 · pro · 10 s video · 16:9" in card
    assert "30 s elapsed" in card
    assert "ETA ~1 min 30 s" in card
    assert progress_values(card) == ["0.250"]
    assert "est. 1.12 credits" in card


def test_running_past_the_expected_time_says_so_and_caps_the_bar() -> None:
    card = job_card_html(snapshot(elapsed_s=302.0, expected_s=120.0))
    assert "longer than the usual ~2 min 00 s" in card
    assert progress_values(card) == ["0.990"]


def test_running_without_expectation_shows_elapsed_only() -> None:
    card = job_card_html(snapshot(expected_s=None))
    assert "30 s elapsed" in card
    assert "ETA" not in card
    assert progress_values(card) == []


def test_unknown_remote_status_is_named_beside_running() -> None:
    card = job_card_html(snapshot(remote_status="processing"))
    assert badge(card) == "running"
    assert "(remote: processing)" in card


def test_downloading_card_has_an_indeterminate_bar() -> None:
    card = job_card_html(snapshot(status="downloading", video_url="https://m.example/v.mp4"))
    assert badge(card) == "downloading"
    assert "downloading the video" in card
    assert progress_values(card) == [None]
    assert "<video" not in card  # the local file comes next: load the video once, from it


def test_succeeded_card_plays_the_local_file_by_relative_path(tmp_path: Path) -> None:
    card = job_card_html(finished(tmp_path), base_dir=tmp_path)
    assert badge(card) == "succeeded"
    assert "done in 1 min 38 s" in card  # finished_at - created_at
    assert video_srcs(card) == ["kling_outputs/20250101-120000-abcd1234.mp4"]
    video = next(attrs for tag, attrs in parse_tags(card) if tag == "video")
    assert {"controls", "muted", "loop", "playsinline"} <= set(video)
    links = [attrs for tag, attrs in parse_tags(card) if tag == "a"]
    assert links[0]["href"] == "kling_outputs/20250101-120000-abcd1234.mp4"
    assert links[0]["download"] == "20250101-120000-abcd1234.mp4"
    assert "base64" not in card
    assert progress_values(card) == []


def test_relative_path_defaults_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path / "..")
    card = job_card_html(finished(tmp_path))
    assert video_srcs(card) == [f"{tmp_path.name}/kling_outputs/20250101-120000-abcd1234.mp4"]


def test_a_notebook_in_a_sibling_folder_gets_a_dotdot_path(tmp_path: Path) -> None:
    card = job_card_html(finished(tmp_path), base_dir=tmp_path / "notebooks")
    assert video_srcs(card) == ["../kling_outputs/20250101-120000-abcd1234.mp4"]


def test_without_a_local_file_the_https_url_is_used(tmp_path: Path) -> None:
    card = job_card_html(finished(tmp_path, video_path=None))
    assert video_srcs(card) == ["https://media.example.com/v/task-1.mp4?sig=abc"]


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        " javascript:alert(1)",
        "java\tscript:alert(1)",
        "data:video/mp4;base64,AAAA",
        "vbscript:msgbox(1)",
        "file:///etc/passwd",
        "//evil.example/v.mp4",
        "https://",
        "",
    ],
)
def test_unsafe_video_urls_never_become_a_src(tmp_path: Path, url: str) -> None:
    card = job_card_html(finished(tmp_path, video_path=None, video_url=url))
    assert video_srcs(card) == []
    assert "<video" not in card
    assert_safe_html(card)


def test_a_file_name_that_looks_like_a_scheme_stays_a_relative_path(tmp_path: Path) -> None:
    odd = tmp_path / "javascript:alert(1)#x?.mp4"
    card = job_card_html(finished(tmp_path, video_path=str(odd)), base_dir=tmp_path)
    (src,) = video_srcs(card)
    assert src == "javascript%3Aalert%281%29%23x%3F.mp4"
    assert_safe_html(card)


def test_embed_is_off_by_default_and_inlines_small_files_when_asked(tmp_path: Path) -> None:
    snap = finished(tmp_path)
    path = Path(snap["video_path"])
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 100)
    assert "data:" not in job_card_html(snap, base_dir=tmp_path)
    embedded = job_card_html(snap, base_dir=tmp_path, embed=True)
    (src,) = video_srcs(embedded)
    assert src.startswith("data:video/mp4;base64,")
    # The download link still points at the file, not at the data URL.
    links = [attrs["href"] for tag, attrs in parse_tags(embedded) if tag == "a"]
    assert links == ["kling_outputs/20250101-120000-abcd1234.mp4"]


def test_embed_skips_files_over_the_limit(tmp_path: Path) -> None:
    snap = finished(tmp_path)
    path = Path(snap["video_path"])
    path.parent.mkdir(parents=True)
    with path.open("wb") as handle:
        handle.truncate(EMBED_MAX_BYTES + 1)
    assert video_src(snap, base_dir=tmp_path, embed=True) == (
        "kling_outputs/20250101-120000-abcd1234.mp4"
    )


def test_failed_card_states_the_reason() -> None:
    error = "task task-1 on text2video ended failed: image url unreachable"
    card = job_card_html(snapshot(status="failed", error=error, finished_at=1050.0))
    assert badge(card) == "failed"
    assert "The task failed upstream." in card
    assert "image url unreachable" in card
    assert "ended after 48 s" in card
    assert "<video" not in card


def test_an_old_ledger_402_without_error_data_still_reads_in_words() -> None:
    card = job_card_html(
        snapshot(status="error", task_id=None, created_at=None, error=BALANCE_402, elapsed_s=1.0)
    )
    assert badge(card) == "error"
    text = html.unescape(card)
    assert "Not enough credit — team balance too low. Recharge the team" in text
    assert BALANCE_402 in text  # the raw text sits below the words
    assert "Traceback" not in text


@pytest.mark.parametrize(
    ("status", "words"),
    [
        ("unknown", "may have been created without an answer: it was not re-sent"),
        ("stopped", "Stopped locally"),
        ("cancelled", "cancelled upstream"),
        ("expired", "expired before it finished"),
    ],
)
def test_final_states_explain_themselves(status: str, words: str) -> None:
    card = job_card_html(snapshot(status=status, error=f"job x {status}", finished_at=1040.0))
    assert badge(card) == status
    assert words in html.unescape(card)
    assert "ended after 38 s" in card


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (
            "timeout",
            "Still running remotely after the local deadline; studio.resume() follows it again.",
        ),
        (
            "detached",
            "Not followed by this Studio (closed, or created with other settings); resume() "
            "with the settings it was created with picks it up.",
        ),
        ("fetch_failed", "Video not downloaded: the download failed; studio.resume() fetches it."),
    ],
)
def test_parked_states_say_how_resume_picks_them_up(status: str, words: str) -> None:
    card = job_card_html(snapshot(status=status, error=None, finished_at=1040.0))
    assert badge(card) == status
    assert words in html.unescape(card)
    # Neither spinning (no bar, no ETA) nor final-looking ("ended").
    assert progress_values(card) == []
    assert "ETA" not in card
    assert "ended after" not in card
    assert "paused after 38 s · resume() continues it" in card


def test_the_exact_request_json_is_in_a_details_element() -> None:
    request = {"Model": "kling-v3", "Prompt": 'say "hi" & <go>', "Duration": "5", "Extra": [1, 2]}
    card = job_card_html(snapshot(request=request))
    found = re.search(r"<details>.*?<pre[^>]*>(.*?)</pre></details>", card, re.S)
    assert found is not None
    assert json.loads(html.unescape(found[1])) == request


def test_a_job_not_sent_yet_says_so() -> None:
    assert "request: not sent yet" in job_card_html(snapshot(status="waiting", request=None))


def test_ids_tags_and_unknown_cost_are_shown() -> None:
    card = job_card_html(snapshot(cost_estimate=None, tags=["a", "b"]))
    assert "cost unknown" in card
    assert "job 20250101-120000-abcd1234 · task task-1 · tags: a, b" in card


def test_a_minimal_snapshot_still_renders() -> None:
    card = job_card_html({"status": "mystery"})
    assert badge(card) == "mystery"
    assert_safe_html(card)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "?"), (0.4, "0 s"), (59.4, "59 s"), (61, "1 min 01 s"), (3725, "1 h 02 min")],
)
def test_format_seconds(seconds: float | None, text: str) -> None:
    assert format_seconds(seconds) == text


@pytest.mark.parametrize(
    ("error", "words"),
    [
        ("HTTP 401: invalid key", "not accepted (401)"),
        ("HTTP 403 kling_team_required: no team", "not team-scoped"),
        ("HTTP 403 media_resource_access_denied: nope", "another key, team or account"),
        ("HTTP 424 upstream_timeout: slow", "nothing was billed"),
        ("HTTP 400 unsupported_model: no", "rejected the request (400)"),
        ("HTTP 503: down", "server error"),
        ("something odd", "The job could not run."),
    ],
)
def test_plain_error_falls_back_to_the_text_of_old_ledgers(error: str, words: str) -> None:
    assert words in (plain_error(snapshot(status="error", error=error)) or "")


def test_plain_error_is_none_for_a_healthy_job() -> None:
    assert plain_error(snapshot(status="running", error=None)) is None
    assert plain_error(snapshot(status="succeeded", error="old noise")) is None


def test_http_url_and_relative_src_helpers(tmp_path: Path) -> None:
    assert http_url("https://a.example/x.mp4") == "https://a.example/x.mp4"
    assert http_url("http://127.0.0.1:8000/x") == "http://127.0.0.1:8000/x"
    assert http_url("https://a.example/x y.mp4") is None
    assert http_url(None) is None
    assert relative_src(tmp_path / "a b#c.mp4", tmp_path) == "a%20b%23c.mp4"
    assert relative_src(os.fspath(tmp_path / "x" / "v.mp4"), tmp_path / "y") == "../x/v.mp4"
