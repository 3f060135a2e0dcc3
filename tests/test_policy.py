"""Pure policy: backoff, Retry-After parsing, the poll schedule and its hazard model."""

from __future__ import annotations

import asyncio
import email.utils
import math
from statistics import NormalDist

import httpx
import pytest

import kling_nb as kn
from kling_nb._policy import (
    DEFAULT_PRIORS,
    MAX_BACKOFF,
    RETRYABLE_STATUS,
    CreateDecision,
    backoff_delay,
    create_decision,
    lognormal_hazard,
    parse_retry_after,
)

# -- backoff --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempt", "rand", "expected"),
    [
        (0, 0.0, 0.5),
        (0, 1.0, 0.375),
        (0, 0.5, 0.4375),
        (1, 0.0, 1.0),
        (2, 0.0, 2.0),
        (3, 0.0, 4.0),
        (4, 0.0, 8.0),
        (5, 0.0, 8.0),  # capped
        (50, 0.0, 8.0),
        (50, 1.0, 6.0),
        (-3, 0.0, 0.5),  # a negative attempt is the first
    ],
)
def test_backoff_exact_values(attempt: int, rand: float, expected: float) -> None:
    assert backoff_delay(attempt, rand=lambda: rand) == pytest.approx(expected)


def test_backoff_cap_is_eight_seconds() -> None:
    assert MAX_BACKOFF == 8.0
    assert max(backoff_delay(n, rand=lambda: 0.0) for n in range(100)) == 8.0


@pytest.mark.parametrize("attempt", range(8))
def test_backoff_jitter_bounds(attempt: int) -> None:
    base = min(0.5 * 2**attempt, 8.0)
    seen = [backoff_delay(attempt) for _ in range(200)]
    assert all(0.75 * base <= d <= base for d in seen)
    assert len(set(seen)) > 1  # actually jittered


def test_backoff_custom_initial_and_cap() -> None:
    assert backoff_delay(3, rand=lambda: 0.0, initial=0.1, cap=0.5) == pytest.approx(0.5)
    assert backoff_delay(1, rand=lambda: 0.0, initial=0.1, cap=0.5) == pytest.approx(0.2)


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [(3.0, 3.0), (0.0, 0.0), (60.0, 60.0), (0.25, 0.25)],
)
def test_backoff_honours_a_sane_retry_after(retry_after: float, expected: float) -> None:
    assert backoff_delay(5, rand=lambda: 0.0, retry_after=retry_after) == expected


@pytest.mark.parametrize("retry_after", [60.5, 3600.0, -1.0, math.inf])
def test_backoff_ignores_an_insane_retry_after(retry_after: float) -> None:
    assert backoff_delay(0, rand=lambda: 0.0, retry_after=retry_after) == 0.5


# -- Retry-After ----------------------------------------------------------------------------

NOW = 1_700_000_000.0


def _h(**values: str) -> httpx.Headers:
    return httpx.Headers({k.replace("_", "-"): v for k, v in values.items()})


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (_h(retry_after="3"), 3.0),
        (_h(retry_after="0"), 0.0),
        (_h(retry_after="2.5"), 2.5),
        (_h(retry_after="-4"), 0.0),
        (_h(retry_after_ms="1500"), 1.5),
        (_h(retry_after_ms="0"), 0.0),
        (_h(retry_after_ms="250.5"), 0.2505),
        (_h(retry_after_ms="1500", retry_after="9"), 1.5),  # ms wins
        (_h(retry_after_ms="soon", retry_after="9"), 9.0),  # bad ms falls back
        (httpx.Headers({"Retry-After": "7"}), 7.0),  # any case
        (httpx.Headers({"RETRY-AFTER-MS": "100"}), 0.1),
        (_h(), None),
        (_h(retry_after="soon"), None),
        (_h(retry_after=""), None),
        (_h(retry_after="nan"), None),
        (_h(retry_after="inf"), None),
        (_h(retry_after_ms="nan"), None),
        (_h(retry_after="Wed, 32 Foo 2024 99:99:99 GMT"), None),
    ],
)
def test_parse_retry_after(headers: httpx.Headers, expected: float | None) -> None:
    result = parse_retry_after(headers, now=NOW)
    if expected is None:
        assert result is None
    else:
        assert result == pytest.approx(expected)


