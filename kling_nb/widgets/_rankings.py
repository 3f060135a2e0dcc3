"""`RankingsTable`: the rankings as a live table that follows the votes, then a static table."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from .._ledger import LedgerError
from .._render._judge import rankings_table_html
from ._card import watch_close
from ._display import Bundle, LiveDisplay, live_bundle, static_bundle
from ._live import stop_timer

if TYPE_CHECKING:
    import pandas as pd

    from .._studio import Studio

__all__ = ["RankingsTable", "show_rankings"]


class RankingsTable(widgets.VBox):  # type: ignore[misc]
    """The table of `source()` (a rankings DataFrame), re-read by `refresh()`.

    A judge widget calls `refresh()` after every vote. When the table is done (`finish()`:
    its judge's rounds are over, or `studio` closes) every output showing it turns into the
    static table (`text/html`, and the same rows as text), so a saved notebook holds the last
    rankings and no widget view.
    """

    def __init__(self, source: Callable[[], pd.DataFrame], *, studio: Studio | None = None) -> None:
        super().__init__()
        self._source = source
        self.studio = studio
        self.live = LiveDisplay(self._live_bundle, self.static_bundle)
        self._table = widgets.HTML()
        self.children = (self._table,)
        self.frame: pd.DataFrame | None = None
        self._watch: Any = None
        self.refresh()
        if studio is not None and not self.live.finished:
            self._watch = watch_close(studio, self)
            if studio.closed:
                self.finish()

    def __repr__(self) -> str:
        rows = 0 if self.frame is None else len(self.frame)
        return f"<RankingsTable {rows} variants>"

    @property
    def html(self) -> str:
        """The table's HTML as shown now."""
        return str(self._table.value)

    def static_html(self) -> str:
        """The same table, for a saved notebook."""
        return self.html

    def static_bundle(self) -> Bundle:
        """The final output of the table: its HTML, and its rows as plain text."""
        if self.frame is None:
            return static_bundle(self.html, "kling_nb rankings: none read")
        rows = self.frame.to_string(index=False)
        return static_bundle(self.html, f"kling_nb rankings of {len(self.frame)} variants\n{rows}")

    def _live_bundle(self) -> Bundle:
        return live_bundle(
            self.model_id,
            "kling_nb live rankings table (the static table replaces it when its judging "
            "ends; run the cell again to see it live)",
        )

    def refresh(self) -> None:
        """Read the rankings again and update the table (and, once finished, its output)."""
        try:
            self.frame = self._source()
        except LedgerError:  # the Studio was closed: keep the last table
            return
        self._table.value = rankings_table_html(self.frame)
        if self.live.finished:
            self.live.finish()

    def finish(self) -> None:
        """Turn every output of this table into the static table (the rankings as now)."""
        self.live.finish()

    def close(self) -> None:
        """Leave the static table where the table was shown; close the widget."""
        if self.comm is not None:
            self.finish()
        stop_timer(self.studio, self._watch)
        self._table.close()
        super().close()

    def _ipython_display_(self) -> None:
        self.live.show()


def show_rankings(frame: pd.DataFrame) -> RankingsTable:
    """Display a rankings DataFrame as a table and return it.

    A fixed frame never changes, so the output is the static table at once (no widget view).
    """
    table = RankingsTable(lambda: frame)
    table.finish()
    table.live.show()
    return table
