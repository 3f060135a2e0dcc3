"""Ownership: claim / update(owner=) / heartbeat / release, and claims racing across processes."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from pathlib import Path

from _ledger_helpers import ENDPOINT, claim_worker, copy_v1, job

from kling_nb._ledger import Ledger

SANDBOX = "sandbox:embedded"


def ids(rows: list[dict[str, object]]) -> list[object]:
    return [row["job_id"] for row in rows]


def test_claim_sorts_rows_by_settings_and_lease(target: str | Path) -> None:
    with Ledger(target) as ledger:
        ledger.insert(job("free", submitted_at=1))
        ledger.insert(job("mine-key", key_fp="fp-a", submitted_at=2))
        ledger.insert(job("other-key", key_fp="fp-b", submitted_at=3))
        ledger.insert(job("other-host", endpoint="https://elsewhere.example", submitted_at=4))
        ledger.insert(job("held", owner="B", lease_until=200.0, submitted_at=5))
        ledger.insert(job("expired", owner="B", lease_until=50.0, submitted_at=6))
        ledger.insert(job("done", status="succeeded", submitted_at=7))
        ledger.insert(job("parked", status="fetch_failed", submitted_at=8))
        found = ledger.claim("A", endpoint=ENDPOINT, key_fp="fp-a", lease_s=30, now=100.0)
        assert ids(found.claimed) == ["free", "mine-key", "expired", "parked"]
        assert ids(found.other_settings) == ["other-key", "other-host"]
        assert ids(found.held) == ["held"]
        assert all(r["owner"] == "A" and r["lease_until"] == 130.0 for r in found.claimed)
        assert (ledger.row("expired") or {})["owner"] == "A"
        assert (ledger.row("other-key") or {})["owner"] is None
        taken = ledger.events("expired")
        assert taken["kind"].iloc[-1] == "claimed"
        assert taken["detail"].iloc[-1] == {"owner": "A", "from": "B"}

        # Claiming again: A's own live rows are neither claimed again nor "held".
        again = ledger.claim("A", endpoint=ENDPOINT, key_fp="fp-a", lease_s=30, now=101.0)
        assert again.claimed == []
        assert ids(again.held) == ["held"]
        # B comes back after A's leases ran out and takes everything it may.
        late = ledger.claim("B", endpoint=ENDPOINT, key_fp="fp-a", lease_s=30, now=500.0)
        assert ids(late.claimed) == ["free", "mine-key", "held", "expired", "parked"]


def test_legacy_loopback_rows_match_the_legacy_endpoint(tmp_path: Path) -> None:
    path = copy_v1(tmp_path)  # v1 rows: endpoint http://127.0.0.1:41521, key_fp NULL
    with Ledger(path) as ledger:
        ledger.insert(job("keyed-loopback", endpoint="http://127.0.0.1:5555", key_fp="fp"))
        api = ledger.claim("A", endpoint=ENDPOINT, key_fp="fp", lease_s=30, legacy_endpoint=SANDBOX)
        assert api.claimed == []
        assert len(api.other_settings) == 5
        plain = ledger.claim("A", endpoint=SANDBOX, key_fp="fp", lease_s=30)
        assert plain.claimed == []  # without legacy_endpoint, an old port is another endpoint
        sandbox = ledger.claim(
            "A", endpoint=SANDBOX, key_fp="fp", lease_s=30, legacy_endpoint=SANDBOX
        )
        assert len(sandbox.claimed) == 4  # the v1 rows that are not final
        assert ids(sandbox.other_settings) == ["keyed-loopback"]  # it has a key: not legacy
        same_port = ledger.claim("C", endpoint="http://127.0.0.1:5555", key_fp="fp", lease_s=30)
        assert ids(same_port.claimed) == ["keyed-loopback"]


def test_update_with_owner_applies_only_for_the_owner(target: str | Path) -> None:
    with Ledger(target) as ledger:
        ledger.insert(job("a", owner="A", lease_until=1e12))
        assert not ledger.update("a", owner="B", status="creating", event="create_sent")
        assert (ledger.row("a") or {})["status"] == "waiting"
        assert list(ledger.events("a")["kind"]) == ["submitted"]  # no event either
        assert ledger.update("a", owner="A", status="creating", event="create_sent")
        assert ledger.update("a", polls=1)  # without owner: unconditional
        assert list(ledger.events("a")["kind"]) == ["submitted", "create_sent"]


def test_heartbeat_and_release(target: str | Path) -> None:
    with Ledger(target) as ledger:
        ledger.insert(job("a", owner="A", lease_until=10.0))
        ledger.insert(job("b", owner="A", lease_until=10.0))
        ledger.insert(job("done", owner="A", lease_until=10.0, status="succeeded"))
        ledger.insert(job("theirs", owner="B", lease_until=10.0))
        assert ledger.heartbeat("A", 60, now=1000.0) == 2
        assert (ledger.row("a") or {})["lease_until"] == 1060.0
        assert (ledger.row("done") or {})["lease_until"] == 10.0
        assert (ledger.row("theirs") or {})["lease_until"] == 10.0
        assert ledger.release("A", ["a", "theirs"]) == 1
        assert (ledger.row("a") or {})["owner"] is None
        assert ledger.release("A") == 2  # b and done
        assert ledger.release("A") == 0
        assert (ledger.row("theirs") or {})["owner"] == "B"


def test_claims_racing_in_processes_never_share_a_row(target: str | Path) -> None:
    path = target
    Ledger(path).close()
    ctx = multiprocessing.get_context("spawn")
    workers, rounds = 4, 25
    barrier = ctx.Barrier(workers)
    out = ctx.Queue()
    procs = [
        ctx.Process(target=claim_worker, args=(str(path), f"w{n}", rounds, barrier, out))
        for n in range(workers)
    ]
    for proc in procs:
        proc.start()
    results = [out.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    inserted = [job_id for _, made, _ in results for job_id in made]
    with Ledger(path) as ledger:
        leftover = ledger.claim("parent", endpoint=ENDPOINT, key_fp=None, lease_s=60)
        owners = {row["job_id"]: row["owner"] for row in ledger.by_ids(inserted)}
    claims = Counter(job_id for _, _, got in results for job_id in got)
    claims.update(ids(leftover.claimed))
    assert len(inserted) == workers * rounds * 2
    assert set(claims) == set(inserted)
    assert max(claims.values()) == 1, [k for k, v in claims.items() if v > 1]
    for owner, _, got in results:
        assert all(owners[job_id] == owner for job_id in got)
    # The race was real: workers took rows other workers had inserted.
    assert any(not job_id.startswith(owner) for owner, _, got in results for job_id in got)
