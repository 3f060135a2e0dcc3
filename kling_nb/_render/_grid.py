"""A comparison grid: videos side by side, each titled, with play/pause-all buttons."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence

from .._states import JobState
from ._card import Preload, card_status_html, card_text, error_block, reused_html, video_block
from ._html import Snapshot, esc, safe_id, state_of
from ._theme import BUTTON, FONT, MUTED
from ._words import cost_text, format_seconds, spec_text, taken

__all__ = [
    "grid_cell_html",
    "grid_columns",
    "grid_controls_html",
    "grid_html",
    "grid_id_for",
    "grid_text",
]


def grid_id_for(snapshots: Sequence[Snapshot]) -> str:
    """A stable element id for a grid of these jobs (the same jobs give the same id)."""
    ids = "|".join(str(s.get("job_id") or i) for i, s in enumerate(snapshots))
    return "kn-grid-" + hashlib.sha256(ids.encode()).hexdigest()[:12]


def grid_cell_html(
    snapshot: Snapshot,
    *,
    base_dir: str | os.PathLike[str] | None = None,
    embed: bool = False,
    preload: Preload = "metadata",
    pictures: bool = False,
) -> str:
    """One grid cell: the prompt, then '<spec> · took 37 s · est. 1.12 credits', then the video.

    Every number says what it is ('10 s video', 'took 37 s'), so two seconds never look alike.
    `pictures=True` (a saved notebook's final grid) adds each video's filmstrip.
    """
    done = state_of(snapshot) is JobState.SUCCEEDED
    prompt = str(snapshot.get("prompt") or "")
    short = prompt if len(prompt) <= 140 else prompt[:137] + "…"
    numbers = [spec_text(snapshot)]
    if done:
        numbers.append(f"took {format_seconds(taken(snapshot))}")
    numbers.append(cost_text(snapshot))
    title = (
        f'<div class="kn-title" title="{esc(prompt)}" style="font-weight:600;'
        f'white-space:pre-wrap">{esc(short) or "(no prompt)"}</div>'
        f'<div class="kn-numbers" style="{MUTED}">{esc(" · ".join(numbers))}</div>'
        f"{reused_html(snapshot)}"
    )
    if done:
        body = video_block(snapshot, base_dir, embed, fill=True, preload=preload, pictures=pictures)
        # A reused job's line above already says where its missing video is.
        body = body or ("" if snapshot.get("reused") else f'<div style="{MUTED}">no video</div>')
    else:
        body = f'<div style="margin:4px 0">{card_status_html(snapshot)}</div>'
        body += error_block(snapshot)
    return f'<div class="kn-cell" style="min-width:0">{title}{body}</div>'


def _sync_script(selector: str, action: str) -> str:
    find = f"var g=this.closest('{selector}');if(!g)return;var v=g.querySelectorAll('video');"
    if action == "play":
        return (
            find + "v.forEach(function(x){x.pause();x.currentTime=0;});"
            "v.forEach(function(x){var p=x.play();if(p&&p.catch)p.catch(function(){});});"
        )
    return find + "v.forEach(function(x){x.pause();});"


def grid_controls_html(selector: str) -> str:
    """'Play all in sync' and 'Pause all' buttons that touch only videos inside `selector`.

    `selector` is the grid's own element (`#<id>` or `.<class>`, letters/digits/-/_ only).
    The inline handler finds it with `this.closest(...)`, so it never reaches other outputs.
    The buttons look like JupyterLab's (its CSS variables, light fallbacks).
    """
    kind, name = selector[:1], selector[1:]
    if kind not in ("#", "."):
        raise ValueError(f"selector {selector!r}: '#id' or '.class'")
    selector = kind + safe_id(name)
    return (
        '<div class="kn-controls" style="margin:4px 0">'
        f'<button type="button" class="kn-button" style="{BUTTON}" '
        f'onclick="{esc(_sync_script(selector, "play"))}">▶ play all in sync</button>'
        f'<button type="button" class="kn-button" style="{BUTTON}" '
        f'onclick="{esc(_sync_script(selector, "pause"))}">❚❚ pause all</button></div>'
    )


def grid_columns(count: int, columns: int | None = None) -> int:
    """How many columns a grid of `count` videos uses (2×2 for four, at most 3 otherwise)."""
    if columns is not None:
        return max(int(columns), 1)
    if count == 4:
        return 2
    return max(min(count, 3), 1)


def grid_html(
    snapshots: Iterable[Snapshot],
    *,
    columns: int | None = None,
    base_dir: str | os.PathLike[str] | None = None,
    embed: bool = False,
    grid_id: str | None = None,
    preload: Preload = "metadata",
    pictures: bool = False,
) -> str:
    """Videos side by side, each titled with prompt, model, mode, duration, time and cost.

    The "play all in sync" button restarts and plays only the videos inside this grid's own
    element (`grid_id`, by default derived from the job ids).
    """
    items = list(snapshots)
    element = safe_id(grid_id or grid_id_for(items))
    cells = "".join(
        grid_cell_html(s, base_dir=base_dir, embed=embed, preload=preload, pictures=pictures)
        for s in items
    )
    n = grid_columns(len(items), columns)
    return (
        f'<div class="kn-grid" id="{element}" style="{FONT};max-width:1200px">'
        f"{grid_controls_html('#' + element)}"
        f'<div style="display:grid;grid-template-columns:repeat({n},minmax(0,1fr));gap:10px">'
        f"{cells}</div></div>"
    )


def grid_text(
    snapshots: Iterable[Snapshot], *, base_dir: str | os.PathLike[str] | None = None
) -> str:
    """The grid as plain text: one card's text per job, in grid order."""
    items = list(snapshots)
    cards = "\n".join(card_text(s, base_dir=base_dir) for s in items)
    return f"kling_nb comparison grid of {len(items)} jobs\n{cards}"
