"""Escaping, numbers and safe URLs: the helpers every renderer builds on.

Every interpolated string goes through `esc` (`html.escape(..., quote=True)`), and only http(s)
URLs or relative file paths ever become a `src` or `href`: never `javascript:`, and `data:`
only for a video with `embed=True` or for a filmstrip image (`filmstrip_uri`, JPEG bytes checked).
"""

from __future__ import annotations

import base64
import html
import math
import numbers
import os
import re
from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import Any, Final
from urllib.parse import quote, urlsplit

from .._filmstrip import PictureError, data_uri, picture_paths
from .._states import JobState

__all__ = [
    "EMBED_MAX_BYTES",
    "FILMSTRIP_MAX_BYTES",
    "Snapshot",
    "esc",
    "filmstrip_uri",
    "http_url",
    "num",
    "relative_src",
    "relative_src_or_none",
    "safe_id",
    "state_of",
    "status_text",
    "video_src",
]

Snapshot = Mapping[str, Any]
"""A `Job.snapshot()` dict (or any mapping with some of its keys)."""

EMBED_MAX_BYTES: Final = 8 * 1024 * 1024
"""`embed=True` inlines a video only up to this size; bigger files keep their relative path."""

FILMSTRIP_MAX_BYTES: Final = 27_000
"""A filmstrip is inlined into a saved notebook only up to this size (its base64 is 4/3 of it:
with the card's HTML, a finished job stays within 40 KB of notebook; issue 14)."""

_VIDEO_TYPES: Final[Mapping[str, str]] = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".webm": "video/webm",
    ".mov": "video/quicktime",
}
_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def esc(value: object) -> str:
    """Escape any value for HTML text or a double-quoted attribute."""
    return html.escape("" if value is None else str(value), quote=True)


def num(value: object) -> float | None:
    """`value` as a finite float if it is a real number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def safe_id(value: str) -> str:
    """`value` if it is a safe element id or class name; ValueError otherwise."""
    if not _SAFE_ID.match(value):
        raise ValueError(f"element id {value!r}: use letters, digits, '-' and '_' only")
    return value


def status_text(snapshot: Snapshot) -> str:
    """The snapshot's status as a string ('unknown' when missing)."""
    return str(snapshot.get("status") or "unknown")


def state_of(snapshot: Snapshot) -> JobState | None:
    """The snapshot's `JobState`, or None for a status this version does not know."""
    try:
        return JobState.parse(status_text(snapshot))
    except ValueError:
        return None


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


def relative_src_or_none(path: object, base_dir: str | os.PathLike[str] | None) -> str | None:
    """`relative_src(path, base_dir)`, or None when `path` is empty or has no relative form."""
    if not isinstance(path, str) or not path:
        return None
    try:
        return relative_src(path, base_dir)
    except ValueError:
        return None


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
        relative = relative_src_or_none(path, base_dir)
        if relative is not None:
            return relative
    return http_url(snapshot.get("video_url"))


def filmstrip_uri(snapshot: Snapshot) -> str | None:
    """The job's filmstrip as a `data:image/jpeg;base64,...` URL, or None.

    The file is the snapshot's `filmstrip`, else the `<stem>.strip.jpg` beside its video. None
    when it is missing, not an image, or over `FILMSTRIP_MAX_BYTES`: a card then shows no
    picture rather than bloat the notebook.
    """
    path = snapshot.get("filmstrip")
    if not isinstance(path, str) or not path:
        video = snapshot.get("video_path")
        if not isinstance(video, str) or not video:
            return None
        path = str(picture_paths(video).filmstrip)
    try:
        return data_uri(path, max_bytes=FILMSTRIP_MAX_BYTES)
    except PictureError:
        return None
