"""JSON Schema validation of inputs and outputs, drafts, and the validation switches."""

from __future__ import annotations

import pytest

import ratchet_jupyter as rj

ITEMS_SCHEMA = {
    "type": "object",
    "properties": {
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"id": {"type": "integer"}},
                "required": ["id"],
            },
        }
    },
    "required": ["items"],
}

# If input validation ever let a bad input through, this task would say so loudly.
LOUD = "(function(input) { throw new Error('the task ran'); })"


@pytest.fixture
def backend_calls(runtime, monkeypatch):
    """Count the requests the session runtime sends to its workers during one test."""
    backend = runtime.backend
    calls: list[str] = []
    real_call, real_chunks = backend.call, backend.run_chunks

    def call(kind, payload, limit):
        calls.append(kind)
        return real_call(kind, payload, limit)

    def run_chunks(chunks, *args, **kwargs):
        chunks = list(chunks)
        calls.extend("map" for _ in chunks)
        return real_chunks(chunks, *args, **kwargs)

    monkeypatch.setattr(backend, "call", call)
    monkeypatch.setattr(backend, "run_chunks", run_chunks)
    return calls


def test_input_violation_names_the_path_and_rule_without_running(runtime, backend_calls):
    # Given a task whose input schema wants integer ids
    task = rj.Task(name="items", code=LOUD, input_schema=ITEMS_SCHEMA)

    # When the second item's id is a string
    execution = runtime.run(task, {"items": [{"id": 1}, {"id": "two"}]})

    # Then the execution fails with a ValidationError naming the path and the rule...
    error = execution.error
    assert type(error) is rj.ValidationError
    assert execution.status is rj.ExecutionStatus.FAILED
    assert error.path == "$.items[1].id"
    assert error.details["rule"] == "type"
    assert error.details["value"] == "two"
    assert error.details["which"] == "input"
    assert "$.items[1].id" in str(error) and "input" in str(error)
    assert error.task == "items"
    # ...and nothing was sent to a worker
    assert backend_calls == []
    assert execution.logs == [] and execution.output is None
    with pytest.raises(rj.ValidationError):
        execution.result()


def test_missing_required_property_names_the_parent_path(runtime, backend_calls):
    task = rj.Task(name="items", code=LOUD, input_schema=ITEMS_SCHEMA)

    error = runtime.run(task, {"items": [{"id": 1}, {"id": 2}, {}]}).error

    assert isinstance(error, rj.ValidationError)
    assert error.path == "$.items[2]"
    assert error.details["rule"] == "required"
    assert "id" in str(error)
    assert backend_calls == []


def test_map_validates_each_input_and_runs_only_the_valid_ones(runtime, backend_calls):
    task = rj.Task(name="items", code="(input) => input.items.length", input_schema=ITEMS_SCHEMA)

    executions = runtime.map(task, [{"items": []}, {"items": [{"id": "x"}]}, {"items": [{"id": 1}]}])

    assert [e.status for e in executions] == [
        rj.ExecutionStatus.SUCCESS, rj.ExecutionStatus.FAILED, rj.ExecutionStatus.SUCCESS,
    ]
    assert executions[1].error.path == "$.items[0].id"
    assert [e.output for e in executions] == [0, None, 1]
    assert backend_calls and all(kind == "map" for kind in backend_calls)


def test_output_violation_fails_the_execution(runtime):
    # Given a task that returns a string where its output schema wants an integer
    task = rj.Task(
        name="bad-output",
        code="(function(input) { return { count: 'many' }; })",
        output_schema={"type": "object", "properties": {"count": {"type": "integer"}}, "required": ["count"]},
    )

    # When it runs
    execution = runtime.run(task, {})

    # Then the execution failed on its output, naming the path
    assert execution.status is rj.ExecutionStatus.FAILED
    assert isinstance(execution.error, rj.ValidationError)
    assert execution.error.details["which"] == "output"
    assert execution.error.path == "$.count"
    assert str(execution.error).startswith("output")


def test_output_violation_in_map_fails_only_that_item(runtime):
    task = rj.Task(name="parity", code="(n) => (n % 2 ? 'odd' : n)", output_schema={"type": "integer"})

    executions = runtime.map(task, [0, 1, 2])

    assert [e.ok for e in executions] == [True, False, True]
    assert executions[1].error.details["which"] == "output"


