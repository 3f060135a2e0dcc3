"""Execute demo notebooks headless against the embedded sandbox, as a script.

    python tests/notebooks/run_notebook.py notebooks/01-quickstart.ipynb   # run, keep nothing
    python tests/notebooks/run_notebook.py --inplace notebooks/*.ipynb     # refresh saved outputs

Each notebook runs in a fresh kernel of the Python that runs this script, in the notebook's
folder, with no WorldRouter key or base URL (so the sandbox serves and nothing is billed) and
with `loopback_only/` on PYTHONPATH (nothing but 127.0.0.1 is reachable).

`--inplace` writes the outputs back into the notebook (what GitHub shows, and what
`# NBVAL_CHECK_OUTPUT` cells are compared with). Those runs go to `notebooks/runs/`, whose
sandbox state (`.kling_sandbox/`, never a ledger or a video) is reset first so each refresh
starts with a fresh sandbox balance. Without `--inplace` they go to a temporary folder.
`--expect-prefix DIR` fails unless the kernel's `sys.prefix` is DIR (the Binder test's venv).

Only the standard library, nbformat and nbclient are needed, so it runs in the Binder venv.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import nbformat
from nbclient import NotebookClient

LOOPBACK_ONLY = Path(__file__).resolve().parent / "loopback_only"
REMOVED = (
    "WORLDROUTER_API_KEY",
    "WORLDROUTER_BASE_URL",
    "KLING_NB_IMAGE_URL",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)


def sandbox_environ(environ: Mapping[str, str], runs: str | None) -> dict[str, str]:
    """`environ` made sandbox-only and loopback-only, for a kernel (or Voila) to start with.

    No WorldRouter key or base URL (so `kn.Studio()` starts the sandbox), no proxy, the
    `loopback_only` guard first on PYTHONPATH, and `KLING_NB_RUNS=runs` unless `runs` is None.
    """
    env = {name: value for name, value in environ.items() if name not in REMOVED}
    if runs is not None:
        env["KLING_NB_RUNS"] = runs
    env["PYTHONPATH"] = os.pathsep.join(
        [str(LOOPBACK_ONLY), *filter(None, [environ.get("PYTHONPATH")])]
    )
    return env


def prefix_check(prefix: str) -> nbformat.NotebookNode:
    """A cell that fails unless the kernel runs in `prefix` (appended, never saved)."""
    return nbformat.v4.new_code_cell(
        "import os, sys\n"
        f"expected = os.path.realpath({prefix!r})\n"
        "assert os.path.realpath(sys.prefix) == expected, (sys.prefix, expected)\n"
        "import kling_nb\n"
        "print('kernel:', sys.executable, '| kling_nb:', kling_nb.__file__)"
    )


class _Client(NotebookClient):
    """A NotebookClient that also applies display updates sent on behalf of earlier cells.

    ipykernel tags output with the parent of the code that made it, and a job's polling task
    belongs to the cell that submitted it: its `update_display_data` (the static card catching
    up with the job) arrives while a later cell runs. JupyterLab applies such updates wherever
    the display is; nbclient drops messages of other cells. Keep the updates, so the saved
    notebook shows finished cards (nbclient 0.10/0.11 internals: `_update_display_id`).
    """

    async def _async_poll_output_msg(
        self, parent_msg_id: str, cell: nbformat.NotebookNode, cell_index: int
    ) -> None:
        from nbclient.exceptions import CellExecutionComplete

        assert self.kc is not None
        while True:
            msg = await self.kc.iopub_channel.get_msg(timeout=None)
            if msg["parent_header"].get("msg_id") == parent_msg_id:
                try:
                    self.process_message(msg, cell, cell_index)
                except CellExecutionComplete:
                    return
            elif msg["msg_type"] == "update_display_data":
                display_id = msg["content"].get("transient", {}).get("display_id")
                if display_id:
                    self._update_display_id(display_id, msg)


def clean(book: nbformat.NotebookNode) -> None:
    """Drop per-run metadata that would only churn diffs."""
    book.metadata.pop("widgets", None)
    for cell in book.cells:
        cell.metadata.pop("execution", None)


def run(path: Path, *, inplace: bool, expect_prefix: str | None, timeout: int) -> float:
    """Execute one notebook; return its run time in seconds."""
    book = nbformat.read(path, as_version=4)
    if expect_prefix is not None:
        book.cells.append(prefix_check(expect_prefix))
    client = _Client(
        book,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
        store_widget_state=False,
    )
    started = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - started
    if inplace:
        clean(book)
        nbformat.write(book, path)
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--inplace", action="store_true", help="save the outputs back")
    parser.add_argument("--expect-prefix", help="fail unless the kernel's sys.prefix is this")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    args = parser.parse_args(argv)
    if args.inplace and args.expect_prefix:
        parser.error("--inplace would save the --expect-prefix check cell")
    temporary = None if args.inplace else tempfile.mkdtemp(prefix="kling-nb-runs-")
    environ = sandbox_environ(os.environ, "runs" if args.inplace else str(temporary))
    os.environ.clear()
    os.environ.update(environ)  # inherited by every kernel started below
    try:
        for path in args.notebooks:
            path = path.resolve()
            if args.inplace:
                shutil.rmtree(path.parent / "runs" / path.stem / ".kling_sandbox", True)
            elapsed = run(
                path, inplace=args.inplace, expect_prefix=args.expect_prefix, timeout=args.timeout
            )
            print(f"{path.name}: ran in {elapsed:.1f} s", flush=True)
    finally:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
