"""Fixtures of the widget tests: a Studio that never reaches a network, a captured display."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import kling_nb as kn
from kling_nb.widgets import _display


@pytest.fixture
def studio(tmp_path: Path) -> Iterator[kn.Studio]:
    """A keyed Studio on a port nothing listens on: no request is made unless a job starts."""
    made = kn.Studio(api_key="sk-test", base_url="http://127.0.0.1:9", root=tmp_path)
    yield made
    made.close()


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every bundle the display seam publishes: {'data', 'display_id', 'update'}."""
    sent: list[dict[str, Any]] = []

    def publish(
        data: dict[str, Any], *, display_id: str | None = None, update: bool = False
    ) -> bool:
        sent.append({"data": data, "display_id": display_id, "update": update})
        return True

    monkeypatch.setattr(_display, "_publish", publish)
    return sent


@pytest.fixture
def shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A real IPython shell (profile in tmp_path), so `capture_output` sees what is displayed."""
    from IPython.core.interactiveshell import InteractiveShell

    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    instance = InteractiveShell.instance()
    yield instance
    InteractiveShell.clear_instance()
