"""The ``ratchet`` command, run as ``python -m ratchet_jupyter`` in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import EXAMPLE_NAMES, EXAMPLES, subprocess_env

HELLO = str(EXAMPLES / "hello")


def ratchet(*args: str, timeout: float = 60, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the CLI in a fresh interpreter, with the repository root on PYTHONPATH."""
    return subprocess.run(
        [sys.executable, "-m", "ratchet_jupyter", *args],
        capture_output=True, text=True, timeout=timeout, env=subprocess_env(), cwd=cwd,
    )


@pytest.fixture
def cli_cwd(tmp_path):
    """An empty working directory, so no ratchet_config.* of the repository applies."""
    work = tmp_path / "cwd"
    work.mkdir()
    return work


def stderr_lines(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


def test_run_once_prints_the_output_json(cli_cwd):
    result = ratchet("run-once", "--from-fs", HELLO, "--input-json", '{"name": "CLI"}', cwd=cli_cwd)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"greeting": "Hello, CLI!"}
    assert result.stdout.count("\n") == 1
    assert result.stderr == ""


def test_run_once_defaults_to_empty_input_and_shows_logs(cli_cwd):
    result = ratchet("run-once", "--from-fs", HELLO, "--logs", cwd=cli_cwd)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"greeting": "Hello, World!"}
    assert stderr_lines(result) == ["[info] greeting World"]


def test_run_once_reads_input_from_a_file_and_from_a_zip(cli_cwd, tmp_path):
    import zipfile

    archive = tmp_path / "hello.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for item in (EXAMPLES / "hello").rglob("*"):
            if item.is_file():
                z.write(item, item.relative_to(EXAMPLES / "hello").as_posix())
    (tmp_path / "input.json").write_text('{"name": "File"}')

    result = ratchet("run-once", "--from-fs", str(archive), "--input-file", str(tmp_path / "input.json"), cwd=cli_cwd)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"greeting": "Hello, File!"}


def test_run_once_reads_input_from_stdin(cli_cwd):
    result = subprocess.run(
        [sys.executable, "-m", "ratchet_jupyter", "run-once", "--from-fs", HELLO, "--input-file", "-"],
        input='{"name": "Stdin"}', capture_output=True, text=True, timeout=60, env=subprocess_env(), cwd=cli_cwd,
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"greeting": "Hello, Stdin!"}


def test_schema_violation_exits_1_with_one_validation_line(make_task, cli_cwd):
    path = make_task(
        "(x) => x",
        input_schema={"type": "object", "properties": {"items": {"type": "array", "items": {"type": "integer"}}}},
    )

    result = ratchet("run-once", "--from-fs", str(path), "--input-json", '{"items": [1, "x"]}', cwd=cli_cwd)

    assert result.returncode == 1
    assert result.stdout == ""
    (line,) = stderr_lines(result)
    assert line.startswith("ValidationError:")
    assert "$.items[1]" in line


def test_runaway_task_times_out_with_the_config_option(make_task, cli_cwd):
    path = make_task("(function() { while (true) {} })")

    started = time.monotonic()
    result = ratchet("run-once", "--from-fs", str(path), "--ExecutionConfig.max_duration=1", cwd=cli_cwd, timeout=30)
    elapsed = time.monotonic() - started

    assert result.returncode == 1
    (line,) = stderr_lines(result)
    assert line.startswith("TimeoutError:")
    assert elapsed < 5


def test_run_once_timeout_flag(make_task, cli_cwd):
    path = make_task("(function() { while (true) {} })")

    result = ratchet("run-once", "--from-fs", str(path), "--timeout", "0.5", cwd=cli_cwd, timeout=30)

    assert result.returncode == 1
    assert stderr_lines(result)[0].startswith("TimeoutError:")


def test_js_error_is_one_line_with_the_js_name(make_task, cli_cwd):
    path = make_task("(function() {\n  throw new HttpError(404, 'no such thing\\nsecond line');\n})")

    result = ratchet("run-once", "--from-fs", str(path), cwd=cli_cwd)

    assert result.returncode == 1
    assert stderr_lines(result) == ["HttpError: no such thing"]


@pytest.mark.parametrize("bad", ['{"name": ', "not json", "{'single': 1}"])
def test_bad_input_json_is_one_line_error(cli_cwd, bad):
    result = ratchet("run-once", "--from-fs", HELLO, "--input-json", bad, cwd=cli_cwd)

    assert result.returncode == 1
    (line,) = stderr_lines(result)
    assert "--input-json is not valid JSON" in line
    assert "line 1 column" in line


