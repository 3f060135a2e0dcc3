"""The comparison grid and ledger table HTML (pure functions over snapshots and DataFrames)."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
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
    numbers = [html.unescape(n) for n in re.findall(r'class="kn-numbers"[^>]*>([^<]*)<', markup)]
    assert numbers[:2] == [
        "kling-v3 · std · 5 s video · 16:9 · took 1 min 38 s · est. 0.35 credits",
        "kling-v3 · pro · 5 s video · 16:9 · took 1 min 38 s · est. 0.56 credits",
    ]
    # Every number is labelled: a bare "5 s" never stands beside another one.
    assert all(not re.search(r"· \d+ s ·", line) for line in numbers)
    assert numbers[3] == "kling-v3 · pro · 10 s video · 16:9 · est. 1.12 credits"  # running
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


class _Cells(HTMLParser):
    """Each `<td>`/`<th>` of a table: its text and attributes, row by row."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[tuple[str, dict[str, str | None]]]] = []
        self._cell: tuple[list[str], dict[str, str | None]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = ([], dict(attrs))

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell[0].append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(("".join(self._cell[0]), self._cell[1]))
            self._cell = None


def table_cells(markup: str) -> list[list[tuple[str, dict[str, str | None]]]]:
    parser = _Cells()
    parser.feed(markup)
    return parser.rows


def ledger_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "job_id": ["20261130-084332-7b084f7b", "20261130-084332-acfc6a4e"],
            "task_id": ["task-0123456789abcdef", None],
            "prompt": ["fox <1> " + "trotting through fresh snow " * 4, "fox & co"],
            "model": ["kling-v3", "kling-v3"],
            "mode": ["std", "pro"],
            "duration": [5, 10],
            "status": ["succeeded", "failed"],
            "total_s": [37.234, float("nan")],
            "cost_estimate": [1.12, None],
            "video_path": ["/x/kling_outputs/a.mp4", None],
            "tags": [["t1", "t2"], []],
            "submitted_at": pd.to_datetime([0, None], unit="s", utc=True),
        }
    )


def test_ledger_table_reads_in_order_with_units_and_short_ids() -> None:
    markup = ledger_table_html(ledger_frame(), unit="credits")
    header, first, second = table_cells(markup)
    assert [text for text, _ in header] == [
        "prompt",
        "model",
        "mode",
        "duration",
        "status",
        "time",
        "est. cost",
        "tags",
        "job",
        "task",
        "video",
    ]
    texts = [text for text, _ in first]
    assert texts[1:] == [
        "kling-v3",
        "std",
        "5 s",
        "succeeded",
        "37.2 s",
        "1.12 credits",
        "t1, t2",
        "7b084f7b",
        "task-012",
        "a.mp4",
    ]
    prompt, prompt_attrs = first[0]
    assert prompt.startswith("fox <1> trotting")
    assert prompt_attrs["title"] == ledger_frame()["prompt"][0]  # the whole text on hover
    assert first[8][1]["title"] == "20261130-084332-7b084f7b"
    assert first[9][1]["title"] == "task-0123456789abcdef"
    for (_, attrs), (name, _) in zip(first, header, strict=True):
        right = "text-align:right" in (attrs.get("style") or "")
        assert right == (name in ("duration", "time", "est. cost")), name
    assert [text for text, _ in second] == [
        "fox & co",
        "kling-v3",
        "pro",
        "10 s",
        "failed",
        "",
        "",
        "",
        "acfc6a4e",
        "",
        "",
    ]
    assert "fox <1>" not in markup


def test_ledger_table_wraps_prompts_and_scrolls_sideways() -> None:
    markup = ledger_table_html(ledger_frame())
    tags = parse_tags(markup)
    assert tags[0][0] == "div"
    assert "overflow-x:auto" in (tags[0][1]["style"] or "")
    wraps = [
        a["style"] or "" for t, a in tags if t == "div" and "max-width:28em" in (a["style"] or "")
    ]
    assert len(wraps) == 2  # one per prompt
    assert all("white-space:normal" in style for style in wraps)


def test_ledger_table_custom_columns() -> None:
    custom = ledger_table_html(ledger_frame(), columns=["job_id", "submitted_at", "missing"])
    assert [text for text, _ in table_cells(custom)[0]] == ["job", "submitted_at"]
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
