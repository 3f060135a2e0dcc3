"""`sweep.export(folder)` and `studio.log.export(folder, jobs=...)` against the live sandbox.

Real jobs, real MP4s, real files: the exported folder is moved elsewhere and must still hold
everything its page links to, with nothing outside it (no absolute path, no remote source).
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from PIL import Image

import kling_nb as kn
from kling_nb.sandbox import Faults, Sandbox

KEY = "sk-sandbox-team"
PROMPTS = ["a fox in snow", "a fox in snow, <b>golden</b> hour & wind"]


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str, str]] = []  # (tag, attribute, value)
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "poster") and value:
                self.links.append((tag, name, value))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(index: Path) -> _Links:
    parser = _Links()
    parser.feed(index.read_text(encoding="utf-8"))
    parser.close()
    return parser


def _local_targets(index: Path) -> list[Path]:
    """Every file the page loads (src, poster, local href), checked to be inside its folder."""
    targets = []
    for tag, name, value in _parse(index).links:
        parts = urlsplit(value)
        if parts.scheme:
            # Only a remote copy's link may leave the folder, and nothing loads it.
            assert (tag, name) == ("a", "href"), (tag, name, value)
            continue
        assert not value.startswith(("/", "\\")), value
        target = (index.parent / unquote(parts.path)).resolve()
        assert target.is_relative_to(index.parent.resolve()), value
        targets.append(target)
    return targets


def _csv_rows(folder: Path) -> list[dict[str, str]]:
    with (folder / "comparison.csv").open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(time_scale=0.01, pending_cap=4, seed=1) as sb:
        yield sb


@pytest.fixture
def studio(sandbox: Sandbox, tmp_path: Path) -> Iterator[kn.Studio]:
    with kn.Studio(api_key=KEY, base_url=sandbox.base_url, root=tmp_path / "runs") as made:
        yield made


def test_sweep_export_is_a_folder_that_plays_from_anywhere(
    studio: kn.Studio, tmp_path: Path
) -> None:
    sweep = studio.sweep(PROMPTS, modes=["std", "pro"]).wait(timeout=60)
    assert [job.status for job in sweep] == ["succeeded"] * 4

    index = sweep.export(tmp_path / "share")
    assert index == tmp_path / "share" / "index.html"
    moved = tmp_path / "elsewhere" / "moved share"
    moved.parent.mkdir()
    shutil.move(str(index.parent), moved)
    index = moved / "index.html"

    targets = _local_targets(index)
    videos = sorted(p for p in targets if p.suffix == ".mp4")
    assert len(set(videos)) == 4
    originals = {job.video_path.read_bytes() for job in sweep if job.video_path}
    assert {p.read_bytes() for p in videos} == originals  # copies, not links into kling_outputs
    pictures = {p for p in targets if p.suffix == ".jpg"}
    assert len(pictures) == 8  # a poster and a filmstrip per video
    for picture in pictures:
        with Image.open(picture) as image:
            assert image.format == "JPEG"
    for target in targets:
        assert target.is_file(), target

    page = index.read_text(encoding="utf-8")
    assert str(studio.root) not in page  # no path of the machine that exported it
    assert "<b>golden</b>" not in page  # the prompt is text, escaped
    assert PROMPTS[1] in "".join(_parse(index).text)
    rows = _csv_rows(moved)
    assert [row["job_id"] for row in rows] == [job.job_id for job in sweep]
    assert {row["mode"] for row in rows} == {"std", "pro"}
    assert all(float(row["total_s"]) > 0 for row in rows)
    assert all(row["cost_unit"] == studio.cost_unit for row in rows)


def test_log_export_takes_jobs_ids_or_a_filtered_frame(studio: kn.Studio, tmp_path: Path) -> None:
    sweep = studio.sweep(PROMPTS, modes=["std", "pro"]).wait(timeout=60)
    first, _, third, _ = sweep

    index = studio.log.export(tmp_path / "two", jobs=[third, first.job_id])
    assert [row["job_id"] for row in _csv_rows(index.parent)] == [third.job_id, first.job_id]
    assert len(list((index.parent / "videos").iterdir())) == 2

    df = studio.log.df
    index = studio.log.export(tmp_path / "pro", jobs=df[df["mode"] == "pro"], title="pro only")
    rows = _csv_rows(index.parent)
    assert {row["mode"] for row in rows} == {"pro"}
    assert len(rows) == 2
    assert "<title>pro only</title>" in index.read_text(encoding="utf-8")

    everything = studio.log.export(tmp_path / "all")
    assert len(_csv_rows(everything.parent)) == 4

    with pytest.raises(KeyError, match="no-such-job"):
        studio.log.export(tmp_path / "missing", jobs=[first.job_id, "no-such-job"])
    assert not (tmp_path / "missing" / "index.html").exists()


def test_a_closed_studios_ledger_exports_on_its_own(sandbox: Sandbox, tmp_path: Path) -> None:
    root = tmp_path / "runs"
    with kn.Studio(api_key=KEY, base_url=sandbox.base_url, root=root) as studio:
        job = studio.submit(kn.TextToVideo("a paper boat on a river"))
        video = job.result(timeout=60)

    with kn.Ledger(root / "kling_runs.sqlite") as ledger:
        index = ledger.export(tmp_path / "later", jobs=[job.job_id], cost_unit="USD")
    (row,) = _csv_rows(index.parent)
    assert row["status"] == "succeeded"
    assert row["cost_unit"] == "USD"
    copied = index.parent / row["video"]
    assert copied.read_bytes() == video.read_bytes()
    assert all(target.is_file() for target in _local_targets(index))


def test_failed_and_unfinished_jobs_are_exported_as_they_are(tmp_path: Path) -> None:
    with (
        Sandbox(time_scale=0.01, seed=3, faults=Faults(task_fail=1.0)) as failing,
        kn.Studio(api_key=KEY, base_url=failing.base_url, root=tmp_path / "runs") as studio,
    ):
        failed = studio.sweep("a storm at sea").wait(timeout=60)
        assert failed[0].status == "failed"
        index = failed.export(tmp_path / "failed")
    (row,) = _csv_rows(index.parent)
    assert row["status"] == "failed"
    assert row["video"] == ""
    assert row["error"]
    assert list((index.parent / "videos").iterdir()) == []
    assert "failed" in "".join(_parse(index).text)

    with (
        Sandbox(time_scale=1.0, seed=4) as slow,
        kn.Studio(api_key=KEY, base_url=slow.base_url, root=tmp_path / "slow") as studio,
    ):
        running = studio.sweep("a slow sunrise")
        index = running.export(tmp_path / "running")
        (row,) = _csv_rows(index.parent)
        assert row["status"] not in ("succeeded", "failed")
        assert row["video"] == ""
