"""The comparison grid and ledger table HTML (pure functions over snapshots and DataFrames)."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pandas as pd
import pytest
from _widget_helpers import assert_safe_html, finished, parse_tags, snapshot, video_srcs

from kling_nb._render import (
    banner_html,
    grid_columns,
    grid_controls_html,
    grid_html,
    grid_id_for,
    ledger_table_html,
    panel_html,
)


def four(tmp_path: Path) -> list[dict[str, object]]:
    out = []
    for i, (prompt, mode) in enumerate(
        [("a fox in snow", "std"), ("a fox in snow", "pro"), ("a fox, golden hour", "std")]
    ):
        out.append(
            finished(
                tmp_path,
                job_id=f"job-{i}",
                prompt=prompt,
                mode=mode,
                duration=5,
                cost_estimate=0.35 if mode == "std" else 0.56,
                video_path=str(tmp_path / "kling_outputs" / f"job-{i}.mp4"),
            )
        )
    out.append(snapshot(job_id="job-3", prompt="a fox, golden hour", status="running"))
    return out


def test_grid_titles_each_video_with_prompt_model_mode_duration_time_and_cost(
    tmp_path: Path,
) -> None:
    markup = grid_html(four(tmp_path), base_dir=tmp_path)
    assert video_srcs(markup) == [f"kling_outputs/job-{i}.mp4" for i in range(3)]
    titles = re.findall(r'class="kn-title"[^>]*>([^<]*)<', markup)
    assert [html.unescape(t) for t in titles] == [
        "a fox in snow",
        "a fox in snow",
        "a fox, golden hour",
        "a fox, golden hour",
    ]
    assert "kling-v3 · std · 5 s · 16:9 · 1 min 38 s · est. 0.35 credits" in markup
    assert "kling-v3 · pro · 5 s · 16:9 · 1 min 38 s · est. 0.56 credits" in markup
    # The unfinished job shows its status, not a video.
    assert "ETA ~" in markup
    assert "grid-template-columns:repeat(2,minmax(0,1fr))" in markup  # four videos: 2 x 2
    assert_safe_html(markup)


def test_play_all_in_sync_touches_only_videos_inside_its_own_grid(tmp_path: Path) -> None:
    snaps = four(tmp_path)
    markup = grid_html(snaps, base_dir=tmp_path)
    grid_id = grid_id_for(snaps)
    divs = [attrs for tag, attrs in parse_tags(markup) if tag == "div" and attrs.get("id")]
    assert divs[0]["id"] == grid_id
    buttons = [attrs for tag, attrs in parse_tags(markup) if tag == "button"]
    assert len(buttons) == 2
    for attrs in buttons:
        script = attrs["onclick"] or ""
        assert f"this.closest('#{grid_id}')" in script
        assert "document." not in script  # no page-wide lookups
        assert "querySelectorAll('video')" in script
    assert ".play()" in (buttons[0]["onclick"] or "")
    assert "<script" not in markup


def test_two_grids_have_different_ids(tmp_path: Path) -> None:
    snaps = four(tmp_path)
    assert grid_id_for(snaps[:2]) != grid_id_for(snaps[2:])
    assert grid_id_for(snaps) == grid_id_for([dict(s) for s in snaps])  # stable


def test_grid_id_and_selector_are_validated() -> None:
    with pytest.raises(ValueError, match="element id"):
        grid_html([], grid_id="x' onmouseover='alert(1)")
    with pytest.raises(ValueError, match="selector"):
        grid_controls_html("div")


@pytest.mark.parametrize(
    ("count", "columns", "expected"),
    [(1, None, 1), (2, None, 2), (3, None, 3), (4, None, 2), (6, None, 3), (5, 5, 5)],
)
def test_grid_columns(count: int, columns: int | None, expected: int) -> None:
    assert grid_columns(count, columns) == expected


def test_ledger_table_shows_chosen_columns_escaped() -> None:
    frame = pd.DataFrame(
        {
            "job_id": ["a", "b"],
            "prompt": ["fox <1>", "fox & co"],
            "model": ["kling-v3", "kling-v3"],
            "mode": ["std", "pro"],
            "duration": [5, 10],
            "status": ["succeeded", "failed"],
            "total_s": [61.234, float("nan")],
            "cost_estimate": [0.35, None],
            "video_path": ["/x/kling_outputs/a.mp4", None],
            "tags": [["t1", "t2"], []],
            "submitted_at": pd.to_datetime([0, None], unit="s", utc=True),
        }
    )
    markup = ledger_table_html(frame)
    headers = re.findall(r"<th[^>]*>([^<]*)</th>", markup)
    assert headers == [
        "prompt",
        "model",
        "mode",
        "duration",
        "status",
        "total_s",
        "cost_estimate",
        "video_path",
        "tags",
    ]
    cells = [html.unescape(c) for c in re.findall(r"<td[^>]*>([^<]*)</td>", markup)]
    assert cells[:9] == [
        "fox <1>",
        "kling-v3",
        "std",
        "5",
        "succeeded",
        "61.23",
        "0.35",
        "a.mp4",
        "t1, t2",
    ]
    assert cells[9:] == ["fox & co", "kling-v3", "pro", "10", "failed", "", "", "", ""]
    assert "fox <1>" not in markup
    custom = ledger_table_html(frame, columns=["job_id", "submitted_at", "missing"])
    assert re.findall(r"<th[^>]*>([^<]*)</th>", custom) == ["job_id", "submitted_at"]
    assert "1970-01-01" in custom


def test_banner_says_sandbox_or_real_api() -> None:
    sandbox = banner_html(sandbox_url="http://127.0.0.1:8123", base_url="http://127.0.0.1:8123")
    assert "Sandbox — no credits used" in sandbox
    assert "WORLDROUTER_API_KEY" in sandbox
    assert "real credit" in sandbox
    real = banner_html(sandbox_url=None, base_url="https://inference-api.worldrouter.ai")
    assert "bills your team" in real
    assert "Sandbox" not in real


def test_panel_html_lists_cards(tmp_path: Path) -> None:
    markup = panel_html(
        sandbox_url=None, base_url="https://x.example", snapshots=four(tmp_path), base_dir=tmp_path
    )
    assert markup.count('class="kn-card"') == 4
    assert len(video_srcs(markup)) == 3
