"""HTML for jobs, comparison grids and ledger tables: small pure functions that return strings.

Everything here takes plain data (a `Job.snapshot()` dict, a list of them, a DataFrame) and
returns HTML; nothing imports ipywidgets or does I/O, except `embed=True`, which reads the
video file to inline it. Every interpolated string (prompt, error, URL, file name, tag, JSON)
goes through `_e` (`html.escape(..., quote=True)`), and only http(s) URLs or relative file
paths ever become a `src` or `href`: never `javascript:`, and `data:` only with `embed=True`.

The output is static HTML with inline styles, so a saved notebook still reads on GitHub or
nbviewer without a kernel: the card's metadata, its request and a `<video>` whose `src` is the
downloaded file's path relative to the notebook.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, urlsplit

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "EMBED_MAX_BYTES",
    "LEDGER_TABLE_COLUMNS",
    "banner_html",
    "card_body_html",
    "card_status_html",
    "estimate_html",
    "format_seconds",
    "grid_cell_html",
    "grid_columns",
    "grid_controls_html",
    "grid_html",
    "grid_id_for",
    "hide_static_css",
    "http_url",
    "job_card_html",
    "ledger_table_html",
    "message_html",
    "panel_html",
    "plain_error",
    "relative_src",
    "relative_src_or_none",
    "static_block",
    "video_src",
]

Snapshot = Mapping[str, Any]

EMBED_MAX_BYTES: Final = 8 * 1024 * 1024
"""`embed=True` inlines a video only up to this size; bigger files keep their relative path."""

LEDGER_TABLE_COLUMNS: Final = (
    "prompt",
    "model",
    "mode",
    "duration",
    "aspect_ratio",
    "status",
    "queued_s",
    "running_s",
    "total_s",
    "cost_estimate",
    "cost_reported",
    "video_path",
    "error",
    "tags",
)
"""The `ledger_table_html` columns shown by default (those present in the frame)."""

ACTIVE: Final = frozenset({"waiting", "creating", "queued", "running", "downloading"})

_BADGE_COLORS: Final[Mapping[str, str]] = {
    "waiting": "#6e7781",
    "creating": "#6e7781",
    "queued": "#9a6700",
    "running": "#0969da",
    "downloading": "#1b7c83",
    "succeeded": "#1a7f37",
    "failed": "#cf222e",
    "error": "#cf222e",
    "expired": "#cf222e",
    "cancelled": "#8250df",
    "stopped": "#8250df",
    "timeout": "#bc4c00",
    "unknown": "#bc4c00",
}
_VIDEO_TYPES: Final[Mapping[str, str]] = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".webm": "video/webm",
    ".mov": "video/quicktime",
}
_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_FONT = "font-family:system-ui,-apple-system,'Segoe UI',sans-serif;font-size:13px;line-height:1.4"
_MUTED = "color:#57606a;font-size:12px"
_ERROR = "color:#cf222e"


def _e(value: object) -> str:
    """Escape any value for HTML text or a double-quoted attribute."""
    return html.escape("" if value is None else str(value), quote=True)


def _num(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _safe_id(value: str) -> str:
    if not _SAFE_ID.match(value):
        raise ValueError(f"element id {value!r}: use letters, digits, '-' and '_' only")
    return value


# -- URLs and paths -----------------------------------------------------------------------------


def http_url(value: object) -> str | None:
    """`value` if it is an absolute http(s) URL with a host and no whitespace, else None."""
    if not isinstance(value, str) or not value:
        return None
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in value):
        return None  # browsers drop tabs/newlines inside schemes: "java\tscript:" runs
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return value


def relative_src(path: str | os.PathLike[str], base_dir: str | os.PathLike[str] | None) -> str:
    """The file's path relative to `base_dir` (default: the working directory), URL-quoted.

    Quoting keeps `:`, `#`, `?`, quotes and spaces out of the result, so a file name can never
    turn into a scheme (`javascript:`), a fragment or an attribute break. Raises ValueError when
    no relative path exists (another drive on Windows).
    """
    base = os.path.abspath(os.fspath(base_dir) if base_dir is not None else os.getcwd())
    rel = os.path.relpath(os.path.abspath(os.fspath(path)), base)
    return quote(PurePath(rel).as_posix(), safe="/")


def _embedded(path: str) -> str | None:
    file = Path(path)
    try:
        if not file.is_file() or file.stat().st_size > EMBED_MAX_BYTES:
            return None
        data = file.read_bytes()
    except OSError:
        return None
    kind = _VIDEO_TYPES.get(file.suffix.lower(), "video/mp4")
    return f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"


def video_src(
    snapshot: Snapshot, *, base_dir: str | os.PathLike[str] | None = None, embed: bool = False
) -> str | None:
    """Where the card's `<video>` points: the local file (relative path), else the http(s) URL.

    With `embed=True`, a local file up to `EMBED_MAX_BYTES` is inlined as a `data:` URL instead
    (off by default: notebooks stay small). Returns None when there is nothing safe to show.
    """
    path = snapshot.get("video_path")
    if isinstance(path, str) and path:
        if embed:
            inline = _embedded(path)
            if inline is not None:
                return inline
        try:
            return relative_src(path, base_dir)
        except ValueError:
            pass
    return http_url(snapshot.get("video_url"))


# -- words --------------------------------------------------------------------------------------


def format_seconds(seconds: float | None) -> str:
    """'42 s', '3 min 05 s', '1 h 02 min'; '?' when unknown."""
    value = _num(seconds)
    if value is None:
        return "?"
    value = max(value, 0.0)
    if value < 60:
        return f"{value:.0f} s"
    if value < 3600:
        minutes, secs = divmod(round(value), 60)
        return f"{minutes} min {secs:02d} s"
    hours, rest = divmod(round(value), 3600)
    return f"{hours} h {rest // 60:02d} min"


def _cost(snapshot: Snapshot) -> str:
    amount = _num(snapshot.get("cost_estimate"))
    if amount is None:
        return "cost unknown"
    unit = snapshot.get("cost_unit") or "credits"
    return f"est. {amount:,.2f} {unit}"


_NEEDS_HAS = re.compile(r"needs\s+([^,;()\s]+)\s*,\s*has\s+([^,;()\s]+)", re.IGNORECASE)


def plain_error(status: str | None, error: str | None) -> str | None:
    """One sentence saying what went wrong and what to do, from the status and error text."""
    text = error or ""
    low = text.lower().replace("_", " ")
    if "http 402" in low or "balance too low" in low:
        found = _NEEDS_HAS.search(text)
        detail = f": needs {found[1]}, has {found[2]}" if found else ""
        return (
            f"Not enough credit — team balance too low{detail}. "
            "Recharge the team on WorldRouter, then generate again."
        )
    if "kling team required" in low:
        return "This API key is not team-scoped: Kling needs a team key with credit."
    if "media resource access denied" in low:
        return "This task belongs to another key, team or account, so it cannot be read."
    if "http 401" in low:
        return "The API key was not accepted (401): check WORLDROUTER_API_KEY."
    if "http 403" in low:
        return "The router refused this key (403)."
    if "http 424" in low:
        return (
            "The upstream provider failed (424): no task was created and nothing was billed. "
            "Try again shortly, or change the parameter it names."
        )
    if "http 429" in low:
        return "Too many pending tasks (429): wait for a running task to finish."
    if "http 400" in low:
        return "The router rejected the request (400): fix the field it names."
    if re.search(r"http 5\d\d", low):
        return "The router had a server error (5xx)."
    by_status = {
        "failed": "The task failed upstream.",
        "cancelled": "The task was cancelled upstream.",
        "expired": "The task expired before it finished.",
        "timeout": (
            "Stopped waiting locally: the deadline passed. The remote task runs on; "
            "studio.resume() picks it up later."
        ),
        "stopped": (
            "Stopped locally (job.cancel()). The remote task, if created, runs on and may bill."
        ),
        "unknown": (
            "The create request may have reached the server without an answer. It was not "
            "sent again (that could bill twice): check your WorldRouter usage first."
        ),
        "error": "The job could not run.",
    }
    if status in by_status:
        return by_status[status]
    return "Something went wrong." if text else None


# -- a job card ----------------------------------------------------------------------------------


def _badge(status: str) -> str:
    color = _BADGE_COLORS.get(status, "#6e7781")
    return (
        f'<span class="kn-badge" style="background:{color};color:#fff;border-radius:10px;'
        f'padding:1px 8px;font-size:12px;font-weight:600">{_e(status)}</span>'
    )


def _since_create(snapshot: Snapshot) -> float | None:
    elapsed = _num(snapshot.get("elapsed_s"))
    created = _num(snapshot.get("created_at"))
    submitted = _num(snapshot.get("submitted_at"))
    if elapsed is None:
        return None
    if created is not None and submitted is not None:
        return max(elapsed - max(created - submitted, 0.0), 0.0)
    return elapsed


def _taken(snapshot: Snapshot) -> float | None:
    created = _num(snapshot.get("created_at"))
    finished = _num(snapshot.get("finished_at"))
    if created is not None and finished is not None:
        return max(finished - created, 0.0)
    return _num(snapshot.get("elapsed_s"))


def _progress(snapshot: Snapshot) -> str:
    status = str(snapshot.get("status") or "unknown")
    elapsed = _num(snapshot.get("elapsed_s"))
    expected = _num(snapshot.get("expected_s"))
    bar = ""
    if status == "waiting":
        text = f"waiting for a free slot · {format_seconds(elapsed)}"
    elif status == "creating":
        text = "sending the create request…"
    elif status in ("queued", "running"):
        since = _since_create(snapshot)
        text = f"{format_seconds(since)} elapsed"
        if expected and since is not None:
            left = expected - since
            text += (
                f" · ETA ~{format_seconds(left)}"
                if left > 0
                else f" · longer than the usual ~{format_seconds(expected)}"
            )
            fraction = min(since / expected, 0.99)
            bar = (
                f'<progress class="kn-eta" value="{fraction:.3f}" max="1" '
                'style="width:160px;vertical-align:middle;margin-left:6px"></progress>'
            )
    elif status == "downloading":
        text = "downloading the video…"
        bar = '<progress class="kn-eta" style="width:160px;vertical-align:middle"></progress>'
    elif status == "succeeded":
        text = f"done in {format_seconds(_taken(snapshot))}"
    else:
        text = f"ended after {format_seconds(_taken(snapshot))}"
    return f'<span style="{_MUTED}">{_e(text)}</span>{bar}'


def _spec(snapshot: Snapshot) -> str:
    parts = [str(snapshot.get("model") or "?")]
    if snapshot.get("mode"):
        parts.append(str(snapshot["mode"]))
    if _num(snapshot.get("duration")):
        parts.append(f"{snapshot['duration']} s")
    if snapshot.get("aspect_ratio"):
        parts.append(str(snapshot["aspect_ratio"]))
    return " · ".join(parts)


def card_status_html(snapshot: Snapshot) -> str:
    """The card's first line: status badge, model/mode/duration/ratio, elapsed and ETA bar."""
    status = str(snapshot.get("status") or "unknown")
    remote = snapshot.get("remote_status")
    remote_note = ""
    if status == "running" and remote and str(remote) not in ("queued", "running"):
        remote_note = f' <span style="{_MUTED}">(remote: {_e(remote)})</span>'
    return (
        f'<div class="kn-status">{_badge(status)}{remote_note} '
        f"<b>{_e(_spec(snapshot))}</b> {_progress(snapshot)}</div>"
    )


