"""The tasks one notebook defined or loaded, by name, with every version kept in the task store.

Free of IPython on purpose: this is the logic behind ``%%ratchet NAME`` and
``%%ratchet_test NAME`` (versioning, carrying tests over, storing), and it can
move into the services (or ``registry/``) as it is.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any, Iterable

from ..core.task import Task, load_task
from ..core.testcase import TestCase

#: ``Task.source`` of tasks defined in a notebook cell.
NOTEBOOK_SOURCE = "notebook"


def bump_version(version: str) -> str:
    """The next patch version: ``1.0.0`` -> ``1.0.1``; ``2`` -> ``3``; ``1.0-beta`` -> ``1.0-beta.1``."""
    head, dot, last = version.rpartition(".")
    if last.isdigit():
        return f"{head}{dot}{int(last) + 1}"
    return f"{version}.1"


class NotebookTasks(Mapping[str, Task]):
    """Tasks by name (the current version of each), backed by the services' task store.

    Parameters
    ----------
    services
        A :class:`~ratchet_jupyter.services.Services`: its runtime checks tasks, its
        storage keeps every version.
    """

    def __init__(self, services: Any) -> None:
        self.services = services
        self._tasks: dict[str, Task] = {}

    # -- Mapping -----------------------------------------------------------------------
    def __getitem__(self, name: str) -> Task:
        return self._tasks[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._tasks)

    def __len__(self) -> int:
        return len(self._tasks)

    # -- finding -----------------------------------------------------------------------
    def find(self, name: str, version: str | None = None) -> Task | None:
        """The task called ``name``: this notebook's, else the latest stored one (or ``version``)."""
        task = self._tasks.get(name)
        if task is not None and (version is None or task.version == version):
            return task
        # the registry's tasks are not kept here: a watched source may reload them any time
        return self.services.find_task(name, version)

    def versions(self, name: str | None = None) -> list[Any]:
        """Stored versions (``StoredTask``) of ``name``, or of every task, newest first."""
        from ..storage import Query

        if name is not None:
            return self.services.storage.tasks.versions(name)
        return self.services.storage.tasks.find_all(Query(sort="created_at", descending=True))

    # -- defining ----------------------------------------------------------------------
    def define(
        self,
        name: str,
        code: str,
        *,
        input_schema: Any = None,
        output_schema: Any = None,
        version: str | None = None,
        description: str | None = None,
        auto_version: bool = True,
        check: bool = True,
    ) -> tuple[Task, Task | None]:
        """Define (or redefine) ``name``; return ``(task, previous)``.

        Without ``version``, a redefinition whose code or schemas differ from the
        previous version gets the next patch version (when ``auto_version``); the
        same content keeps its version. The previous version's test cases,
        description, uuid and metadata carry over; every version stays in the store.
        """
        previous = self.find(name)
        if version is None:
            if previous is None:
                version = "1.0.0"
            elif auto_version and (previous.code, previous.input_schema, previous.output_schema) != (
                code, input_schema, output_schema
            ):
                version = bump_version(previous.version)
            else:
                version = previous.version
        task = Task(
            name=name,
            code=code,
            input_schema=input_schema,
            output_schema=output_schema,
            version=version,
            description=description if description is not None else (previous.description if previous else ""),
            uuid=previous.uuid if previous else None,
            metadata=dict(previous.metadata) if previous else {},
            source=NOTEBOOK_SOURCE,
        )
        if check:  # before the old tests join: a schema change must not fail on them here
            self.services.runtime.check(task)
        task.tests = list(previous.tests) if previous else []
        self._register(task)
        return task, previous

    def load(self, path: str, *, check: bool = True) -> Task:
        """Load a task directory or zip and make it this notebook's version of its name."""
        task = load_task(path)
        if check:
            self.services.runtime.check(task)
        self._register(task)
        return task

    def add_tests(self, name: str, cases: Iterable[TestCase], *, replace_all: bool = False) -> tuple[Task, int]:
        """Attach test cases to ``name``; return ``(task, number added)``.

        A case with the name of an existing one replaces it; a case equal to an
        existing one is not added twice (running the same cell again changes nothing).
        """
        task = self.find(name)
        if task is None:
            raise KeyError(name)
        kept = [] if replace_all else list(task.tests)
        added = 0
        for case in cases:
            same_name = [i for i, old in enumerate(kept) if case.name and old.name == case.name]
            if same_name:
                case.file_name = kept[same_name[0]].file_name
                kept[same_name[0]] = case
            elif all(old.to_json() != case.to_json() for old in kept):
                kept.append(case)
                added += 1
        task.tests = kept
        self._register(task)
        return task, added

    def _register(self, task: Task) -> None:
        self._tasks[task.name] = task
        repository = self.services.storage.tasks
        stored = repository.save(task)
        tests = [case.to_json() for case in task.tests]
        if stored.tests != tests or stored.description != task.description:
            repository.update(
                replace(stored, tests=tests, description=task.description, updated_at=datetime.now(timezone.utc))
            )
