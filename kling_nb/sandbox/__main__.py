"""`python -m kling_nb.sandbox`: serve the sandbox until Ctrl-C."""

from __future__ import annotations

from ._cli import main

raise SystemExit(main())
