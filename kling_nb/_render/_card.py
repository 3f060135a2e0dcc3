"""The job card: status badge and ETA, prompt, cost and ids, error in words, video, request."""

from __future__ import annotations

import json
import os
from pathlib import PurePath
from typing import Final, Literal

from .._states import JobState
from ._errors import plain_error
from ._html import (
    Snapshot,
    esc,
    filmstrip_uri,
    num,
    relative_src_or_none,
    state_of,
    status_text,
    video_src,
)
from ._theme import BORDER, ERROR, FONT, MUTED, SURFACE, badge_color
from ._words import cost_text, format_seconds, since_create, spec_text, taken

__all__ = [
    "Preload",
    "card_body_html",
    "card_status_html",
    "card_text",
    "error_block",
    "filmstrip_block",
    "job_card_html",
    "reused_html",
    "reused_text",
    "video_block",
]

Preload = Literal["metadata", "none", "auto"]
"""A `<video preload>`: the live view loads metadata; static copies load nothing."""

_BAR: Final = "width:160px;vertical-align:middle;margin-left:6px"
# A static copy's video hides itself when its file is missing (a fresh clone): the filmstrip
# below it is then the picture. Renderers that strip handlers (GitHub, an untrusted notebook
# in JupyterLab) keep the filmstrip too. A constant: nothing interpolated runs as script.
HIDE_ON_ERROR: Final = "this.style.display='none'"


def _badge(snapshot: Snapshot) -> str:
    color = badge_color(state_of(snapshot))
    return (
        f'<span class="kn-badge" style="background:{color};color:#fff;border-radius:10px;'
        f'padding:1px 8px;font-size:12px;font-weight:600">{esc(status_text(snapshot))}</span>'
    )


def _remote_progress(snapshot: Snapshot) -> tuple[str, str]:
    since = since_create(snapshot)
    expected = num(snapshot.get("expected_s"))
    text = f"{format_seconds(since)} elapsed"
    if not expected or since is None:
        return text, ""
    left = expected - since
    text += (
        f" · ETA ~{format_seconds(left)}"
        if left > 0
        else f" · longer than the usual ~{format_seconds(expected)}"
    )
    fraction = min(since / expected, 0.99)
    return (
        text,
        f'<progress class="kn-eta" value="{fraction:.3f}" max="1" style="{_BAR}"></progress>',
    )


def _progress(snapshot: Snapshot) -> str:
    state = state_of(snapshot)
    bar = ""
    if state is JobState.WAITING:
        text = f"waiting for a free slot · {format_seconds(num(snapshot.get('elapsed_s')))}"
    elif state is JobState.CREATING:
        text = "sending the create request…"
    elif state in (JobState.QUEUED, JobState.RUNNING):
        text, bar = _remote_progress(snapshot)
    elif state is JobState.DOWNLOADING:
        text = "downloading the video…"
        bar = f'<progress class="kn-eta" style="{_BAR}"></progress>'
    elif state is JobState.SUCCEEDED:
        text = f"done in {format_seconds(taken(snapshot))}"
    elif state is not None and state.parked:
        text = f"paused after {format_seconds(taken(snapshot))} · resume() continues it"
    else:
        text = f"ended after {format_seconds(taken(snapshot))}"
    return f'<span style="{MUTED}">{esc(text)}</span>{bar}'


def card_status_html(snapshot: Snapshot) -> str:
    """The card's first line: status badge, model/mode/duration/ratio, elapsed and ETA bar."""
    remote = snapshot.get("remote_status")
    remote_note = ""
    if (
        state_of(snapshot) is JobState.RUNNING
        and remote
        and str(remote)
        not in (
            "queued",
            "running",
        )
    ):
        remote_note = f' <span style="{MUTED}">(remote: {esc(remote)})</span>'
    return (
        f'<div class="kn-status">{_badge(snapshot)}{remote_note} '
        f"<b>{esc(spec_text(snapshot))}</b> {_progress(snapshot)}</div>"
    )


