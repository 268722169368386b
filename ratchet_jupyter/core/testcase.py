"""Task test cases (``tests/*.json``) and the one place that judges a case's outcome."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterator

from .errors import TaskError

_MISSING = object()
_OPERATORS = (
    "equals", "not_equals", "contains", "not_contains", "exists", "not_exists",
    "greater_than", "less_than", "greater_than_or_equal", "less_than_or_equal",
    "matches", "type", "length",
)
_ALIASES = {
    "eq": "equals", "equal": "equals", "==": "equals", "ne": "not_equals", "!=": "not_equals",
    "gt": "greater_than", ">": "greater_than", "lt": "less_than", "<": "less_than",
    "gte": "greater_than_or_equal", ">=": "greater_than_or_equal",
    "lte": "less_than_or_equal", "<=": "less_than_or_equal", "regex": "matches",
    "notEquals": "not_equals", "notContains": "not_contains", "notExists": "not_exists",
    "greaterThan": "greater_than", "lessThan": "less_than",
}


def _normalise_mocks(mock: Any, where: str) -> list[dict[str, Any]]:
    if mock is None:
        return []
    if not isinstance(mock, dict):
        raise TaskError(f"{where}: 'mock' must be an object with an 'http' entry", operation="load")
    http = mock.get("http", [])
    entries = http if isinstance(http, list) else [http]
    out = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
            raise TaskError(f"{where}: mock.http[{index}] needs a 'url' string", operation="load")
        response = entry.get("response") or {}
        if not isinstance(response, dict):
            raise TaskError(f"{where}: mock.http[{index}].response must be an object", operation="load")
        out.append({"url": entry["url"], "method": (entry.get("method") or "").upper() or None, "response": response})
    return out


@dataclass
class TestCase:
    """One test case: an input, the expected output and/or assertions, optional HTTP mocks."""

    __test__ = False  # not a pytest class

    input: Any = None
    expected_output: Any = _MISSING
    name: str | None = None
    description: str = ""
    mocks: list[dict[str, Any]] = field(default_factory=list)
    assertions: list[dict[str, Any]] = field(default_factory=list)
    file_name: str | None = None

    @property
    def has_expected_output(self) -> bool:
        return self.expected_output is not _MISSING

    @property
    def label(self) -> str:
        return self.name or (self.file_name or "case").removesuffix(".json")

    @classmethod
    def from_json(cls, data: Any, *, file_name: str | None = None, where: str = "test case") -> "TestCase":
        """Build a case from a ``tests/*.json`` document, with errors naming ``where``."""
        if not isinstance(data, dict):
            raise TaskError(f"{where}: a test case must be a JSON object", operation="load")
        if "input" not in data:
            raise TaskError(f"{where}: a test case needs an 'input'", operation="load")
        assertions = data.get("assertions") or []
        if not isinstance(assertions, list):
            raise TaskError(f"{where}: 'assertions' must be a list", operation="load")
        for index, item in enumerate(assertions):
            if not isinstance(item, dict) or "path" not in item or "operator" not in item:
                raise TaskError(f"{where}: assertions[{index}] needs 'path' and 'operator'", operation="load")
            op = _ALIASES.get(item["operator"], item["operator"])
            if op not in _OPERATORS:
                raise TaskError(
                    f"{where}: assertions[{index}] has unknown operator {item['operator']!r} "
                    f"(known: {', '.join(_OPERATORS)})",
                    operation="load",
                )
        if "expected_output" not in data and not assertions:
            raise TaskError(f"{where}: a test case needs 'expected_output' or 'assertions'", operation="load")
        return cls(
            input=data["input"],
            expected_output=data.get("expected_output", _MISSING),
            name=data.get("name"),
            description=data.get("description") or "",
            mocks=_normalise_mocks(data.get("mock"), where),
            assertions=assertions,
            file_name=file_name,
        )

    def to_json(self) -> dict[str, Any]:
        """The ``tests/*.json`` document for this case."""
        data: dict[str, Any] = {}
        if self.name:
            data["name"] = self.name
        if self.description:
            data["description"] = self.description
        data["input"] = self.input
        if self.has_expected_output:
            data["expected_output"] = self.expected_output
        if self.mocks:
            http = [{k: v for k, v in m.items() if v is not None} for m in self.mocks]
            data["mock"] = {"http": http[0] if len(http) == 1 else http}
        if self.assertions:
            data["assertions"] = self.assertions
        return data


# -- comparing -------------------------------------------------------------------------
def _join(path: str, key: Any) -> str:
    return f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}"


def diff(expected: Any, actual: Any, path: str = "$") -> Iterator[str]:
    """Yield one readable line per difference between two JSON values."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in expected:
            if key not in actual:
                yield f"{_join(path, key)}: missing (expected {_show(expected[key])})"
            else:
                yield from diff(expected[key], actual[key], _join(path, key))
        for key in actual:
            if key not in expected:
                yield f"{_join(path, key)}: unexpected {_show(actual[key])}"
    elif isinstance(expected, list) and isinstance(actual, list):
        for index, (e, a) in enumerate(zip(expected, actual)):
            yield from diff(e, a, _join(path, index))
        if len(expected) != len(actual):
            yield f"{path}: expected {len(expected)} items, got {len(actual)}"
    elif not _same(expected, actual):
        yield f"{path}: expected {_show(expected)}, got {_show(actual)}"


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


def _show(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 120 else text[:117] + "..."


def lookup(value: Any, path: str) -> Any:
    """Follow a dotted path (``results.length``, ``items.0.id``, ``items[0].id``)."""
    current = value
    for part in [p for p in re.split(r"\.|\[|\]", path) if p != ""]:
        if part == "length" and isinstance(current, (list, str)):
            current = len(current)
        elif isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.lstrip("-").isdigit() and -len(current) <= int(part) < len(current):
            current = current[int(part)]
        else:
            return _MISSING
    return current


_TYPES = {"string": str, "number": (int, float), "integer": int, "boolean": bool, "object": dict, "array": list}


def check_assertion(output: Any, assertion: dict[str, Any]) -> str | None:
    """Evaluate one assertion; return ``None`` if it holds, else a message."""
    path, expected = assertion["path"], assertion.get("expected")
    op = _ALIASES.get(assertion["operator"], assertion["operator"])
    actual = lookup(output, path)
    found = actual is not _MISSING
    shown = _show(actual) if found else "nothing"
    ok: bool
    if op == "exists":
        ok = found
    elif op == "not_exists":
        ok = not found
    elif not found:
        return f"{path}: not found (operator {op})"
    elif op == "equals":
        ok = _same(actual, expected)
    elif op == "not_equals":
        ok = not _same(actual, expected)
    elif op in ("contains", "not_contains"):
        try:
            inside = expected in actual if not isinstance(actual, dict) else expected in actual.keys()
        except TypeError:
            inside = False
        ok = inside if op == "contains" else not inside
    elif op == "matches":
        ok = isinstance(actual, str) and re.search(str(expected), actual) is not None
    elif op == "type":
        if expected == "null":
            ok = actual is None
        else:
            wanted = _TYPES.get(str(expected))
            is_bool = isinstance(actual, bool)
            ok = wanted is not None and isinstance(actual, wanted) and (is_bool == (expected == "boolean"))
    elif op == "length":
        ok = hasattr(actual, "__len__") and len(actual) == expected
    else:
        try:
            ok = {
                "greater_than": lambda: actual > expected,
                "less_than": lambda: actual < expected,
                "greater_than_or_equal": lambda: actual >= expected,
                "less_than_or_equal": lambda: actual <= expected,
            }[op]()
        except TypeError:
            ok = False
    if ok:
        return None
    return f"{path} {op} {_show(expected)} failed: got {shown}"


@dataclass
class TestResult:
    """The outcome of one test case."""

    __test__ = False

    case: TestCase
    passed: bool
    execution: Any = None
    failures: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.case.label

    def summary(self) -> str:
        """``PASS name`` or ``FAIL name: first problem``."""
        if self.passed:
            return f"PASS {self.name}"
        return f"FAIL {self.name}: {self.failures[0] if self.failures else 'failed'}"


@dataclass
class TestReport:
    """All the cases of one task, in order."""

    __test__ = False

    task: str
    results: list[TestResult] = field(default_factory=list)

    @property
    def passed(self) -> int:
        return sum(r.passed for r in self.results)

    @property
    def failed(self) -> int:
        return len(self.results) - self.passed

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def __iter__(self):
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def summary_line(self) -> str:
        return f"{self.passed} passed, {self.failed} failed"


def judge(case: TestCase, execution: Any) -> TestResult:
    """Compare one execution with its case: expected output (deep, with a diff) and assertions."""
    if execution.error is not None:
        return TestResult(case, False, execution, [f"execution failed: {execution.error.one_line()}"])
    failures: list[str] = []
    if case.has_expected_output:
        failures.extend(diff(case.expected_output, execution.output))
    for assertion in case.assertions:
        problem = check_assertion(execution.output, assertion)
        if problem:
            failures.append(problem)
    return TestResult(case, not failures, execution, failures)
