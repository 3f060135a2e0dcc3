"""The judge widget and its rankings table hand over to static HTML: rounds over, Studio closed.

A saved notebook must hold neither widget view (their models die with the kernel), and the
judge's summary must never show a match-up still waiting for its vote.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import pandas as pd
from _widget_helpers import assert_safe_html, video_srcs
from test_widgets_judge import IDENTITIES, JOB_IDS, items

import kling_nb as kn
from kling_nb._judging import Vote, rankings_frame
from kling_nb.widgets import show_rankings
from kling_nb.widgets._display import WIDGET_VIEW_MIME, display_bundles
from kling_nb.widgets._judge import JudgeWidget

JOBS = pd.DataFrame(
    {"job_id": list(JOB_IDS.values()), "prompt": [f["prompt"] for f in IDENTITIES.values()]}
)


def judge(recorded: list[Vote], **kwargs: Any) -> JudgeWidget:
    return JudgeWidget(
        items(),
        rater="ann",
        record=recorded.append,
        rng=random.Random(3),
        clock=lambda: 5.0,
        rank=lambda by: rankings_frame(JOBS, recorded, by=by),
        **kwargs,
    )


def prompt_of(item_id: str) -> str:
    return next(f["prompt"] for k, f in IDENTITIES.items() if JOB_IDS[k] == item_id)


def last_sent(published: list[dict[str, Any]], display_id: str | None) -> dict[str, Any]:
    return [sent for sent in published if sent["display_id"] == display_id][-1]["data"]


def test_the_last_round_turns_judge_and_table_static(published: list[dict[str, Any]]) -> None:
    recorded: list[Vote] = []
    widget = judge(recorded, rounds=2)
    judge_id = widget.live.show()
    table = widget.rankings()
    table_id = table.live.show()
    assert [WIDGET_VIEW_MIME in sent["data"] for sent in published] == [True, True]
    for sent in published:  # the live text names no state: it is never updated while live
        assert "vote" not in sent["data"]["text/plain"].replace("to vote", "")
    widget.choose(0)
    widget.advance()
    assert not widget.live.finished
    last_shown = widget.current
    widget.tie()
    assert not widget.live.finished  # the reveal of the last vote stays live until "next"
    widget.advance()
    assert widget.phase == "done"
    assert widget.live.finished
    assert table.live.finished
    summary = last_sent(published, judge_id)
    assert WIDGET_VIEW_MIME not in summary
    assert "vote 2 of 2" in summary["text/html"]
    assert "2 votes recorded" in summary["text/html"]
    for item_id in last_shown:  # the last match-up, revealed, marked as a tie
        assert prompt_of(item_id) in summary["text/html"]
    assert "· tie" in summary["text/html"]
    assert "<video" not in summary["text/html"]
    assert "kling_outputs/.judge/" not in summary["text/html"]
    assert_safe_html(summary["text/html"])
    assert summary["text/plain"] == "kling_nb judge: 2 votes recorded; last vote: A = B (tie)"
    ranks = last_sent(published, table_id)
    assert WIDGET_VIEW_MIME not in ranks
    assert ranks["text/html"] == table.html
    assert "left position won" in ranks["text/html"]  # the two votes are in it
    assert ranks["text/plain"].startswith("kling_nb rankings of 3 variants\n")
    assert all(prompt_of(i)[:20] in ranks["text/plain"] for i in last_shown)
    published.clear()
    widget._ipython_display_()  # shown again once done: the summary, never the widget
    widget.rankings()._ipython_display_()
    assert [WIDGET_VIEW_MIME in sent["data"] for sent in published] == [False, False]
    assert published[0]["data"] == summary


def test_the_summary_before_any_vote_names_no_video(published: list[dict[str, Any]]) -> None:
    widget = judge([], rounds=0)
    assert widget.phase == "done"
    (static,) = [bundle for bundle in display_bundles(widget) if WIDGET_VIEW_MIME not in bundle]
    assert static["text/plain"] == "kling_nb judge: 0 votes recorded"
    assert video_srcs(static["text/html"]) == []
    for fields in IDENTITIES.values():
        assert fields["prompt"] not in static["text/html"]


def test_closing_the_studio_mid_vote_leaves_no_unrevealed_match_up(
    tmp_path: Path, published: list[dict[str, Any]]
) -> None:
    studio = kn.Studio(api_key="sk-test", base_url="http://127.0.0.1:9", root=tmp_path)
    recorded: list[Vote] = []
    widget = judge(recorded, studio=studio)
    widget._ipython_display_()
    table = widget.rankings()
    table._ipython_display_()
    first = widget.choose(1)
    assert first is not None
    widget.advance()
    waiting = widget.current
    unseen = (set(waiting) - set(first.shown)).pop()  # only in the match-up still to vote on
    studio.close()
    deadline = time.monotonic() + 3
    while not (widget.live.finished and table.live.finished):
        assert time.monotonic() < deadline, "the Studio closed but a widget stayed live"
        time.sleep(0.01)
    summary = last_sent(published, widget.live.display_ids[0])
    assert WIDGET_VIEW_MIME not in summary
    assert "1 vote recorded" in summary["text/html"]
    assert "★ your choice" in summary["text/html"]
    assert all(prompt_of(item) in summary["text/html"] for item in first.shown)
    assert prompt_of(unseen) not in summary["text/html"] + summary["text/plain"]
    assert summary["text/plain"].endswith(f"last vote: B ({prompt_of(first.shown[1])}) is better")
    ranks = last_sent(published, table.live.display_ids[0])
    assert WIDGET_VIEW_MIME not in ranks
    assert ranks["text/html"] == table.html
    widget.close()
    table.close()


def test_show_rankings_of_a_fixed_frame_is_static_at_once(
    published: list[dict[str, Any]],
) -> None:
    frame = rankings_frame(JOBS, [Vote(0, None, (JOB_IDS["a"], JOB_IDS["b"]), JOB_IDS["a"])])
    table = show_rankings(frame)
    (sent,) = published
    assert WIDGET_VIEW_MIME not in sent["data"]
    assert sent["data"]["text/html"] == table.html
    assert "a fox in snow" in sent["data"]["text/plain"]
