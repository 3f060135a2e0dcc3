"""The display seams: how a live widget shows, and what a saved notebook keeps of it.

`LiveDisplay` (job cards, comparison grids, the generate panel, the judge widget and its
rankings tables): the widget view is published with a display id, and when the widget is done
(its jobs final, its judging rounds over, or its Studio closed) every output that shows it is
replaced, through that id, by its final static bundle (`text/html`, with the filmstrip of every
video it shows, and `text/plain` saying the same). A saved notebook then holds no widget
view whose model dies with the kernel, and no fallback text older than what it sits beside.
A widget that is done before it is shown publishes the static bundle at once.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any, Final

__all__ = [
    "WIDGET_VIEW_MIME",
    "LiveDisplay",
    "display_bundles",
    "html_output",
    "live_bundle",
    "publish_static",
    "static_bundle",
]

WIDGET_VIEW_MIME: Final = "application/vnd.jupyter.widget-view+json"


def _publish(data: dict[str, Any], *, display_id: str | None = None, update: bool = False) -> bool:
    """Send one raw mime bundle to the notebook; False (and nothing sent) outside IPython."""
    from IPython.core.interactiveshell import InteractiveShell

    if not InteractiveShell.initialized():
        return False
    from IPython.display import display as ipython_display

    display: Callable[..., Any] = ipython_display
    if display_id is None:
        display(data, raw=True)
    else:
        display(data, raw=True, display_id=display_id, update=update)
    return True


Bundle = dict[str, Any]


class LiveDisplay:
    """Every output that shows one live widget, and their hand-over to static HTML.

    `live()` gives the widget-view bundle, `static()` the final one (no widget mime type).
    `show()` publishes a new output; `finish()` replaces every output with `static()`, once,
    and later calls re-publish it only where it changed (a parked job that ends after its
    Studio closed). Outside IPython nothing is published and only `finished` changes.
    """

    def __init__(self, live: Callable[[], Bundle], static: Callable[[], Bundle]) -> None:
        self._live = live
        self._static = static
        self.display_ids: list[str] = []
        self.finished = False
        self._published: Bundle | None = None

    def __repr__(self) -> str:
        state = "static" if self.finished else "live"
        return f"<LiveDisplay {state}, shown {len(self.display_ids)}x>"

    def bundles(self) -> list[Bundle]:
        """Both outputs a notebook may hold for the widget: live, then static."""
        return [self._live(), self._static()]

    def show(self) -> str | None:
        """Publish the widget (or, once finished, its static bundle) as a new output."""
        display_id = f"kn-{secrets.token_hex(8)}"
        data = self._static() if self.finished else self._live()
        if not _publish(data, display_id=display_id):
            return None
        self.display_ids.append(display_id)
        if self.finished:
            self._published = data
        return display_id

    def finish(self) -> None:
        """Replace every output of the widget by its final static bundle (where it changed)."""
        data = self._static()
        if self.finished and data == self._published:
            return
        self.finished = True
        self._published = data
        for display_id in self.display_ids:
            _publish(data, display_id=display_id, update=True)


def publish_static(data: Bundle) -> None:
    """Publish a finished widget's static bundle as a new output (nothing outside IPython)."""
    _publish(data)


def static_bundle(html_text: str, text: str) -> Bundle:
    """A finished widget's output: its static HTML and a plain text that says the same."""
    return {"text/html": html_text, "text/plain": text}


def live_bundle(model_id: str, text: str) -> Bundle:
    """A live widget's output: the widget view, and a plain text that names no state.

    Frontends without the widget's model (nbconvert, an untrusted notebook) show `text`; it
    must not describe a state, because the saved output is never updated while it is live.
    """
    return {
        WIDGET_VIEW_MIME: {"version_major": 2, "version_minor": 0, "model_id": model_id},
        "text/plain": text,
    }


def display_bundles(widget: Any) -> list[Bundle]:
    """What a notebook may hold for `widget` (one with a `live: LiveDisplay`), as data.

    Its live bundle, then its static one (which replaces it); for tests and notebook building.
    """
    live = widget.live
    if not isinstance(live, LiveDisplay):
        raise TypeError(f"{type(widget).__name__} has no LiveDisplay")
    return live.bundles()


def html_output(html_text: str) -> dict[str, Any]:
    """One `Output.outputs` item showing `html_text`.

    Set as a whole (`out.outputs = (item,)`), never through `with out:` from a task. Output
    renders it like a notebook output, so a relative `<video src>` resolves against the
    notebook's folder in JupyterLab (an `HTML` widget would resolve it against the page URL).
    """
    return {"output_type": "display_data", "data": {"text/html": html_text}, "metadata": {}}