def test_missing_task_directory_is_one_line_error(cli_cwd, tmp_path):
    result = ratchet("run-once", "--from-fs", str(tmp_path / "nope"), cwd=cli_cwd)

    assert result.returncode == 1
    (line,) = stderr_lines(result)
    assert line.startswith("TaskError:") and "nope" in line


@pytest.mark.parametrize(
    "file_name, content",
    [
        ("ratchet_config.json", '{"ExecutionConfig": {"max_duration": 1}}'),
        ("ratchet_config.py", "c.ExecutionConfig.max_duration = 1\n"),
    ],
)
def test_config_file_in_the_working_directory_applies(make_task, cli_cwd, file_name, content):
    (cli_cwd / file_name).write_text(content)
    path = make_task("(function() { while (true) {} })")

    started = time.monotonic()
    result = ratchet("run-once", "--from-fs", str(path), cwd=cli_cwd, timeout=30)

    assert result.returncode == 1
    assert stderr_lines(result)[0].startswith("TimeoutError:") and "1s" in result.stderr
    assert time.monotonic() - started < 5


def test_command_line_option_overrides_the_config_file(cli_cwd):
    (cli_cwd / "ratchet_config.json").write_text('{"ValidationConfig": {"validate_input": true}}')

    result = ratchet("run-once", "--from-fs", HELLO, "--input-json", '{"name": 1}',
                     "--ValidationConfig.validate_input=False", cwd=cli_cwd)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"greeting": "Hello, 1!"}


def test_broken_config_file_is_one_line_error_naming_it(cli_cwd):
    (cli_cwd / "ratchet_config.json").write_text("{broken")

    result = ratchet("run-once", "--from-fs", HELLO, cwd=cli_cwd)

    assert result.returncode == 1
    (line,) = stderr_lines(result)
    assert line.startswith("ConfigError:") and "ratchet_config.json" in line


def test_bad_config_value_is_one_line_error(cli_cwd):
    result = ratchet("run-once", "--from-fs", HELLO, "--ExecutionConfig.max_duration=-1", cwd=cli_cwd)

    assert result.returncode == 1
    (line,) = stderr_lines(result)
    assert line.startswith("ConfigError:") and "max_duration" in line


# -- validate ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_validate_accepts_the_examples(cli_cwd, name):
    result = ratchet("validate", "--from-fs", str(EXAMPLES / name), cwd=cli_cwd)

    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout and name in result.stdout


def test_validate_names_line_and_column_of_a_syntax_error(make_task, cli_cwd):
    path = make_task("(function(input) {\n  const a = 1;\n  return {a: 1;\n})\n", name="broken")

    result = ratchet("validate", "--from-fs", str(path), cwd=cli_cwd)

    assert result.returncode == 1
    (line,) = stderr_lines(result)
    assert line.startswith("SyntaxError:")
    assert "main.js:3:15" in line


def test_validate_refuses_a_test_input_that_breaks_the_schema(make_task, cli_cwd):
    path = make_task("(x) => x", input_schema={"type": "object", "required": ["name"]},
                     tests=[{"name": "no name", "input": {}, "expected_output": {}}])

    result = ratchet("validate", "--from-fs", str(path), cwd=cli_cwd)

    assert result.returncode == 1
    (line,) = stderr_lines(result)
    assert line.startswith("ValidationError:") and "no name" in line


# -- test ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_test_command_passes_the_examples(cli_cwd, name):
    result = ratchet("test", "--from-fs", str(EXAMPLES / name), cwd=cli_cwd)

    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1] == "2 passed, 0 failed"
    assert all(line.startswith("PASS ") for line in lines[:-1]) and len(lines) == 3


def test_test_command_fails_with_a_diff(make_task, cli_cwd):
    path = make_task(
        (EXAMPLES / "hello" / "main.js").read_text(),
        tests=[
            {"name": "right", "input": {"name": "A"}, "expected_output": {"greeting": "Hello, A!"}},
            {"name": "wrong", "input": {"name": "B"}, "expected_output": {"greeting": "Bye, B!", "n": 1}},
        ],
    )

    result = ratchet("test", "--from-fs", str(path), cwd=cli_cwd)

    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "PASS right"
    assert lines[1] == 'FAIL wrong: $.greeting: expected "Bye, B!", got "Hello, B!"'
    assert lines[2].strip() == "$.n: missing (expected 1)"
    assert lines[-1] == "1 passed, 1 failed"


