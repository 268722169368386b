"""The wheel carries the built JupyterLab extension and the file enabling the server extension (no Node at install)."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import pytest
from conftest import REPO_ROOT

SHARE = "ratchet_jupyter-{version}.data/data/share/jupyter/labextensions/ratchet-jupyter/"
SERVER_CONFIG = "ratchet_jupyter-{version}.data/data/etc/jupyter/jupyter_server_config.d/ratchet_jupyter.json"


@pytest.mark.timeout(300)
def test_the_wheel_ships_the_prebuilt_labextension_and_the_server_config(tmp_path):
    # Given the labextension built by the editable install (hatch-jupyter-builder skips a build that exists)
    import ratchet_jupyter

    assert (REPO_ROOT / "ratchet_jupyter" / "labextension" / "static" / "style.js").exists()
    # When a wheel is built from the checkout
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(REPO_ROOT)],
        capture_output=True, text=True, timeout=280,
    )
    assert built.returncode == 0, built.stderr[-4000:]
    wheel = next(tmp_path.glob("ratchet_jupyter-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    version = ratchet_jupyter.__version__
    share = SHARE.format(version=version)
    # Then it holds the built extension, its install.json and the server extension's config file
    assert {share + "package.json", share + "install.json", share + "static/style.js"} <= names
    assert any(n.startswith(share + "static/remoteEntry.") for n in names)
    assert SERVER_CONFIG.format(version=version) in names
    assert "ratchet_jupyter/server/openapi.json" in names and "ratchet_jupyter/runtime/prelude.js" in names
    # and no TypeScript sources or node_modules
    assert not any("node_modules" in n or n.endswith(".ts") for n in names)
