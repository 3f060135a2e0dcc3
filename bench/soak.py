"""Soak: 1,000 jobs through every fault the sandbox can inject, and two Studio restarts.

The sandbox runs in its own process (nice 10) with its state in a file, a low pending cap and
a 20 % rate on every fault it offers:

- create: 424 upstream error (no task created; the Studio waits and re-sends, up to 3 times);
- tasks: 10 % end `failed`, 10 % end `expired` (20 % in all);
- status reads: 20 % connection resets, 20 % 5xx (500/502/503 + Retry-After), 20 % slow;
- 429: `pending_cap` 16 under a Studio with `max_in_flight` 24.

Every job has its own prompt, so each server task maps back to exactly one job. Midway (at a
third and at two thirds of the jobs finished) the Studio is closed and a new one is opened on
the same root, which calls `resume()`. Meanwhile:

- a second process (`--second`, on by default) opens its own Studio on the same folder and
  calls `resume()` every half second, driving whatever it can claim (jobs released by the
  restarts), as a second notebook or `kling-nb resume` in a terminal would;
- the disk fails mid-run (`--disk-fault`, on by default): for a few seconds the outputs folder
  is replaced by a file, so downloads fail (their jobs park as `fetch_failed`) and new creates
  are refused before sending; then it comes back and a `resume()` fetches the parked videos.

Checked at the end, from the ledger, the sandbox's own task records and the files on disk:
- lost: jobs not in a final state, plus server tasks the ledger does not know;
- duplicated: jobs (prompts) with more than one server task, plus task ids on two ledger rows;
- every succeeded job's file exists and its sha256 and size match the ledger;
- the ledger's final status matches the server's outcome for every task.

Run: python bench/soak.py [--jobs 1000] [--time-scale 0.005]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _common import RemoteSandbox, machine, print_table

import kling_nb as kn
from kling_nb._states import JobState

FINAL_STATES = sorted(state.value for state in JobState if state.final)

CAP = 16
MAX_IN_FLIGHT = 24
FAULTS = {
    "upstream_424": 0.2,
    "task_fail": 0.1,
    "task_expire": 0.1,
    "status_5xx": 0.2,
    "status_slow": 0.2,
    "status_reset": 0.2,
    "slow_seconds": 0.5,
}
VARIANTS = [("std", 5), ("pro", 5), ("std", 10), ("pro", 10)]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def open_studio(sb: RemoteSandbox, root: str) -> kn.Studio:
    return kn.Studio(
        api_key=sb.api_key, base_url=sb.base_url, root=root, max_in_flight=MAX_IN_FLIGHT
    )


def finished(studio: kn.Studio) -> int:
    """Jobs in a final state, by the ledger (this Studio may not hold every job)."""
    frame = studio.log.df
    return int(frame["status"].isin(FINAL_STATES).sum())


def wait_until(studio: kn.Studio, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while finished(studio) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {finished(studio)} of {count} jobs finished in {timeout} s")
        time.sleep(0.5)


SECOND = """
import sys, time
from pathlib import Path
import kling_nb as kn
base, root, stop = sys.argv[1], sys.argv[2], Path(sys.argv[3])
claimed = 0
with kn.Studio(api_key="sk-sandbox-team", base_url=base, root=root, max_in_flight=8) as studio:
    while not stop.exists():
        claimed += len(studio.resume())
        time.sleep(0.5)
    studio.wait(timeout=240)
