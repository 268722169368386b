"""Pytest nodes for task test cases: one item per ``tests/*.json`` case, one per broken task."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest


class _SessionRuntime:
    """The one runtime the collected cases of a pytest session (or xdist worker) run on."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self._runtime: Any = None

    def get(self) -> Any:
        if self._runtime is None:
            from ..config.loader import load_config
            from ..runtime import Runtime

            settings = load_config(cwd=str(self.config.rootpath))
            settings.ExecutionConfig.worker_count = int(self.config.getini("ratchet_workers") or 1)
            self._runtime = Runtime(config=settings)
        return self._runtime

    def close(self) -> None:
        runtime, self._runtime = self._runtime, None
        if runtime is not None:
            runtime.close()


RUNTIME_KEY = pytest.StashKey[_SessionRuntime]()


def marker_name(task_name: str) -> str:
    """The pytest marker of a task: its name with anything but letters, digits, ``.``, ``-`` made ``_``."""
    name = re.sub(r"[^\w.-]", "_", task_name.strip())
    return name if name and not name[0] in "_.-" and not name[0].isdigit() else f"task_{name}"


def _node_id(path: Path, rootpath: Path) -> str:
    try:
        return path.resolve().relative_to(rootpath.resolve()).as_posix() or "."
    except ValueError:
        return path.resolve().as_posix()


def _shown(value: Any, limit: int = 300) -> str:
    text = json.dumps(value, default=str, sort_keys=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class CaseFailed(Exception):
    """A case ran and did not match what its test file expects."""

    def __init__(self, result: Any) -> None:
        super().__init__(result.summary())
        self.result = result


class TaskBroken(Exception):
    """A task did not load, or failed its check (syntax, schemas, test inputs)."""


class RatchetTask(pytest.Collector):
    """The cases of one task directory."""

    task_dir: Path

    @classmethod
    def for_dir(cls, parent: pytest.Session, task_dir: Path) -> "RatchetTask":
        node = cls.from_parent(parent, name=task_dir.name, nodeid=_node_id(task_dir, parent.config.rootpath),
                               path=task_dir)
        node.task_dir = task_dir
        return node

    def collect(self) -> list[pytest.Item]:
        from ..core.errors import RatchetError
        from ..core.task import load_task

        try:
            task = load_task(self.task_dir)
        except RatchetError as exc:
            return [TaskProblem.from_parent(self, name=self.task_dir.name, problem=exc.one_line(), task=None)]
        try:
            self.config.stash[RUNTIME_KEY].get().check(task)
        except RatchetError as exc:
            return [TaskProblem.from_parent(self, name=task.name, problem=exc.one_line(), task=task)]
        items: list[pytest.Item] = [
            CaseItem.from_parent(self, name=f"{task.name}[{_case_id(case, index)}]", task=task, case=case)
            for index, case in enumerate(task.tests, 1)
        ]
        return items


def _case_id(case: Any, index: int) -> str:
    if case.file_name:
        return case.file_name.removesuffix(".json")
    return case.name or f"case-{index}"


class _TaskItem(pytest.Item):
    def _mark(self, task_name: str) -> None:
        name = marker_name(task_name)
        self.config.addinivalue_line("markers", f"{name}: the test cases of the Ratchet task '{task_name}'")
        self.add_marker(name)
        self.add_marker("ratchet_task")


class CaseItem(_TaskItem):
    """One test case of a task, run through :meth:`Runtime.run_case <ratchet_jupyter.Runtime.run_case>`."""

    def __init__(self, *, task: Any, case: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.task = task
        self.case = case
        self._mark(task.name)
        if case.name:
            self.extra_keyword_matches.add(case.name)

    def runtest(self) -> None:
        result = self.config.stash[RUNTIME_KEY].get().run_case(self.task, self.case)
        if not result.passed:
            raise CaseFailed(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, CaseFailed):
            return self._explain(excinfo.value.result)
        return super().repr_failure(excinfo, style=style)

    def _explain(self, result: Any) -> str:
        case = self.case
        where = f"tests/{case.file_name}" if case.file_name else "case"
        title = f"{self.task.name} {where}" + (f" ({case.name})" if case.name else "")
        first = result.failures[0] if result.failures else "failed"
        lines = [f"{title}: {first}", ""]
        lines += [f"  {line}" for line in result.failures]
        execution = result.execution
        lines += ["", f"  input:  {_shown(case.input)}"]
        if case.has_expected_output:
            lines.append(f"  expected output: {_shown(case.expected_output)}")
        if execution is not None and execution.error is None:
            lines.append(f"  actual output:   {_shown(execution.output)}")
        for entry in (execution.logs if execution is not None else [])[:20]:
            message = entry.get("message", entry) if isinstance(entry, dict) else entry
            lines.append(f"  console: {message}")
        return "\n".join(lines)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        path = self.path / "tests" / case_file if (case_file := self.case.file_name) else self.path
        return path, None, self.name


class TaskProblem(_TaskItem):
    """A task that did not load or failed its check: one failing item with the reason."""

    def __init__(self, *, problem: str, task: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.problem = problem
        self._mark(task.name if task is not None else self.name)

    def runtest(self) -> None:
        raise TaskBroken(self.problem)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, TaskBroken):
            return f"{self.problem}\n  (the task in {self.nodeid.partition('::')[0]} is broken: none of its cases ran)"
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, self.name
