"""Judging through the Studio: job.rate, studio.prefer, log.rankings/compare, restarts, export.

Four real jobs (two prompts × std/pro) finish once against a fast sandbox over real HTTP;
every test writes under its own rater names, so the tests do not see each other's records.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

import kling_nb as kn
from kling_nb._judge_ops import default_rater
from kling_nb.sandbox import Sandbox

KEY = "sk-sandbox-team"
PROMPTS = ["a red fox in snow", "a red fox in snow, golden hour"]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(time_scale=0.01, seed=3) as sb:
        yield sb


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("judging")


@pytest.fixture(scope="module")
def studio(sandbox: Sandbox, root: Path) -> Iterator[kn.Studio]:
    with kn.Studio(api_key=KEY, base_url=sandbox.base_url, root=root) as made:
        jobs = made.sweep(PROMPTS, modes=["std", "pro"])
        jobs.wait(timeout=60)
        assert [job.status for job in jobs] == ["succeeded"] * 4
        yield made


def jobs_of(studio: kn.Studio) -> list[kn.Job]:
    return sorted(studio.jobs.values(), key=lambda job: (job.prompt, job.mode != "std"))


def test_a_raters_newer_rating_replaces_the_older_and_raters_stay_apart(
    studio: kn.Studio,
) -> None:
    job = jobs_of(studio)[0]
    job.rate(2, rater="rate-ann")
    job.rate(4, note="sharper than I thought", rater="rate-ann")
    job.rate(1, rater="rate-bob")
    mine = studio.log.ratings.query("rater.str.startswith('rate-')", engine="python")
    assert sorted(zip(mine["rater"], mine["stars"], strict=True)) == [
        ("rate-ann", 4),
        ("rate-bob", 1),
    ]
    assert mine.set_index("rater").loc["rate-ann", "note"] == "sharper than I thought"
    with pytest.raises(kn.ValidationError, match="stars"):
        job.rate(6, rater="rate-ann")


def test_the_rater_defaults_to_the_os_user(studio: kn.Studio) -> None:
    job = jobs_of(studio)[1]
    job.rate(3)
    seq = studio.prefer(job, jobs_of(studio)[2])
    assert default_rater() == getpass.getuser()
    assert (studio.log.ratings["rater"] == getpass.getuser()).any()
    row = studio.log.judgements.set_index("seq").loc[seq]
    assert row["rater"] == getpass.getuser()
    assert row["choice"] == job.job_id


def test_prefer_takes_jobs_or_ids_and_records_ties(studio: kn.Studio) -> None:
    a, b, c, _ = jobs_of(studio)
    first = studio.prefer(a, b.job_id, rater="pref-ann")
    second = studio.prefer(c.job_id, a, rater="pref-ann", tie=True)
    rows = studio.log.judgements.set_index("seq")
    assert rows.loc[first, "choice"] == a.job_id
    assert sorted(rows.loc[first, "shown"]) == sorted([a.job_id, b.job_id])
    assert bool(rows.loc[second, "tie"])
    assert rows.loc[second, "choice"] is None
    with pytest.raises(kn.ValidationError, match="loser"):
        studio.prefer(a, a, rater="pref-ann")
    with pytest.raises(KeyError, match="no job"):
        studio.prefer(a, "20990101-000000-nothere", rater="pref-ann")


def test_rankings_order_variants_and_keep_two_raters_apart(studio: kn.Studio) -> None:
    std_plain, pro_plain, std_gold, pro_gold = jobs_of(studio)
    for _ in range(3):  # ann prefers golden hour, bob the plain prompt
        studio.prefer(std_gold, std_plain, rater="rank-ann")
        studio.prefer(pro_gold, pro_plain, rater="rank-ann")
        studio.prefer(std_plain, std_gold, rater="rank-bob")
    std_gold.rate(5, rater="rank-ann")
    ann = studio.log.rankings(rater="rank-ann")
    bob = studio.log.rankings(by="prompt", rater="rank-bob")
    assert list(ann.columns[:4]) == ["prompt", "score", "ci_low", "ci_high"]
    assert ann["prompt"].tolist() == [PROMPTS[1], PROMPTS[0]]
    assert bob["prompt"].tolist() == [PROMPTS[0], PROMPTS[1]]
    best = ann.iloc[0]
    assert (best["wins"], best["losses"], best["comparisons"]) == (6, 0, 6)
    assert best["ci_low"] < best["score"] < best["ci_high"]
    assert (best["stars_mean"], best["stars_n"]) == (5.0, 1)
    costs = [job.cost_estimate or 0.0 for job in (std_gold, pro_gold)]
    assert best["cost_estimate_mean"] == pytest.approx(sum(costs) / 2)
    assert bob.iloc[0][["wins", "comparisons"]].tolist() == [3, 3]
    assert ann.attrs["position_bias"]["n"] == 6
    by_mode = studio.log.rankings(by=("prompt", "mode"), jobs=[std_gold, std_plain.job_id])
    assert len(by_mode) == 2
    assert set(by_mode["mode"]) == {"std"}
    with pytest.raises(ValueError, match="no column"):
        studio.log.rankings(by="flavour")


def test_rankings_survive_a_studio_restart(studio: kn.Studio, sandbox: Sandbox, root: Path) -> None:
    a, b, *_ = jobs_of(studio)
    studio.prefer(b, a, rater="restart-ann")
    a.rate(2, rater="restart-ann")
    before = studio.log.rankings(by=("prompt", "mode"), rater="restart-ann")
    with kn.Studio(api_key=KEY, base_url=sandbox.base_url, root=root) as again:
        after = again.log.rankings(by=("prompt", "mode"), rater="restart-ann")
    pd.testing.assert_frame_equal(before, after)
    assert after["comparisons"].sum() == 2


def test_compare_gains_stars_and_scores_once_jobs_are_judged(studio: kn.Studio) -> None:
    _, pro_plain, _, pro_gold = jobs_of(studio)
    studio.prefer(pro_gold, pro_plain, rater="cmp-ann")
    pivot = studio.log.compare()
    assert {"total_s", "cost_estimate", "stars_mean", "score"} <= set(
        pivot.columns.get_level_values(0)
    )
    score = pivot["score"]
    assert (
        score.loc[PROMPTS[1], ("kling-v3", "pro", 5)]
        > score.loc[PROMPTS[0], ("kling-v3", "pro", 5)]
    )
    assert pivot.shape[0] == 2


def test_ratings_and_judgements_export_to_csv_and_parquet(
    studio: kn.Studio, tmp_path: Path
) -> None:
    a, b, *_ = jobs_of(studio)
    studio.prefer(a, b, rater="export-ann")
    a.rate(4, rater="export-ann", note="=SUM(1)")
    judgements = pd.read_csv(studio.log.to_csv(tmp_path / "j.csv", table="judgements"))
    mine = judgements[judgements["rater"] == "export-ann"]
    assert json.loads(mine["shown"].iloc[0]) == sorted([a.job_id, b.job_id])
    ratings = pd.read_csv(studio.log.to_csv(tmp_path / "r.csv", table="ratings"))
    assert ratings[ratings["rater"] == "export-ann"]["stars"].tolist() == [4]
    jobs = pd.read_csv(studio.log.to_csv(tmp_path / "jobs.csv"))
    assert len(jobs) == 4
    with pytest.raises(ValueError, match="one of jobs, ratings, judgements"):
        studio.log.to_csv(tmp_path / "x.csv", table="votes")


def test_ratings_export_to_parquet(studio: kn.Studio, tmp_path: Path) -> None:
    pytest.importorskip("pyarrow", reason="Parquet needs the parquet extra (the test extra has it)")
    a, *_ = jobs_of(studio)
    a.rate(4, rater="export-ann")
    ratings = pd.read_parquet(studio.log.to_parquet(tmp_path / "r.parquet", table="ratings"))
    assert ratings[ratings["rater"] == "export-ann"]["stars"].tolist() == [4]
