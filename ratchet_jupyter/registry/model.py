"""What the registry holds and reports: registered tasks, source statuses, sync reports, version order."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from ..core.task import Task
from .sources import SourceProblem

_VERSION = re.compile(r"^(\d+(?:\.\d+)*)?(.*)$")


def version_key(version: str) -> tuple[tuple[int, ...], bool, str]:
    """Sort key of a version: dotted numbers compare as numbers (``1.10 > 1.9``, ``1.0 == 1.0.0``);
    a suffix marks a pre-release (``1.0.0-rc1 < 1.0.0``); text without numbers sorts first, by text."""
    numbers, rest = _VERSION.match(str(version).strip().lstrip("vV")).groups()  # type: ignore[union-attr]
    parts = [int(p) for p in numbers.split(".")] if numbers else []
    while parts and parts[-1] == 0:
        parts.pop()
    return tuple(parts), rest == "", rest


@dataclass(frozen=True)
class RegisteredTask:
    """A task the registry holds: its name, version, source uri, path and the :class:`Task`."""

    name: str
    version: str
    source: str
    path: str
    task: Task
    loaded_at: float = 0.0
    #: Load order (ties between equal versions go to the latest loaded).
    seq: int = 0


@dataclass
class SourceStatus:
    """One configured source: ``status`` is ``"pending"`` (never synced), ``"ok"`` or ``"error"``."""

    uri: str
    kind: str
    label: str
    status: str = "pending"
    task_count: int = 0
    last_sync: datetime | None = None
    error: str | None = None


@dataclass
class SyncReport:
    """What :meth:`TaskRegistry.sync` did.

    ``loaded`` counts the tasks registered from the sources read this time, ``skipped`` the
    tasks found but not registered (broken, failing their check, duplicates, conflicts).
    """

    loaded: int = 0
    skipped: int = 0
    problems: list[SourceProblem] = field(default_factory=list)
    sources: list[SourceStatus] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every source could be read."""
        return all(s.status == "ok" for s in self.sources)

    def summary(self) -> str:
        """One line: tasks loaded and skipped, sources read and failed, problems."""
        failed = [s for s in self.sources if s.status == "error"]
        text = (f"{self.loaded} task(s) loaded, {self.skipped} skipped from {len(self.sources)} source(s)"
                f"; {len(self.problems)} problem(s)")
        return text + "".join(f"\nsource failed: {s.uri}: {s.error}" for s in failed)
