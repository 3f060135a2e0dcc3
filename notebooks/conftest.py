"""nbval runs these notebooks against the embedded sandbox only, never the real API.

`pytest` collects the notebooks (`--nbval-lax` in pyproject.toml): every cell must run without
an exception (so the `assert`s in the cells are real checks), and only cells marked
`# NBVAL_CHECK_OUTPUT` must reproduce their saved output.

Each notebook's kernel starts in an environment made here:

- without `WORLDROUTER_API_KEY` / `WORLDROUTER_BASE_URL` (a developer's real key must not turn a
  test run into a billed one), so `kn.Studio()` starts the sandbox on 127.0.0.1;
- with `KLING_NB_RUNS` set to a temporary folder, so test runs leave nothing in
  `notebooks/runs/` (and every run starts with a fresh sandbox balance);
- with `tests/notebooks/loopback_only` on `PYTHONPATH`: its `sitecustomize` makes any lookup of,
  or connection to, anything but the loopback interface raise inside the kernel.

`tests/notebooks/run_notebook.py` applies the same rules when it refreshes the saved outputs.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest


def _runner() -> ModuleType:
    # The same environment rules as the script that refreshes the saved outputs.
    path = Path(__file__).resolve().parent.parent / "tests" / "notebooks" / "run_notebook.py"
    spec = importlib.util.spec_from_file_location("kling_nb_run_notebook", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


run_notebook = _runner()
_runs: Path | None = None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    # nbval starts a notebook's kernel while setting up its first cell, with os.environ as it
    # is then: change it for exactly that moment (these hooks only see items in this folder).
    global _runs
    if _runs is None:
        _runs = Path(tempfile.mkdtemp(prefix="kling-nb-notebook-runs-"))
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(run_notebook.sandbox_environ(saved, str(_runs)))
    try:
        return (yield)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _runs is not None:
        shutil.rmtree(_runs, ignore_errors=True)
