"""Colours and inline styles, all through JupyterLab's CSS variables with light fallbacks.

JupyterLab defines `--jp-*` variables for its light and dark themes; an output that uses them
reads in both. The fallback after the comma is what GitHub, nbviewer and a plain browser use.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from .._states import JobState

__all__ = [
    "BADGE_COLORS",
    "BORDER",
    "BRAND",
    "BUTTON",
    "ERROR",
    "FONT",
    "MUTED",
    "SUCCESS",
    "SURFACE",
    "SURFACE_ALT",
    "TEXT",
    "WARN_COLOR",
    "badge_color",
    "jp",
]


def jp(name: str, fallback: str) -> str:
    """`var(--jp-<name>, <fallback>)`: a JupyterLab theme value, or `fallback` outside it."""
    return f"var(--jp-{name}, {fallback})"


TEXT: Final = jp("ui-font-color1", "#1f2328")
TEXT_STRONG: Final = jp("ui-font-color0", "#000")
TEXT_MUTED: Final = jp("ui-font-color2", "#57606a")
SURFACE: Final = jp("layout-color1", "#fff")
SURFACE_ALT: Final = jp("layout-color2", "#f6f8fa")
BORDER: Final = jp("border-color2", "#d0d7de")
BORDER_STRONG: Final = jp("border-color1", "#afb8c1")
BRAND: Final = jp("brand-color1", "#0969da")
ERROR_COLOR: Final = jp("error-color1", "#cf222e")
WARN_COLOR: Final = jp("warn-color1", "#bc4c00")
SUCCESS_COLOR: Final = jp("success-color1", "#1a7f37")

FONT: Final = (
    f"font-family:{jp('ui-font-family', 'system-ui,-apple-system,sans-serif')};"
    f"font-size:13px;line-height:1.4;color:{TEXT}"
)
MUTED: Final = f"color:{TEXT_MUTED};font-size:12px"
ERROR: Final = f"color:{ERROR_COLOR}"
SUCCESS: Final = f"color:{SUCCESS_COLOR}"
BUTTON: Final = (
    f"background:{SURFACE_ALT};color:{TEXT};border:1px solid {BORDER_STRONG};"
    f"border-radius:{jp('border-radius', '2px')};padding:2px 10px;margin-right:6px;"
    "font:inherit;font-size:12px;line-height:1.6;cursor:pointer"
)
"""The look of a JupyterLab button (`.jupyter-button`), for buttons in static HTML."""

_GREY: Final = "#6e7781"
_PURPLE: Final = "#8250df"
_TEAL: Final = "#1b7c83"
_AMBER: Final = "#9a6700"

BADGE_COLORS: Final[Mapping[JobState, str]] = {
    JobState.WAITING: _GREY,
    JobState.CREATING: _GREY,
    JobState.QUEUED: _AMBER,
    JobState.RUNNING: BRAND,
    JobState.DOWNLOADING: _TEAL,
    JobState.SUCCEEDED: SUCCESS_COLOR,
    JobState.FAILED: ERROR_COLOR,
    JobState.ERROR: ERROR_COLOR,
    JobState.EXPIRED: ERROR_COLOR,
    JobState.CANCELLED: _PURPLE,
    JobState.STOPPED: _PURPLE,
    JobState.UNKNOWN: "#953800",
    # Parked (resume() picks them up): one warm colour, neither "working" nor "over".
    JobState.FETCH_FAILED: WARN_COLOR,
    JobState.TIMEOUT: WARN_COLOR,
    JobState.DETACHED: WARN_COLOR,
}
"""The badge colour of every job state (white text on it)."""


def badge_color(state: JobState | None) -> str:
    """The badge colour of `state`; grey for a state this version does not know."""
    return BADGE_COLORS.get(state, _GREY) if state is not None else _GREY
