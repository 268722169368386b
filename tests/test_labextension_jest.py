"""The sidebar's TypeScript logic, tested by Jest (run here so that one command runs every test)."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from conftest import REPO_ROOT


@pytest.mark.timeout(300)
def test_jest_suite_passes():
    # Given the repository's node_modules (installed by the labextension build during pip install)
    assert shutil.which("npm"), "npm is needed to run the Jest tests"
    assert (REPO_ROOT / "node_modules" / ".bin" / "jest").exists(), "run `npm ci` (see .ci/run)"
    # When Jest runs every spec under labextension/src
    done = subprocess.run(["npm", "test", "--silent", "--", "--ci"], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=280)
    # Then it passes, and it did run tests
    report = done.stdout + done.stderr
    assert done.returncode == 0, report[-4000:]
    assert "Tests:" in report and " passed" in report, report[-2000:]
