"""The size rule: a saved notebook grows by at most 40 KB per finished job, filmstrip included.

Issue 14's target. The jobs are real sandbox MP4s with the filmstrips the Studio writes beside
them (`make_pictures`), so the inlined pictures are the sizes users get.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
from _widget_helpers import make_job, put, video_srcs

import kling_nb as kn
from kling_nb._filmstrip import make_pictures
from kling_nb.sandbox import VideoSpec, render_mp4
from kling_nb.widgets import show_job

LIMIT_PER_JOB = 40 * 1024


def finished_jobs(
    studio: kn.Studio, tmp_path: Path, count: int, size: tuple[int, int]
) -> list[Any]:
    jobs = []
    for i in range(count):
        prompt = f"a paper boat on a river, take {i}, " + "slow dolly shot " * 20
        video = tmp_path / "kling_outputs" / f"job-{i}.mp4"
        video.parent.mkdir(exist_ok=True)
        spec = VideoSpec(
            prompt=prompt, model="kling-v3", mode="pro", duration=10, width=size[0], height=size[1]
        )
        video.write_bytes(render_mp4(spec))
        pictures = make_pictures(video)
        now = time.time()
        job = make_job(
            studio,
            "running",
            job_id=f"job-{i}",
            prompt=prompt,
            tags=("sweep:abc123", "demo"),
            created_at=now - 80,
            running_at=now - 60,
        )
        jobs.append((job, video, pictures))
    return jobs


def notebook(cells_outputs: list[list[dict[str, Any]]]) -> Any:
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("import kling_nb as kn\nstudio = kn.Studio()"))
    for i, bundles in enumerate(cells_outputs):
        cell = nbformat.v4.new_code_cell(f"jobs[{i}]")
        cell.outputs = [
            nbformat.v4.new_output("display_data", data=bundle, metadata={}) for bundle in bundles
        ]
        nb.cells.append(cell)
    return nb


def saved_size(nb: Any, path: Path) -> int:
    nbformat.validate(nb)
    nbformat.write(nb, str(path))
    return path.stat().st_size


@pytest.mark.parametrize("size", [(320, 180), (180, 320)], ids=["16:9", "9:16"])
def test_ten_finished_jobs_add_at_most_40_kb_each(
    studio: kn.Studio, tmp_path: Path, published: list[dict[str, Any]], size: tuple[int, int]
) -> None:
    jobs = finished_jobs(studio, tmp_path, 10, size)
    cells: list[list[dict[str, Any]]] = []
    for job, video, pictures in jobs:
        card = show_job(job, base_dir=tmp_path)
        assert card is not None
        display_id = published[-1]["display_id"]
        job.video_path, job.poster, job.filmstrip = video, pictures.poster, pictures.filmstrip
        put(job, "succeeded")
        job.finished_at = time.time()
        job.changed()
        # What the notebook keeps: the last bundle published under the output's display id.
        kept = [p["data"] for p in published if p["display_id"] == display_id][-1]
        cells.append([kept])
    empty = saved_size(notebook([[] for _ in jobs]), tmp_path / "empty.ipynb")
    full = saved_size(notebook(cells), tmp_path / "full.ipynb")
    per_job = (full - empty) / len(jobs)
    print(f"\nper finished job ({size[0]}x{size[1]}, 10 s, filmstrip inlined): {per_job:.0f} B")
    assert per_job <= LIMIT_PER_JOB
    text = (tmp_path / "full.ipynb").read_text()
    assert "data:video" not in text
    assert "application/vnd.jupyter.widget-view+json" not in text  # no live view survives
    reopened = nbformat.read(str(tmp_path / "full.ipynb"), as_version=4)
    static = reopened.cells[1].outputs[0].data["text/html"]
    assert video_srcs(static) == ["kling_outputs/job-0.mp4"]  # plays where the file is
    assert static.count('class="kn-filmstrip" src="data:image/jpeg;base64,') == 1
