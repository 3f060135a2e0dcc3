"""The job lifecycle: every (state, event) pair, and the properties of every state."""

from __future__ import annotations

import itertools

import pytest

from kling_nb._models import Status
from kling_nb._states import (
    TRANSITIONS,
    Event,
    IllegalTransitionError,
    JobState,
    state_for_status,
    transition,
)

S, E = JobState, Event

# The lifecycle as a person would state it, independently of the table in _states.py.
EXPECTED: dict[tuple[JobState, Event], JobState] = {
    (S.WAITING, E.SEND): S.CREATING,
    (S.WAITING, E.REQUEUE): S.WAITING,
    (S.WAITING, E.REFUSED): S.ERROR,
    (S.WAITING, E.STOP): S.STOPPED,
    (S.WAITING, E.DETACH): S.DETACHED,
    (S.WAITING, E.RESUME_WAITING): S.WAITING,
    (S.CREATING, E.CREATED): S.QUEUED,
    (S.CREATING, E.REQUEUE): S.WAITING,
    (S.CREATING, E.REFUSED): S.ERROR,
    (S.CREATING, E.OUTCOME_UNKNOWN): S.UNKNOWN,
    (S.CREATING, E.DETACH): S.UNKNOWN,
    (S.DOWNLOADING, E.DOWNLOADED): S.SUCCEEDED,
    (S.DOWNLOADING, E.FETCH_FAILED): S.FETCH_FAILED,
    (S.DOWNLOADING, E.DEADLINE): S.FETCH_FAILED,
    (S.DOWNLOADING, E.DETACH): S.DETACHED,
    (S.DOWNLOADING, E.STOP): S.STOPPED,
    (S.DETACHED, E.RESUME_WAITING): S.WAITING,
}
for remote in (S.QUEUED, S.RUNNING):
    EXPECTED.update(
        {
            (remote, E.STATUS_QUEUED): remote,
            (remote, E.STATUS_RUNNING): S.RUNNING,
            (remote, E.STATUS_SUCCEEDED): S.DOWNLOADING,
            (remote, E.STATUS_FAILED): S.FAILED,
            (remote, E.STATUS_CANCELLED): S.CANCELLED,
            (remote, E.STATUS_EXPIRED): S.EXPIRED,
            (remote, E.DEADLINE): S.TIMEOUT,
            (remote, E.DETACH): S.DETACHED,
            (remote, E.STOP): S.STOPPED,
        }
    )
for resumable in (S.QUEUED, S.RUNNING, S.DOWNLOADING, S.TIMEOUT, S.DETACHED, S.FETCH_FAILED):
    EXPECTED.update(
        {
            (resumable, E.RESUME_QUEUED): S.QUEUED,
            (resumable, E.RESUME_RUNNING): S.RUNNING,
            (resumable, E.RESUME_DOWNLOADING): S.DOWNLOADING,
        }
    )
for parked in (S.TIMEOUT, S.DETACHED, S.FETCH_FAILED):
    EXPECTED[(parked, E.DETACH)] = S.DETACHED


@pytest.mark.parametrize(("state", "event"), list(itertools.product(JobState, Event)))
def test_every_pair(state: JobState, event: Event) -> None:
    expected = EXPECTED.get((state, event))
    if expected is None:
        with pytest.raises(IllegalTransitionError, match=state.value):
            transition(state, event)
    else:
        assert transition(state, event) is expected


def test_table_is_exactly_the_lifecycle() -> None:
    assert dict(TRANSITIONS) == EXPECTED


def test_final_states_have_no_way_out() -> None:
    for (state, _event), _target in TRANSITIONS.items():
        assert not state.final, state


def test_every_state_is_exactly_one_of_active_final_parked() -> None:
    for state in JobState:
        assert [state.active, state.final, state.parked].count(True) == 1, state
    assert {s for s in JobState if s.parked} == {S.FETCH_FAILED, S.TIMEOUT, S.DETACHED}


def test_a_succeeded_task_is_not_final_until_its_video_is_on_disk() -> None:
    after = transition(S.RUNNING, E.STATUS_SUCCEEDED)
    assert after is S.DOWNLOADING
    assert not after.final
    assert transition(after, E.FETCH_FAILED).parked
    assert transition(after, E.DOWNLOADED) is S.SUCCEEDED


def test_billed_states() -> None:
    unbilled = {S.WAITING, S.ERROR, S.FAILED, S.CANCELLED, S.EXPIRED}
    assert {s for s in JobState if not s.billed} == unbilled


def test_every_state_is_reachable_from_waiting() -> None:
    seen, frontier = {S.WAITING}, [S.WAITING]
    while frontier:
        state = frontier.pop()
        for (source, _event), target in TRANSITIONS.items():
            if source is state and target not in seen:
                seen.add(target)
                frontier.append(target)
    assert seen == set(JobState)


def test_remote_statuses_map_to_events() -> None:
    assert state_for_status(Status.SUCCEEDED) is E.STATUS_SUCCEEDED
    assert state_for_status(Status.EXPIRED) is E.STATUS_EXPIRED
    assert state_for_status("rendering") is E.STATUS_RUNNING  # unknown: keep polling


def test_parse() -> None:
    assert JobState.parse("fetch_failed") is S.FETCH_FAILED
    assert JobState.parse(S.QUEUED) is S.QUEUED
    assert str(S.TIMEOUT) == "timeout"
    with pytest.raises(ValueError, match="nope"):
        JobState.parse("nope")
