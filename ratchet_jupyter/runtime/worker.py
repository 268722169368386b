"""The worker process: one V8 engine serving requests from the pool over a pipe.

Messages in are ``(kind, request_id, payload)`` with kind ``run``, ``map``,
``check``, ``ping`` or ``stop``; each gets exactly one ``(request_id, result)``
back. Blocking on the pipe between requests is fine: nothing runs in V8 then.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import traceback
from typing import Any

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # A worker must never outlive the process that owns the pool, even one killed
    # with SIGKILL (which runs no cleanup of its own).
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass


def worker_main(conn: Any, cpu: int | None, parent_pid: int) -> None:
    """Serve requests arriving on ``conn`` until it closes or says stop."""
    _die_with_parent()
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(0)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the owner decides about interrupts
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, {cpu})
        except OSError:
            pass
    asyncio.run(_serve(conn))


def _progress_sender(conn: Any, request_id: int) -> Any:
    def send(event: dict) -> None:
        try:
            conn.send(("progress", request_id, event))
        except (BrokenPipeError, OSError):
            pass

    return send


async def _serve(conn: Any) -> None:
    from .engine import Engine

    engine = Engine()
    await engine.start()
    conn.send(("ready", os.getpid()))
    handlers = {"run": engine.run, "map": engine.map, "check": engine.check_syntax, "compile": engine.compile_only}
    http = None
    while True:
        try:
            kind, request_id, payload = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            break
        if kind == "stop":
            break
        if isinstance(payload, dict) and "http" in payload:
            # the pool sends HTTP settings only when they change
            if payload["http"] == "same":
                payload["http"] = http
            else:
                http = payload["http"]
        try:
            if kind == "ping":
                result: Any = {"pid": os.getpid(), "resets": engine.resets}
            elif kind == "run" and payload.get("live_progress"):
                result = await engine.run(payload, on_progress=_progress_sender(conn, request_id))
            else:
                result = await handlers[kind](payload)
        except Exception as exc:  # noqa: BLE001 - report, keep serving
            result = {
                "status": "error",
                "error": {
                    "type": "RatchetError",
                    "message": f"internal worker error: {exc!r}",
                    "details": {"traceback": traceback.format_exc()},
                },
            }
        try:
            conn.send((request_id, result))
        except (BrokenPipeError, OSError):
            break
    engine.close()


def _main(argv: list[str] | None = None) -> None:
    import argparse
    import socket
    from multiprocessing.connection import Connection

    parser = argparse.ArgumentParser(prog="python -m ratchet_jupyter.runtime.worker")
    parser.add_argument("--fd", type=int, required=True, help="file descriptor of the socket to the pool")
    parser.add_argument("--cpu", type=int, default=None, help="CPU to pin this worker to")
    parser.add_argument("--parent", type=int, required=True, help="pid of the owning process")
    args = parser.parse_args(argv)
    sock = socket.socket(fileno=args.fd)
    worker_main(Connection(sock.detach()), args.cpu, args.parent)


if __name__ == "__main__":
    _main()
