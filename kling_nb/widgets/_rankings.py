"""`RankingsTable`: the rankings as a live table that follows the votes, and its static copy."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import ipywidgets as widgets

from .._ledger import LedgerError
from .._render._judge import rankings_table_html
from ._display import StaticCopy, hider, show_widget

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["RankingsTable", "show_rankings"]


class RankingsTable(widgets.VBox):  # type: ignore[misc]
    """The table of `source()` (a rankings DataFrame), re-read by `refresh()`.

    A judge widget calls `refresh()` after every vote; the static `text/html` copy follows,
    so the saved notebook holds the last rankings even without a kernel.
    """

    def __init__(self, source: Callable[[], pd.DataFrame]) -> None:
        super().__init__()
        self._source = source
        self.static = StaticCopy(self.model_id, self.static_html)
        self.add_class(f"kn-rankings-{self.model_id}")
        self._table = widgets.HTML()
        self.children = (hider(self.model_id), self._table)
        self.frame: pd.DataFrame | None = None
        self.refresh()

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

    def refresh(self) -> None:
        """Read the rankings again; update the table and its static copy."""
        try:
            self.frame = self._source()
        except LedgerError:  # the Studio was closed: keep the last table
            return
        self._table.value = rankings_table_html(self.frame)
        self.static.refresh()

    def _ipython_display_(self) -> None:
        show_widget(self)


def show_rankings(frame: pd.DataFrame) -> RankingsTable:
    """Display a rankings DataFrame as a table (live, with its static HTML copy); return it."""
    table = RankingsTable(lambda: frame)
    show_widget(table)
    return table
