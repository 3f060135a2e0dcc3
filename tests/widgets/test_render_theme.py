"""Every state has a badge; colours come from JupyterLab's theme; videos load once."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from _widget_helpers import finished, parse_tags, snapshot

from kling_nb._render import (
    BADGE_COLORS,
    Preload,
    banner_html,
    estimate_html,
    grid_controls_html,
    grid_html,
    job_card_html,
    ledger_table_html,
    message_html,
    panel_html,
)
from kling_nb._states import JobState

_COLOUR_PROPS = ("color", "background", "background-color", "border", "border-left")


def test_every_job_state_has_a_badge_colour() -> None:
    assert set(BADGE_COLORS) == set(JobState)


def test_parked_states_share_a_colour_no_active_or_final_state_uses() -> None:
    parked = {BADGE_COLORS[s] for s in JobState if s.parked}
    others = {BADGE_COLORS[s] for s in JobState if not s.parked}
    assert len(parked) == 1
    assert not parked & others


def declarations(style: str) -> list[tuple[str, str]]:
    pairs = []
    for part in re.split(r";(?![^(]*\))", style):
        if ":" in part:
            name, value = part.split(":", 1)
            pairs.append((name.strip(), value.strip()))
    return pairs


def everything(tmp_path: Path) -> str:
    snaps = [
        finished(tmp_path),
        snapshot(status="failed", error="boom"),
        snapshot(status="timeout"),
    ]
    frame = pd.DataFrame({"prompt": ["a"], "status": ["succeeded"], "total_s": [1.0]})
    return "".join(
        [
            grid_html(snaps, base_dir=tmp_path),
            panel_html(sandbox_url="http://x", base_url="http://x", snapshots=snaps),
            banner_html(sandbox_url=None, base_url="http://x"),
            estimate_html(amount="1", detail="d", source="s", budget="2"),
            message_html("bad"),
            message_html("ok", error=False),
            ledger_table_html(frame),
        ]
    )


def test_colours_use_jupyterlab_variables_with_fallbacks(tmp_path: Path) -> None:
    seen = 0
    for tag, attrs in parse_tags(everything(tmp_path)):
        if tag == "video" or "kn-badge" in (attrs.get("class") or ""):
            continue  # white text on a saturated badge and a black video frame read in any theme
        for name, value in declarations(attrs.get("style") or ""):
            if name in _COLOUR_PROPS:
                seen += 1
                assert re.search(r"var\(--jp-[a-z0-9-]+, [^)]+\)", value), (tag, name, value)
    assert seen > 20


def test_sync_buttons_look_like_jupyterlab_buttons() -> None:
    buttons = [a for t, a in parse_tags(grid_controls_html("#g1")) if t == "button"]
    assert len(buttons) == 2
    for attrs in buttons:
        style = dict(declarations(attrs.get("style") or ""))
        assert style["background"] == "var(--jp-layout-color2, #f6f8fa)"
        assert style["color"].startswith("var(--jp-ui-font-color1,")
        assert "var(--jp-border-color1," in style["border"]
        assert style["font"] == "inherit"


@pytest.mark.parametrize("preload", ["metadata", "none"])
def test_preload_is_passed_to_every_video(tmp_path: Path, preload: Preload) -> None:
    snap = finished(tmp_path)
    for markup in (
        job_card_html(snap, base_dir=tmp_path, preload=preload),
        grid_html([snap], base_dir=tmp_path, preload=preload),
        panel_html(sandbox_url=None, base_url="x", snapshots=[snap], preload=preload),
    ):
        videos = [a for t, a in parse_tags(markup) if t == "video"]
        assert videos
        assert all(a["preload"] == preload for a in videos)
