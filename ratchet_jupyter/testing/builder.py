"""Building tasks and their test cases in Python."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping

from ..core.task import Task
from ..core.testcase import TestCase
from .mocks import normalise_responses

_MISSING: Any = object()


class TaskBuilder:
    """A fluent way to build a :class:`~ratchet_jupyter.Task` and its test cases.

    Parameters
    ----------
    name
        The task's name (``metadata.json``'s ``label``).
    code
        The task's JavaScript (``main.js``); may also be given with :meth:`code`.

    Examples
    --------
    >>> task = (TaskBuilder("greet")
    ...         .code("(input) => ({ greeting: 'Hello, ' + input.name })")
    ...         .input_schema({"type": "object", "required": ["name"]})
    ...         .case({"name": "A"}, expect={"greeting": "Hello, A"})
    ...         .build())
    >>> task.name, len(task.tests)
    ('greet', 1)

    ``.write(directory)`` saves the same task as a Ratchet task directory.
    """

    def __init__(self, name: str = "task", code: str | None = None) -> None:
        self._name = name
        self._code = code
        self._input_schema: Any = None
        self._output_schema: Any = None
        self._version = "1.0.0"
        self._description = ""
        self._metadata: dict[str, Any] = {}
        self._cases: list[TestCase] = []

    # -- the task ----------------------------------------------------------------------------
    def code(self, code: str) -> "TaskBuilder":
        """Set the JavaScript (``main.js``): an expression evaluating to the task function."""
        self._code = code
        return self

    def input_schema(self, schema: Any) -> "TaskBuilder":
        """Set the JSON Schema of the input."""
        self._input_schema = schema
        return self

    def output_schema(self, schema: Any) -> "TaskBuilder":
        """Set the JSON Schema of the output."""
        self._output_schema = schema
        return self

    def version(self, version: str) -> "TaskBuilder":
        self._version = str(version)
        return self

    def description(self, text: str) -> "TaskBuilder":
        self._description = text
        return self

    def metadata(self, **fields: Any) -> "TaskBuilder":
        """Add metadata fields: ``tags``, ``timeout`` (seconds), ``memory_limit`` ("64MB"), ``author``..."""
        self._metadata.update(fields)
        return self

    # -- its test cases -------------------------------------------------------------------------
    def case(
        self,
        input: Any,
        expect: Any = _MISSING,
        *,
        name: str | None = None,
        description: str = "",
        mocks: Iterable[Mapping[str, Any]] | Mapping[str, Any] | None = None,
        assertions: list[dict[str, Any]] | None = None,
    ) -> "TaskBuilder":
        """Add a test case (written as ``tests/test-NNN.json``).

        Parameters
        ----------
        input
            The case's input.
        expect
            The expected output (compared deeply); may be left out when ``assertions`` are given.
        name, description
            Shown in reports.
        mocks
            HTTP mocks for ``fetch``: ``{url: response}`` or a list of ``{"url", "method"?, "response"}``
            (see :func:`~ratchet_jupyter.testing.normalise_responses`).
        assertions
            ``[{"path", "operator", "expected"}]``, as in ``tests/*.json``.
        """
        data: dict[str, Any] = {"input": input}
        if name:
            data["name"] = name
        if description:
            data["description"] = description
        if expect is not _MISSING:
            data["expected_output"] = expect
        if assertions:
            data["assertions"] = list(assertions)
        file_name = f"test-{len(self._cases) + 1:03d}.json"
        case = TestCase.from_json(data, file_name=file_name, where=f"{self._name}: case {len(self._cases) + 1}")
        case.mocks = normalise_responses(mocks)
        self._cases.append(case)
        return self

    # -- results --------------------------------------------------------------------------------
    def build(self) -> Task:
        """The :class:`~ratchet_jupyter.Task` (raises :class:`~ratchet_jupyter.TaskError` if it has no code)."""
        return Task(
            name=self._name,
            code=self._code or "",
            input_schema=self._input_schema,
            output_schema=self._output_schema,
            version=self._version,
            description=self._description,
            tests=list(self._cases),
            metadata=dict(self._metadata),
        )

    def write(self, directory: str | Path) -> Path:
        """Write the task as a Ratchet task directory at ``directory``; return its path."""
        return self.build().save(directory)


def build_task(
    code: str,
    name: str = "task",
    input_schema: Any = None,
    output_schema: Any = None,
    tests: Iterable[Mapping[str, Any] | TestCase] = (),
    **fields: Any,
) -> Task:
    """A task from code and schemas (what the ``ratchet_task`` fixture calls).

    ``tests`` are :class:`TestCase` objects or ``tests/*.json`` documents; other keyword
    arguments are :class:`~ratchet_jupyter.Task`'s (``version``, ``description``, ``metadata``).
    """
    cases = [
        case if isinstance(case, TestCase)
        else TestCase.from_json(dict(case), file_name=f"test-{index:03d}.json", where=f"{name}: tests[{index - 1}]")
        for index, case in enumerate(tests, 1)
    ]
    return Task(name=name, code=code, input_schema=input_schema, output_schema=output_schema, tests=cases, **fields)