def test_parse_retry_after_http_date_uses_the_injected_now() -> None:
    when = email.utils.formatdate(NOW + 42, usegmt=True)
    assert parse_retry_after(_h(retry_after=when), now=NOW) == pytest.approx(42.0)
    assert parse_retry_after(_h(retry_after=when), now=NOW + 40) == pytest.approx(2.0)
    # a date in the past means "now"
    assert parse_retry_after(_h(retry_after=when), now=NOW + 100) == 0.0


def test_retryable_statuses() -> None:
    assert {408, 429, 500, 502, 503, 504} <= RETRYABLE_STATUS
    assert not {400, 401, 402, 403, 404, 410, 424} & RETRYABLE_STATUS


# -- the create decision -------------------------------------------------------------------


def _api(cls: type[kn.APIError], status: int, code: str | None = None) -> kn.APIError:
    return cls("x", status_code=status, code=code)


R, W, L, U, F = (
    CreateDecision.RETRY,
    CreateDecision.WAIT_SLOT,
    CreateDecision.RETRY_LATER,
    CreateDecision.UNKNOWN,
    CreateDecision.FAIL,
)
UNSENT = kn.APIConnectionError("refused", sent=False)

CREATE_CASES = [
    # provably unsent: retried max_unsent (2) times, then refused
    ("unsent-0", UNSENT, 0, R),
    ("unsent-1", UNSENT, 1, R),
    ("unsent-2", UNSENT, 2, F),
    ("unsent-9", UNSENT, 9, F),
    ("unsent-timeout", kn.APITimeoutError("connect", sent=False), 0, R),
    # may have been sent: never again, whatever the attempt
    ("sent-conn", kn.APIConnectionError("reset", sent=True), 0, U),
    ("sent-timeout", kn.APITimeoutError("read", sent=True), 0, U),
    ("sent-none", kn.APIConnectionError("?", sent=None), 0, U),
    ("outcome-unknown", kn.CreateOutcomeUnknownError("?"), 0, U),
    ("500", _api(kn.ServerError, 500), 0, U),
    ("503", _api(kn.ServerError, 503), 0, U),
    ("2xx-garbled", _api(kn.InvalidResponseError, 200), 0, U),
    ("3xx", _api(kn.APIError, 302), 0, U),
    # the pending cap: always wait for a slot
    ("429", _api(kn.TooManyPendingTasksError, 429, "kling_too_many_pending_tasks"), 0, W),
    ("429-late", _api(kn.TooManyPendingTasksError, 429), 50, W),
    # 424: no task created, retried max_upstream (3) times
    ("424-0", _api(kn.UpstreamError, 424), 0, L),
    ("424-2", _api(kn.UpstreamError, 424), 2, L),
    ("424-3", _api(kn.UpstreamError, 424), 3, F),
    # refusals
    ("400", _api(kn.BadRequestError, 400), 0, F),
    ("400-model", _api(kn.UnsupportedModelError, 400), 0, F),
    ("401", _api(kn.AuthenticationError, 401), 0, F),
    ("402", _api(kn.InsufficientBalanceError, 402), 0, F),
    ("403", _api(kn.TeamRequiredError, 403), 0, F),
    ("404", _api(kn.NotFoundError, 404), 0, F),
    ("408", _api(kn.APIError, 408), 0, F),
    ("413", _api(kn.APIError, 413), 0, F),
    ("validation", kn.ValidationError("prompt", "", "text"), 0, F),
    ("config", kn.ConfigurationError("no key"), 0, F),
    # anything foreign may have happened mid-send
    ("cancelled", asyncio.CancelledError(), 0, U),
    ("bug", RuntimeError("boom"), 0, U),
]


@pytest.mark.parametrize(
    ("error", "attempt", "expected"), [pytest.param(e, a, d, id=i) for i, e, a, d in CREATE_CASES]
)
def test_create_decision(error: BaseException, attempt: int, expected: CreateDecision) -> None:
    assert create_decision(error, attempt=attempt) is expected


def test_create_decision_limits_are_arguments() -> None:
    assert create_decision(UNSENT, attempt=4, max_unsent=5) is R
    assert create_decision(UNSENT, attempt=0, max_unsent=0) is F
    upstream = _api(kn.UpstreamError, 424)
    assert create_decision(upstream, attempt=0, max_upstream=0) is F
    assert create_decision(upstream, attempt=6, max_upstream=7) is L


