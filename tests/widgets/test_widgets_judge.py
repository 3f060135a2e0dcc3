"""`JudgeWidget`: blind before the vote, the same Vote from a click as from a call, reveal after."""

from __future__ import annotations

import json
import random
import re
from typing import Any

import ipywidgets as widgets
import pandas as pd
import pytest
from _widget_helpers import XSS_ATTR, XSS_SCRIPT, assert_safe_html, video_srcs

from kling_nb._judging import Vote, rankings_frame
from kling_nb._render._judge import rankings_table_html, safe_src
from kling_nb.widgets._display import display_bundles
from kling_nb.widgets._judge import JudgeItem, JudgeWidget

IDENTITIES = {
    "a": {"prompt": "a fox in snow", "model": "kling-v3", "mode": "pro", "cost": "0.56 credits"},
    "b": {"prompt": "an owl at dusk", "model": "kling-v2-6", "mode": "std", "cost": "0.28 credits"},
    "c": {"prompt": "a cat on a roof", "model": "kling-v3", "mode": "std", "cost": "0.31 credits"},
}
JOB_IDS = {"a": "20250101-120000-aaaa1111", "b": "20250101-120001-bbbb2222", "c": "cccc3333"}


def items() -> list[JudgeItem]:
    return [
        JudgeItem(
            JOB_IDS[key],
            (JOB_IDS[key],),
            f"kling_outputs/.judge/{n:02d}9f3e.mp4",
            f"kling_outputs/.judge/{n:02d}9f3e.jpg",
            {**IDENTITIES[key], "file": f"{JOB_IDS[key]}.mp4"},
        )
        for n, key in enumerate(IDENTITIES)
    ]


def page_state(root: widgets.Widget) -> str:
    """Everything the front end holds for `root`: every reachable widget's synced state."""
    seen: dict[str, dict[str, Any]] = {}
    todo = [root]
    while todo:
        widget = todo.pop()
        if widget.model_id in seen:
            continue
        state = widget.get_state()
        seen[widget.model_id] = state
        todo.extend(getattr(widget, "children", ()))
        if isinstance(widget, widgets.Box):
            continue
        layout = getattr(widget, "layout", None)
        if layout is not None:
            todo.append(layout)
    return json.dumps(seen, default=str)


def make(recorded: list[Vote], *, seed: int = 7, **kwargs: Any) -> JudgeWidget:
    return JudgeWidget(
        items(),
        rater="ann",
        record=recorded.append,
        rng=random.Random(seed),
        clock=lambda: 5.0,
        **kwargs,
    )


def identifying() -> list[str]:
    """Identity values long enough to search for as text ('pro'/'std' are checked as words)."""
    values = [value for fields in IDENTITIES.values() for value in fields.values()]
    ids = [*JOB_IDS.values(), *(f"{j}.mp4" for j in JOB_IDS.values())]
    return [value for value in values if len(value) > 3] + ids


def test_before_the_vote_nothing_identifies_the_videos(published: list[dict[str, Any]]) -> None:
    widget = make([])
    state = page_state(widget)
    static = json.dumps(display_bundles(widget))
    for text in identifying():
        assert text not in state, text
        assert text not in widget.view_html, text
        assert text not in static, text
    assert "kling-v" not in state
    assert "kling_outputs/.judge/" in state  # the videos' HTML is part of what was searched
    words = set(re.findall(r"[\w-]+", re.sub(r"<[^>]*>", " ", widget.view_html)))
    assert not words & {"pro", "std", "credits"}
    assert len(video_srcs(widget.view_html)) == 2
    assert ">A<" in widget.view_html
    assert ">B<" in widget.view_html
    descriptions = [b.description for b in widget.children[-1].children]
    assert descriptions[:4] == ["A is better", "B is better", "tie", "skip"]
    assert "which is better?" in widget.progress_html
    assert "0/3 pairs seen" in widget.progress_html


