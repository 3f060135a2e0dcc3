"""Billing: per generated second by Mode, held at create, settled at a terminal status."""

from __future__ import annotations

from typing import Any

import httpx

from kling_nb._pricing import DEFAULT_RATES, SANDBOX_RATES
from kling_nb.sandbox import NANO, PRICE_NANO_PER_SECOND, Faults

from ._sandbox_helpers import TEAM, create, i2v, t2v, wait_terminal


def team_balance(sandbox: Any, team: str = "team-sandbox") -> dict[str, int]:
    balance: dict[str, int] = sandbox.stats()["balances"][team]
    return balance


def test_price_table_is_per_second_by_mode() -> None:
    assert PRICE_NANO_PER_SECOND["pro"] > PRICE_NANO_PER_SECOND["std"] > 0
    assert all(isinstance(v, int) for v in PRICE_NANO_PER_SECOND.values())


def test_the_placeholder_rate_card_mirrors_the_sandbox_prices() -> None:
    # The sandbox owns its prices (it may not import the studio layer); the client's default
    # card repeats them so estimates match what the embedded sandbox bills.
    assert {mode: round(rate * NANO) for mode, rate in SANDBOX_RATES.items()} == dict(
        PRICE_NANO_PER_SECOND
    )
    kling = {mode for model, mode in DEFAULT_RATES if model.startswith("kling-")}
    assert kling == set(PRICE_NANO_PER_SECOND)


async def test_hold_at_create_then_charge_on_success(make_sandbox: Any) -> None:
    sandbox = make_sandbox()
    start = team_balance(sandbox)
    assert start["balance_nano"] == 20 * NANO
    assert start["held_nano"] == 0
    price = PRICE_NANO_PER_SECOND["pro"] * 10
    async with httpx.AsyncClient(base_url=sandbox.base_url) as http:
        task = await create(http, "text2video", t2v(Mode="pro", Duration="10"))
        held = team_balance(sandbox)
        if held["held_nano"]:  # still pending: the price is held, not yet charged
            assert held["held_nano"] == price
            assert held["balance_nano"] == start["balance_nano"]
            assert held["available_nano"] == start["balance_nano"] - price
        final = await wait_terminal(http, "text2video", task["id"])
    assert final["status"] == "succeeded"
    settled = team_balance(sandbox)
    assert settled["held_nano"] == 0
    assert settled["balance_nano"] == start["balance_nano"] - price
    assert settled["charged_nano"] == price
    assert settled["released_nano"] == 0
    # Nothing moved for the other teams.
    assert team_balance(sandbox, "team-sandbox-2")["balance_nano"] == 20 * NANO


async def test_hold_is_visible_while_pending(frozen: Any, frozen_http: httpx.AsyncClient) -> None:
    await create(frozen_http, "text2video", t2v(Mode="std", Duration=5))
    await create(frozen_http, "text2video", t2v(Mode="pro", Duration=10))
    balance = team_balance(frozen)
    expected = PRICE_NANO_PER_SECOND["std"] * 5 + PRICE_NANO_PER_SECOND["pro"] * 10
    assert balance["held_nano"] == expected
    assert balance["balance_nano"] == 20 * NANO
    assert balance["available_nano"] == 20 * NANO - expected


async def test_failed_and_expired_tasks_release_the_hold(make_sandbox: Any) -> None:
    for faults in (Faults(task_fail=1.0), Faults(task_expire=1.0)):
        sandbox = make_sandbox(faults=faults)
        async with httpx.AsyncClient(base_url=sandbox.base_url) as http:
            task = await create(http, "text2video", t2v())
            final = await wait_terminal(http, "text2video", task["id"])
        assert final["status"] in ("failed", "expired")
        balance = team_balance(sandbox)
        assert balance["balance_nano"] == 20 * NANO
        assert balance["held_nano"] == 0
        assert balance["charged_nano"] == 0
        assert balance["released_nano"] == PRICE_NANO_PER_SECOND["std"] * 5


async def test_unreachable_image_task_is_not_charged(make_sandbox: Any) -> None:
    sandbox = make_sandbox()
    async with httpx.AsyncClient(base_url=sandbox.base_url) as http:
        task = await create(http, "image2video", i2v("https://nowhere.example/x.png"))
        assert (await wait_terminal(http, "image2video", task["id"]))["status"] == "failed"
    assert team_balance(sandbox)["balance_nano"] == 20 * NANO


async def test_settlement_happens_without_polling(make_sandbox: Any) -> None:
    sandbox = make_sandbox(time_scale=0)
    async with httpx.AsyncClient(base_url=sandbox.base_url) as http:
        for _ in range(3):
            await create(http, "text2video", t2v(), key=TEAM)
    balance = team_balance(sandbox)
    assert balance["charged_nano"] == 3 * PRICE_NANO_PER_SECOND["std"] * 5
    assert balance["held_nano"] == 0