def test_create_decision_covers_every_decision() -> None:
    assert {d for *_, d in CREATE_CASES} == set(CreateDecision)
    assert str(CreateDecision.WAIT_SLOT) == "wait_slot"


# -- the hazard -----------------------------------------------------------------------------


@pytest.mark.parametrize("t", [1.0, 30.0, 60.0, 100.0, 150.0, 300.0, 500.0])
@pytest.mark.parametrize("sigma", [0.3, 0.5, 1.0])
def test_lognormal_hazard_matches_pdf_over_survival(t: float, sigma: float) -> None:
    median = 100.0
    z = (math.log(t) - math.log(median)) / sigma
    normal = NormalDist()
    pdf = normal.pdf(z) / (t * sigma)
    survival = 1.0 - normal.cdf(z)
    if survival > 1e-9:
        assert lognormal_hazard(t, median, sigma) == pytest.approx(pdf / survival, rel=1e-6)


@pytest.mark.parametrize(("t", "median", "sigma"), [(0, 1, 1), (-1, 1, 1), (1, 0, 1), (1, 1, 0)])
def test_lognormal_hazard_degenerate_inputs_are_zero(t: float, median: float, sigma: float) -> None:
    assert lognormal_hazard(t, median, sigma) == 0.0


def test_lognormal_hazard_stays_finite_and_continuous_deep_in_the_tail() -> None:
    median, sigma = 100.0, 0.5
    for z in (6.9, 7.0, 7.1, 8.0, 20.0, 60.0):
        h = lognormal_hazard(median * math.exp(z * sigma), median, sigma)
        assert math.isfinite(h)
        assert h > 0
    # across the switch to the Mills-ratio asymptote (survival < 1e-12, z ≈ 7.03)
    below = lognormal_hazard(median * math.exp(7.02 * sigma), median, sigma)
    above = lognormal_hazard(median * math.exp(7.05 * sigma), median, sigma)
    assert above == pytest.approx(below, rel=0.02)


def test_lognormal_hazard_is_tiny_early_and_peaks_after_the_median() -> None:
    median, sigma = 100.0, 0.5
    early = lognormal_hazard(10.0, median, sigma)
    at = lognormal_hazard(median, median, sigma)
    assert early < at / 1000
    assert lognormal_hazard(150.0, median, sigma) > at


# -- the poll schedule ----------------------------------------------------------------------


def test_schedule_is_sparse_early_and_dense_near_the_median() -> None:
    s = kn.PollSchedule(median=100.0, confident=True, jitter=0.0)
    early, near = s.delay(5.0), s.delay(100.0)
    assert early == pytest.approx(30.0)  # capped at max_delay
    assert near < early / 3
    assert s.delay(30.0) > s.delay(80.0) > s.delay(100.0)


def test_schedule_gap_follows_sqrt_of_cost_over_hazard() -> None:
    # Keller's rule with the hazard integrated over the gap: gap * H(t, t + gap) = 2 cost.
    s = kn.PollSchedule(median=100.0, confident=True, jitter=0.0)
    gap = s.delay(100.0)
    survival = NormalDist(math.log(100.0), 0.5)
    cumulative = math.log(1 - survival.cdf(math.log(100.0))) - math.log(
        1 - survival.cdf(math.log(100.0 + gap))
    )
    assert gap * cumulative == pytest.approx(2 * s.knob * 100.0, rel=0.05)
    # Where the hazard is about flat over one gap, that is sqrt(2 cost / hazard).
    hazard = lognormal_hazard(100.0, 100.0, 0.5)
    assert gap == pytest.approx(math.sqrt(2 * s.knob * 100.0 / hazard), rel=0.03)


def test_schedule_does_not_jump_over_a_narrow_finish_window() -> None:
    # sigma 0.1: hazard is ~0 at 60 s; a gap sized by it alone (30 s) would skip to 90 s,
    # past 15 % of all finishes.
    s = kn.PollSchedule(median=100.0, sigma=0.1, confident=True, jitter=0.0)
    assert s.delay(0.0) == pytest.approx(30.0)
    assert 60.0 + s.delay(60.0) < 85.0
    assert s.delay(60.0) > s.delay(80.0) > s.delay(100.0)


