"""Poll schedules on a virtual clock: notice latency against status requests per task.

Thousands of simulated tasks, with lognormal create-to-finish times per (model, mode,
duration), at three spreads. kling_nb's `PollSchedule`, told each variant's true median and
spread (what `Studio._schedule` learns from the ledger, `confident=True`) and swept over its
`knob`, is compared with the fixed intervals other SDKs use and with an exponential backoff:

- fixed 0.1 s (fal), 0.5 s (Replicate), 1 s (OpenAI's video polling helpers),
- fixed 6 s +- 1.5 s uniform jitter (Runway),
- exponential 1 s x 1.5, capped at 20 s.

Measured per schedule: median and p95 notice latency (from the true finish to the first poll
that sees it) and the mean number of status requests per task (the poll that notices counts).
A schedule does not see a task's finish until it polls, so its poll times do not depend on the
task: each schedule's poll sequences are drawn once per variant (independent jitter per
sequence) and every task is matched against one by bisection. The same durations and the same
random streams are reused for every knob (common random numbers), so the knob curve is smooth.

kling_nb's schedules get `scale` = the median of the variants' medians (one time base for
every kind of job, as `Studio._time_base` sets it) and, for the sweep, `min_delay` 0.01 s so
the knob rather than the floor sets the dense end. The 'Studio as shipped' row is exactly what
the Studio builds for the real API: default knob, sigma clamped to [0.15, 1], floor
min(1 s, median/20).

Target, at every spread and for every baseline: somewhere on the knob curve kling_nb notices
sooner (p50 and p95) at the baseline's requests per task, and spends fewer requests at the
baseline's p50 and p95 latency (both read off the curve by log-log interpolation).

Run: python bench/polling.py [--tasks N] [--quick]
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import math
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from _common import machine

from kling_nb import PollSchedule

# Medians (seconds from create to finish) follow the sandbox's timeline model
# (kling_nb/sandbox/_lifecycle.py): a 12 s queue plus a run of 55 s (kling-v2-6), 70 s
# (kling-v3) or 95 s (kling-v3-omni), x1.5 for pro and x1.6 for 10 s videos. WorldRouter
# publishes no timings; these are the same assumptions the sandbox makes.
VARIANTS: tuple[tuple[str, str, int, float], ...] = (
    ("kling-v2-6", "std", 5, 67.0),
    ("kling-v3", "std", 5, 82.0),
    ("kling-v3", "std", 10, 124.0),
    ("kling-v3", "pro", 5, 117.0),
    ("kling-v3", "pro", 10, 180.0),
    ("kling-v3-omni", "pro", 5, 154.5),
)
TIME_BASE = statistics.median(median for *_, median in VARIANTS)
"""PollSchedule.scale as the Studio sets it once it has learned every variant: the median of
their medians (`Studio._time_base`), one cost unit for every kind of job."""
SIGMAS = (0.1, 0.3, 0.6)
KNOBS = tuple(10.0 ** (-e / 4) for e in range(33))  # 1 down to 1e-8, quarter decades
STOP_FACTOR = 1.5
"""The sweep stops once kling_nb spends this many times the densest baseline's requests."""
DEFAULT_KNOB = PollSchedule(median=1.0).knob
SWEEP_MIN_DELAY = 0.01
"""Floor for the knob sweep, low enough that the knob (not the floor) sets the dense end.
The Studio itself floors real-API polls at min(1 s, median/20) (see the 'Studio' row)."""

Rand = Callable[[], float]
Delay = Callable[[float, Rand], float]


@dataclass(frozen=True)
class Result:
    name: str
    p50: float
    p95: float
    requests: float


# -- schedules --------------------------------------------------------------------------------


def fixed(interval: float, jitter: float = 0.0) -> Callable[[float, float], Delay]:
    def make(median: float, sigma: float) -> Delay:
        def delay(elapsed: float, rand: Rand) -> float:
            return interval + jitter * (2.0 * rand() - 1.0)

        return delay

    return make