print(f"CLAIMED {claimed}")
"""


def start_second(base_url: str, root: str, stop: Path) -> subprocess.Popen[str]:
    """A second process resuming on the same folder while the first drives its jobs."""
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(SECOND), base_url, root, str(stop)],
        stdout=subprocess.PIPE,
        text=True,
    )


def fail_disk(outputs: Path, seconds: float) -> int:
    """Replace the outputs folder by a file for `seconds`, then put it back."""
    aside = outputs.with_name("kling_outputs.away")
    os.rename(outputs, aside)
    outputs.write_text("the disk is gone")
    time.sleep(seconds)
    outputs.unlink()
    os.rename(aside, outputs)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--time-scale", type=float, default=0.005)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=280.0)
    parser.add_argument("--no-second", dest="second", action="store_false")
    parser.add_argument("--no-disk-fault", dest="disk_fault", action="store_false")
    args = parser.parse_args(argv)
    print(f"bench/soak.py: {machine()}", flush=True)
    second_claimed = 0
    disk_faults = 0
    started = time.monotonic()
    restarts: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="kling-bench-soak-") as root:
        state = Path(root) / "sandbox-state.sqlite"
        faults = {**FAULTS, "seed": args.seed}
        with RemoteSandbox(
            time_scale=args.time_scale,
            pending_cap=CAP,
            seed=args.seed,
            faults=faults,
            state_path=str(state),
        ) as sb:
            studio = open_studio(sb, root)
            t = time.monotonic()
            for i in range(args.jobs):
                mode, duration = VARIANTS[i % len(VARIANTS)]
                studio.submit(kn.TextToVideo(f"soak job {i:04d}", mode=mode, duration=duration))
            submit_s = time.monotonic() - t
            stop = Path(root) / "stop-second"
            second = start_second(sb.base_url, root, stop) if args.second else None
            for fraction in (1 / 3, 2 / 3):
                wait_until(studio, int(args.jobs * fraction), args.timeout)
                if args.disk_fault and fraction < 0.5:
                    disk_faults += fail_disk(Path(root) / "kling_outputs", 3.0)
                in_flight = sum(not job.done() for job in studio.jobs.values())
                sending = 0
                t = time.monotonic()
                studio.close()
                studio = open_studio(sb, root)
                resumed = studio.resume()
                restarts.append(
                    {
                        "at": time.monotonic() - started,
                        "finished": finished(studio),
                        "in_flight": in_flight,
                        "sending": sending,
                        "resumed": len(resumed),
                        "seconds": time.monotonic() - t,
                    }
                )
            studio.wait(timeout=max(args.timeout - (time.monotonic() - started), 1.0))
            studio.resume()  # videos parked by the disk fault are fetched now
            studio.wait(timeout=max(args.timeout - (time.monotonic() - started), 1.0))
            if second is not None:
                stop.write_text("stop")
                out, _ = second.communicate(timeout=300)
                second_claimed = (
                    int(out.split("CLAIMED ")[-1].split()[0]) if "CLAIMED" in out else -1
                )
            wall = time.monotonic() - started
            frame = studio.log.df
            events = studio.log.events()
            studio.close()
            stats = sb.stats()
            tasks = sb.tasks()

        # -- the accounting ---------------------------------------------------------------
        by_status = Counter(frame["status"])
        not_final = int((~frame["status"].isin(FINAL_STATES)).sum())
        ledger_tasks = [t for t in frame["task_id"].dropna() if t]
        ledger_ids = set(ledger_tasks)
        shared_ids = len(ledger_tasks) - len(ledger_ids)
        per_prompt = Counter(t["prompt"] for t in tasks)
        duplicated_prompts = sum(1 for n in per_prompt.values() if n > 1)
        orphans = [t for t in tasks if t["id"] not in ledger_ids]
        creates = stats["creates_by_key"].get(sb.api_key, 0)
        outcome = {t["id"]: t["outcome"] for t in tasks}
        mismatched = sum(
            1
            for row in frame.itertuples()
            if isinstance(row.task_id, str)
            and row.status in ("succeeded", "failed", "expired")
            and outcome.get(row.task_id) != row.status
        )
        verified = bad_files = 0
        for row in frame[frame["status"] == "succeeded"].itertuples():
            path = Path(row.video_path) if row.video_path else None
            if (
                path is not None
                and path.is_file()
                and path.stat().st_size == row.video_bytes
                and sha256_of(path) == row.video_sha256
            ):
                verified += 1
            else:
                bad_files += 1
        leftovers = sorted(p.name for p in (Path(root) / "kling_outputs").glob("*.part"))

    lost = not_final + len(orphans)
    duplicated = duplicated_prompts + shared_ids
    kinds = Counter(events["kind"])
    faults_fired = stats["faults"]
    responses = stats["responses"]
    print(
        f"{args.jobs} jobs, pending cap {CAP}, max_in_flight {MAX_IN_FLIGHT}, time_scale "
        f"{args.time_scale}, faults {FAULTS}"
    )
    print(f"submitted in {submit_s:.2f} s; restarts:")
    for n, r in enumerate(restarts, 1):
        print(
            f"  #{n} at {r['at']:.0f} s: {r['finished']} jobs final, {r['in_flight']} in flight "
            f"({r['sending']} creates on the wire) detached; close + reopen + resume() "
            f"{r['seconds']:.2f} s re-attached {r['resumed']}"
        )
    print(
        f"sandbox: {stats['tasks']} tasks, {creates} creates of {sum(stats['create_attempts'].values())} "
        f"attempts, {stats['status_reads']} status reads, {stats['renders']} renders "
        f"(mean {stats['render_seconds_mean']:.2f} s), faults fired {faults_fired}, "
        f"429s {stats['too_many_pending']}, 424s {responses.get('424', 0)}, "
        f"max pending {max(stats['max_pending'].values())}/{CAP}"
    )
    print(
        "ledger events: "
        + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items(), key=lambda kv: -kv[1]))
    )
    rows = [
        ["jobs", args.jobs],
        *[[f"  final: {s}", n] for s, n in sorted(by_status.items())],
        ["server tasks created", len(tasks)],
        ["ledger task ids", len(ledger_ids)],
        ["lost (not final + unknown to ledger)", f"{lost} ({not_final} + {len(orphans)})"],
        [
            "duplicated (prompts > 1 task + shared ids)",
            f"{duplicated} ({duplicated_prompts} + {shared_ids})",
        ],
        ["status != server outcome", mismatched],
        ["succeeded with verified file (sha256, size)", f"{verified}/{by_status.get('succeeded', 0)}"],
        ["stale .part files", len(leftovers)],
        ["429 / 424 / 5xx / resets / slow", (
            f"{stats['too_many_pending']} / {responses.get('424', 0)} / "
            f"{faults_fired.get('status_5xx', 0)} / {faults_fired.get('status_reset', 0)} / "
            f"{faults_fired.get('status_slow', 0)}"
        )],
        ["jobs claimed by the second process", second_claimed],
        ["disk faults (outputs folder gone 3 s)", disk_faults],
        ["wall time", f"{wall:.0f} s"],
    ]  # fmt: skip
    print()
    print_table(["check", "count"], rows)
    ok = (
        lost == 0
        and duplicated == 0
        and bad_files == 0
        and mismatched == 0
        and creates == len(tasks)
    )
    print(
        f"\nSUMMARY soak: {args.jobs} jobs, 2 restarts, a second process resuming "
        f"({second_claimed} claimed), {disk_faults} disk fault(s), 20% faults on every route: lost {lost}, "
        f"duplicated {duplicated}, unverified files {bad_files}, status mismatches {mismatched}; "
        f"{by_status.get('succeeded', 0)} succeeded, "
        f"{sum(n for s, n in by_status.items() if s != 'succeeded')} ended otherwise "
        f"({', '.join(f'{s} {n}' for s, n in sorted(by_status.items()) if s != 'succeeded')}); "
        f"{'MET' if ok else 'MISSED'}; {wall:.0f} s"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
