"""Running a task's own test cases: expected outputs with diffs, and assertions."""

from __future__ import annotations

import pytest

import ratchet_jupyter as rj
from ratchet_jupyter.testing import TaskBuilder

from conftest import EXAMPLE_NAMES, EXAMPLES

HELLO_CODE = (EXAMPLES / "hello" / "main.js").read_text()


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_examples_pass_their_tests(runtime, default_runtime, name):
    task = rj.load_task(EXAMPLES / name)

    via_task = task.test()
    via_runtime = runtime.test(task)

    for report in (via_task, via_runtime):
        assert isinstance(report, rj.TestReport)
        assert report.ok, [r.summary() for r in report]
        assert len(report) == len(task.tests) == 2
        assert report.summary_line() == "2 passed, 0 failed"
        assert all(r.summary().startswith("PASS ") for r in report)


def test_wrong_expected_output_fails_with_a_diff_naming_the_path(runtime, tmp_path):
    # Given the hello task (a directory) with a test expecting the wrong greeting and an extra field
    path = (
        TaskBuilder("hello").code(HELLO_CODE)
        .case({"name": "Ann"}, expect={"greeting": "Hi, Ann!", "extra": 1}, name="wrong")
        .write(tmp_path / "hello")
    )
    task = rj.load_task(path)

    # When the tests run
    report = runtime.test(task)

    # Then the case fails, with one diff line per difference, each naming its path
    (result,) = report.results
    assert not result.passed and not report.ok
    assert report.summary_line() == "0 passed, 1 failed"
    assert result.failures == [
        '$.greeting: expected "Hi, Ann!", got "Hello, Ann!"',
        "$.extra: missing (expected 1)",
    ]
    assert result.summary() == 'FAIL wrong: $.greeting: expected "Hi, Ann!", got "Hello, Ann!"'
    assert result.execution.output == {"greeting": "Hello, Ann!"}


def test_diff_of_nested_lists_and_types(runtime):
    case = rj.TestCase(input=None, expected_output={"a": [1, {"b": True}], "n": 1}, name="nested")
    task = rj.Task(name="nested", code="(x) => ({ a: [1, { b: 1 }, 3], n: 1.0, z: null })")

    (result,) = runtime.test(task, cases=[case]).results

    assert result.failures == [
        "$.a[1].b: expected true, got 1",
        "$.a: expected 2 items, got 3",
        "$.z: unexpected null",
    ]


def test_a_case_whose_execution_fails_reports_the_error(runtime):
    case = rj.TestCase(input={}, expected_output=1, name="boom")
    task = rj.Task(name="thrower", code="(x) => { throw new DataError('no data'); }")

    (result,) = runtime.test(task, cases=[case]).results

    assert not result.passed
    assert result.failures == ["execution failed: DataError: no data"]


def test_a_case_failing_input_validation_reports_it(runtime):
    task = rj.load_task(EXAMPLES / "hello")
    case = rj.TestCase(input={"name": 5}, expected_output={}, name="bad input")

    (result,) = runtime.test(task, cases=[case]).results

    assert not result.passed
    assert result.failures[0].startswith("execution failed: ValidationError: input $.name")


OUTPUT_CODE = "(x) => ({ items: [3, 5, 8], name: 'ratchet', count: 3, nested: { ok: true } })"


@pytest.mark.parametrize(
    "assertion",
    [
        {"path": "name", "operator": "equals", "expected": "ratchet"},
        {"path": "nested.ok", "operator": "equals", "expected": True},
        {"path": "items[1]", "operator": "equals", "expected": 5},
        {"path": "name", "operator": "contains", "expected": "chet"},
        {"path": "items", "operator": "contains", "expected": 8},
        {"path": "nested", "operator": "contains", "expected": "ok"},
        {"path": "nested.ok", "operator": "exists"},
        {"path": "missing", "operator": "not_exists"},
        {"path": "items", "operator": "length", "expected": 3},
        {"path": "items.length", "operator": "equals", "expected": 3},
        {"path": "count", "operator": "greater_than", "expected": 2},
        {"path": "count", "operator": ">", "expected": 2},
        {"path": "count", "operator": "less_than_or_equal", "expected": 3},
        {"path": "name", "operator": "matches", "expected": "^rat"},
        {"path": "items", "operator": "type", "expected": "array"},
        {"path": "count", "operator": "type", "expected": "integer"},
    ],
    ids=lambda a: f"{a['path']} {a['operator']}",
)
def test_passing_assertions(runtime, assertion):
    case = rj.TestCase.from_json({"input": {}, "assertions": [assertion]})
    task = rj.Task(name="asserts", code=OUTPUT_CODE)

    (result,) = runtime.test(task, cases=[case]).results

    assert result.passed, result.failures


@pytest.mark.parametrize(
    "assertion, message",
    [
        ({"path": "name", "operator": "equals", "expected": "other"}, 'name equals "other" failed: got "ratchet"'),
        ({"path": "name", "operator": "contains", "expected": "xyz"}, 'name contains "xyz" failed: got "ratchet"'),
        ({"path": "nested.nope", "operator": "exists"}, "nested.nope exists null failed: got nothing"),
        ({"path": "items", "operator": "length", "expected": 4}, "items length 4 failed: got [3, 5, 8]"),
        ({"path": "count", "operator": "greater_than", "expected": 3}, "count greater_than 3 failed: got 3"),
        ({"path": "name", "operator": "greater_than", "expected": 3}, 'name greater_than 3 failed: got "ratchet"'),
        ({"path": "missing", "operator": "equals", "expected": 1}, "missing: not found (operator equals)"),
        ({"path": "nested.ok", "operator": "equals", "expected": 1}, "nested.ok equals 1 failed: got true"),
        ({"path": "count", "operator": "type", "expected": "boolean"}, 'count type "boolean" failed: got 3'),
    ],
    ids=lambda v: v if isinstance(v, str) else f"{v['path']} {v['operator']}",
)
def test_failing_assertions_report_what_they_got(runtime, assertion, message):
    case = rj.TestCase.from_json({"input": {}, "assertions": [assertion]})
    task = rj.Task(name="asserts", code=OUTPUT_CODE)

    (result,) = runtime.test(task, cases=[case]).results

    assert not result.passed
    assert result.failures == [message]


def test_assertions_and_expected_output_are_both_checked(runtime, tmp_path):
    path = (
        TaskBuilder("asserts").code(OUTPUT_CODE)
        .case({}, name="all good", assertions=[{"path": "count", "operator": "eq", "expected": 3}])
        .case({}, name="two problems",
              expect={"items": [3, 5, 8], "name": "ratchet", "count": 4, "nested": {"ok": True}},
              assertions=[{"path": "items", "operator": "length", "expected": 2}])
        .write(tmp_path / "asserts")
    )

    report = runtime.test(rj.load_task(path))

    assert [r.passed for r in report] == [True, False]
    assert report.results[1].failures == [
        "$.count: expected 4, got 3",
        "items length 2 failed: got [3, 5, 8]",
    ]
    assert report.summary_line() == "1 passed, 1 failed"

