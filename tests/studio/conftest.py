"""Collection rules for tests/studio."""

from __future__ import annotations

from importlib.util import find_spec

# The kernel tests need jupyter_client (the `test` extra). The `fast` extra, which runs only
# the fast tests on other Pythons (tools/other_pythons.sh), does not install it, and a test
# module that cannot import is a collection error even when its tests are deselected.
collect_ignore = [] if find_spec("jupyter_client") else ["test_studio_kernel.py"]
