"""Shared helpers of the widget/render tests: snapshots, jobs in any state, an HTML safety check."""

from __future__ import annotations

import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import kling_nb as kn
from kling_nb._jobs import Job
from kling_nb._render._card import HIDE_ON_ERROR

XSS_ATTR = '"><img src=x onerror=alert(1)>'
XSS_SCRIPT = "<script>alert(1)</script>"
PAYLOADS = (XSS_ATTR, XSS_SCRIPT)

BALANCE_402 = (
    "HTTP 402 kling_balance_too_low: team balance too low "
    "(team balance too low: needs 350000000, has 0)"
)


def snapshot(**overrides: Any) -> dict[str, Any]:
    """A `Job.snapshot()`-shaped dict of a running text2video job, with `overrides` applied."""
    base: dict[str, Any] = {
        "job_id": "20250101-120000-abcd1234",
        "task_id": "task-1",
        "route": "text2video",
        "model": "kling-v3",
        "mode": "pro",
        "duration": 10,
        "aspect_ratio": "16:9",
        "prompt": "a fox in snow",
        "status": "running",
        "remote_status": "running",
        "submitted_at": 1000.0,
        "created_at": 1002.0,
        "running_at": 1010.0,
        "finished_at": None,
        "elapsed_s": 32.0,
        "expected_s": 120.0,
        "polls": 3,
        "cost_estimate": 1.12,
        "cost_unit": "credits",
        "video_url": None,
        "video_path": None,
        "error": None,
        "tags": ["demo"],
        "request": {
            "Model": "kling-v3",
            "Prompt": "a fox in snow",
            "Duration": "10",
            "Mode": "pro",
            "AspectRatio": "16:9",
        },
    }
    base.update(overrides)
    return base


def finished(tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    """A succeeded snapshot whose video lives at tmp_path/kling_outputs/<job>.mp4."""
    path = tmp_path / "kling_outputs" / "20250101-120000-abcd1234.mp4"
    fields: dict[str, Any] = {
        "status": "succeeded",
        "remote_status": "succeeded",
        "finished_at": 1100.0,
        "elapsed_s": 100.0,
        "video_url": "https://media.example.com/v/task-1.mp4?sig=abc",
        "video_path": str(path),
    }
    fields.update(overrides)
    return snapshot(**fields)


def make_job(
    studio: kn.Studio,
    status: str = "waiting",
    *,
    prompt: str = "a fox in snow",
    job_id: str = "job-1",
    tags: tuple[str, ...] = (),
    **fields: Any,
) -> Job:
    """A Job of `studio` put straight into `status` (nothing is sent; the job never starts)."""
    job = Job(
        studio,
        job_id,
        kn.TextToVideo(prompt, mode="pro", duration=10),
        tags=tags,
        cost_estimate=1.12,
        state=kn.JobState.parse(status),
    )
    job.body = job.request.to_body() if job.request is not None else None
    for name, value in fields.items():
        setattr(job, name, value)
    if status not in ("waiting", "creating", "queued", "running", "downloading"):
        job.finished_at = job.finished_at or time.time()
    return job


def put(job: Job, status: str) -> None:
    """Put a (never started) job straight into `status`, as the views would see it."""
    job._state = kn.JobState.parse(status)


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def parse_tags(markup: str) -> list[tuple[str, dict[str, str | None]]]:
    """Every start tag in `markup` with its (unescaped) attributes."""
    collector = _Collector()
    collector.feed(markup)
    collector.close()
    return collector.tags


def assert_safe_html(markup: str) -> None:
    """No injected elements or handlers; every src/href is http(s) or a relative path.

    The only images are filmstrips (`img.kn-filmstrip`, a JPEG `data:` URL); the only handlers
    are the grid's play/pause buttons and a static video's fixed `onerror` that hides it.
    """
    for payload in PAYLOADS:
        assert payload not in markup
    for tag, attrs in parse_tags(markup):
        assert tag not in ("script", "iframe", "object", "embed"), tag
        if tag == "img":
            assert attrs.get("class") == "kn-filmstrip"
            assert str(attrs.get("src")).startswith("data:image/jpeg;base64,")
            assert set(attrs) == {"class", "src", "alt", "title", "style"}
            continue
        for name, value in attrs.items():
            if (tag, name) == ("video", "onerror"):
                assert value == HIDE_ON_ERROR
                continue
            if name.startswith("on"):
                # The only handlers are the grid's own play/pause buttons.
                assert (tag, name) == ("button", "onclick")
                assert value is not None
                assert "this.closest(" in value
                assert "alert" not in value
            if name in ("src", "href") and value is not None:
                lowered = value.strip().lower()
                assert not lowered.startswith(("javascript:", "data:", "vbscript:")), value
                assert ":" not in lowered or lowered.startswith(("http://", "https://")), value


def video_srcs(markup: str) -> list[str]:
    """The `src` of every `<video>` in `markup`."""
    return [str(attrs.get("src")) for tag, attrs in parse_tags(markup) if tag == "video"]