def test_schedule_scale_sets_the_unit_of_the_knob() -> None:
    base = kn.PollSchedule(median=100.0, confident=True, jitter=0.0)
    assert kn.PollSchedule(median=100.0, confident=True, jitter=0.0, scale=400.0).delay(
        100.0
    ) == pytest.approx(
        kn.PollSchedule(median=100.0, confident=True, jitter=0.0, knob=0.016).delay(100.0)
    )
    assert kn.PollSchedule(median=100.0, confident=True, jitter=0.0, scale=100.0).delay(
        100.0
    ) == pytest.approx(base.delay(100.0))


def test_schedule_is_capped_by_max_delay_and_half_the_median() -> None:
    s = kn.PollSchedule(median=100.0, confident=True, jitter=0.0, max_delay=5.0)
    assert max(s.delay(t) for t in range(0, 2000, 7)) <= 5.0
    short = kn.PollSchedule(median=4.0, confident=True, jitter=0.0)
    assert max(short.delay(t / 10) for t in range(400)) <= 2.0  # 0.5 * median


def test_schedule_never_below_min_delay() -> None:
    s = kn.PollSchedule(median=1.0, confident=True, min_delay=0.2, jitter=0.5)
    assert min(s.delay(t / 100, rand=lambda: 0.0) for t in range(500)) >= 0.2


def test_schedule_deep_tail_is_capped_not_infinite() -> None:
    s = kn.PollSchedule(median=100.0, confident=True, jitter=0.0)
    assert s.delay(1e7) == pytest.approx(30.0)
    assert math.isfinite(s.delay(0.0))


@pytest.mark.parametrize("elapsed", [0.0, 1.0, 2.0, 10.0, 40.0, 100.0, 300.0])
def test_schedule_jitter_bounds(elapsed: float) -> None:
    s = kn.PollSchedule(median=100.0, jitter=0.1)
    plain = kn.PollSchedule(median=100.0, jitter=0.0).delay(elapsed)
    assert s.delay(elapsed, rand=lambda: 0.0) == pytest.approx(max(plain * 0.9, s.min_delay))
    assert s.delay(elapsed, rand=lambda: 1.0) == pytest.approx(plain * 1.1)
    assert s.delay(elapsed, rand=lambda: 0.5) == pytest.approx(plain)
    seen = [s.delay(elapsed) for _ in range(100)]
    assert all(plain * 0.9 - 1e-9 <= d <= plain * 1.1 + 1e-9 for d in seen)


def test_unconfident_schedule_grows_gaps_slowly() -> None:
    # A prior that is a guess: the gap is held to 1 + growth * elapsed, so a task much faster
    # than the guess is still noticed quickly.
    guess = kn.PollSchedule(median=100.0, jitter=0.0)
    sure = kn.PollSchedule(median=100.0, jitter=0.0, confident=True)
    assert guess.delay(0.0) == pytest.approx(1.0)
    assert guess.delay(2.0) == pytest.approx(2.0)
    assert guess.delay(10.0) == pytest.approx(6.0)
    assert sure.delay(2.0) == pytest.approx(30.0)
    for t in (0.0, 1.0, 5.0, 20.0, 60.0, 100.0, 500.0):
        assert guess.delay(t) <= 1.0 + 0.5 * t + 1e-9
        assert guess.delay(t) <= sure.delay(t) + 1e-9
    faster = kn.PollSchedule(median=100.0, jitter=0.0, growth=0.1)
    assert faster.delay(10.0) == pytest.approx(2.0)


def test_schedule_is_scale_free() -> None:
    a = kn.PollSchedule(median=100.0, confident=True, jitter=0.0, max_delay=1e9, min_delay=0)
    b = kn.PollSchedule(median=1.0, confident=True, jitter=0.0, max_delay=1e9, min_delay=0)
    for frac in (0.5, 1.0, 1.5, 3.0):
        assert a.delay(100.0 * frac) == pytest.approx(100.0 * b.delay(frac), rel=1e-6)


def test_fast_test_schedule_is_fast() -> None:
    s = kn.PollSchedule(median=0.05, min_delay=0.005, max_delay=0.02)
    assert all(0.005 <= s.delay(t / 100) <= 0.022 for t in range(100))


def test_default_priors_cover_modes_and_durations() -> None:
    assert set(DEFAULT_PRIORS) == {("std", 5), ("std", 10), ("pro", 5), ("pro", 10)}
    assert DEFAULT_PRIORS["std", 5] < DEFAULT_PRIORS["pro", 10]