def exponential(first: float, factor: float, cap: float) -> Callable[[float, float], Delay]:
    def make(median: float, sigma: float) -> Delay:
        # The gap depends only on how many polls came before; recover that from elapsed.
        def delay(elapsed: float, rand: Rand) -> float:
            gap, t = first, 0.0
            while t + gap <= elapsed + 1e-9 and gap < cap:
                t += gap
                gap = min(gap * factor, cap)
            return gap

        return delay

    return make


def kling(knob: float, *, studio: bool = False) -> Callable[[float, float], Delay]:
    def make(median: float, sigma: float) -> Delay:
        if studio:
            # Exactly what Studio._schedule builds from a confident ledger, real API.
            schedule = PollSchedule(
                median=median,
                sigma=min(max(sigma, 0.15), 1.0),
                confident=True,
                min_delay=min(1.0, median / 20),
                knob=knob,
                scale=TIME_BASE,
            )
        else:
            schedule = PollSchedule(
                median=median,
                sigma=sigma,
                confident=True,
                min_delay=SWEEP_MIN_DELAY,
                knob=knob,
                scale=TIME_BASE,
            )

        def delay(elapsed: float, rand: Rand) -> float:
            return schedule.delay(elapsed, rand=rand)

        return delay

    return make


BASELINES: tuple[tuple[str, Callable[[float, float], Delay]], ...] = (
    ("fixed 0.1 s (fal)", fixed(0.1)),
    ("fixed 0.5 s (Replicate)", fixed(0.5)),
    ("fixed 1 s (OpenAI)", fixed(1.0)),
    ("fixed 6+-1.5 s (Runway)", fixed(6.0, 1.5)),
    ("exp 1 s x1.5 cap 20 s", exponential(1.0, 1.5, 20.0)),
)


# -- simulation -------------------------------------------------------------------------------


def poll_times(delay: Delay, horizon: float, rng: random.Random) -> list[float]:
    """Poll times from create (t=0) until one past `horizon`: t0 = d(0), t_k+1 = t_k + d(t_k)."""
    times: list[float] = []
    t = delay(0.0, rng.random)
    while True:
        times.append(t)
        if t >= horizon:
            return times
        t += delay(t, rng.random)


@dataclass(frozen=True)
class Population:
    """Every variant's median and its tasks' finish times, at one spread."""

    sigma: float
    variants: tuple[tuple[float, tuple[float, ...]], ...]

    @classmethod
    def draw(cls, sigma: float, per_variant: int, seed: int) -> Population:
        rng = random.Random(f"durations:{seed}:{sigma}")
        variants = tuple(
            (median, tuple(rng.lognormvariate(math.log(median), sigma) for _ in range(per_variant)))
            for *_, median in VARIANTS
        )
        return cls(sigma, variants)

    @property
    def tasks(self) -> int:
        return sum(len(durations) for _, durations in self.variants)


def simulate(
    name: str,
    make: Callable[[float, float], Delay],
    population: Population,
    *,
    sequences: int,
    seed: int,
) -> Result:
    latencies: list[float] = []
    requests = 0
    for v, (median, durations) in enumerate(population.variants):
        delay = make(median, population.sigma)
        horizon = max(durations)
        seqs = [
            poll_times(delay, horizon, random.Random(f"jitter:{seed}:{v}:{k}"))
            for k in range(sequences)
        ]
        for i, finish in enumerate(durations):
            polls = seqs[i % sequences]
            j = bisect.bisect_left(polls, finish)
            latencies.append(polls[j] - finish)
            requests += j + 1
    latencies.sort()
    return Result(
        name,
        statistics.median(latencies),
        latencies[min(int(0.95 * len(latencies)), len(latencies) - 1)],
        requests / len(latencies),
    )


# -- reading the knob curve -------------------------------------------------------------------


