"""The size rule: a saved notebook grows by less than 20 KB per displayed job."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import nbformat
import pytest
from _widget_helpers import make_job, video_srcs

import kling_nb as kn
from kling_nb.widgets import show_job

LIMIT_PER_JOB = 20 * 1024


def finished_jobs(studio: kn.Studio, tmp_path: Path, count: int) -> list[Any]:
    jobs = []
    for i in range(count):
        video = tmp_path / "kling_outputs" / f"job-{i}.mp4"
        video.parent.mkdir(exist_ok=True)
        video.write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(200_000))  # a 200 KB "video"
        now = time.time()
        jobs.append(
            make_job(
                studio,
                "succeeded",
                job_id=f"job-{i}",
                prompt=f"a paper boat on a river, take {i}, " + "slow dolly shot " * 20,
                tags=("sweep:abc123", "demo"),
                created_at=now - 80,
                running_at=now - 60,
                finished_at=now,
                video_path=video,
            )
        )
    return jobs


def notebook(cells_outputs: list[list[dict[str, Any]]], widget_state: Any = None) -> Any:
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("import kling_nb as kn\nstudio = kn.Studio()"))
    for i, bundles in enumerate(cells_outputs):
        cell = nbformat.v4.new_code_cell(f"jobs[{i}]")
        cell.outputs = [
            nbformat.v4.new_output("display_data", data=bundle, metadata={}) for bundle in bundles
        ]
        nb.cells.append(cell)
    if widget_state is not None:
        nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": widget_state}
    return nb


def saved_size(nb: Any, path: Path) -> int:
    nbformat.validate(nb)
    nbformat.write(nb, str(path))
    return path.stat().st_size


@pytest.mark.parametrize("with_widget_state", [False, True])
def test_ten_finished_jobs_add_less_than_20_kb_each(
    studio: kn.Studio,
    tmp_path: Path,
    published: list[dict[str, Any]],
    with_widget_state: bool,
) -> None:
    jobs = finished_jobs(studio, tmp_path, 10)
    cells: list[list[dict[str, Any]]] = []
    cards = []
    for job in jobs:
        start = len(published)
        cards.append(show_job(job, base_dir=tmp_path))
        # What the notebook keeps: the widget view, then the latest copy of the static card.
        cells.append([p["data"] for p in published[start:]])
    empty = saved_size(notebook([[] for _ in jobs]), tmp_path / "empty.ipynb")
    state = None
    if with_widget_state:
        state = widgets.Widget.get_manager_state(
            drop_defaults=True, widgets=[w for card in cards for w in _tree(card)]
        )
    full = saved_size(notebook(cells, state), tmp_path / "full.ipynb")
    per_job = (full - empty) / len(jobs)
    print(f"\nper job ({'with' if with_widget_state else 'without'} widget state): {per_job:.0f} B")
    assert per_job < LIMIT_PER_JOB
    text = (tmp_path / "full.ipynb").read_text()
    assert "base64" not in text
    assert "data:video" not in text
    reopened = nbformat.read(str(tmp_path / "full.ipynb"), as_version=4)
    static = reopened.cells[1].outputs[1].data["text/html"]
    assert video_srcs(static) == ["kling_outputs/job-0.mp4"]  # plays without a kernel


def _tree(widget: Any) -> list[Any]:
    found = [widget, widget.layout]
    for child in getattr(widget, "children", ()):
        found.extend(_tree(child))
    return found
