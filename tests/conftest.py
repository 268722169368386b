"""Shared fixtures: runtimes, a task-directory factory and a local HTTP server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable

import pytest
from traitlets.config import Config

import ratchet_jupyter as rj
from ratchet_jupyter.testing import RuntimeFactory, runtime_config

pytest_plugins = ["pytest_jupyter.jupyter_server"]

REPO_ROOT = Path(__file__).resolve().parents[1]

# Every history the suite writes (including the CLI's, in subprocesses that inherit
# this environment) goes to a throw-away data directory, never the user's own.
_DATA_DIR = tempfile.TemporaryDirectory(prefix="ratchet-test-data-")
os.environ["JUPYTER_DATA_DIR"] = _DATA_DIR.name


EXAMPLES = REPO_ROOT / "examples" / "tasks"
EXAMPLE_NAMES = sorted(p.name for p in EXAMPLES.iterdir() if (p / "metadata.json").is_file())


def subprocess_env() -> dict[str, str]:
    """The environment for child interpreters: the repository root on PYTHONPATH."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    return env


def run_python(code: str, *args: str, timeout: float = 60, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run a Python snippet in a fresh interpreter; return the completed process (text output)."""
    return subprocess.run(
        [sys.executable, *args, "-c", textwrap.dedent(code)],
        capture_output=True, text=True, timeout=timeout, env=subprocess_env(), cwd=cwd or REPO_ROOT,
    )


def build_config(isolation: str = "process", worker_count: int = 2, **sections: dict[str, Any]) -> Config:
    """A traitlets Config, e.g. ``build_config(HttpConfig={"allowed_hosts": ["x"]})`` (two workers by default)."""
    return runtime_config(isolation, worker_count, **sections)


# -- runtimes ----------------------------------------------------------------------------------
# The plugin (ratchet_jupyter.testing) provides ratchet_runtime, ratchet_runtime_factory, ratchet_store,
# ratchet_task and http_mock; the suite's shared runtimes are built with the same RuntimeFactory.
@pytest.fixture(scope="session")
def _session_runtimes():
    with RuntimeFactory() as factory:
        yield factory


@pytest.fixture(scope="session")
def runtime(_session_runtimes):
    """The shared process-isolation runtime (two workers), closed at the end of the session."""
    return _session_runtimes(worker_count=2).start()


@pytest.fixture(scope="session")
def inline_runtime(_session_runtimes):
    """A runtime running V8 inside the test process, closed at the end of the session."""
    return _session_runtimes(worker_count=1, isolation="inline")


@pytest.fixture
def make_runtime(ratchet_runtime_factory):
    """Factory for process-isolation runtimes with their own configuration, closed after the test.

    ``make_runtime(worker_count=1, ExecutionConfig={...}, HttpConfig={...})``: the plugin's
    ``ratchet_runtime_factory``.
    """
    return ratchet_runtime_factory


@pytest.fixture
def default_runtime(runtime):
    """Make the session runtime the one ``Task.run``/``task(...)`` use; restore the previous one after."""
    previous = rj.set_default_runtime(runtime)
    yield runtime
    rj.set_default_runtime(previous)


# -- task directories --------------------------------------------------------------------------
@pytest.fixture
def make_task(tmp_path) -> Callable[..., Path]:
    """Write a Ratchet task directory under ``tmp_path`` and return its path.

    ``make_task(code, input_schema=None, output_schema=None, metadata=None, tests=None, name="t")``;
    ``tests`` is a list of test-case dicts written as ``tests/test-001.json``...
    ``metadata`` replaces the default ``{"label": name, "version": "1.0.0"}``.
    """
    counter = iter(range(1, 10_000))

    def factory(
        code: str,
        input_schema: Any = None,
        output_schema: Any = None,
        metadata: dict[str, Any] | None = None,
        tests: list[Any] | None = None,
        name: str = "t",
    ) -> Path:
        path = tmp_path / f"{name}-{next(counter)}"
        path.mkdir()
        meta = metadata if metadata is not None else {"label": name, "version": "1.0.0"}
        (path / "metadata.json").write_text(json.dumps(meta))
        (path / "main.js").write_text(code)
        if input_schema is not None:
            (path / "input.schema.json").write_text(json.dumps(input_schema))
        if output_schema is not None:
            (path / "output.schema.json").write_text(json.dumps(output_schema))
        if tests:
            (path / "tests").mkdir()
            for index, case in enumerate(tests, 1):
                (path / "tests" / f"test-{index:03d}.json").write_text(json.dumps(case))
        return path

    return factory


# -- a real local HTTP server ------------------------------------------------------------------
class LocalServer:
    """What the ``web_server`` fixture yields: its base URL and the requests it saw."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        #: Extra routes: path -> (status, content type, body bytes).
        self.routes: dict[str, tuple[int, str, bytes]] = {}
        #: ``/hook`` answers these statuses in turn, then ``hook_after``.
        self.hook_script: list[int] = []
        self.hook_after = 200
        #: ``Retry-After`` sent with the ``/hook`` route's error answers (None: no such header).
        self.hook_retry_after: str | None = None
        self.httpd = _QuietServer(("127.0.0.1", 0), _make_handler(self))
        host, port = self.httpd.server_address[:2]
        self.url = f"http://{host}:{port}"

    def paths(self) -> list[str]:
        with self.lock:
            return [r["path"] for r in self.requests]

    def serve(self, path: str, body: bytes | str, content_type: str = "application/json", status: int = 200) -> str:
        """Answer ``path`` with ``body``; return its URL."""
        self.routes[path] = (status, content_type, body.encode() if isinstance(body, str) else body)
        return self.url + path

    @property
    def hook_url(self) -> str:
        return self.url + "/hook"

    def posts(self, path: str = "/hook") -> list[dict[str, Any]]:
        """The requests to ``path``, their JSON bodies parsed (``body``) and headers kept."""
        with self.lock:
            return [dict(r, body=json.loads(r["body"])) for r in self.requests if r["path"] == path]


def _make_handler(server: LocalServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

        def _record(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            with server.lock:
                server.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body.decode("utf-8", errors="replace"),
                    }
                )
            return body

        def _send(self, status: int, payload: Any, content_type: str = "application/json",
                  headers: dict[str, str] | None = None) -> None:
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("X-Test-Server", "yes")
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (e.g. /slow)
                pass

        def _route(self) -> None:
            body = self._record()
            path = self.path.split("?", 1)[0]
            if self.path in server.routes:
                status, content_type, data = server.routes[self.path]
                self._send(status, data, content_type)
            elif path == "/hook":
                with server.lock:
                    status = server.hook_script.pop(0) if server.hook_script else server.hook_after
                extra = {"Retry-After": server.hook_retry_after} if status >= 400 and server.hook_retry_after else {}
                self._send(status, {"status": status}, headers=extra)
            elif path.startswith("/users/"):
                name = path[len("/users/"):]
                self._send(200, {"login": name, "name": name.title(), "public_repos": len(name)})
            elif path.startswith("/status/"):
                code = int(path[len("/status/"):])
                self._send(code, {"error": f"status {code}"})
            elif path == "/echo":
                try:
                    parsed = json.loads(body) if body else None
                except ValueError:
                    parsed = body.decode("utf-8", errors="replace")
                self._send(200, {"method": self.command, "json": parsed,
                                 "content_type": self.headers.get("Content-Type")})
            elif path == "/slow":
                server.stop.wait(3)
                self._send(200, {"slow": True})
            elif path == "/big":
                self._send(200, b"x" * (2 * 1024 * 1024), "text/plain")
            else:
                self._send(404, {"error": "no such route"})

        do_GET = do_POST = do_PUT = do_DELETE = _route

    return Handler


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:  # a client hanging up is fine here
        pass


@pytest.fixture
def web_server():
    """A real ThreadingHTTPServer on 127.0.0.1 (port 0) serving a few JSON routes.

    Routes: ``/users/NAME`` (JSON user), ``/status/CODE`` (that status, JSON body),
    ``/echo`` (echoes method and JSON body), ``/slow`` (answers after 3 s),
    ``/big`` (2 MB of text), ``/hook`` (answers the statuses of ``hook_script`` in turn, then
    ``hook_after``), and whatever ``server.serve(path, body)`` adds. Every request is recorded
    in ``server.requests``.
    """
    server = LocalServer()
    thread = threading.Thread(target=server.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.stop.set()  # release a handler still sleeping in /slow
    server.httpd.shutdown()
    server.httpd.server_close()
    thread.join(5)
