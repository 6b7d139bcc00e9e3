"""promtool and amtool for the tests that need them: from PATH, or as ./scripts/install-prometheus-tools.sh
extracts them into .tools/bin. Without them a test skips, saying how to get them; in CI (CI=true) it fails."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.conftest import ROOT


def prometheus_tool(name: str) -> str:
    extracted = ROOT / ".tools" / "bin" / name
    found = shutil.which(name) or (str(extracted) if extracted.is_file() else None)
    if found:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail(f"{name} is not installed: CI runs ./scripts/install-prometheus-tools.sh")
    pytest.skip(f"{name} is not installed here: ./scripts/install-prometheus-tools.sh (Debian) or Prometheus's release")
