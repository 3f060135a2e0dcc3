"""Hostile strings in prompt, error, tags and file name, through every renderer and widget."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import pandas as pd
import pytest
from _widget_helpers import PAYLOADS, assert_safe_html, make_job, snapshot

import kling_nb as kn
from kling_nb._render import (
    banner_html,
    estimate_html,
    grid_html,
    job_card_html,
    ledger_table_html,
    message_html,
    panel_html,
)
from kling_nb.widgets import ComparisonGrid, JobCard, StudioPanel, display_bundles


def hostile(tmp_path: Path, payload: str, status: str = "failed") -> dict[str, Any]:
    return snapshot(
        status=status,
        prompt=payload,
        error=f"HTTP 400 bad: {payload}",
        tags=[payload, "ok"],
        video_path=str(tmp_path / "kling_outputs" / f"{payload}.mp4"),
        video_url=f"https://media.example.com/{payload}",
        remote_status=payload,
        model=payload,
        mode=payload,
        aspect_ratio=payload,
        task_id=payload,
        job_id=payload,
        cost_unit=payload,
        request={"Prompt": payload, payload: payload},
        error_code=payload,
        error_details={
            "reason": payload,
            "upstream_status": payload,
            "required_available_nano": payload,
            "available_nano": payload,
        },
    )


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize(
    "status",
    ["failed", "succeeded", "running", "error", "fetch_failed", "timeout", "detached", "unknown"],
)
def test_card_escapes_everything(tmp_path: Path, payload: str, status: str) -> None:
    markup = job_card_html(hostile(tmp_path, payload, status), base_dir=tmp_path)
    assert_safe_html(markup)
    assert payload not in markup


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize(
    "error_type",
    ["UpstreamError", "InsufficientBalanceError", "DownloadError", "APIError", None],
)
def test_error_words_escape_hostile_error_data(
    tmp_path: Path, payload: str, error_type: str | None
) -> None:
    snap = hostile(tmp_path, payload, "error")
    snap["error_type"] = error_type
    snap["error_status"] = 424
    for markup in (job_card_html(snap), grid_html([snap])):
        assert_safe_html(markup)
        assert payload not in markup
    frame = pd.DataFrame([{k: v for k, v in snap.items() if k != "request"}])
    table = ledger_table_html(frame, unit=payload)
    assert_safe_html(table)
    assert payload not in table


@pytest.mark.parametrize("payload", PAYLOADS)
def test_grid_escapes_everything(tmp_path: Path, payload: str) -> None:
    snaps = [hostile(tmp_path, payload, s) for s in ("succeeded", "failed", "running")]
    markup = grid_html(snaps, base_dir=tmp_path)
    assert_safe_html(markup)
    assert payload not in markup


@pytest.mark.parametrize("payload", PAYLOADS)
def test_table_escapes_everything(payload: str) -> None:
    frame = pd.DataFrame(
        {
            "prompt": [payload],
            "model": [payload],
            "status": ["failed"],
            "error": [payload],
            "tags": [[payload]],
            "video_path": [f"/x/{payload}.mp4"],
            "request": [{"Prompt": payload}],
        }
    )
    markup = ledger_table_html(frame) + ledger_table_html(frame, columns=["request", payload])
    assert_safe_html(markup)
    assert payload not in markup


@pytest.mark.parametrize("payload", PAYLOADS)
def test_banner_panel_estimate_and_message_escape(tmp_path: Path, payload: str) -> None:
    markup = "".join(
        [
            banner_html(sandbox_url=payload, base_url=payload),
            banner_html(sandbox_url=None, base_url=payload),
            panel_html(
                sandbox_url=payload, base_url=payload, snapshots=[hostile(tmp_path, payload)]
            ),
            estimate_html(amount=payload, detail=payload, source=payload, budget=payload),
            message_html(payload),
        ]
    )
    assert_safe_html(markup)
    assert payload not in markup


def walk(widget: Any) -> list[Any]:
    """`widget` and all its descendants."""
    found = [widget]
    for child in getattr(widget, "children", ()):
        found.extend(walk(child))
    return found


def rendered(widget: Any) -> list[str]:
    """Every piece of HTML a widget tree puts on the page (HTML values and Output items)."""
    pieces = []
    for w in walk(widget):
        if isinstance(w, widgets.HTML):
            pieces.append(str(w.value))
        pieces.extend(item["data"]["text/html"] for item in getattr(w, "outputs", ()))
    return pieces


@pytest.mark.parametrize("payload", PAYLOADS)
def test_widgets_and_their_reprs_escape(studio: kn.Studio, tmp_path: Path, payload: str) -> None:
    job = make_job(
        studio,
        "failed",
        prompt=f"fox {payload}",
        tags=(payload,),
        error=RuntimeError(payload),
        video_path=tmp_path / "kling_outputs" / f"{payload}.mp4",
    )
    running = make_job(studio, "running", prompt=payload, job_id="job-2", created_at=time.time())
    card = JobCard(job, base_dir=tmp_path, tick=0)
    grid = ComparisonGrid([job, running], base_dir=tmp_path, tick=0)
    panel = StudioPanel(studio)
    panel.add_job(job)
    panel.route.value = "image2video"
    panel.image_url.value = payload  # a text box holds what was typed; nothing renders it raw
    panel.generate.click()
    assert "image: must be" in panel.message.value
    for widget in (card, grid, panel):
        pieces = rendered(widget)
        assert pieces
        for piece in pieces:
            assert_safe_html(piece)
            assert payload not in piece
        for bundle in display_bundles(widget):
            # text/plain is never parsed as HTML; every HTML in a bundle is escaped.
            markup = bundle.get("text/html", "")
            assert payload not in markup
            assert_safe_html(markup)
        assert payload not in repr(widget)
