"""Loading tasks from directories and zips: every main.js form, metadata variants, errors."""

from __future__ import annotations

import json
import zipfile

import pytest

import ratchet_jupyter as rj

from conftest import EXAMPLES

MAIN_FORMS = {
    "function expression": "(function(input) {\n  return { doubled: input.n * 2 };\n})\n",
    "arrow function": "(input) => ({ doubled: input.n * 2 })\n",
    "declaration + trailing main": "function main(input) {\n  return { doubled: input.n * 2 };\n}\nmain;\n",
    "declaration, no trailing main": "function main(input) {\n  return { doubled: input.n * 2 };\n}\n",
    "async declaration + trailing main": (
        "async function main(input) {\n  await null;\n  return { doubled: input.n * 2 };\n}\nmain;\n"
    ),
    "async declaration, no trailing main": (
        "async function main(input) {\n  await null;\n  return { doubled: input.n * 2 };\n}\n"
    ),
    "helpers before main": (
        "const factor = 2;\nfunction helper(n) { return n * factor; }\n"
        "function main(input) { return { doubled: helper(input.n) }; }\n"
    ),
}


@pytest.mark.parametrize("code", list(MAIN_FORMS.values()), ids=list(MAIN_FORMS))
def test_every_main_js_form_loads_and_runs(make_task, runtime, code):
    task = rj.load_task(make_task(code))

    execution = runtime.run(task, {"n": 21})

    assert execution.error is None, execution.error
    assert execution.status is rj.ExecutionStatus.SUCCESS
    assert execution.output == {"doubled": 42}


def test_two_argument_form_receives_context(make_task, runtime):
    code = (
        "(function(input, context) {\n"
        "  return { task: context.taskName, version: context.taskVersion, id: context.executionId };\n"
        "})\n"
    )
    task = rj.load_task(make_task(code, metadata={"label": "ctx-task", "version": "3.1.4"}))

    execution = runtime.run(task, {})

    assert execution.output == {"task": "ctx-task", "version": "3.1.4", "id": execution.id}


def test_main_js_that_is_not_a_function_is_a_task_error(make_task, runtime):
    task = rj.load_task(make_task("var x = 42;\nx;\n"))

    execution = runtime.run(task, {})

    assert isinstance(execution.error, rj.TaskError)
    assert "must evaluate to a function" in str(execution.error)


@pytest.mark.parametrize("key", ["label", "name"])
def test_metadata_label_or_name_gives_the_task_name(make_task, key):
    path = make_task("(function(){ return 1; })", metadata={key: "my-task", "version": "2.0.0", "tags": ["a"]})

    task = rj.load_task(path)

    assert task.name == "my-task"
    assert task.version == "2.0.0"
    assert task.tags == ["a"]


def test_examples_load_with_schemas_tests_and_metadata():
    hello = rj.load_task(EXAMPLES / "hello")
    stats = rj.load_task(EXAMPLES / "word-stats")
    github = rj.load_task(EXAMPLES / "github-user")

    assert hello.name == "hello" and hello.uuid == "6f1c2f0e-4c1b-4a53-9d7e-1f0f3b2a9a01"
    assert hello.input_schema["properties"]["name"] == {"type": "string"}
    assert [c.label for c in hello.tests] == ["greets by name", "defaults to World"]
    assert stats.name == "word-stats" and stats.timeout == 5.0  # 'name' key, metadata timeout
    assert [c.label for c in stats.tests] == ["test-001", "empty text"]  # unnamed case: its file name
    assert github.memory_limit == 64 * 1024 * 1024
    assert github.tests[0].mocks[0]["url"] == "/users/octocat"


def _zip_dir(source, target, prefix=""):
    with zipfile.ZipFile(target, "w") as archive:
        for item in sorted(source.rglob("*")):
            if item.is_file():
                archive.write(item, prefix + item.relative_to(source).as_posix())
    return target


@pytest.mark.parametrize("prefix", ["", "hello-task/"], ids=["at zip root", "in a top-level folder"])
def test_zip_of_a_task_directory_loads_and_runs(tmp_path, runtime, prefix):
    # Given the hello example zipped, either at the root or inside one folder
    archive = _zip_dir(EXAMPLES / "hello", tmp_path / "hello.zip", prefix)

    # When it is loaded from the zip
    task = rj.load_task(archive)

    # Then it is the same task as the directory, tests included, and it runs
    assert task.name == "hello"
    assert task.content_hash == rj.load_task(EXAMPLES / "hello").content_hash
    assert len(task.tests) == 2
    assert runtime.run(task, {"name": "Zip"}).output == {"greeting": "Hello, Zip!"}