def test_after_the_vote_the_identities_are_revealed_and_next_hides_them() -> None:
    recorded: list[Vote] = []
    widget = make(recorded)
    shown = widget.current
    vote = widget.choose(1)
    assert vote == Vote(5.0, "ann", shown, shown[1], False)
    assert recorded == [vote]
    state = page_state(widget)
    for item_id in shown:
        reveal = widget.items[item_id].reveal
        assert reveal["prompt"] in widget.view_html
        assert reveal["prompt"] in state
    assert "★ your choice" in widget.view_html
    assert widget.choose(0) is None  # no second vote on a revealed match-up
    widget.advance()
    assert widget.phase == "vote"
    assert frozenset(widget.current) != frozenset(shown)  # a fresh pair exists
    assert not any(fields["prompt"] in widget.view_html for fields in IDENTITIES.values())


@pytest.mark.parametrize("action", ["A", "B", "tie"])
def test_a_click_records_exactly_the_vote_a_direct_call_would(action: str) -> None:
    clicked: list[Vote] = []
    called: list[Vote] = []
    by_click, by_call = make(clicked), make(called)
    assert by_click.current == by_call.current
    buttons = {"A": by_click._pick[0], "B": by_click._pick[1], "tie": by_click._tie}
    buttons[action].click()
    direct = {"A": lambda: by_call.choose(0), "B": lambda: by_call.choose(1), "tie": by_call.tie}
    direct[action]()
    assert clicked == called
    assert len(clicked) == 1
    assert clicked[0].tie == (action == "tie")
    by_click._next.click()
    by_call.advance()
    assert by_click.current == by_call.current


def test_skip_records_nothing_and_rounds_end_the_session() -> None:
    recorded: list[Vote] = []
    widget = make(recorded, rounds=2)
    skipped = widget.current
    widget._skip.click()
    assert recorded == []
    assert frozenset(widget.current) != frozenset(skipped)
    widget.press("2")
    widget.press("n")
    widget.press("t")
    assert [v.tie for v in recorded] == [False, True]
    assert recorded[0].choice == recorded[0].shown[1]
    widget.press("enter")
    assert widget.phase == "done"
    assert widget.current == ()
    assert all(b.disabled for b in widget._pick)
    assert "vote 2 of 2 · 1 skipped" in widget.progress_html
    assert repr(widget) == "<JudgeWidget k=2 2 votes, done>"


def test_k_wise_and_history_shape_the_match_up() -> None:
    history = [Vote(1.0, "bob", (JOB_IDS["a"], JOB_IDS["b"]), JOB_IDS["a"])]
    widget = make([], k=3, history=history)
    assert len(widget.current) == 3
    assert [b.description for b in widget._pick] == ["A is better", "B is better", "C is better"]
    two = make([], history=history)
    assert frozenset(two.current) != frozenset((JOB_IDS["a"], JOB_IDS["b"]))


def test_blind_judging_refuses_a_source_that_names_the_job() -> None:
    leaky = [*items()[:1], JudgeItem("job-x", ("job-x",), "kling_outputs/job-x.mp4")]
    with pytest.raises(ValueError, match="opaque"):
        JudgeWidget(leaky, record=lambda _v: None)
    open_widget = JudgeWidget(leaky, blind=False, record=lambda _v: None, rng=random.Random(1))
    assert "a fox in snow" in open_widget.view_html  # not blind: identities from the start


def test_the_views_escape_what_they_show() -> None:
    hostile = [
        JudgeItem("x1", ("x1",), "judge/1.mp4", None, {"prompt": XSS_SCRIPT}),
        JudgeItem("x2", ("x2",), "javascript:alert(1)", None, {"prompt": XSS_ATTR}),
    ]
    widget = JudgeWidget(hostile, record=lambda _v: None, rng=random.Random(2))
    widget.tie()
    assert_safe_html(widget.view_html)
    assert video_srcs(widget.view_html) == ["judge/1.mp4"]
    assert safe_src("/etc/passwd") is None
    assert safe_src("https://cdn.example.com/v.mp4") == "https://cdn.example.com/v.mp4"
    jobs = pd.DataFrame({"job_id": ["x1", "x2"], "prompt": [XSS_SCRIPT, XSS_ATTR]})
    table = rankings_table_html(rankings_frame(jobs, [Vote(0, None, ("x1", "x2"), "x1")]))
    assert_safe_html(table)
    assert "left position won 100% of 1 two-way votes" in table