def _video_block(
    snapshot: Snapshot,
    base_dir: str | os.PathLike[str] | None,
    embed: bool,
    *,
    fill: bool = False,
) -> str:
    src = video_src(snapshot, base_dir=base_dir, embed=embed)
    if src is None:
        return ""
    path = snapshot.get("video_path")
    name = PurePath(path).name if isinstance(path, str) and path else "video.mp4"
    link = src if not src.startswith("data:") else (relative_src_or_none(path, base_dir) or "")
    download = (
        f'<div><a href="{_e(link)}" download="{_e(name)}" target="_blank" rel="noopener">'
        f"download {_e(name)}</a></div>"
        if link
        else ""
    )
    size = "width:100%" if fill else "max-width:100%;max-height:360px"
    return (
        f'<video class="kn-video" controls muted loop playsinline preload="metadata" '
        f'src="{_e(src)}" style="{size};display:block;margin:6px 0;background:#000">'
        f"</video>{download}"
    )


def relative_src_or_none(path: object, base_dir: str | os.PathLike[str] | None) -> str | None:
    """`relative_src(path, base_dir)`, or None when `path` is empty or has no relative form."""
    if not isinstance(path, str) or not path:
        return None
    try:
        return relative_src(path, base_dir)
    except ValueError:
        return None


