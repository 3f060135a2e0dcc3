"""Collection rules for tests/notebooks."""

from __future__ import annotations

from importlib.util import find_spec

# The browser tests run notebooks (nbclient, the `test` extra). The `fast` extra, which runs
# only the fast tests on other Pythons (tools/other_pythons.sh), does not install it, and a
# test module that cannot import is a collection error even when its tests are deselected.
collect_ignore = [] if find_spec("nbclient") else ["test_browser.py"]