def video_block(
    snapshot: Snapshot,
    base_dir: str | os.PathLike[str] | None,
    embed: bool,
    *,
    fill: bool = False,
    preload: Preload = "metadata",
    pictures: bool = False,
) -> str:
    """The `<video>` of a finished job and a download link; '' when there is nothing to show.

    `pictures=True` (static copies) adds the job's filmstrip below, as a small inline image,
    and makes a video whose file is missing hide itself, so the filmstrip stands in for it.
    """
    src = video_src(snapshot, base_dir=base_dir, embed=embed)
    strip = filmstrip_block(snapshot) if pictures else ""
    if src is None:
        return strip
    path = snapshot.get("video_path")
    name = PurePath(path).name if isinstance(path, str) and path else "video.mp4"
    link = src if not src.startswith("data:") else (relative_src_or_none(path, base_dir) or "")
    download = (
        f'<div><a href="{esc(link)}" download="{esc(name)}" target="_blank" rel="noopener">'
        f"download {esc(name)}</a></div>"
        if link
        else ""
    )
    size = "width:100%" if fill else "max-width:100%;max-height:360px"
    hide = f' onerror="{HIDE_ON_ERROR}"' if pictures else ""
    return (
        f'<video class="kn-video" controls muted loop playsinline preload="{esc(preload)}" '
        f'src="{esc(src)}"{hide} style="{size};display:block;margin:6px 0;background:#000">'
        f"</video>{strip}{download}"
    )


def filmstrip_block(snapshot: Snapshot) -> str:
    """The job's filmstrip (frames side by side) as an inline `<img>`; '' when it has none."""
    uri = filmstrip_uri(snapshot)
    if uri is None:
        return ""
    prompt = str(snapshot.get("prompt") or "the video")
    label = f"filmstrip: 5 frames of {prompt if len(prompt) <= 80 else prompt[:77] + '…'}"
    return (
        f'<img class="kn-filmstrip" src="{esc(uri)}" alt="{esc(label)}" title="{esc(label)}" '
        'style="display:block;width:100%;max-width:640px;height:auto;margin:4px 0">'
    )


def error_block(snapshot: Snapshot) -> str:
    """The error in words (bold) over its raw text; '' for a healthy job."""
    headline = plain_error(snapshot)
    if headline is None:
        return ""
    error = snapshot.get("error")
    detail = f'<div style="{MUTED};font-family:monospace">{esc(error)}</div>' if error else ""
    return (
        f'<div class="kn-error" style="{ERROR};margin:4px 0"><b>{esc(headline)}</b>{detail}</div>'
    )


def reused_text(snapshot: Snapshot) -> str | None:
    """'from ann's run (on ann-laptop)', and where its video is, for a reused job; else None.

    A reused job is another run's succeeded job that `sweep(skip_done=True)` showed instead
    of generating the variant again (`snapshot["reused"]`: member, machine, where).
    """
    reused = snapshot.get("reused")
    if not isinstance(reused, dict):
        return None
    member, machine = reused.get("member") or "someone", reused.get("machine") or "?"
    where = reused.get("where")
    if where == "elsewhere":
        return (
            f"reused: from {member}'s run · video on another machine ({machine}); "
            "its URL no longer serves it"
        )
    how = "a copy fetched again from its URL" if where == "copy" else "its video is on this machine"
    return f"reused: from {member}'s run on {machine} · {how}"


def reused_html(snapshot: Snapshot) -> str:
    """`reused_text` as a muted line (escaped); '' for a job that was not reused."""
    text = reused_text(snapshot)
    if text is None:
        return ""
    return f'<div class="kn-reused" style="{MUTED}">♻ {esc(text)}</div>'


def _request_block(snapshot: Snapshot) -> str:
    request = snapshot.get("request")
    if not request:
        return f'<div style="{MUTED}">request: not sent yet</div>'
    text = json.dumps(request, indent=2, ensure_ascii=False, default=str)
    return (
        f'<details><summary style="{MUTED};cursor:pointer">request JSON</summary>'
        f'<pre style="font-size:12px;margin:4px 0;white-space:pre-wrap">{esc(text)}</pre>'
        "</details>"
    )