def _error_block(snapshot: Snapshot) -> str:
    status = str(snapshot.get("status") or "")
    error = snapshot.get("error")
    if status == "succeeded" or (status in ACTIVE and not error):
        return ""
    headline = plain_error(status, str(error) if error else None)
    if headline is None:
        return ""
    detail = f'<div style="{_MUTED};font-family:monospace">{_e(error)}</div>' if error else ""
    return (
        f'<div class="kn-error" style="{_ERROR};margin:4px 0"><b>{_e(headline)}</b>{detail}</div>'
    )


def _request_block(snapshot: Snapshot) -> str:
    request = snapshot.get("request")
    if not request:
        return f'<div style="{_MUTED}">request: not sent yet</div>'
    text = json.dumps(request, indent=2, ensure_ascii=False, default=str)
    return (
        f'<details><summary style="{_MUTED};cursor:pointer">request JSON</summary>'
        f'<pre style="font-size:12px;margin:4px 0;white-space:pre-wrap">{_e(text)}</pre>'
        "</details>"
    )


def _meta_line(snapshot: Snapshot) -> str:
    parts = [_cost(snapshot)]
    if snapshot.get("job_id"):
        parts.append(f"job {snapshot['job_id']}")
    if snapshot.get("task_id"):
        parts.append(f"task {snapshot['task_id']}")
    tags = snapshot.get("tags")
    if tags:
        parts.append("tags: " + ", ".join(str(tag) for tag in tags))
    return f'<div style="{_MUTED}">{_e(" · ".join(parts))}</div>'


