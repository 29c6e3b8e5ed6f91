"""The Google ADK adapter's tests need google-adk, installed in .venv-adk (scripts/test).

Without the package they are left out, and in CI that is a failure: CI must run them.
"""

from __future__ import annotations

import pytest

from tests.conftest import IN_CI, _importable

collect_ignore_glob: list[str] = []
if not _importable("google.adk"):
    if IN_CI:
        raise pytest.UsageError(
            "CI must run the Google ADK adapter tests, but google-adk is not installed here "
            "(scripts/test runs them in .venv-adk)."
        )
    collect_ignore_glob = ["test_*.py"]
