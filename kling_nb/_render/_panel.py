"""The panel's pieces (banner, cost line, messages) and the static copies of live widgets."""

from __future__ import annotations

import os
from collections.abc import Iterable

from ._card import Preload, card_text, job_card_html
from ._html import Snapshot, esc
from ._theme import BRAND, ERROR, FONT, MUTED, SUCCESS, SURFACE_ALT, WARN_COLOR

__all__ = [
    "UPLOAD_CLASS",
    "banner_html",
    "estimate_html",
    "message_html",
    "panel_css",
    "panel_html",
    "panel_text",
    "rate_card_label",
]


def _banner(accent: str, inner: str) -> str:
    return (
        f'<div class="kn-banner" style="{FONT};background:{SURFACE_ALT};'
        f'border-left:4px solid {accent};border-radius:4px;padding:6px 10px">{inner}</div>'
    )


def banner_html(*, sandbox_url: str | None, base_url: str | None, key_field: bool = True) -> str:
    """Where jobs go: the sandbox (no credits used) or the real API (bills credit).

    `key_field=False` (the static panel, which has no key field) leaves out "enter a key below".
    """
    if sandbox_url is not None:
        below = " (or enter a key below)" if key_field else ""
        return _banner(
            WARN_COLOR,
            "<b>Sandbox — no credits used.</b> Jobs go to the embedded WorldRouter stand-in at "
            f"<code>{esc(sandbox_url)}</code>, which makes real MP4 files locally. "
            "To use the real API, set <code>WORLDROUTER_API_KEY</code> before creating the "
            f"Studio{below}: generating then bills your team's real credit.",
        )
    return _banner(
        BRAND,
        f"<b>WorldRouter API</b> at <code>{esc(base_url)}</code>: every Generate bills your "
        "team's credit (the estimate is shown before you press it).",
    )


def panel_html(
    *,
    sandbox_url: str | None,
    base_url: str | None,
    snapshots: Iterable[Snapshot] = (),
    base_dir: str | os.PathLike[str] | None = None,
    preload: Preload = "metadata",
    pictures: bool = False,
) -> str:
    """A static stand-in for the generate panel: its banner and the cards of its jobs."""
    cards = "".join(
        job_card_html(s, base_dir=base_dir, preload=preload, pictures=pictures) for s in snapshots
    )
    return (
        f'<div class="kn-panel" style="{FONT}">'
        f"{banner_html(sandbox_url=sandbox_url, base_url=base_url, key_field=False)}"
        f'<div style="{MUTED};margin:4px 0">kling_nb generate panel: run the cell with a live '
        f"kernel to use it.</div>{cards}</div>"
    )


def panel_text(
    snapshots: Iterable[Snapshot], *, base_dir: str | os.PathLike[str] | None = None
) -> str:
    """The static panel as plain text: what it is, then the text of each of its jobs' cards."""
    items = list(snapshots)
    head = f"kling_nb generate panel ({len(items)} jobs; run the cell with a kernel to use it)"
    return "\n".join([head, *(card_text(s, base_dir=base_dir) for s in items)])


def rate_card_label(source: str) -> str:
    """A rate card's source in a few words: 'placeholder (…)' reads 'placeholder rate card'."""
    short = source.split(" (", 1)[0].strip() or source
    return short if "rate" in short.lower() else f"{short} rate card"


def estimate_html(*, amount: str, detail: str, source: str, budget: str | None = None) -> str:
    """The cost line shown before Generate, one level deep.

    '≈ 1.12 credits · 10 s × 0.112 credits/s (pro) · placeholder rate card', with the rate
    card's whole source on hover and the budget left, if any, at the end.
    """
    extra = f" · budget left {esc(budget)}" if budget is not None else ""
    return (
        f'<div class="kn-estimate" style="{FONT}">≈ <b>{esc(amount)}</b>'
        f'<span style="{MUTED}"> · {esc(detail)} · '
        f'<span title="{esc(source)}">{esc(rate_card_label(source))}</span>{extra}</span></div>'
    )


def message_html(text: str, *, error: bool = True) -> str:
    """A one-line message under the form: red for a validation error, green otherwise."""
    if not text:
        return ""
    style = ERROR if error else SUCCESS
    return f'<div class="kn-message" style="{FONT};{style}">{esc(text)}</div>'


UPLOAD_CLASS = "kn-upload"
"""The CSS class of the panel's upload button (`panel_css` relabels it)."""


def panel_css() -> str:
    """Style rules the live panel carries: the upload button reads 'Upload image…'.

    ipywidgets' FileUpload always writes '<description> (<count>)' ("Upload (0)"); the panel
    empties its uploads at once, so the count says nothing. The rule hides that text and
    shows a fixed label, keeping the button's icon.
    """
    size = "var(--jp-widgets-font-size, 13px)"
    return (
        f"<style>.{UPLOAD_CLASS}{{font-size:0 !important}}"
        f".{UPLOAD_CLASS} > i{{font-size:{size}}}"
        f'.{UPLOAD_CLASS}::after{{content:"Upload image…";font-size:{size};margin-left:4px}}'
        "</style>"
    )
