"""One team member's process for tests/test_ledger_team.py: `python _team_worker.py SPEC.json`.

`SPEC` holds the Studio's settings (`root`, `ledger`, `member`, `base_url`, `api_key`) and what
to do: `"run"` submits `jobs` Kling prompts (plus `grok` Grok ones) named after the member and
waits for them, calling `resume()` in a loop meanwhile when `resume_until` names a file (until
that file exists); `"resume"` only resumes and waits. It writes `SPEC.out.json` when done:
the job ids it drove, their states, and what each `resume()` claimed.
"""

from __future__ import annotations

import faulthandler
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import kling_nb as kn


def _studio(spec: dict[str, Any]) -> kn.Studio:
    return kn.Studio(
        api_key=spec["api_key"],
        base_url=spec["base_url"],
        root=spec["root"],
        ledger=spec["ledger"],
        member=spec["member"],
        max_in_flight=spec.get("max_in_flight", 6),
        timeout=120,
    )


def _submit(studio: kn.Studio, spec: dict[str, Any]) -> list[kn.Job]:
    member = spec["member"]
    prompts = [f"{member} kite number {i}" for i in range(spec["jobs"] - spec["grok"])]
    jobs = list(studio.sweep(prompts, durations=[5]))
    for i in range(spec["grok"]):
        request = kn.GrokVideo(prompt=f"{member} comet number {i}", duration=3, resolution="480p")
        jobs.append(studio.submit(request))
    return jobs


def _resume_loop(studio: kn.Studio, jobs: list[kn.Job], stop: Path) -> list[dict[str, int]]:
    """Resume again and again while the others run: each call must claim nothing of theirs."""
    reports = []
    while not stop.exists() and not all(job.state.final for job in jobs):
        taken = studio.resume()
        report = studio.last_resume
        assert report is not None
        reports.append({"taken": len(taken), "held": report.held, "resumed": report.resumed})
        time.sleep(0.1)
    return reports


def _watch_memory(limit_mb: int = 1500) -> None:
    """Dump every thread's stack and exit if this process grows past `limit_mb` MB.

    A runaway allocation would otherwise end in the kernel's OOM killer: a SIGKILL that
    says nothing about where the memory went.
    """

    def watch() -> None:
        page = os.sysconf("SC_PAGE_SIZE")
        tick = 0
        while True:
            tick += 1
            if os.environ.get("TEAM_RSS_TRACE") and tick % 10 == 0:
                rss_mb = int(Path("/proc/self/statm").read_text().split()[1]) * page >> 20
                threads = threading.active_count()
                print(f"rss {rss_mb} MB threads {threads}", file=sys.stderr, flush=True)
            rss = int(Path("/proc/self/statm").read_text().split()[1]) * page
            if rss > limit_mb * 1024 * 1024:
                print(f"memory watchdog: {rss >> 20} MB resident", file=sys.stderr, flush=True)
                faulthandler.dump_traceback(all_threads=True)
                os._exit(3)
            time.sleep(0.1)

    threading.Thread(target=watch, daemon=True, name="memory-watchdog").start()


def main(spec_path: Path) -> None:
    _watch_memory()
    spec = json.loads(spec_path.read_text())
    reports: list[dict[str, int]] = []
    with _studio(spec) as studio:
        if spec["action"] == "run":
            jobs = _submit(studio, spec)
            if spec.get("resume_until"):
                stop = Path(spec["resume_until"])
                reports = _resume_loop(studio, jobs, stop)
                stop.with_suffix(".ack").write_text("stopped resuming")
        else:
            jobs = studio.resume()
            report = studio.last_resume
            assert report is not None
            reports.append({"taken": len(jobs), "held": report.held, "resumed": report.resumed})
        studio.wait(jobs, timeout=150)
        result = {
            "jobs": {job.job_id: job.status for job in jobs},
            "resumes": reports,
        }
    out = spec_path.with_suffix(".out.json")
    out.with_suffix(".tmp").write_text(json.dumps(result))
    out.with_suffix(".tmp").replace(out)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
