"""Every module of kling_nb sits in a layer of the import-linter contract (none escapes it)."""

from __future__ import annotations

import pkgutil
import re
import sys
from pathlib import Path

import kling_nb

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    tomllib = None

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def layered_modules() -> set[str]:
    text = PYPROJECT.read_text()
    if tomllib is not None:
        contracts = tomllib.loads(text)["tool"]["importlinter"]["contracts"]
        layers = next(c["layers"] for c in contracts if c["type"] == "layers")
        names = " ".join(layers)
    else:
        names = text.split("[tool.importlinter]", 1)[1]
    return set(re.findall(r"kling_nb(?:\.\w+)?", names)) - {"kling_nb"}


def top_modules() -> set[str]:
    found = set()
    for info in pkgutil.iter_modules(kling_nb.__path__):
        if info.name in ("__main__",):
            continue
        found.add(f"kling_nb.{info.name}")
    return found


def test_every_module_is_in_a_layer() -> None:
    # The facade (kling_nb/__init__.py) sits above them all; _version is read by the build.
    missing = top_modules() - layered_modules() - {"kling_nb._version"}
    assert not missing, f"add these to a layer in pyproject.toml: {sorted(missing)}"


def test_no_module_is_over_about_400_lines() -> None:
    root = Path(kling_nb.__file__).parent
    long = {
        str(path.relative_to(root)): n
        for path in root.rglob("*.py")
        if (n := len(path.read_text().splitlines())) > 420
    }
    assert not long, long
