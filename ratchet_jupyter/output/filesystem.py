"""Outputs as JSON files (one per output) or NDJSON files (one line per output) under a directory."""

from __future__ import annotations

import contextlib
import json
import os
import string
import tempfile
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar

from .base import Destination, OutputItem

PLACEHOLDERS = ("task", "version", "date", "time", "execution_id")
_append_locks: dict[str, threading.Lock] = {}
_append_locks_guard = threading.Lock()


def _append_lock(path: str) -> threading.Lock:
    with _append_locks_guard:
        return _append_locks.setdefault(path, threading.Lock())


def _safe(value: str) -> str:
    """A placeholder value that stays one path component (no separators, no '..')."""
    text = str(value).replace("/", "_").replace("\\", "_").replace("\0", "_")
    return "_" if text in ("", ".", "..") else text


class FilesystemDestination(Destination):
    """Write each output under ``root`` at a path made from a template.

    Options
    -------
    root
        The directory (created when missing).
    path
        Template relative to ``root`` with ``{task}``, ``{version}``, ``{date}``
        (YYYY-MM-DD), ``{time}`` (HHMMSS) and ``{execution_id}``; date and time are
        the execution's start (UTC), so delivering again rewrites the same file.
        Default ``{task}/{date}/{execution_id}.json`` (json) or ``{task}/{date}.ndjson``.
    format
        ``json``: one file per output, written atomically (a reader never sees
        half a file). ``ndjson``: one line per output appended to the templated
        file (delivering again appends again).
    include_input
        Put each execution's input in the document too (default true).
    """

    type_name: ClassVar[str] = "filesystem"
    required_options = ("root",)
    optional_options = ("path", "format", "include_input")

    def __init__(self, name: str, options: Any = None, **kwargs: Any) -> None:
        super().__init__(name, options, **kwargs)
        self.format = self.options.get("format", "json")
        if self.format not in ("json", "ndjson"):
            raise self.config_error(name, f"format must be 'json' or 'ndjson', got {self.format!r}")
        default = "{task}/{date}/{execution_id}.json" if self.format == "json" else "{task}/{date}.ndjson"
        self.template = str(self.options.get("path") or default)
        self.root = Path(os.path.expanduser(str(self.options["root"]))).resolve()
        self.include_input = bool(self.options.get("include_input", True))
        self._check_template()

    def _check_template(self) -> None:
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(self.template) if f is not None]
        except ValueError as exc:
            raise self.config_error(self.name, f"path template {self.template!r} does not parse: {exc}") from None
        unknown = sorted({f for f in fields if f not in PLACEHOLDERS})
        if unknown:
            raise self.config_error(
                self.name,
                f"path template {self.template!r} has unknown placeholder(s) {', '.join(unknown)} "
                f"(known: {', '.join(PLACEHOLDERS)})",
            )
        if os.path.isabs(self.template):
            raise self.config_error(self.name, f"path template {self.template!r} must be relative to root")

    def path_for(self, item: OutputItem) -> Path:
        """Where ``item`` goes (always inside ``root``)."""
        when = item.started_at or datetime.now(timezone.utc)
        when = when.astimezone(timezone.utc) if when.tzinfo else when
        values = {
            "task": _safe(item.task_name),
            "version": _safe(item.task_version or "0"),
            "date": when.strftime("%Y-%m-%d"),
            "time": when.strftime("%H%M%S"),
            "execution_id": _safe(item.execution_id),
        }
        path = (self.root / self.template.format(**values)).resolve()
        if not path.is_relative_to(self.root):
            raise self.config_error(self.name, f"path template {self.template!r} leads outside root {self.root}")
        return path

    def deliver(self, item: OutputItem) -> str | None:
        path = self.path_for(item)
        path.parent.mkdir(parents=True, exist_ok=True)
        document = item.to_json(self.include_input)
        if self.format == "ndjson":
            line = (json.dumps(document, default=str, separators=(",", ":")) + "\n").encode("utf-8")
            # one write() of the whole line to an O_APPEND file: lines of several
            # processes land whole, one after another
            with _append_lock(str(path)):
                fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                try:
                    view = memoryview(line)
                    while view:
                        view = view[os.write(fd, view):]
                finally:
                    os.close(fd)
            return str(path)
        text = json.dumps(document, default=str, indent=2) + "\n"
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.chmod(temporary, 0o644)  # mkstemp makes it private; outputs are ordinary files
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        return str(path)