def card_body_html(
    snapshot: Snapshot, *, base_dir: str | os.PathLike[str] | None = None, embed: bool = False
) -> str:
    """The card below its status line: prompt, cost, ids, error, video and request JSON."""
    prompt = snapshot.get("prompt") or ""
    prompt_html = (
        f'<div class="kn-prompt" style="margin:4px 0;white-space:pre-wrap">{_e(prompt)}</div>'
        if prompt
        else f'<div style="{_MUTED}">(no prompt)</div>'
    )
    return (
        f'<div class="kn-body">{prompt_html}{_meta_line(snapshot)}{_error_block(snapshot)}'
        f"{_video_block(snapshot, base_dir, embed)}{_request_block(snapshot)}</div>"
    )


def job_card_html(
    snapshot: Snapshot, *, base_dir: str | os.PathLike[str] | None = None, embed: bool = False
) -> str:
    """A whole job card from `Job.snapshot()`: status, ETA, metadata, error, video, request.

    The video points at the downloaded file by a path relative to `base_dir` (default: the
    working directory, which is the notebook's folder in a kernel), else at the http(s)
    `video_url`. `embed=True` inlines small files as base64 instead (off by default).
    """
    return (
        f'<div class="kn-card" style="{_FONT};border:1px solid #d0d7de;border-radius:6px;'
        f'padding:8px 10px;margin:4px 0;max-width:760px">'
        f"{card_status_html(snapshot)}{card_body_html(snapshot, base_dir=base_dir, embed=embed)}"
        "</div>"
    )


