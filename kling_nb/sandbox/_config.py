"""The sandbox's fixed world: demo keys, teams, prices, and the settings of one server."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from ._faults import Faults

__all__ = [
    "DEFAULT_KEY",
    "DEFAULT_TIME_SCALE",
    "KEYS",
    "MAX_UPLOAD_BYTES",
    "NANO",
    "PRICE_NANO_PER_SECOND",
    "UPLOAD_TTL_SECONDS",
    "KeySpec",
    "SandboxConfig",
]

NANO: Final = 1_000_000_000
"""Balances and prices are integers in nano-credits (1 credit = 10**9 nano)."""

PRICE_NANO_PER_SECOND: Final[Mapping[str, int]] = {"std": 70_000_000, "pro": 112_000_000}
"""The sandbox's price table: nano-credits per generated second, by Mode, for every model.

WorldRouter publishes no Kling price (contract.md assumption 6); these numbers only make
billing visible. A 5 s std video costs 0.35 credit, a 10 s pro video 1.12 credits. The sandbox
plays the server, so it owns its prices; the client's placeholder rate card
(`kling_nb._pricing.SANDBOX_RATES`) mirrors them, and a test keeps the two equal.
"""

DEFAULT_TIME_SCALE: Final = 0.04
"""Multiplies realistic task times (1 to 6 minutes) so a 5 s std video takes about 3 s."""

MAX_UPLOAD_BYTES: Final = 10 * 1024 * 1024
UPLOAD_TTL_SECONDS: Final = 7 * 24 * 3600


@dataclass(frozen=True)
class KeySpec:
    """One demo API key: the team it is scoped to (None: not team-scoped) and its purpose."""

    team: str | None
    purpose: str


DEFAULT_KEY: Final = "sk-sandbox-team"

KEYS: Final[Mapping[str, KeySpec]] = {
    "sk-sandbox-team": KeySpec("team-sandbox", "team-scoped key with credit: the default"),
    "sk-sandbox-team2": KeySpec(
        "team-sandbox-2", "a second team with credit: cannot read the first team's tasks"
    ),
    "sk-sandbox-solo": KeySpec(None, "valid but not team-scoped: creates get 403 team required"),
    "sk-sandbox-broke": KeySpec("team-broke", "a team with zero credit: creates get 402"),
}
"""The only keys the sandbox accepts. They are public demo values, not secrets."""

_FUNDED_TEAMS: Final = ("team-sandbox", "team-sandbox-2")


@dataclass(frozen=True)
class SandboxConfig:
    """Everything one sandbox server needs to know.

    `time_scale` multiplies realistic task durations (1.0 is real time, 0 finishes at once);
    `pending_cap` is the per-team limit of non-terminal tasks of each family, and
    `pending_caps` overrides it for some families (`{"seedance": 2}`): caps are per family;
    `seed` makes task durations reproducible; `state_path` (an SQLite file) keeps tasks,
    balances and uploads across a restart; `team_credit_nano` is the starting balance of the
    two funded teams; `clock` returns wall-clock seconds (wall clock, so a persisted task's
    times survive a restart).
    """

    time_scale: float = DEFAULT_TIME_SCALE
    pending_cap: int = 4
    seed: int = 0
    faults: Faults = field(default_factory=Faults)
    state_path: Path | None = None
    team_credit_nano: int = 20 * NANO
    fps: int = 12
    pending_caps: Mapping[str, int] = field(default_factory=dict)
    clock: Callable[[], float] = field(default=time.time, compare=False)

    def __post_init__(self) -> None:
        if self.time_scale < 0:
            raise ValueError(f"time_scale={self.time_scale!r} must be >= 0")
        if self.pending_cap < 1:
            raise ValueError(f"pending_cap={self.pending_cap!r} must be >= 1")
        if self.team_credit_nano < 0:
            raise ValueError(f"team_credit_nano={self.team_credit_nano!r} must be >= 0")
        if any(cap < 1 for cap in self.pending_caps.values()):
            raise ValueError(f"pending_caps={dict(self.pending_caps)!r} must all be >= 1")
        if not 1 <= self.fps <= 60:
            raise ValueError(f"fps={self.fps!r} must be between 1 and 60")

    def cap_for(self, family: str) -> int:
        """The pending cap of one family (per team)."""
        return self.pending_caps.get(family, self.pending_cap)

    def initial_balances(self) -> dict[str, int]:
        """Starting balance of every team, in nano-credits."""
        balances = {spec.team: 0 for spec in KEYS.values() if spec.team is not None}
        for team in _FUNDED_TEAMS:
            balances[team] = self.team_credit_nano
        return balances
