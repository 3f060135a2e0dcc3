"""Ledger rows as a readable table: reading order, units, short ids, wrapped prompts, scrolling."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import PurePath
from typing import TYPE_CHECKING, Final

from ._html import esc, num
from ._theme import BORDER, FONT, SURFACE_ALT
from ._words import format_amount, short_id

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["LEDGER_TABLE_COLUMNS", "ledger_table_html"]

LEDGER_TABLE_COLUMNS: Final = (
    "prompt",
    "model",
    "mode",
    "duration",
    "aspect_ratio",
    "status",
    "total_s",
    "cost_estimate",
    "cost_reported",
    "error",
    "tags",
    "job_id",
    "task_id",
    "video_path",
)
"""The `ledger_table_html` columns shown by default (those present), in reading order."""

_HEADERS: Final[Mapping[str, str]] = {
    "aspect_ratio": "ratio",
    "queued_s": "queued",
    "running_s": "running",
    "total_s": "time",
    "cost_estimate": "est. cost",
    "cost_reported": "reported cost",
    "job_id": "job",
    "task_id": "task",
    "video_path": "video",
}
_SECONDS: Final = frozenset({"duration", "queued_s", "running_s", "total_s"})
_COSTS: Final = frozenset({"cost_estimate", "cost_reported"})
_IDS: Final = frozenset({"job_id", "task_id"})
_LONG_TEXT: Final = frozenset({"prompt", "error"})
_EMPTY: Final = frozenset({"NaT", "nan", "None", "<NA>"})
_PAD: Final = "padding:3px 8px;vertical-align:top"
_WRAP: Final = "max-width:28em;min-width:12em;white-space:normal;overflow-wrap:anywhere"


def _plain(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    number = num(value)
    if isinstance(value, float) and number is None:
        return ""  # NaN / inf
    if number is not None and not isinstance(value, int) and not float(number).is_integer():
        return f"{number:,.2f}"
    text = str(value)
    return "" if text in _EMPTY else text


def _number(column: str, value: object, unit: str) -> str | None:
    amount = num(value)
    if column in _SECONDS:
        if amount is None:
            return ""
        return f"{amount:g} s" if column == "duration" else f"{amount:,.1f} s"
    if column in _COSTS:
        return "" if amount is None else format_amount(amount, unit)
    return None


def _cell(column: str, value: object, unit: str) -> str:
    number = _number(column, value, unit)
    if number is not None:
        return f'<td style="{_PAD};text-align:right;white-space:nowrap">{esc(number)}</td>'
    text = _plain(value)
    if column in _IDS and text:
        return (
            f'<td style="{_PAD};font-family:monospace" title="{esc(text)}">'
            f"{esc(short_id(text))}</td>"
        )
    if column == "video_path" and text:
        return f'<td style="{_PAD}" title="{esc(text)}">{esc(PurePath(text).name)}</td>'
    if column in _LONG_TEXT and text:
        shown = text if len(text) <= 300 else text[:297] + "…"
        return (
            f'<td style="{_PAD}" title="{esc(text)}"><div style="{_WRAP}">{esc(shown)}</div></td>'
        )
    return f'<td style="{_PAD};white-space:nowrap">{esc(text)}</td>'


def _header(column: str) -> str:
    align = "right" if column in _SECONDS or column in _COSTS else "left"
    return (
        f'<th style="{_PAD};text-align:{align};white-space:nowrap;'
        f'border-bottom:1px solid {BORDER}">{esc(_HEADERS.get(column, column))}</th>'
    )


def ledger_table_html(
    df: pd.DataFrame, *, columns: Sequence[str] | None = None, unit: str = "credits"
) -> str:
    """Ledger rows (`studio.log.df`, or a slice of it) as an escaped HTML table.

    Columns come in reading order (what was asked, how it went, what it cost, then ids);
    numbers are right-aligned with their unit (`unit` for costs); ids are shortened to 8
    characters and prompts wrapped, each with the full text on hover. The table scrolls
    sideways inside its output instead of being clipped.
    """
    wanted = list(columns) if columns is not None else list(LEDGER_TABLE_COLUMNS)
    shown = [c for c in wanted if c in df.columns]
    head = "".join(_header(c) for c in shown)
    rows = []
    for record in df[shown].itertuples(index=False, name=None):
        cells = "".join(_cell(c, v, unit) for c, v in zip(shown, record, strict=True))
        rows.append(f'<tr style="border-top:1px solid {BORDER}">{cells}</tr>')
    return (
        f'<div class="kn-table-wrap" style="overflow-x:auto;max-width:100%;margin:6px 0">'
        f'<table class="kn-ledger" style="{FONT};border-collapse:collapse">'
        f'<thead style="background:{SURFACE_ALT}"><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )
