"""binder/requirements.txt pins the whole environment, and the quickstart runs in it.

The test builds a fresh venv (`python -m venv`), installs `binder/requirements.txt` there the
way repo2docker does (`pip install -r binder/requirements.txt` from the repository root, so
`-e .` is this checkout), then checks that every installed package is pinned (`pip freeze`
equals the pins: nothing unpinned came along) and consistent (`pip check`), and runs
`notebooks/01-quickstart.ipynb` headless with that venv's kernel against the sandbox.
pip reaches only the package registry; the notebook reaches only 127.0.0.1.

To refresh the pins after a dependency change, in an environment where the notebooks pass:

    python tests/notebooks/test_binder.py > /tmp/pins.txt

and replace the `==` lines of binder/requirements.txt with them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
REQUIREMENTS = REPO / "binder" / "requirements.txt"
RUNNER = Path(__file__).resolve().parent / "run_notebook.py"
QUICKSTART = REPO / "notebooks" / "01-quickstart.ipynb"
ROOTS = ("kling-nb", "ipykernel", "matplotlib", "nbclient")
"""What the notebooks need on Binder: kling_nb, a kernel, matplotlib (notebook 02) and nbclient
(to run them headless); JupyterLab comes with Binder's base image."""


def pinned() -> dict[str, str]:
    """The `name==version` lines of binder/requirements.txt, by canonical name."""
    pins: dict[str, str] = {}
    for line in REQUIREMENTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[canonicalize_name(name)] = version.strip()
    return pins


def installed_closure(roots: tuple[str, ...] = ROOTS) -> dict[str, str]:
    """`roots` and everything they need, as installed here: {distribution name: version}."""
    found: dict[str, tuple[metadata.Distribution, set[str]]] = {}
    todo = [Requirement(root) for root in roots]
    while todo:
        req = todo.pop()
        key = canonicalize_name(req.name)
        dist, extras = found.get(key, (metadata.distribution(req.name), set()))
        if key in found and set(req.extras) <= extras:
            continue
        extras = extras | set(req.extras)
        found[key] = (dist, extras)
        for text in dist.requires or []:
            dep = Requirement(text)
            if dep.marker is None or any(
                dep.marker.evaluate({"extra": extra}) for extra in ("", *sorted(extras))
            ):
                todo.append(dep)
    return {str(dist.metadata["Name"]): dist.version for dist, _ in found.values()}


def _run(command: list[str], *, timeout: float, env: dict[str, str]) -> str:
    done = subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise AssertionError(
            f"{' '.join(command)} exited {done.returncode}\n{done.stdout[-4000:]}\n"
            f"{done.stderr[-4000:]}"
        )
    return done.stdout


@pytest.mark.timeout(600)  # a cold pip cache downloads ~150 MB of wheels
def test_binder_pins_install_alone_and_run_the_quickstart(tmp_path: Path) -> None:
    venv = tmp_path / "binder-venv"
    python = venv / "bin" / "python"
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONPATH", "PYTHONHOME", "PIP_USER", "VIRTUAL_ENV", "JUPYTER_PATH")
    }
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PYTHONNOUSERSITE"] = "1"

    _run([sys.executable, "-m", "venv", str(venv)], timeout=120, env=env)
    _run(
        [str(python), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)],
        timeout=420,
        env=env,
    )
    frozen = _run([str(python), "-m", "pip", "freeze", "--exclude-editable"], timeout=60, env=env)
    installed = {
        canonicalize_name(name): version.strip()
        for name, version in (line.split("==", 1) for line in frozen.splitlines() if "==" in line)
    }
    assert installed == pinned(), "binder/requirements.txt must pin every installed package"
    _run([str(python), "-m", "pip", "check"], timeout=60, env=env)

    out = _run(
        [str(python), str(RUNNER), str(QUICKSTART), "--expect-prefix", str(venv)],
        timeout=300,
        env=env,
    )
    assert f"{QUICKSTART.name}: ran in" in out


if __name__ == "__main__":
    for name, version in sorted(installed_closure().items(), key=lambda item: item[0].lower()):
        if canonicalize_name(name) != "kling-nb":
            sys.stdout.write(f"{name}=={version}\n")
