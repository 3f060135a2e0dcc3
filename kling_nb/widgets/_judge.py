"""`JudgeWidget`: blind k-wise preference votes on finished videos, one match-up at a time.

Blindness is the caller's part as much as the widget's: the widget shows only the labels "A",
"B", ... and each item's `video_src`/`poster`, so those must be opaque (a blind copy such as
`kling_outputs/.judge/3f9a1c.mp4`, not the job's own file name); with `blind=True` the
widget refuses a source that contains the item's id or one of its job ids. The identities
(`reveal`) appear only after the vote, and leave the page with the next match-up.

Keys: ipywidgets sends no key events, and a `<script>` inside an HTML widget does not run in
JupyterLab, so the buttons are the interface. A front end that does pass keys calls
`press(key)`: "1".."k" pick an item, "0" or "t" is a tie, "s" skips, "n" or Enter moves on
(for example with the `ipyevents` package: `Event(source=w, watched_events=["keydown"])`
with a handler calling `w.press(event["key"])`).
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import ipywidgets as widgets

from .._judging import Vote, next_matchup, pair_counts
from .._render import grid_controls_html, relative_src_or_none
from .._render._judge import (
    JudgeCell,
    judge_label,
    judge_progress_html,
    judge_view_html,
)
from ._card import watch_close
from ._display import Bundle, LiveDisplay, html_output, live_bundle, static_bundle
from ._live import stop_timer
from ._rankings import RankingsTable

if TYPE_CHECKING:
    import pandas as pd

    from .._studio import Studio

__all__ = ["JudgeItem", "JudgeWidget", "judge_widget"]


@dataclass(frozen=True)
class JudgeItem:
    """One video to judge.

    `item_id` is what a `Vote` records in `shown`/`choice` (the job id, as a rule); `job_ids`
    are the ledger jobs it stands for; `video_src` and `poster` are what the page loads (opaque
    names when judging blind); `reveal` is shown after the vote (prompt, model, mode, cost...).
    """

    item_id: str
    job_ids: tuple[str, ...]
    video_src: str
    poster: str | None = None
    reveal: Mapping[str, str] = field(default_factory=dict)


def _check_blind(items: Sequence[JudgeItem]) -> None:
    for item in items:
        names = {item.item_id, *item.job_ids} - {""}
        for src in (item.video_src, item.poster or ""):
            leaked = [name for name in names if name in src]
            if leaked:
                raise ValueError(
                    f"blind judging: a video source names {leaked[0]!r}; serve an opaque copy"
                )


Phase = Literal["vote", "revealed", "done"]


class JudgeWidget(widgets.VBox):  # type: ignore[misc]
    """k finished videos side by side in random order; vote for the best, tie, or skip.

    Each vote calls `record(Vote)` once, then every `on_vote` listener; the next match-up
    comes from `next_matchup` over the earlier votes (`history`) and this session's. `rounds`
    votes (skips not counted) end it. `rank(by)` (a rankings DataFrame) backs `rankings()`.

    When the rounds are done, or `studio` closes, every output showing the widget turns into
    its static summary (`live.finish()`): the progress line and the last vote's revealed
    result (never a match-up still waiting for its vote), and its rankings tables turn static.
    """

    def __init__(
        self,
        items: Sequence[JudgeItem],
        *,
        k: int = 2,
        blind: bool = True,
        rater: str | None = None,
        rounds: int | None = None,
        record: Callable[[Vote], None],
        rng: random.Random | None = None,
        history: Sequence[Vote] = (),
        clock: Callable[[], float] = time.time,
        rank: Callable[[Sequence[str]], pd.DataFrame] | None = None,
        studio: Studio | None = None,
    ) -> None:
        super().__init__(layout=widgets.Layout(max_width="1200px"))
        self.items = {item.item_id: item for item in items}
        if not 2 <= k <= len(self.items):
            raise ValueError(f"k={k}: need at least k distinct items, and k >= 2")
        if blind:
            _check_blind(items)
        self.k, self.blind, self.rater, self.rounds = k, blind, rater, rounds
        self._record, self._clock, self._rank = record, clock, rank
        self.studio = studio
        self._listeners: list[Callable[[Vote], None]] = []
        self._rng = rng or random.Random()
        self.votes: list[Vote] = list(history)
        self.session_votes = 0
        self.skipped: list[tuple[str, ...]] = []
        self.current: tuple[str, ...] = ()
        self.phase: Phase = "vote"
        self._last: Vote | None = None
        self.live = LiveDisplay(self._live_bundle, self.static_bundle)
        self._tables: list[RankingsTable] = []
        self._watch: Any = None
        css_class = f"kn-judge-{self.model_id}"
        self.add_class(css_class)
        self._progress = widgets.HTML()
        self._view = widgets.Output(layout=widgets.Layout(min_width="0"))
        self._view_text = ""
        self._pick = [
            widgets.Button(description=f"{judge_label(i)} is better", tooltip=f"key {i + 1}")
            for i in range(k)
        ]
        for index, button in enumerate(self._pick):
            button.on_click(lambda _b, index=index: self.choose(index))
        self._tie = widgets.Button(description="tie", tooltip="key 0")
        self._skip = widgets.Button(description="skip", tooltip="key s")
        self._next = widgets.Button(description="next match-up →", button_style="primary")
        self._tie.on_click(lambda _b: self.tie())
        self._skip.on_click(lambda _b: self.skip())
        self._next.on_click(lambda _b: self.advance())
        buttons = widgets.HBox([*self._pick, self._tie, self._skip, self._next])
        controls = widgets.HTML(grid_controls_html("." + css_class))
        self.children = (self._progress, controls, self._view, buttons)
        self.advance()
        if studio is not None and not self.live.finished:
            self._watch = watch_close(studio, self)

    def __repr__(self) -> str:
        return f"<JudgeWidget k={self.k} {self.session_votes} votes, {self.phase}>"

    @property
    def view_html(self) -> str:
        """The HTML of the videos (and, once revealed, their identities)."""
        return self._view_text

    @property
    def progress_html(self) -> str:
        """The progress line."""
        return str(self._progress.value)

    def static_html(self) -> str:
        """What a saved notebook shows: the progress line and the last vote, revealed.

        Never a match-up still waiting for its vote, and no video (so no blind copy's name).
        """
        html_text = self._progress_text(self._recorded_note())
        last = self._last
        if last is None:
            return html_text
        cells = [
            JudgeCell("", None, dict(self.items[item].reveal) if item in self.items else {})
            for item in last.shown
        ]
        chosen = last.shown.index(last.choice) if last.choice in last.shown else None
        view = judge_view_html(cells, chosen=chosen, tie=last.tie, videos=False)
        heading = (
            '<div style="font-size:12px;color:var(--jp-ui-font-color2,#57606a);margin:6px 0 2px">'
            "last vote, revealed:</div>"
        )
        return f'{html_text}<div class="kn-judge-last">{heading}{view}</div>'

    def static_bundle(self) -> Bundle:
        """The final output of the widget: `static_html()`, and the same as plain text."""
        text = f"kling_nb judge: {self._recorded_note()}"
        last = self._last
        if last is not None:
            names = [judge_label(i) for i in range(len(last.shown))]
            if last.tie:
                text += f"; last vote: {' = '.join(names)} (tie)"
            elif last.choice in last.shown:
                index = last.shown.index(last.choice)
                prompt = self.items[last.choice].reveal.get("prompt", last.choice)
                text += f"; last vote: {names[index]} ({prompt}) is better"
        return static_bundle(self.static_html(), text)

    def _recorded_note(self) -> str:
        count = self.session_votes
        return f"{count} vote{'' if count == 1 else 's'} recorded"

    def _live_bundle(self) -> Bundle:
        return live_bundle(
            self.model_id,
            "kling_nb live judge widget (its summary replaces it when its rounds are done or "
            "its Studio closes; run the cell again to vote)",
        )

    def _progress_text(self, note: str) -> str:
        ids = list(self.items)
        seen = sum(1 for n in pair_counts(self.votes).values() if n)
        total = len(ids) * (len(ids) - 1) // 2
        return judge_progress_html(
            votes=self.session_votes,
            rounds=self.rounds,
            skipped=len(self.skipped),
            pairs_seen=min(seen, total),
            pairs_total=total,
            note=note,
        )

    def _render(self, *, chosen: int | None = None, tie: bool = False) -> None:
        show = self.phase == "revealed" or not self.blind
        cells = [
            JudgeCell(
                self.items[item].video_src,
                self.items[item].poster,
                dict(self.items[item].reveal) if show else None,
            )
            for item in self.current
        ]
        text = judge_view_html(cells, chosen=chosen, tie=tie) if cells else ""
        if text != self._view_text:
            self._view_text = text
            self._view.outputs = (html_output(text),) if text else ()
        voting = self.phase == "vote"
        for button in (*self._pick, self._tie, self._skip):
            button.disabled = not voting
            button.layout.display = None if voting else "none"
        self._next.layout.display = None if self.phase == "revealed" else "none"
        notes = {"vote": "which is better?", "revealed": "revealed", "done": "done"}
        self._progress.value = self._progress_text(notes[self.phase])
        closed = self.studio is not None and self.studio.closed
        if self.live.finished or self.phase == "done" or closed:
            self.finish()

    def finish(self) -> None:
        """Turn every output of this widget, and of its rankings tables, into static HTML."""
        self.live.finish()
        for table in self._tables:
            table.finish()

    def advance(self) -> None:
        """Show the next match-up (or end when `rounds` votes are in)."""
        if self.rounds is not None and self.session_votes >= self.rounds:
            self.phase, self.current = "done", ()
        else:
            self.phase = "vote"
            self.current = next_matchup(
                list(self.items), self.votes, self.k, rng=self._rng, skipped=self.skipped
            )
        self._render()

    def _cast(self, choice: str | None, tie: bool) -> Vote | None:
        if self.phase != "vote":
            return None
        vote = Vote(self._clock(), self.rater, self.current, choice, tie)
        self._record(vote)
        for listener in list(self._listeners):
            listener(vote)
        self.votes.append(vote)
        self.session_votes += 1
        self._last = vote
        self.phase = "revealed"
        index = self.current.index(choice) if choice is not None else None
        self._render(chosen=index, tie=tie)
        return vote

    def on_vote(self, callback: Callable[[Vote], None]) -> None:
        """Call `callback(vote)` after each vote is recorded."""
        self._listeners.append(callback)

    def rankings(self, by: str | Sequence[str] = ("prompt",)) -> RankingsTable:
        """A live rankings table of these videos' variants (`by` fields) that follows the votes."""
        rank = self._rank
        if rank is None:
            raise RuntimeError("this judge widget has no rankings source (use studio.judge)")
        fields = (by,) if isinstance(by, str) else tuple(by)
        table = RankingsTable(lambda: rank(fields), studio=self.studio)
        self.on_vote(lambda _vote: table.refresh())
        self._tables.append(table)
        if self.live.finished:
            table.finish()
        return table

    def choose(self, index: int) -> Vote | None:
        """Vote for the item shown at `index` (0 is "A"); returns the Vote recorded."""
        if not 0 <= index < len(self.current):
            raise IndexError(f"no item {index} in this match-up")
        return self._cast(self.current[index], False)

    def tie(self) -> Vote | None:
        """Vote that the shown items are equally good; returns the Vote recorded."""
        return self._cast(None, True)

    def skip(self) -> None:
        """Skip this match-up (nothing recorded) and show another."""
        if self.phase == "vote":
            self.skipped.append(self.current)
            self.advance()

    def press(self, key: str) -> Any:
        """Act on a key a front end passed: 1..k, 0/t tie, s skip, n/Enter next."""
        lowered = key.lower()
        if lowered.isdigit() and lowered != "0":
            index = int(lowered) - 1
            return self.choose(index) if index < len(self.current) else None
        actions: dict[str, Callable[[], Any]] = {
            "0": self.tie,
            "t": self.tie,
            "s": self.skip,
            "n": self.advance_if_revealed,
            "enter": self.advance_if_revealed,
        }
        action = actions.get(lowered)
        return action() if action is not None else None

    def advance_if_revealed(self) -> None:
        """`advance()` after a vote; nothing while a match-up waits for its vote."""
        if self.phase == "revealed":
            self.advance()

    def close(self) -> None:
        """Leave the static summary where the widget was shown; close it and its children."""
        if self.comm is not None:
            self.finish()
        stop_timer(self.studio, self._watch)
        for child in itertools.chain(
            self.children, self._pick, (self._tie, self._skip, self._next)
        ):
            child.close()
        super().close()

    def _ipython_display_(self) -> None:
        self.live.show()


def judge_widget(entries: Sequence[Mapping[str, Any]], **options: Any) -> JudgeWidget:
    """A `JudgeWidget` over `studio.judge`'s entries (video and poster paths become page srcs)."""
    items = [
        JudgeItem(
            str(entry["item_id"]),
            tuple(entry["job_ids"]),
            relative_src_or_none(entry["video"], None) or "",
            relative_src_or_none(entry.get("poster"), None),
            dict(entry.get("reveal") or {}),
        )
        for entry in entries
    ]
    return JudgeWidget(items, **options)
