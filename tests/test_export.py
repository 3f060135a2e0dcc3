"""The exported comparison: an escaped page with relative links only, and a folder that moves."""

from __future__ import annotations

import csv
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from PIL import Image

from kling_nb._export import CSV_COLUMNS, export_comparison
from kling_nb._filmstrip import make_pictures
from kling_nb._render._export import export_page_html, page_src, remote_url
from kling_nb.sandbox import VideoSpec, render_mp4

EVIL = "<script>alert(1)</script>\"'&<img src=x onerror=alert(2)>"


class _Page(HTMLParser):
    """Every start tag with its attributes, every script body, and all visible text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self.text: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        (self.scripts if self._in_script else self.text).append(data)


def _parse(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    parser.close()
    return parser


def _links(parsed: _Page) -> list[str]:
    return [
        value
        for _, attrs in parsed.tags
        for name, value in attrs.items()
        if name in ("src", "href", "poster", "srcset", "action", "data") and value is not None
    ]


def _row(**overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "job_id": "job-1",
        "prompt": "a fox in snow",
        "model": "kling-v3",
        "mode": "std",
        "duration": 5,
        "status": "succeeded",
        "total_s": 42.4,
        "cost_estimate": 0.35,
        "cost_unit": "credits",
        "error": None,
        "video": "videos/job-1.mp4",
        "poster": "pictures/job-1.poster.jpg",
        "filmstrip": "pictures/job-1.strip.jpg",
        "video_url": None,
    }
    row.update(overrides)
    return row


# -- the page builder ---------------------------------------------------------------------------


def test_page_shows_the_cell_words_and_the_table() -> None:
    page = export_page_html(
        [_row(), _row(job_id="job-2", mode="pro", cost_estimate=0.56, total_s=75)],
        title="Foxes",
        generated_at="2026-12-01 10:00 UTC",
    )
    parsed = _parse(page)
    text = " ".join(parsed.text)
    assert page.startswith("<!DOCTYPE html>")
    assert "<title>Foxes</title>" in page
    assert "5 s video · took 42 s · 0.35 credits" in text
    assert "5 s video · took 1 min 15 s · 0.56 credits" in text
    assert "2 jobs · 2 videos · 0.91 credits estimated · exported 2026-12-01 10:00 UTC" in text
    videos = [attrs for tag, attrs in parsed.tags if tag == "video"]
    assert len(videos) == 2
    for attrs in videos:
        assert attrs["preload"] == "metadata"
        assert {"controls", "muted", "loop", "playsinline"} <= set(attrs)
    assert videos[0]["src"] == "videos/job-1.mp4"
    assert videos[0]["poster"] == "pictures/job-1.poster.jpg"
    assert '<code title="job-1">job-1</code>' in page
    long_id = export_page_html(
        [_row(job_id="20261130-104100-abcd1234")], title="t", generated_at="x"
    )
    assert '<code title="20261130-104100-abcd1234">abcd1234</code>' in long_id
    buttons = [attrs.get("id") for tag, attrs in parsed.tags if tag == "button"]
    assert buttons == ["kn-play", "kn-pause", "kn-restart"]
    numbers = re.findall(r'<td class="num">([^<]*)</td>', page)
    assert numbers == ["5 s", "42 s", "0.35 credits", "5 s", "1 min 15 s", "0.56 credits"]
    assert "prefers-color-scheme:dark" in page


def test_every_field_is_escaped() -> None:
    row = _row(
        job_id=EVIL,
        prompt=EVIL,
        model=EVIL,
        mode=EVIL,
        status=EVIL,
        error=EVIL,
        cost_unit=EVIL,
        duration=EVIL,
        total_s=EVIL,
    )
    page = export_page_html([row], title=EVIL, generated_at=EVIL)
    parsed = _parse(page)
    assert "<script>alert" not in page
    assert "onerror" not in {name for _, attrs in parsed.tags for name in attrs}
    assert [tag for tag, _ in parsed.tags].count("script") == 1  # only the page's own
    images = [attrs for tag, attrs in parsed.tags if tag == "img"]  # the fallback filmstrip
    assert images == [
        {"class": "strip kn-fallback", "hidden": None, "src": "pictures/job-1.strip.jpg",
         "alt": f"filmstrip of {EVIL}"}
    ]  # fmt: skip
    assert EVIL in " ".join(parsed.text)  # shown as text, whole
    prompt_attrs = [attrs for tag, attrs in parsed.tags if tag == "p"]
    assert prompt_attrs[0]["title"] == EVIL  # the full prompt on hover


@pytest.mark.parametrize(
    "bad",
    [
        "javascript:alert(1)",
        "java\tscript:alert(1)",
        "/etc/passwd",
        "//evil.example/x.mp4",
        "../outside.mp4",
        "videos/../../x.mp4",
        "C:\\videos\\x.mp4",
        "data:video/mp4;base64,AAAA",
        "file:///etc/passwd",
        "",
        None,
        42,
    ],
)
def test_only_relative_paths_become_src(bad: object) -> None:
    page = export_page_html(
        [_row(video=bad, poster=bad, filmstrip=bad, video_url=bad)], title="t", generated_at="now"
    )
    parsed = _parse(page)
    assert _links(parsed) == []
    assert "no video" in " ".join(parsed.text)


def test_relative_paths_are_quoted_and_http_urls_are_only_linked() -> None:
    assert page_src("videos/a b#c?d:e.mp4") == "videos/a%20b%23c%3Fd%3Ae.mp4"
    assert page_src("javascript:alert(1)") is None
    assert remote_url("https://cdn.example/v.mp4?sig=1") == "https://cdn.example/v.mp4?sig=1"
    assert remote_url("ftp://cdn.example/v.mp4") is None
    page = export_page_html(
        [_row(video=None, poster=None, filmstrip=None, video_url="https://cdn.example/v.mp4")],
        title="t",
        generated_at="now",
    )
    parsed = _parse(page)
    assert _links(parsed) == ["https://cdn.example/v.mp4"]
    assert [tag for tag, _ in parsed.tags if tag == "a"] == ["a"]
    assert "video" not in [tag for tag, _ in parsed.tags]  # never fetched on open


def test_a_failed_job_shows_status_error_and_its_filmstrip() -> None:
    row = _row(video=None, poster=None, status="failed", error="HTTP 424: upstream timed out")
    parsed = _parse(export_page_html([row], title="t", generated_at="now"))
    text = " ".join(parsed.text)
    assert "failed" in text
    assert "HTTP 424: upstream timed out" in text
    assert "5 s video · time unknown · 0.35 credits" in " ".join(
        export_page_html([_row(total_s=None)], title="t", generated_at="now").split()
    )
    assert [(tag, attrs["src"]) for tag, attrs in parsed.tags if tag == "img"] == [
        ("img", "pictures/job-1.strip.jpg")
    ]


def test_the_page_names_no_external_url() -> None:
    page = export_page_html([_row()], title="t", generated_at="now")
    assert not re.search(r"(https?:)?//[a-z0-9]", page, re.IGNORECASE)
    assert "@import" not in page
    assert 'type="module"' not in page


# -- the export folder --------------------------------------------------------------------------


def _video(folder: Path, name: str, *, duration: int, width: int = 320, height: int = 180) -> Path:
    spec = VideoSpec(
        prompt=f"{name} clip",
        model="kling-v3",
        mode="std",
        duration=duration,
        width=width,
        height=height,
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.mp4"
    path.write_bytes(render_mp4(spec))
    return path


@pytest.fixture
def outputs(tmp_path: Path) -> list[dict[str, Any]]:
    """Three ledger-like rows: one with pictures made, one without, and one failed job."""
    out = tmp_path / "kling_outputs"
    first = _video(out, "task_a", duration=5)
    pictures = make_pictures(first)
    second = _video(out, "task_b", duration=10, width=180, height=320)
    base = {"model": "kling-v3", "cost_unit": "credits", "error": None, "video_url": None}
    return [
        {**base, "job_id": "a/../../evil", "prompt": EVIL, "mode": "std", "duration": 5,
         "status": "succeeded", "total_s": 30.0, "cost_estimate": 0.35, "video_path": str(first),
         "poster": str(pictures.poster), "filmstrip": str(pictures.filmstrip)},
        {**base, "job_id": "job-b", "prompt": "a fox, golden hour", "mode": "pro", "duration": 10,
         "status": "succeeded", "total_s": 61.0, "cost_estimate": 1.12, "video_path": str(second)},
        {**base, "job_id": "job-c", "prompt": "=HYPERLINK(\"x\")", "mode": "std", "duration": 5,
         "status": "failed", "total_s": 12.0, "cost_estimate": None, "video_path": None,
         "error": "HTTP 424: upstream timed out"},
    ]  # fmt: skip


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_export_copies_and_links_everything(tmp_path: Path, outputs: list[dict[str, Any]]) -> None:
    folder = tmp_path / "share"
    index = export_comparison(folder, outputs, title="Foxes")
    assert index == folder / "index.html"
    assert _files(folder) == [
        ".kling_export.json",
        "comparison.csv",
        "index.html",
        "pictures/a_.._.._evil.poster.jpg",
        "pictures/a_.._.._evil.strip.jpg",
        "pictures/job-b.poster.jpg",
        "pictures/job-b.strip.jpg",
        "videos/a_.._.._evil.mp4",
        "videos/job-b.mp4",
    ]
    assert (folder / "videos/job-b.mp4").read_bytes() == Path(outputs[1]["video_path"]).read_bytes()
    with Image.open(folder / "pictures/job-b.strip.jpg") as strip:
        assert strip.size == (800, 284)  # made from the copy, for the 9:16 video
    assert sorted(p.name for p in Path(outputs[1]["video_path"]).parent.iterdir()) == [
        "task_a.mp4",
        "task_a.poster.jpg",
        "task_a.strip.jpg",
        "task_b.mp4",
    ]  # the user's outputs folder is left as it was
    parsed = _parse(index.read_text(encoding="utf-8"))
    links = _links(parsed)
    assert links
    for link in links:
        assert not urlsplit(link).scheme, link
        assert not link.startswith("/"), link
        assert (folder / unquote(link)).is_file(), link
    assert "HTTP 424: upstream timed out" in " ".join(parsed.text)


def test_csv_has_one_row_per_job_and_defuses_formulas(
    tmp_path: Path, outputs: list[dict[str, Any]]
) -> None:
    export_comparison(tmp_path / "share", outputs)
    with (tmp_path / "share/comparison.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [row["job_id"] for row in rows] == ["a/../../evil", "job-b", "job-c"]
    assert rows[0]["prompt"] == EVIL
    assert rows[1]["video"] == "videos/job-b.mp4"
    assert rows[2]["prompt"] == '\'=HYPERLINK("x")'
    assert rows[2]["video"] == ""


def test_the_folder_works_after_moving_it(tmp_path: Path, outputs: list[dict[str, Any]]) -> None:
    export_comparison(tmp_path / "share", outputs)
    shutil.rmtree(tmp_path / "kling_outputs")
    moved = tmp_path / "elsewhere" / "deeper" / "copy"
    shutil.move(str(tmp_path / "share"), str(moved))
    page = (moved / "index.html").read_text(encoding="utf-8")
    assert str(tmp_path) not in page
    for link in _links(_parse(page)):
        assert (moved / unquote(link)).is_file(), link


def test_reexport_overwrites_cleanly(tmp_path: Path, outputs: list[dict[str, Any]]) -> None:
    folder = tmp_path / "share"
    (folder / "videos").mkdir(parents=True)
    (folder / "videos" / "mine.mp4").write_bytes(b"the user's own file")
    export_comparison(folder, outputs)
    first = _files(folder)
    export_comparison(folder, outputs)
    assert _files(folder) == first

    export_comparison(folder, outputs[1:])  # job a left the comparison: its files go
    assert "videos/a_.._.._evil.mp4" not in _files(folder)
    assert "pictures/a_.._.._evil.strip.jpg" not in _files(folder)
    assert "videos/job-b.mp4" in _files(folder)
    assert (folder / "videos" / "mine.mp4").read_bytes() == b"the user's own file"
    assert not [name for name in _files(folder) if name.endswith(".tmp")]


def test_duplicate_and_empty_ids_get_distinct_files(
    tmp_path: Path, outputs: list[dict[str, Any]]
) -> None:
    twin = {**outputs[1], "job_id": "JOB-B"}
    blank = {**outputs[1], "job_id": ""}
    export_comparison(tmp_path / "share", [outputs[1], twin, blank])
    videos = [name for name in _files(tmp_path / "share") if name.startswith("videos/")]
    assert videos == ["videos/JOB-B-2.mp4", "videos/job-b.mp4", "videos/job.mp4"]


def test_an_unreadable_video_is_exported_without_pictures(
    tmp_path: Path, outputs: list[dict[str, Any]]
) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    export_comparison(tmp_path / "share", [{**outputs[1], "video_path": str(broken)}])
    assert [n for n in _files(tmp_path / "share") if n.startswith(("videos/", "pictures/"))] == [
        "videos/job-b.mp4"
    ]


def test_rows_from_a_dataframe_show_no_nan(tmp_path: Path, outputs: list[dict[str, Any]]) -> None:
    import pandas as pd

    records = pd.DataFrame(outputs).to_dict("records")  # missing values become NaN
    index = export_comparison(tmp_path / "share", records)
    page = index.read_text(encoding="utf-8")
    assert "nan" not in page.lower().replace("nano", "")
    assert "nan" not in (tmp_path / "share/comparison.csv").read_text(encoding="utf-8").lower()
    assert "cost unknown" in page
