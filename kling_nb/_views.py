"""Where the notebook views plug in: lower layers ask for a view by name, never import it.

`Job`, `Sweep` and `Studio` live below the widgets layer, yet a job displays as a card and a
sweep as a grid. They call `view("show_job", job)`; the widgets layer registers those names
when it is imported, and the package facade (`kling_nb/__init__.py`, the top layer) installs
a loader that imports it on first use. So no module below the widgets imports them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["register", "set_loader", "view"]

_VIEWS: dict[str, Callable[..., Any]] = {}
_LOADER: list[Callable[[], object]] = []


def register(name: str, function: Callable[..., Any]) -> None:
    """Make `function` the view called `name` (the widgets layer calls this on import)."""
    _VIEWS[name] = function


def set_loader(loader: Callable[[], object]) -> None:
    """Install the function that imports the view layer when a view is first needed."""
    _LOADER[:] = [loader]


def view(name: str, *args: Any, **kwargs: Any) -> Any:
    """Call the view `name`; load the view layer first if it has not registered yet."""
    function = _VIEWS.get(name)
    if function is None:
        for loader in _LOADER:
            loader()
        function = _VIEWS.get(name)
    if function is None:
        raise RuntimeError(f"no view {name!r}: import kling_nb.widgets first")
    return function(*args, **kwargs)
