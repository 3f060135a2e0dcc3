"""`JudgeWidget`: blind before the vote, the same Vote from a click as from a call, reveal after."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from typing import Any

import ipywidgets as widgets
import pandas as pd
import pytest
from _widget_helpers import XSS_ATTR, XSS_SCRIPT, assert_safe_html, video_srcs

import kling_nb as kn
from kling_nb._judging import Vote, rankings_frame
from kling_nb._render._judge import rankings_table_html, safe_src
from kling_nb.sandbox import Sandbox
from kling_nb.widgets import ComparisonGrid
from kling_nb.widgets._display import display_bundles
from kling_nb.widgets._judge import JudgeItem, JudgeWidget
from kling_nb.widgets._stars import StarBar

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


# -- through the Studio: real jobs finished against a fast sandbox over real HTTP --------------


@pytest.fixture(scope="module")
def judged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[kn.Studio]:
    root = tmp_path_factory.mktemp("judge-widget")
    with (
        Sandbox(time_scale=0.01, seed=5) as sandbox,
        kn.Studio(api_key="sk-sandbox-team", base_url=sandbox.base_url, root=root) as studio,
    ):
        jobs = studio.sweep(["a heron in fog", "a heron in fog at dawn", "a kite over dunes"])
        jobs.wait(timeout=60)
        assert [job.status for job in jobs] == ["succeeded"] * 3
        yield studio


def studio_identities(studio: kn.Studio) -> list[str]:
    found: list[str] = []
    for job in studio.jobs.values():
        assert job.video_path is not None
        found += [job.job_id, job.prompt, job.video_path.name, job.video_path.stem]
    return found


def test_studio_judge_serves_opaque_copies_and_hides_every_identity(
    judged: kn.Studio, published: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(judged.root)
    widget = judged.judge(rater="blind-ann", rounds=2)
    state = page_state(widget)
    static = json.dumps(display_bundles(widget))
    for text in studio_identities(judged):
        assert text not in state, text
        assert text not in widget.view_html, text
        assert text not in static, text
    srcs = video_srcs(widget.view_html)
    assert len(srcs) == 2
    for src in srcs:
        assert re.fullmatch(r"kling_outputs/judge/[0-9a-f]{16}\.mp4", src), src
    for item in widget.items.values():
        job = judged.jobs[item.item_id]
        assert job.video_path is not None
        copy = judged.root / item.video_src
        assert copy.read_bytes() == job.video_path.read_bytes()
        assert item.poster is not None
        assert (judged.root / item.poster).is_file()
    assert widget.rater == "blind-ann"
    widget.choose(0)
    assert any(job.prompt in widget.view_html for job in judged.jobs.values())


def test_a_vote_in_the_widget_equals_the_same_vote_through_prefer(judged: kn.Studio) -> None:
    widget = judged.judge(rater="widget-ann")
    shown = widget.current
    widget._pick[1].click()  # "B is better"
    winner, loser = shown[1], shown[0]
    seq = judged.prefer(winner, judged.jobs[loser], rater="prefer-ann")
    rows = judged.log.judgements.set_index("seq")
    by_widget = rows[rows["rater"] == "widget-ann"].iloc[-1]
    by_prefer = rows.loc[seq]
    assert list(by_widget["shown"]) == list(shown)  # the display order, for position bias
    assert sorted(by_widget["shown"]) == sorted(by_prefer["shown"])
    assert (by_widget["choice"], by_widget["tie"]) == (by_prefer["choice"], by_prefer["tie"])
    assert by_widget["choice"] == winner
    as_widget = judged.log.rankings(rater="widget-ann")
    as_prefer = judged.log.rankings(rater="prefer-ann")
    pd.testing.assert_frame_equal(as_widget, as_prefer)
    assert as_widget.iloc[0]["wins"] == 1


def test_the_rankings_table_follows_the_votes_and_keeps_a_static_copy(
    judged: kn.Studio, published: list[dict[str, Any]]
) -> None:
    widget = judged.judge(rater="table-ann", rounds=3)
    table = widget.rankings()
    table._ipython_display_()
    assert "kn-rankings" in table.html
    before = table.frame
    assert before is not None
    first = before["comparisons"].sum()
    for _ in range(3):
        widget.choose(0)
        widget.advance()
    assert widget.phase == "done"
    after = table.frame
    assert after is not None
    assert after["comparisons"].sum() == first + 6  # each two-way vote counts for both sides
    updates = [sent for sent in published if sent["update"]]
    assert updates
    assert "text/html" in updates[-1]["data"]
    assert table.html in updates[-1]["data"]["text/html"]
    assert repr(table) == "<RankingsTable 3 variants>"


def test_the_grid_rates_with_stars_and_opens_a_judge(judged: kn.Studio) -> None:
    grid = ComparisonGrid(list(judged.jobs.values()))
    bars = [box.children[1] for box in grid.children[1].children]
    assert all(isinstance(bar, StarBar) for bar in bars)
    bar = bars[0]
    assert not any(button.disabled for button in bar._buttons)
    bar.rater = "grid-ann"
    bar._buttons[3].click()
    ratings = judged.log.ratings
    mine = ratings[ratings["rater"] == "grid-ann"]
    assert mine[["job_id", "stars"]].values.tolist() == [[bar.job.job_id, 4]]
    assert [b.description for b in bar._buttons] == ["★"] * 4 + ["☆"]
    assert StarBar(bar.job, rater="grid-ann").stars == 4  # read back from the ledger
    grid.judging.button.click()
    judge = grid.judging.judge
    assert isinstance(judge, JudgeWidget)
    assert judge in grid.judging.children
    assert grid.judging.start() is judge
    grid.close()