DRAFT_2020 = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {"pair": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}]}},
    "required": ["pair"],
}


def test_draft_2020_12_keywords_are_enforced(runtime):
    # prefixItems only exists in draft 2020-12: a draft-7 validator would ignore it.
    task = rj.Task(name="pairs", code="(input) => ({ n: input.pair[1] })", input_schema=DRAFT_2020)

    good = runtime.run(task, {"pair": ["a", 1]})
    bad = runtime.run(task, {"pair": ["a", "b"]})

    assert good.output == {"n": 1}
    assert isinstance(bad.error, rj.ValidationError)
    assert bad.error.path == "$.pair[1]"
    assert bad.error.details["rule"] == "type"


def test_draft_2020_12_example_word_stats(runtime):
    from conftest import EXAMPLES

    task = rj.load_task(EXAMPLES / "word-stats")

    assert runtime.run(task, {"text": "a bb"}).output == {"count": 2, "longest": "bb", "words": ["a", "bb"]}
    error = runtime.run(task, {}).error
    assert isinstance(error, rj.ValidationError) and error.details["rule"] == "required"


@pytest.mark.parametrize(
    "draft",
    [None, "http://json-schema.org/draft-07/schema#", "https://json-schema.org/draft/2020-12/schema"],
    ids=["no $schema", "draft-07", "draft 2020-12"],
)
@pytest.mark.parametrize("key", ["first name", "x.y"])
def test_paths_through_keys_that_are_not_identifiers_are_quoted(draft, key):
    # A key such as "x.y" must not render as $.x.y (which reads as key "y" inside key "x"),
    # and every draft must name the same place the same way.
    from ratchet_jupyter.core import validate

    schema = {"type": "object", "properties": {key: {"type": "array", "items": {"type": "integer"}}}}
    if draft:
        schema["$schema"] = draft

    with pytest.raises(rj.ValidationError) as info:
        validate({key: [1, "x"]}, schema, which="input")

    assert info.value.path == f'$["{key}"][1]'


def test_validate_input_false_lets_bad_input_through(make_runtime):
    rt = make_runtime(ValidationConfig={"validate_input": False})
    task = rj.Task(name="items", code="(input) => typeof input.items", input_schema=ITEMS_SCHEMA)

    execution = rt.run(task, {"items": "not an array"})

    assert execution.ok, execution.error
    assert execution.output == "string"


def test_validate_false_per_call_skips_both_checks(runtime):
    task = rj.Task(name="v", code="(x) => 'text'", input_schema={"type": "integer"}, output_schema={"type": "integer"})

    assert runtime.run(task, "nope", validate=False).output == "text"
    assert runtime.run(task, "nope").error.details["which"] == "input"


UNKNOWN_FORMAT = {"type": "object", "properties": {"when": {"type": "string", "format": "not-a-real-format"}}}


def test_strict_mode_makes_an_unknown_format_a_schema_error(make_runtime):
    strict = make_runtime(ValidationConfig={"strict_mode": True})
    lenient = make_runtime()
    task = rj.Task(name="fmt", code="(input) => input.when", input_schema=UNKNOWN_FORMAT)

    strict_run = strict.run(task, {"when": "today"})
    lenient_run = lenient.run(task, {"when": "today"})

    assert isinstance(strict_run.error, rj.SchemaError)
    assert "not-a-real-format" in str(strict_run.error)
    assert strict_run.error.details["formats"] == ["not-a-real-format"]
    assert lenient_run.ok and lenient_run.output == "today"


def test_check_refuses_an_invalid_schema(runtime):
    task = rj.Task(name="bad-schema", code="(x) => x", input_schema={"type": "not-a-type"})

    with pytest.raises(rj.SchemaError, match="input.schema.json"):
        runtime.check(task)


def test_non_json_input_is_a_validation_error(runtime):
    task = rj.Task(name="any", code="(x) => x")

    execution = runtime.run(task, {"x": float("nan")})

    assert isinstance(execution.error, rj.ValidationError)
    assert "JSON" in str(execution.error)


def test_schema_validate_helper_tags_which():
    from ratchet_jupyter.core import validate

    with pytest.raises(rj.ValidationError) as info:
        validate({"a": [1, "x"]}, {"type": "object", "properties": {"a": {"type": "array", "items": {"type": "integer"}}}}, which="input")

    assert info.value.path == "$.a[1]"
    assert info.value.details["which"] == "input"