def _meta_line(snapshot: Snapshot) -> str:
    parts = [cost_text(snapshot)]
    if snapshot.get("job_id"):
        parts.append(f"job {snapshot['job_id']}")
    if snapshot.get("task_id"):
        parts.append(f"task {snapshot['task_id']}")
    tags = snapshot.get("tags")
    if tags:
        parts.append("tags: " + ", ".join(str(tag) for tag in tags))
    return f'<div style="{MUTED}">{esc(" · ".join(parts))}</div>'


def card_body_html(
    snapshot: Snapshot,
    *,
    base_dir: str | os.PathLike[str] | None = None,
    embed: bool = False,
    preload: Preload = "metadata",
    pictures: bool = False,
) -> str:
    """The card below its status line: prompt, cost, ids, error, video and request JSON."""
    prompt = snapshot.get("prompt") or ""
    prompt_html = (
        f'<div class="kn-prompt" style="margin:4px 0;white-space:pre-wrap">{esc(prompt)}</div>'
        if prompt
        else f'<div style="{MUTED}">(no prompt)</div>'
    )
    state = state_of(snapshot)
    # An active job has no video yet: while it downloads, showing the remote URL would load
    # the same video twice (remote, then the local file a moment later).
    active = state is not None and state.active
    video = (
        "" if active else video_block(snapshot, base_dir, embed, preload=preload, pictures=pictures)
    )
    return (
        f'<div class="kn-body">{prompt_html}{_meta_line(snapshot)}{reused_html(snapshot)}'
        f"{error_block(snapshot)}"
        f"{video}{_request_block(snapshot)}</div>"
    )


def job_card_html(
    snapshot: Snapshot,
    *,
    base_dir: str | os.PathLike[str] | None = None,
    embed: bool = False,
    preload: Preload = "metadata",
    pictures: bool = False,
) -> str:
    """A whole job card from `Job.snapshot()`: status, ETA, metadata, error, video, request.

    The video points at the downloaded file by a path relative to `base_dir` (default: the
    working directory, which is the notebook's folder in a kernel), else at the http(s)
    `video_url`. `embed=True` inlines small files as base64 instead (off by default).
    `preload="none"` is for a copy that stays hidden while a live view plays the same file.
    `pictures=True` (a saved notebook's final card) adds the filmstrip: see `video_block`.
    """
    body = card_body_html(
        snapshot, base_dir=base_dir, embed=embed, preload=preload, pictures=pictures
    )
    return (
        f'<div class="kn-card" style="{FONT};background:{SURFACE};border:1px solid {BORDER};'
        f'border-radius:6px;padding:8px 10px;margin:4px 0;max-width:760px">'
        f"{card_status_html(snapshot)}{body}</div>"
    )


def card_text(snapshot: Snapshot, *, base_dir: str | os.PathLike[str] | None = None) -> str:
    """The card as plain text (`text/plain` beside the HTML), saying the same as the HTML."""
    state = state_of(snapshot)
    lines = [
        f"kling_nb job {snapshot.get('job_id') or '?'}: {status_text(snapshot)} · "
        f"{spec_text(snapshot)}"
    ]
    prompt = str(snapshot.get("prompt") or "")
    if prompt:
        lines.append(repr(prompt if len(prompt) <= 100 else prompt[:97] + "..."))
    headline = plain_error(snapshot)
    if headline is not None:
        lines.append(f"error: {headline}")
    reused = reused_text(snapshot)
    if reused is not None:
        lines.append(reused)
    if state is JobState.SUCCEEDED:
        lines.append(f"done in {format_seconds(taken(snapshot))} · {cost_text(snapshot)}")
        where = relative_src_or_none(snapshot.get("video_path"), base_dir)
        if where is not None:
            lines.append(f"video: {where}")
    return "\n".join(lines)
