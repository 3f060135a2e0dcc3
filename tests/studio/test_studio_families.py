"""The Studio drives Seedance and Grok jobs like Kling's: ledger rows, costs, resume."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _mock import write_png

import kling_nb as kn
from kling_nb._families import request_fields, request_from_row
from kling_nb._sweep import sweep_requests
from kling_nb.sandbox import Sandbox

KEY = "sk-sandbox-team"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(time_scale=0.01, seed=3) as sb:
        yield sb


def make_studio(sb: Sandbox, root: Path) -> kn.Studio:
    return kn.Studio(api_key=KEY, base_url=sb.base_url, root=root)


def creates(sb: Sandbox) -> int:
    return int(sum(sb.stats()["creates_by_key"].values()))


def mp4_ok(path: Path) -> bool:
    data = path.read_bytes()
    return len(data) > 1000 and data[4:8] == b"ftyp"


def test_seedance_and_grok_jobs_run_and_are_recorded(sandbox: Sandbox, tmp_path: Path) -> None:
    image = write_png(tmp_path / "ref.png")
    with make_studio(sandbox, tmp_path / "s") as studio:
        seed = studio.submit(kn.SeedanceVideo("a heron", images=[str(image)], ratio="1:1"))
        grok = studio.submit(kn.GrokVideo("a comet", duration=3, resolution="480p"))
        kling = studio.submit(kn.TextToVideo("a river"))
        for job in (seed, grok, kling):
            assert mp4_ok(job.result(timeout=60))
        frame = studio.log.df.set_index("job_id")
        row = studio.log.row(seed.job_id)
    assert frame.loc[seed.job_id, ["family", "mode", "duration", "aspect_ratio"]].tolist() == [
        "seedance", "720p", 5, "1:1",
    ]  # fmt: skip
    assert frame.loc[grok.job_id, ["family", "mode", "duration"]].tolist() == ["grok", "480p", 3]
    assert frame.loc[kling.job_id, "family"] == "kling"
    # The estimate is the placeholder rate card's, equal to what the sandbox billed.
    assert frame.loc[grok.job_id, "cost_estimate"] == pytest.approx(0.05 * 3)
    assert frame.loc[seed.job_id, "cost_estimate"] == pytest.approx(0.12 * 5)
    assert (seed.family, grok.family, kling.family) == ("seedance", "grok", "kling")
    assert row is not None
    assert "/assets/" in row["request"]["content"][1]["image_url"]["url"]
    assert sandbox.stats()["assets"] == 1


@pytest.mark.parametrize(
    "request_",
    [
        kn.SeedanceVideo("a heron", model="seedance-2.0-fast", duration=6, resolution="480p"),
        kn.SeedanceVideo("a heron", images=["asset://a1", "asset://a2"], extra={"seed": 4}),
        kn.GrokVideo("a comet", duration=9, extra={"seed": 2}),
        kn.GrokVideo(
            "a comet", model="grok-imagine-video-1.5-preview", image="https://example.com/x.png"
        ),
    ],
)
def test_a_family_row_rebuilds_the_same_request(request_: kn.GrokVideo) -> None:
    row = {**request_fields(request_), "request": request_.to_body()}
    assert request_from_row(row) == request_
    assert request_from_row(row).to_body() == request_.to_body()


def test_a_seedance_row_with_local_images_not_yet_uploaded(tmp_path: Path) -> None:
    images = [write_png(tmp_path / "a.png"), write_png(tmp_path / "b.png")]
    request = kn.SeedanceVideo("two refs", images=[str(p) for p in images])
    row = {**request_fields(request), "request": {}}
    assert request_from_row(row).images == tuple(images)


@pytest.mark.slow
def test_family_jobs_resume_without_new_creates(sandbox: Sandbox, tmp_path: Path) -> None:
    studio = make_studio(sandbox, tmp_path)
    jobs = [
        studio.submit(kn.SeedanceVideo("a heron", duration=10)),
        studio.submit(kn.GrokVideo("a comet", duration=10)),
    ]
    deadline = time.monotonic() + 20
    while not all(job.task is not None for job in jobs) and time.monotonic() < deadline:
        time.sleep(0.02)
    studio.close()
    assert creates(sandbox) == 2
    with make_studio(sandbox, tmp_path) as again:
        resumed = again.resume()
        assert sorted(j.job_id for j in resumed) == sorted(j.job_id for j in jobs)
        again.wait(resumed, timeout=60)
        assert [job.status for job in resumed] == ["succeeded"] * 2
        assert sorted(job.family for job in resumed) == ["grok", "seedance"]
        assert creates(sandbox) == 2


def test_sweep_requests_cross_families_without_duplicates() -> None:
    requests = sweep_requests(
        "a fox", ["kling-v3", "seedance-2.0", "grok-imagine-video"], ["std", "pro"], [5], None
    )
    kinds = [(type(r).__name__, getattr(r, "mode", None)) for r in requests]
    assert kinds == [
        ("TextToVideo", "std"),
        ("TextToVideo", "pro"),
        ("SeedanceVideo", None),  # no mode: one request, not one per mode
        ("GrokVideo", None),
    ]
    seed = requests[2]
    assert isinstance(seed, kn.SeedanceVideo)
    assert (seed.duration, seed.ratio) == (5, "16:9")
    with pytest.raises(kn.ValidationError, match=r"seedance-2\.0-fast"):
        sweep_requests("a fox", ["veo-3"], None, None, None)


def test_a_sweep_across_families_ranks_by_family(sandbox: Sandbox, tmp_path: Path) -> None:
    models = ["kling-v3", "seedance-2.0", "grok-imagine-video"]
    with make_studio(sandbox, tmp_path) as studio:
        sweep = studio.sweep("a lighthouse at dusk", models=models).wait(timeout=60)
        assert [job.status for job in sweep] == ["succeeded"] * 3
        a, b, c = (job.job_id for job in sweep)
        studio.log.add_judgement([a, b], a, tie=False, rater="ann")
        studio.log.add_judgement([b, c], c, tie=False, rater="ann")
        studio.log.add_judgement([a, c], a, tie=False, rater="ann")
        ranks = studio.log.rankings(by="family")
        compare = studio.log.compare(columns=("family", "model"))
    assert ranks["family"].tolist() == ["kling", "grok", "seedance"]
    assert set(ranks.columns) >= {"score", "wins", "total_s_mean", "cost_estimate_mean"}
    assert ranks.set_index("family").loc["grok", "cost_estimate_mean"] == pytest.approx(0.4)
    assert sorted(compare.columns.get_level_values("family").unique()) == [
        "grok", "kling", "seedance",
    ]  # fmt: skip


def test_the_panel_generates_a_grok_job(sandbox: Sandbox, tmp_path: Path) -> None:
    from kling_nb.widgets import StudioPanel

    with make_studio(sandbox, tmp_path) as studio:
        panel = StudioPanel(studio)
        panel.family.value = "grok"
        panel.mode.value = "480p"
        panel.prompt.value = "a comet over a lake"
        job = panel._on_generate()
        assert job is not None
        assert mp4_ok(job.result(timeout=60))
        row = studio.log.row(job.job_id)
        assert row is not None
        assert (row["family"], row["route"], row["mode"]) == ("grok", "grok", "480p")
        assert row["request"]["resolution"] == "480p"
        panel.close()