def test_test_command_verbose_shows_every_difference(make_task, cli_cwd):
    path = make_task("(x) => ({ a: 1, b: 2, c: 3 })",
                     tests=[{"name": "all wrong", "input": {}, "expected_output": {"a": 0, "b": 0, "c": 0}}])

    result = ratchet("test", "--from-fs", str(path), "--verbose", cwd=cli_cwd)

    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "FAIL all wrong: $.a: expected 0, got 1"
    assert [line.strip() for line in lines[1:-1]] == [
        "$.a: expected 0, got 1", "$.b: expected 0, got 2", "$.c: expected 0, got 3",
    ]
    assert lines[-1] == "0 passed, 1 failed"


# -- generate ------------------------------------------------------------------------------------------
def test_generated_task_validates_and_passes_its_test(cli_cwd, tmp_path):
    target = tmp_path / "new-task"

    created = ratchet("generate", "task", "--path", str(target), "--label", "my new task", cwd=cli_cwd)
    validated = ratchet("validate", "--from-fs", str(target), cwd=cli_cwd)
    tested = ratchet("test", "--from-fs", str(target), cwd=cli_cwd)
    ran = ratchet("run-once", "--from-fs", str(target), "--input-json", '{"name": "Gen"}', cwd=cli_cwd)

    assert created.returncode == 0, created.stderr
    assert str(target) in created.stdout
    assert {p.name for p in target.iterdir()} == {"metadata.json", "main.js", "input.schema.json", "output.schema.json", "tests"}
    assert json.loads((target / "metadata.json").read_text())["label"] == "my new task"
    assert validated.returncode == 0, validated.stderr
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert tested.stdout.splitlines()[-1] == "1 passed, 0 failed"
    assert json.loads(ran.stdout) == {"message": "Hello, Gen!"}


def test_generate_refuses_a_non_empty_directory(cli_cwd, tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "file.txt").write_text("x")

    result = ratchet("generate", "task", "--path", str(tmp_path / "full"), "--label", "x", cwd=cli_cwd)

    assert result.returncode == 1
    (line,) = stderr_lines(result)
    assert line.startswith("TaskError:")


# -- help and usage ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "command",
    [[], ["run-once"], ["validate"], ["test"], ["generate"], ["generate", "task"]],
    ids=lambda c: " ".join(c) or "top level",
)
def test_help_works_for_each_command(cli_cwd, command):
    result = ratchet(*command, "--help", cwd=cli_cwd)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: ratchet")
    assert result.stderr == ""


def test_help_lists_the_commands_and_config_help_the_options(cli_cwd):
    top = ratchet("--help", cwd=cli_cwd).stdout
    config = ratchet("--help-config", cwd=cli_cwd)

    for command in ("run-once", "validate", "test", "generate"):
        assert command in top
    assert config.returncode == 0
    assert "--ExecutionConfig.max_duration" in config.stdout
    assert "--HttpConfig.allowed_hosts" in config.stdout


def test_missing_required_argument_is_a_usage_error(cli_cwd):
    result = ratchet("run-once", cwd=cli_cwd)

    assert result.returncode == 2
    assert "UsageError:" in result.stderr and "--from-fs" in result.stderr


def test_version(cli_cwd):
    from ratchet_jupyter import __version__

    result = ratchet("--version", cwd=cli_cwd)

    assert result.returncode == 0
    assert result.stdout.strip() == __version__


@pytest.mark.parametrize("option, message", [
    ("--ExecutionConfg.max_duration=1", "unknown configuration class 'ExecutionConfg'; did you mean ExecutionConfig?"),
    ("--ExecutionConfig.max_duraton=1", "ExecutionConfig has no option 'max_duraton'; did you mean ExecutionConfig.max_duration?"),
])
def test_a_mistyped_config_option_is_one_line_naming_the_closest_name(cli_cwd, option, message):
    result = ratchet("run-once", "--from-fs", HELLO, option, cwd=cli_cwd)
    assert result.returncode == 1 and result.stdout == ""
    assert stderr_lines(result) == [f"ConfigError: command line: {message}"]