# -- a comparison grid ---------------------------------------------------------------------------


def grid_id_for(snapshots: Sequence[Snapshot]) -> str:
    """A stable element id for a grid of these jobs (the same jobs give the same id)."""
    ids = "|".join(str(s.get("job_id") or i) for i, s in enumerate(snapshots))
    return "kn-grid-" + hashlib.sha256(ids.encode()).hexdigest()[:12]


def grid_cell_html(
    snapshot: Snapshot, *, base_dir: str | os.PathLike[str] | None = None, embed: bool = False
) -> str:
    """One grid cell: title (prompt, model, mode, duration, seconds taken, cost) and video."""
    status = str(snapshot.get("status") or "unknown")
    prompt = str(snapshot.get("prompt") or "")
    short = prompt if len(prompt) <= 140 else prompt[:137] + "…"
    numbers = [_spec(snapshot)]
    if status == "succeeded":
        numbers.append(format_seconds(_taken(snapshot)))
    numbers.append(_cost(snapshot))
    title = (
        f'<div class="kn-title" title="{_e(prompt)}" style="font-weight:600;'
        f'white-space:pre-wrap">{_e(short) or "(no prompt)"}</div>'
        f'<div style="{_MUTED}">{_e(" · ".join(numbers))}</div>'
    )
    if status == "succeeded":
        body = _video_block(snapshot, base_dir, embed, fill=True)
        body = body or f'<div style="{_MUTED}">no video</div>'
    else:
        body = f'<div style="margin:4px 0">{card_status_html(snapshot)}</div>'
        body += _error_block(snapshot)
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
    """
    kind, name = selector[:1], selector[1:]
    if kind not in ("#", "."):
        raise ValueError(f"selector {selector!r}: '#id' or '.class'")
    selector = kind + _safe_id(name)
    button = "margin-right:6px;padding:2px 10px;cursor:pointer"
    return (
        '<div class="kn-controls" style="margin:4px 0">'
        f'<button type="button" style="{button}" '
        f'onclick="{_e(_sync_script(selector, "play"))}">▶ play all in sync</button>'
        f'<button type="button" style="{button}" '
        f'onclick="{_e(_sync_script(selector, "pause"))}">pause all</button></div>'
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
) -> str:
    """Videos side by side, each titled with prompt, model, mode, duration, time and cost.

    The "play all in sync" button restarts and plays only the videos inside this grid's own
    element (`grid_id`, by default derived from the job ids).
    """
    items = list(snapshots)
    element = _safe_id(grid_id or grid_id_for(items))
    cells = "".join(grid_cell_html(s, base_dir=base_dir, embed=embed) for s in items)
    n = grid_columns(len(items), columns)
    return (
        f'<div class="kn-grid" id="{element}" style="{_FONT};max-width:1200px">'
        f"{grid_controls_html('#' + element)}"
        f'<div style="display:grid;grid-template-columns:repeat({n},minmax(0,1fr));gap:10px">'
        f"{cells}</div></div>"
    )


# -- ledger tables -------------------------------------------------------------------------------


def _cell(column: str, value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if not math.isfinite(value):
            return ""
        return f"{value:,.2f}"
    if column == "video_path" and isinstance(value, str):
        return PurePath(value).name
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    text = str(value)
    if text in ("NaT", "nan", "None", "<NA>"):
        return ""
    return text


def ledger_table_html(df: pd.DataFrame, *, columns: Sequence[str] | None = None) -> str:
    """Ledger rows (`studio.log.df`, or a slice of it) as an escaped HTML table."""
    wanted = list(columns) if columns is not None else list(LEDGER_TABLE_COLUMNS)
    shown = [c for c in wanted if c in df.columns]
    head = "".join(f'<th style="text-align:left;padding:2px 6px">{_e(c)}</th>' for c in shown)
    rows = []
    for record in df[shown].itertuples(index=False, name=None):
        cells = "".join(
            f'<td style="padding:2px 6px;vertical-align:top">{_e(_cell(c, v))}</td>'
            for c, v in zip(shown, record, strict=True)
        )
        rows.append(f"<tr>{cells}</tr>")
    return (
        f'<table class="kn-ledger" style="{_FONT};border-collapse:collapse;margin:6px 0">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


# -- the panel, and static copies of live widgets ------------------------------------------------


def banner_html(*, sandbox_url: str | None, base_url: str | None) -> str:
    """Where jobs go: the sandbox (no credits used) or the real API (bills credit)."""
    if sandbox_url is not None:
        return (
            '<div class="kn-banner" style="background:#fff8c5;border:1px solid #d4a72c;'
            f'border-radius:6px;padding:6px 10px;{_FONT}">'
            "<b>Sandbox — no credits used.</b> Jobs go to the embedded WorldRouter stand-in at "
            f"<code>{_e(sandbox_url)}</code>, which makes real MP4 files locally. "
            "To use the real API, set <code>WORLDROUTER_API_KEY</code> before creating the "
            "Studio (or enter a key below): generating then bills your team's real credit.</div>"
        )
    return (
        '<div class="kn-banner" style="background:#ddf4ff;border:1px solid #54aeff;'
        f'border-radius:6px;padding:6px 10px;{_FONT}">'
        f"<b>WorldRouter API</b> at <code>{_e(base_url)}</code>: every Generate bills your "
        "team's credit (the estimate is shown before you press it).</div>"
    )


def panel_html(
    *,
    sandbox_url: str | None,
    base_url: str | None,
    snapshots: Iterable[Snapshot] = (),
    base_dir: str | os.PathLike[str] | None = None,
) -> str:
    """A static stand-in for the generate panel: its banner and the cards of its jobs."""
    cards = "".join(job_card_html(s, base_dir=base_dir) for s in snapshots)
    return (
        f'<div class="kn-panel" style="{_FONT}">'
        f"{banner_html(sandbox_url=sandbox_url, base_url=base_url)}"
        f'<div style="{_MUTED};margin:4px 0">kling_nb generate panel: run the cell with a live '
        f"kernel to use it.</div>{cards}</div>"
    )


def estimate_html(*, amount: str, detail: str, source: str, budget: str | None = None) -> str:
    """The panel's cost line, shown before Generate: the estimate, its arithmetic, its source."""
    extra = f" · budget left: {_e(budget)}" if budget is not None else ""
    return (
        f'<div class="kn-estimate" style="{_FONT}">Estimated cost: <b>{_e(amount)}</b> '
        f'<span style="{_MUTED}">({_e(detail)}{extra}; rates: {_e(source)})</span></div>'
    )


def message_html(text: str, *, error: bool = True) -> str:
    """A one-line message under the form: red for a validation error, muted otherwise."""
    if not text:
        return ""
    style = _ERROR if error else "color:#1a7f37"
    return f'<div class="kn-message" style="{_FONT};{style}">{_e(text)}</div>'


def static_block(inner_html: str, key: str) -> str:
    """Wrap a widget's static copy so the live widget (key = its model id) can hide it."""
    return f'<div class="kn-static kn-static-{_safe_id(key)}">{inner_html}</div>'


def hide_static_css(key: str) -> str:
    """A style rule, carried by a live widget, that hides its own static copy (`static_block`)."""
    return f"<style>.kn-static-{_safe_id(key)}{{display:none}}</style>"
