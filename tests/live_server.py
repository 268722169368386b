"""A real ``jupyter server`` / ``jupyter lab`` subprocess on 127.0.0.1 with a token and throw-away dirs.

Used by the tests that need a server outside the test's own event loop (the schema fuzz, the
browser test). The extensions are found where ``pip install`` put them (``sys.prefix``).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

START_TIMEOUT = 90  # seconds; a cold start on a busy 2-core machine takes ~10


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class JupyterProcess:
    """``jupyter <app>`` in ``workdir`` (its root dir and cwd, so a ``ratchet_config.json`` there applies).

    Parameters
    ----------
    app
        ``"server"`` or ``"lab"``.
    workdir
        A directory for the server: ``root/`` (notebooks, cwd), ``config/``, ``data/``, ``runtime/``, the log.
    ratchet_config
        Written to ``root/ratchet_config.json`` when given.
    """

    def __init__(self, app: str, workdir: Path, ratchet_config: dict[str, Any] | None = None,
                 extra_args: list[str] | None = None) -> None:
        self.app = app
        self.port, self.token = free_port(), secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        self.root = workdir / "root"
        self.log = workdir / f"jupyter-{app}.log"
        self.env = dict(os.environ)
        for name in ("config", "data", "runtime"):
            (workdir / name).mkdir(parents=True, exist_ok=True)
            self.env[f"JUPYTER_{name.upper()}_DIR"] = str(workdir / name)
        self.root.mkdir(parents=True, exist_ok=True)
        if ratchet_config is not None:
            (self.root / "ratchet_config.json").write_text(json.dumps(ratchet_config))
        self.args = [
            sys.executable, "-m", "jupyterlab" if app == "lab" else "jupyter_server",
            "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}", "--allow-root", *(extra_args or []),
        ]
        self.proc: subprocess.Popen | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    def start(self) -> "JupyterProcess":
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(self.args, cwd=self.root, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        probe = urllib.request.Request(f"{self.url}/ratchet/api/v1/health", headers=self.headers)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter {self.app} exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                with urllib.request.urlopen(probe, timeout=5) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"jupyter {self.app} did not answer within {START_TIMEOUT}s:\n{self.tail()}")

    def tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def stop(self) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def __enter__(self) -> "JupyterProcess":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