def _interp(xs: Sequence[float], ys: Sequence[float], x: float) -> float | None:
    """y at x on a log-log polyline (xs monotone either way); None outside its range."""
    for (x0, y0), (x1, y1) in itertools.pairwise(zip(xs, ys, strict=True)):
        if min(x0, x1) <= x <= max(x0, x1):
            if x0 == x1:
                return min(y0, y1)
            f = (math.log(x) - math.log(x0)) / (math.log(x1) - math.log(x0))
            return math.exp(math.log(max(y0, 1e-9)) * (1 - f) + math.log(max(y1, 1e-9)) * f)
    return None


@dataclass(frozen=True)
class Verdict:
    baseline: Result
    p50_at_requests: float | None
    p95_at_requests: float | None
    requests_at_latency: float | None

    @property
    def sooner(self) -> bool:
        return (
            self.p50_at_requests is not None
            and self.p95_at_requests is not None
            and self.p50_at_requests < self.baseline.p50
            and self.p95_at_requests < self.baseline.p95
        )

    @property
    def cheaper(self) -> bool:
        return (
            self.requests_at_latency is not None
            and self.requests_at_latency < self.baseline.requests
        )


def judge(curve: Sequence[Result], baseline: Result) -> Verdict:
    """Read the knob curve at the baseline's requests/task and at its p50 and p95 latency."""
    # Along the curve (knob ascending) requests fall and latency rises; the monotone
    # envelope keeps sampling noise in flat stretches from creating spurious crossings.
    reqs = [r.requests for r in curve]
    p50 = _monotone([r.p50 for r in curve])
    p95 = _monotone([r.p95 for r in curve])
    at50 = _interp(p50, reqs, baseline.p50)
    at95 = _interp(p95, reqs, baseline.p95)
    need = None if at50 is None or at95 is None else max(at50, at95)
    return Verdict(
        baseline,
        _interp(reqs, p50, baseline.requests),
        _interp(reqs, p95, baseline.requests),
        need,
    )


def _monotone(values: Sequence[float]) -> list[float]:
    out: list[float] = []
    for v in values:
        out.append(max(v, out[-1]) if out else v)
    return out


def compare_point(point: Result, baselines: Sequence[Result]) -> str:
    """How one kling point stands against each baseline: dominates, or which axis it wins."""
    words = []
    for b in baselines:
        sooner = point.p50 < b.p50 and point.p95 < b.p95
        cheaper = point.requests < b.requests
        short = b.name.split(" (")[0]
        if sooner and cheaper:
            words.append(f"beats {short}")
        elif cheaper:
            words.append(f"cheaper than {short}")
        elif sooner:
            words.append(f"sooner than {short}")
        else:
            words.append(f"loses to {short}")
    return "; ".join(words)


# -- output -----------------------------------------------------------------------------------