def test_content_hash_is_stable_and_follows_the_code(make_task):
    code = "(function(input){ return input; })\n"
    first = rj.load_task(make_task(code))
    again = rj.load_task(make_task(code))
    changed = rj.load_task(make_task(code.replace("return input", "return null")))

    assert first.content_hash == again.content_hash
    assert len(first.content_hash) == 64
    assert changed.content_hash != first.content_hash
    assert rj.Task(name="t", code=code).content_hash == first.content_hash  # same as built in Python


def test_content_hash_changes_with_schema_and_version():
    base = rj.Task(name="t", code="(x) => x", input_schema={"type": "object"})
    assert rj.Task(name="t", code="(x) => x", input_schema={"type": "array"}).content_hash != base.content_hash
    assert rj.Task(name="t", code="(x) => x", input_schema={"type": "object"}, version="2").content_hash != base.content_hash


def test_save_then_load_round_trips(tmp_path, runtime):
    hello = rj.load_task(EXAMPLES / "hello")

    copy = rj.load_task(hello.save(tmp_path / "copy"))

    assert copy.content_hash == hello.content_hash
    assert copy.uuid == hello.uuid
    assert [c.to_json() for c in copy.tests] == [c.to_json() for c in hello.tests]
    assert runtime.test(copy).ok


# -- bad task directories ---------------------------------------------------------------------------
def test_missing_metadata_json_names_the_file(tmp_path):
    (tmp_path / "main.js").write_text("(x) => x")

    with pytest.raises(rj.TaskError, match="metadata.json") as info:
        rj.load_task(tmp_path)

    assert str(tmp_path) in str(info.value)


def test_invalid_json_in_metadata_gives_line_and_column(make_task):
    path = make_task("(x) => x")
    (path / "metadata.json").write_text('{\n  "label": "t",\n  "version": 1.0.0\n}\n')

    with pytest.raises(rj.TaskError) as info:
        rj.load_task(path)

    error = info.value
    assert "metadata.json" in str(error)
    assert "line 3" in str(error) and "column" in str(error)
    assert error.details["line"] == 3
    assert error.details["column"] == 17


def test_missing_main_js_names_the_file(make_task):
    path = make_task("(x) => x")
    (path / "main.js").unlink()

    with pytest.raises(rj.TaskError, match="main.js") as info:
        rj.load_task(path)

    assert str(path) in str(info.value)


def test_test_case_without_input_names_the_file(make_task):
    path = make_task("(x) => x", tests=[{"input": {}, "expected_output": {}}, {"expected_output": {"a": 1}}])

    with pytest.raises(rj.TaskError, match="input") as info:
        rj.load_task(path)

    assert "tests/test-002.json" in str(info.value)


def test_invalid_json_in_a_test_case_names_the_file(make_task):
    path = make_task("(x) => x", tests=[{"input": {}, "expected_output": {}}])
    (path / "tests" / "test-001.json").write_text("{\"input\": }")

    with pytest.raises(rj.TaskError, match=r"tests/test-001.json.*line 1 column 11"):
        rj.load_task(path)


def test_unknown_assertion_operator_is_refused(make_task):
    path = make_task("(x) => x", tests=[{"input": {}, "assertions": [{"path": "a", "operator": "roughly"}]}])

    with pytest.raises(rj.TaskError, match="unknown operator 'roughly'"):
        rj.load_task(path)


def test_nonexistent_path_and_non_zip_file(tmp_path):
    with pytest.raises(rj.TaskError, match="no such task directory"):
        rj.load_task(tmp_path / "nope")
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    with pytest.raises(rj.TaskError, match="not a zip file"):
        rj.load_task(junk)


def test_zip_without_metadata_is_refused(tmp_path):
    archive = tmp_path / "empty.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("main.js", "(x) => x")

    with pytest.raises(rj.TaskError, match="no metadata.json"):
        rj.load_task(archive)


@pytest.mark.parametrize(
    "metadata, message",
    [
        ({"version": "1"}, "label"),
        ({"label": "t", "timeout": -1}, "timeout"),
        ({"label": "t", "memory_limit": "lots"}, "memory_limit"),
    ],
)
def test_bad_metadata_values_are_task_errors(make_task, metadata, message):
    with pytest.raises(rj.TaskError, match=message):
        rj.load_task(make_task("(x) => x", metadata=metadata))


def test_metadata_limits_are_parsed(make_task):
    task = rj.load_task(make_task("(x) => x", metadata={"label": "t", "timeout": 1, "memory_limit": "64MB"}))
    assert task.timeout == 1.0
    assert task.memory_limit == 64 * 1024 * 1024
    assert json.loads((EXAMPLES / "hello" / "metadata.json").read_text())["label"] == "hello"
