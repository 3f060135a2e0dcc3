"""The committed notebooks, rendered by nbconvert on a clean clone, show a picture of every job.

`git clone` copies only committed files: no `notebooks/runs/` (git-ignored), so no video is
on disk, as on GitHub or a fresh checkout. Every job output must still show its filmstrip (an
inline JPEG), no output may be a widget view (its model died with the kernel that drew it), and
no `<video>` may point at a missing file without a filmstrip beside it to stand in for it.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

pytestmark = pytest.mark.slow
pytest.importorskip("nbconvert")  # the `test` extra; the `fast` extra does not bring it

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted(p.name for p in (REPO / "notebooks").glob("[0-9][0-9]-*.ipynb"))
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
JPEG = b"\xff\xd8\xff"


class _Media(HTMLParser):
    """The `<video src>` and filmstrip `<img src>` of a page, in document order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.items: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "video":
            self.items.append(("video", found.get("src") or ""))
        elif tag == "img" and "kn-filmstrip" in (found.get("class") or ""):
            self.items.append(("strip", found.get("src") or ""))


def media(markup: str) -> list[tuple[str, str]]:
    parser = _Media()
    parser.feed(markup)
    parser.close()
    return parser.items


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    dest = tmp_path_factory.mktemp("clone") / "repo"
    subprocess.run(["git", "clone", "-q", str(REPO), str(dest)], check=True, timeout=120)
    assert not (dest / "notebooks" / "runs").exists()
    return dest


def job_outputs(book: nbformat.NotebookNode) -> list[str]:
    """The HTML of every output that shows a kling_nb job, card or grid."""
    found = []
    for cell in book.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            assert WIDGET_VIEW not in data, f"a widget view was saved: {cell.source[:60]!r}"
            markup = str(data.get("text/html", ""))
            if "<video" in markup or "kn-filmstrip" in markup:
                found.append(markup)
    return found


def check_strip(src: str) -> None:
    prefix = "data:image/jpeg;base64,"
    assert src.startswith(prefix), src[:40]
    assert base64.b64decode(src[len(prefix) :]).startswith(JPEG)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_outputs_show_a_filmstrip_for_every_video(clone: Path, name: str) -> None:
    path = clone / "notebooks" / name
    book = nbformat.read(path, as_version=4)
    outputs = job_outputs(book)
    if name != "04-async-client.ipynb" and "submit(" in "".join(c.source for c in book.cells):
        assert outputs, "a notebook that submits jobs saved no job output"
    for markup in outputs:
        items = media(markup)
        videos = [src for kind, src in items if kind == "video"]
        strips = [src for kind, src in items if kind == "strip"]
        assert len(strips) == len(videos) > 0, items
        for src in strips:
            check_strip(src)
        for index, (kind, src) in enumerate(items):
            if kind != "video":
                continue
            # Each video is followed by its own filmstrip: it stands in for a missing file.
            assert items[index + 1][0] == "strip", items
            assert not (path.parent / src).exists()  # a clean clone has no videos
    # The text beside the HTML says the same as the HTML: never an older state.
    for cell in book.cells:
        for output in cell.get("outputs", []):
            text = str(output.get("data", {}).get("text/plain", ""))
            if text.startswith(("kling_nb job", "kling_nb comparison")):
                assert "waiting" not in text
                assert "running" not in text


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_nbconvert_html_keeps_every_filmstrip(clone: Path, name: str, tmp_path: Path) -> None:
    folder = clone / "notebooks"
    subprocess.run(
        ["jupyter", "nbconvert", "--to", "html", "--output-dir", str(tmp_path), name],
        cwd=folder,
        check=True,
        capture_output=True,
        timeout=180,
    )
    page = (tmp_path / name.replace(".ipynb", ".html")).read_text()
    book = nbformat.read(folder / name, as_version=4)
    expected = sum(markup.count("kn-filmstrip") for markup in job_outputs(book))
    items = media(page)
    strips = [src for kind, src in items if kind == "strip"]
    assert len(strips) == expected
    for src in strips:
        check_strip(src)
    for index, (kind, _src) in enumerate(items):
        if kind == "video":
            assert index + 1 < len(items), items
            assert items[index + 1][0] == "strip", items
    assert "Error displaying widget" not in page
    assert "&lt;JobCard" not in page
    assert "&lt;ComparisonGrid" not in page
    assert "enter a key below" not in page
