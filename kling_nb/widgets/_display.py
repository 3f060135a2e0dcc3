"""The one display seam: a live widget plus a static HTML copy that a saved notebook keeps.

Showing a kling_nb widget publishes two outputs:

1. the widget view (`application/vnd.jupyter.widget-view+json`, with a short `text/plain`);
2. its static copy (`text/html`, wrapped by `static_block`), published with a display id and
   re-published with `update_display` whenever a job changes state, so the notebook saved at
   the end holds the finished cards and videos, not the state at display time.

While the widget is live it carries a tiny `<style>` rule (`hide_static_css`) that hides its
own static copy, so the page shows one card; without a kernel (GitHub, nbviewer, a reopened
notebook) the widget is gone and the copy shows. The static copy is a separate output because
updating an output that holds a widget view makes JupyterLab draw the view a second time.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any, Final, Protocol

import ipywidgets as widgets

from .._render import hide_static_css, static_block

__all__ = [
    "WIDGET_VIEW_MIME",
    "StaticCopy",
    "display_bundles",
    "hider",
    "html_output",
    "show_widget",
    "widget_view_bundle",
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


class StaticCopy:
    """The `text/html` copy of one widget in every output that shows it, kept current.

    `render()` returns the widget's static HTML; `key` is the widget's model id (it names the
    CSS class the live widget hides). `refresh()` re-publishes the copy where it changed.
    """

    def __init__(self, key: str, render: Callable[[], str]) -> None:
        self.key = key
        self._render = render
        self.display_ids: list[str] = []
        self._published: str | None = None

    def __repr__(self) -> str:
        return f"<StaticCopy {self.key} shown {len(self.display_ids)}x>"

    def bundle(self) -> dict[str, Any]:
        """The mime bundle of the static copy (text/html only: no widget, no base64 video)."""
        return {"text/html": static_block(self._render(), self.key)}

    def show(self) -> str | None:
        """Publish the copy as a new output; returns its display id (None outside IPython)."""
        display_id = f"kn-{self.key}-{secrets.token_hex(4)}"
        data = self.bundle()
        if not _publish(data, display_id=display_id):
            return None
        self.display_ids.append(display_id)
        self._published = data["text/html"]
        return display_id

    def refresh(self) -> None:
        """Re-publish the copy into every output that shows it, if its HTML changed."""
        if not self.display_ids:
            return
        data = self.bundle()
        if data["text/html"] == self._published:
            return
        self._published = data["text/html"]
        for display_id in self.display_ids:
            _publish(data, display_id=display_id, update=True)


class Displayable(Protocol):
    """A kling_nb widget: a model id, a cheap repr and a `StaticCopy`."""

    @property
    def model_id(self) -> str:
        """The widget's comm id (names its view and its static copy)."""

    @property
    def static(self) -> StaticCopy:
        """The widget's static HTML copy."""


def widget_view_bundle(widget: Displayable) -> dict[str, Any]:
    """The widget-view output of `widget` (what ipywidgets itself publishes), cheap repr."""
    return {
        WIDGET_VIEW_MIME: {"version_major": 2, "version_minor": 0, "model_id": widget.model_id},
        "text/plain": repr(widget),
    }


def display_bundles(widget: Displayable) -> list[dict[str, Any]]:
    """The two outputs `show_widget` publishes, as data (for tests and notebook building)."""
    return [widget_view_bundle(widget), widget.static.bundle()]


def show_widget(widget: Displayable) -> None:
    """Display `widget` live, followed by its static copy (kept current by `StaticCopy`)."""
    _publish(widget_view_bundle(widget))
    widget.static.show()


def hider(key: str) -> Any:
    """An invisible HTML widget whose style rule hides the static copy of widget `key`."""
    return widgets.HTML(value=hide_static_css(key), layout=widgets.Layout(display="none"))


def html_output(html_text: str) -> dict[str, Any]:
    """One `Output.outputs` item showing `html_text`.

    Set as a whole (`out.outputs = (item,)`), never through `with out:` from a task. Output
    renders it like a notebook output, so a relative `<video src>` resolves against the
    notebook's folder in JupyterLab (an `HTML` widget would resolve it against the page URL).
    """
    return {"output_type": "display_data", "data": {"text/html": html_text}, "metadata": {}}
