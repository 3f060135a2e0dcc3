"""The three async video families the sandbox serves, as data: codes, prices, sizes, plans.

Kling is the seed (contract.md); Seedance and Grok follow contract-families.md. Every family
shares the demo keys and teams, the normalised states, per-second billing and the media route;
each has its own routes, body casing, error-code prefix, prices and pending cap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from ._config import PRICE_NANO_PER_SECOND
from ._uploads import ResolvedImage

__all__ = [
    "FAMILIES",
    "GROK_PRICE_NANO_PER_SECOND",
    "SEEDANCE_PRICE_NANO_PER_SECOND",
    "Family",
    "TaskPlan",
    "size_for_resolution",
]


@dataclass(frozen=True)
class Family:
    """One family: its name (also its error-code prefix) and where its status reads live."""

    name: str
    label: str
    status_path: str

    def code(self, suffix: str) -> str:
        """A family error code, e.g. `code("balance_too_low")` -> `seedance_balance_too_low`."""
        return f"{self.name}_{suffix}"


FAMILIES: Final[Mapping[str, Family]] = {
    "kling": Family("kling", "Kling", "/v1/videos/<route>"),
    "seedance": Family("seedance", "Seedance", "/api/v3/contents/generations/tasks"),
    "grok": Family("grok", "Grok", "/v1/videos/generations"),
}
"""Kling's codes are documented (contract.md). Seedance documents `seedance_balance_too_low` and
`seedance_too_many_pending_tasks` (contract-families.md); its team-required and upstream codes,
and every Grok code, are assumed to follow the same `<family>_<suffix>` pattern
(contract-families.md: Grok errors are "unknown beyond the shared pattern")."""

SEEDANCE_PRICE_NANO_PER_SECOND: Final[Mapping[str, Mapping[str, int]]] = {
    "seedance-2.0": {"480p": 60_000_000, "720p": 120_000_000},
    "seedance-2.0-fast": {"480p": 36_000_000, "720p": 72_000_000},
}
"""PLACEHOLDER prices (nano-credits per generated second, by model and resolution): WorldRouter
publishes no Seedance price (contract-families.md says usage is reported in output tokens).
They exist only to make billing visible in the sandbox."""

GROK_PRICE_NANO_PER_SECOND: Final[Mapping[str, Mapping[str, int]]] = {
    "grok-imagine-video": {"480p": 50_000_000, "720p": 80_000_000},
    "grok-imagine-video-1.5-preview": {"480p": 60_000_000, "720p": 100_000_000},
}
"""PLACEHOLDER prices (nano-credits per generated second, by model and resolution): Grok
billing is *unknown* (contract-families.md); per-second billing is assumed like Kling's."""

_SHORT_SIDE: Final = {"480p": 480, "720p": 720}


def size_for_resolution(resolution: str, ratio: float) -> tuple[int, int]:
    """The frame size of a `480p`/`720p` video at `ratio` (width/height): short side fixed, even.

    16:9 at 480p is 854x480 and at 720p 1280x720, as video players name them.
    """
    short = _SHORT_SIDE[resolution]
    ratio = min(max(ratio, 0.4), 2.5)
    long_side = max(2, round(short * max(ratio, 1 / ratio) / 2) * 2)
    return (long_side, short) if ratio >= 1 else (short, long_side)


@dataclass(frozen=True)
class TaskPlan:
    """Everything a validated create of any family decides before the task exists.

    `route` is the Kling route, or the family name for Seedance and Grok (a task is read only
    where it was created). `mode` is Kling's Mode, or the resolution label for the others (it
    keys the timeline and labels the video). `fetch_error`, when set, fails the task as it starts
    (a reference the sandbox cannot fetch), as an unreachable Kling ImageUrl does.
    """

    family: str
    route: str
    model: str
    prompt: str
    duration: int
    mode: str
    resolution: str | None
    aspect_ratio: str | None
    width: int
    height: int
    cost_nano: int
    image_url: str | None = None
    image: ResolvedImage | None = None
    fetch_error: tuple[str, str] | None = None


def kling_cost(mode: str, duration: int) -> int:
    """Kling's price of a video (see `PRICE_NANO_PER_SECOND`)."""
    return PRICE_NANO_PER_SECOND[mode] * duration
