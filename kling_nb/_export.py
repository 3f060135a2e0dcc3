"""Export a comparison as a folder that stands on its own: index.html, videos, pictures, a CSV.

    folder/index.html         the page (see `_render_export`), relative links only
    folder/videos/<id>.mp4    copies of the local videos
    folder/pictures/<id>.poster.jpg, <id>.strip.jpg
    folder/comparison.csv     one row per job
    folder/.kling_export.json the files this export wrote (a re-export removes its stale ones)

The folder can be moved, zipped or served anywhere: it plays offline from disk.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final

from ._download import safe_name
from ._filmstrip import PictureError, make_pictures
from ._render._export import export_page_html

__all__ = ["CSV_COLUMNS", "export_comparison"]

_SHARED = 0o644

MANIFEST: Final = ".kling_export.json"
CSV_COLUMNS: Final = (
    "job_id",
    "prompt",
    "model",
    "mode",
    "duration",
    "status",
    "total_s",
    "cost_estimate",
    "cost_unit",
    "video",
    "video_url",
    "error",
)
_VIDEO_SUFFIXES: Final = frozenset({".mp4", ".webm", ".mov", ".m4v"})
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


def export_comparison(
    folder: str | os.PathLike[str],
    rows: Sequence[Mapping[str, Any]],
    *,
    title: str = "kling_nb comparison",
) -> Path:
    """Write a self-contained comparison of `rows` (ledger-like dicts) into `folder`.

    Each row needs `job_id` and may carry `prompt, model, mode, duration, status, total_s,
    cost_estimate, cost_unit, video_path, video_url, poster, filmstrip, error`. Local videos are
    copied (file names from sanitized job ids only); missing pictures are made from the copy.
    Re-exporting into the same folder overwrites cleanly. Returns the path of `index.html`.
    """
    root = Path(folder)
    for sub in ("videos", "pictures"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    names = _unique_names(str(row.get("job_id") or "") for row in rows)
    page_rows = [_export_row(root, row, name) for row, name in zip(rows, names, strict=True)]
    written = {
        p for row in page_rows for key in ("video", "poster", "filmstrip") if (p := row[key])
    }
    generated_at = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    _write_text(
        root / "index.html", export_page_html(page_rows, title=title, generated_at=generated_at)
    )
    _write_text(root / "comparison.csv", _csv(page_rows))
    _drop_stale(root, written)
    _write_text(root / MANIFEST, json.dumps({"files": sorted(written)}, indent=1) + "\n")
    return root / "index.html"


def _unique_names(ids: Iterable[str]) -> list[str]:
    """A file-safe name per job id; repeats (or ids that sanitize alike) get `-2`, `-3`, …."""
    seen: set[str] = set()
    names = []
    for job_id in ids:
        base = safe_name(job_id, default="job")
        name, n = base, 1
        while name.lower() in seen:  # case-insensitive file systems: 'A' and 'a' collide
            n += 1
            name = f"{base}-{n}"
        seen.add(name.lower())
        names.append(name)
    return names


def _export_row(root: Path, row: Mapping[str, Any], name: str) -> dict[str, Any]:
    """Copy one job's files into `root`; return the page's row (with relative paths)."""
    page: dict[str, Any] = {key: _missing_as_none(row.get(key)) for key in CSV_COLUMNS}
    page.update(video=None, poster=None, filmstrip=None)
    source = _local_file(row.get("video_path"))
    if source is not None:
        suffix = source.suffix.lower() if source.suffix.lower() in _VIDEO_SUFFIXES else ".mp4"
        page["video"] = f"videos/{name}{suffix}"
        _copy(source, root / page["video"])
    for key, label in (("poster", "poster"), ("filmstrip", "strip")):
        picture = _local_file(row.get(key))
        if picture is not None:
            page[key] = f"pictures/{name}.{label}.jpg"
            _copy(picture, root / page[key])
    if page["video"] is not None and (page["poster"] is None or page["filmstrip"] is None):
        _make_missing(root, page, name)
    return page


def _make_missing(root: Path, page: dict[str, Any], name: str) -> None:
    """Make the pictures a row lacks from the exported copy (the user's folder is not touched)."""
    try:
        made = make_pictures(root / page["video"])
    except PictureError:
        return  # an unreadable video still gets its cell; the browser shows what it can
    for key, label, path in (
        ("poster", "poster", made.poster),
        ("filmstrip", "strip", made.filmstrip),
    ):
        if page[key] is None:
            page[key] = f"pictures/{name}.{label}.jpg"
            os.replace(path, root / page[key])
        else:
            path.unlink(missing_ok=True)


def _missing_as_none(value: object) -> object:
    """None for pandas' missing values (NaN, NaT, pd.NA), so they never show as 'nan'."""
    try:
        return None if value is None or value != value else value
    except (TypeError, ValueError):  # pd.NA refuses to be compared to a bool
        return None


def _local_file(value: object) -> Path | None:
    if not isinstance(value, (str, os.PathLike)) or not os.fspath(value):
        return None
    path = Path(value)
    return path if path.is_file() else None


def _copy(source: Path, dest: Path) -> None:
    """Copy atomically; a file onto itself (exporting where the outputs already are) is a no-op."""
    with contextlib.suppress(OSError):
        if dest.exists() and os.path.samefile(source, dest):
            return
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    os.chmod(tmp, _SHARED)  # mkstemp makes 0600: a shared page or video must be readable
    try:
        shutil.copyfile(source, tmp)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _write_text(dest: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.chmod(tmp, _SHARED)  # mkstemp makes 0600: a shared page or picture must be readable
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _drop_stale(root: Path, written: set[str]) -> None:
    """Remove files an earlier export wrote that this one no longer links (only those)."""
    try:
        before = json.loads((root / MANIFEST).read_text(encoding="utf-8")).get("files", [])
    except (OSError, ValueError, AttributeError):
        return
    for rel in before:
        if not isinstance(rel, str) or rel in written:
            continue
        parts = rel.split("/")
        if (
            len(parts) == 2
            and parts[0] in ("videos", "pictures")
            and parts[1] == safe_name(parts[1])
        ):
            (root / parts[0] / parts[1]).unlink(missing_ok=True)


def _cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return "" if value is None else value


def _csv(rows: Sequence[Mapping[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in CSV_COLUMNS])
    return buffer.getvalue()