def fmt_s(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def fmt_n(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=1000, help="tasks per variant (6 variants)")
    parser.add_argument("--sequences", type=int, default=32, help="jitter streams per schedule")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="fewer tasks and knobs (smoke run)")
    args = parser.parse_args(argv)
    print(f"bench/polling.py: {machine()}", flush=True)
    per_variant, knobs = args.tasks, KNOBS
    if args.quick:
        per_variant, knobs = 150, KNOBS[::2]
    started = time.perf_counter()
    print("Variants (median create-to-finish, s):")
    for model, mode, duration, median in VARIANTS:
        print(f"  {model:14s} {mode:3s} {duration:2d}s  {median:6.1f}")
    print(
        f"{per_variant} tasks per variant, {len(VARIANTS) * per_variant} per spread; "
        f"knob sweep {knobs[0]:.1e}..{knobs[-1]:.0e} ({len(knobs)} points, "
        f"min_delay {SWEEP_MIN_DELAY} s, scale {TIME_BASE} s); default knob {DEFAULT_KNOB}"
    )
    summary_rows: list[tuple[float, str, Result, Verdict | None]] = []
    all_ok = True
    failures: list[str] = []
    for sigma in SIGMAS:
        population = Population.draw(sigma, per_variant, args.seed)

        def run(
            name: str, make: Callable[[float, float], Delay], pop: Population = population
        ) -> Result:
            return simulate(name, make, pop, sequences=args.sequences, seed=args.seed)

        baselines = [run(name, make) for name, make in BASELINES]
        densest = max(b.requests for b in baselines)
        curve: list[Result] = []
        for k in knobs:  # descending: ever denser polling
            curve.append(run(f"kling knob={k:.2g}", kling(k)))
            if curve[-1].requests > STOP_FACTOR * densest:
                break
        curve.reverse()  # ascending knob: requests fall, latency rises
        default = run(f"kling default knob={DEFAULT_KNOB}", kling(DEFAULT_KNOB))
        studio = run("Studio as shipped (floor 1 s)", kling(DEFAULT_KNOB, studio=True))
        print(f"\n== sigma {sigma}: {population.tasks} tasks")
        print(f"{'schedule':34s} {'p50 s':>8s} {'p95 s':>8s} {'req/task':>9s}")
        for r in curve:
            print(f"  {r.name:32s} {fmt_s(r.p50):>8s} {fmt_s(r.p95):>8s} {fmt_n(r.requests):>9s}")
        print(
            f"{'baseline':34s} {'p50 s':>8s} {'p95 s':>8s} {'req/task':>9s} | "
            f"{'kling p50/p95 @ same req':>25s} {'kling req @ same p50&p95':>25s}  verdict"
        )
        for b in baselines:
            v = judge(curve, b)
            ok = v.sooner and v.cheaper
            all_ok &= ok
            if not ok:
                failures.append(f"sigma {sigma} vs {b.name}")
            summary_rows.append((sigma, b.name, b, v))
            print(
                f"{b.name:34s} {fmt_s(b.p50):>8s} {fmt_s(b.p95):>8s} {fmt_n(b.requests):>9s} | "
                f"{fmt_s(v.p50_at_requests):>11s} / {fmt_s(v.p95_at_requests):<11s} "
                f"{fmt_n(v.requests_at_latency):>25s}  "
                f"{'sooner' if v.sooner else 'NOT sooner'}, {'cheaper' if v.cheaper else 'NOT cheaper'}"
            )
        for r in (default, studio):
            summary_rows.append((sigma, r.name, r, None))
            print(
                f"{r.name:34s} {fmt_s(r.p50):>8s} {fmt_s(r.p95):>8s} {fmt_n(r.requests):>9s} | "
                f"{compare_point(r, baselines)}"
            )
    elapsed = time.perf_counter() - started

    print("\nMarkdown:\n")
    print(
        "| sigma | schedule | p50 s | p95 s | req/task | kling p50 / p95 at same req | "
        "kling req at same p50 & p95 | target |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for sigma, name, r, v in summary_rows:
        if v is None:
            print(
                f"| {sigma} | **{name}** | {fmt_s(r.p50)} | {fmt_s(r.p95)} | {fmt_n(r.requests)} | | | |"
            )
        else:
            mark = "met" if v.sooner and v.cheaper else "MISSED"
            print(
                f"| {sigma} | {name} | {fmt_s(r.p50)} | {fmt_s(r.p95)} | {fmt_n(r.requests)} | "
                f"{fmt_s(v.p50_at_requests)} / {fmt_s(v.p95_at_requests)} | "
                f"{fmt_n(v.requests_at_latency)} | {mark} |"
            )
    met = sum(1 for *_, v in summary_rows if v is not None and v.sooner and v.cheaper)
    total = sum(1 for *_, v in summary_rows if v is not None)
    print(
        f"\nSUMMARY polling: target {'MET' if all_ok else 'MISSED'}: kling_nb's knob curve beats "
        f"{met}/{total} (spread, baseline) pairs on both axes"
        + (f" (missed: {'; '.join(failures)})" if failures else "")
        + f"; {len(SIGMAS) * len(VARIANTS) * per_variant} tasks in {elapsed:.1f} s"
    )
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
