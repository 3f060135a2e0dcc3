"""HTML for the judge widget and the rankings table: small pure functions that return strings.

Before a vote the judge view holds only neutral labels ("A", "B", ...) and the video sources it
is given (which the caller makes opaque: see `kling_nb.widgets._judge`); the identities appear
only in the revealed view. Every interpolated string is escaped; a `src` is used only when it is
an http(s) URL or a relative path. Colours use JupyterLab's CSS variables with light fallbacks.
"""

from __future__ import annotations

import math
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from ._html import esc as _e
from ._html import http_url

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "JudgeCell",
    "judge_label",
    "judge_progress_html",
    "judge_view_html",
    "rankings_table_html",
    "safe_src",
]

_FONT: Final = (
    "font-family:var(--jp-ui-font-family,system-ui,-apple-system,'Segoe UI',sans-serif);"
    "font-size:13px;line-height:1.4;color:var(--jp-ui-font-color1,#1f2328)"
)
_MUTED: Final = "color:var(--jp-ui-font-color2,#57606a);font-size:12px"
_BORDER: Final = "1px solid var(--jp-border-color1,#d0d7de)"
_CHOSEN: Final = "2px solid var(--jp-brand-color1,#0969da)"


def judge_label(index: int) -> str:
    """The neutral label of the item shown at `index`: "A", "B", ..."""
    return string.ascii_uppercase[index]


def safe_src(value: str | None) -> str | None:
    """`value` if it is an http(s) URL or a relative path without a scheme, else None."""
    if not value:
        return None
    if http_url(value) is not None:
        return value
    if any(ch.isspace() or ord(ch) < 32 for ch in value) or value.startswith(("/", "\\")):
        return None
    parts = urlsplit(value)
    return value if not parts.scheme and not parts.netloc else None


@dataclass(frozen=True)
class JudgeCell:
    """One shown video: its opaque `src`, optional `poster`, and (once revealed) its identity."""

    src: str
    poster: str | None = None
    reveal: Mapping[str, str] | None = None


def _reveal_block(fields: Mapping[str, str]) -> str:
    rows = "".join(
        f'<tr><td style="{_MUTED};padding:0 6px 0 0;vertical-align:top">{_e(name)}</td>'
        f'<td style="white-space:pre-wrap">{_e(value)}</td></tr>'
        for name, value in fields.items()
    )
    return f'<table class="kn-reveal" style="border-collapse:collapse;margin:4px 0">{rows}</table>'


def _cell_html(
    index: int, cell: JudgeCell, *, chosen: int | None, tie: bool, videos: bool = True
) -> str:
    label = judge_label(index)
    src = safe_src(cell.src)
    poster = safe_src(cell.poster)
    poster_attr = f' poster="{_e(poster)}"' if poster else ""
    video = (
        f'<video class="kn-video" autoplay muted loop playsinline preload="auto" '
        f'src="{_e(src)}"{poster_attr} style="width:100%;display:block;background:#000">'
        "</video>"
        if src
        else f'<div style="{_MUTED}">no video</div>'
    )
    if not videos:
        video = ""
    verdict = ""
    if cell.reveal is not None:
        if tie:
            verdict = " · tie"
        elif chosen == index:
            verdict = " · ★ your choice"
    border = _CHOSEN if chosen == index and not tie else _BORDER
    reveal = _reveal_block(cell.reveal) if cell.reveal is not None else ""
    return (
        f'<div class="kn-judge-cell" style="min-width:0;border:{border};border-radius:6px;'
        f'padding:6px">'
        f'<div style="font-weight:600;font-size:15px">{label}{_e(verdict)}</div>'
        f"{video}{reveal}</div>"
    )


def judge_view_html(
    cells: Sequence[JudgeCell],
    *,
    chosen: int | None = None,
    tie: bool = False,
    videos: bool = True,
) -> str:
    """The k videos side by side under their labels; identities only for revealed cells.

    The videos autoplay muted and looped, so they start together; `grid_controls_html` beside
    it restarts them in sync. `videos=False` leaves the videos out (labels, verdict and
    identities only: a saved notebook's summary, which holds no blind copy's file name).
    """
    columns = 2 if len(cells) == 4 else max(min(len(cells), 3), 1)
    inner = "".join(
        _cell_html(i, cell, chosen=chosen, tie=tie, videos=videos) for i, cell in enumerate(cells)
    )
    return (
        f'<div class="kn-judge-view" style="{_FONT};display:grid;'
        f'grid-template-columns:repeat({columns},minmax(0,1fr));gap:10px">{inner}</div>'
    )


def judge_progress_html(
    *, votes: int, rounds: int | None, skipped: int, pairs_seen: int, pairs_total: int, note: str
) -> str:
    """The progress line: votes so far (of `rounds`), skips, pairs compared, and a note."""
    of = f" of {rounds}" if rounds is not None else ""
    parts = [f"vote {votes}{of}", f"{skipped} skipped", f"{pairs_seen}/{pairs_total} pairs seen"]
    bar = ""
    if rounds:
        fraction = min(votes / rounds, 1.0)
        bar = (
            f'<progress value="{fraction:.3f}" max="1" '
            'style="width:140px;vertical-align:middle;margin-left:6px"></progress>'
        )
    text = " · ".join(parts) + (f" — {note}" if note else "")
    return f'<div class="kn-judge-progress" style="{_FONT}"><span>{_e(text)}</span>{bar}</div>'


def _number(value: object, digits: int = 2) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "" if value is None else str(value)
    if not math.isfinite(float(value)):
        return ""
    return f"{value:,.{digits}f}" if isinstance(value, float) else str(value)


def rankings_table_html(frame: pd.DataFrame) -> str:
    """`rankings_frame` output as an escaped table, best first, with its position-bias note."""
    columns = [str(c) for c in frame.columns]
    head = "".join(f'<th style="text-align:left;padding:2px 6px">{_e(c)}</th>' for c in columns)
    rows = []
    for record in frame.itertuples(index=False, name=None):
        cells = "".join(
            f'<td style="padding:2px 6px;vertical-align:top;border-top:{_BORDER}">'
            f"{_e(_number(value))}</td>"
            for value in record
        )
        rows.append(f"<tr>{cells}</tr>")
    bias = frame.attrs.get("position_bias") or {}
    share = bias.get("left_share")
    note = (
        f"left position won {share:.0%} of {bias.get('n', 0)} two-way votes"
        if isinstance(share, float)
        else "no two-way votes yet"
    )
    return (
        f'<div class="kn-rankings" style="{_FONT}">'
        '<table style="border-collapse:collapse;margin:6px 0">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        f'<div style="{_MUTED}">score: Bradley–Terry log-strength (mean 0) with its 95 % '
        f"interval; ties count half a win each way; {_e(note)}.</div></div>"
    )
