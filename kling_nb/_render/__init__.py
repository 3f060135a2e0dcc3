"""HTML for jobs, comparison grids and ledger tables: small pure functions that return strings.

Everything here takes plain data (a `Job.snapshot()` dict, a list of them, a DataFrame) and
returns HTML; nothing imports ipywidgets or does I/O, except `embed=True`, which reads the
video file to inline it. One concern per module:

- `_html`: escaping (`esc`), numbers, element ids and safe URLs (`http_url`, `video_src`);
- `_theme`: JupyterLab CSS variables with light fallbacks, badge colours per `JobState`;
- `_words`: durations, costs, rates, nano-credits, short ids;
- `_errors`: `plain_error`, the error in words, chosen by the error's type, code and status;
- `_card`, `_grid`, `_table`, `_panel`: the job card, the comparison grid, the ledger table,
  the panel's banner and cost line, and the static copies of live widgets.

The output is static HTML with inline styles, so a saved notebook still reads on GitHub or
nbviewer without a kernel.
"""

from __future__ import annotations

from ._card import (
    Preload,
    card_body_html,
    card_status_html,
    card_text,
    job_card_html,
    video_block,
)
from ._errors import plain_error
from ._grid import (
    grid_cell_html,
    grid_columns,
    grid_controls_html,
    grid_html,
    grid_id_for,
    grid_text,
)
from ._html import (
    EMBED_MAX_BYTES,
    FILMSTRIP_MAX_BYTES,
    filmstrip_uri,
    http_url,
    relative_src,
    relative_src_or_none,
    video_src,
)
from ._panel import (
    UPLOAD_CLASS,
    banner_html,
    estimate_html,
    message_html,
    panel_css,
    panel_html,
    panel_text,
)
from ._table import LEDGER_TABLE_COLUMNS, ledger_table_html
from ._theme import BADGE_COLORS
from ._words import format_amount, format_rate, format_seconds, short_id

__all__ = [
    "BADGE_COLORS",
    "EMBED_MAX_BYTES",
    "FILMSTRIP_MAX_BYTES",
    "LEDGER_TABLE_COLUMNS",
    "UPLOAD_CLASS",
    "Preload",
    "banner_html",
    "card_body_html",
    "card_status_html",
    "card_text",
    "estimate_html",
    "filmstrip_uri",
    "format_amount",
    "format_rate",
    "format_seconds",
    "grid_cell_html",
    "grid_columns",
    "grid_controls_html",
    "grid_html",
    "grid_id_for",
    "grid_text",
    "http_url",
    "job_card_html",
    "ledger_table_html",
    "message_html",
    "panel_css",
    "panel_html",
    "panel_text",
    "plain_error",
    "relative_src",
    "relative_src_or_none",
    "short_id",
    "video_block",
    "video_src",
]
