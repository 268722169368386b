"""The IPython magics, driven through a real InteractiveShell (one per test, nothing shared)."""

from __future__ import annotations

import atexit
import json
import subprocess
import sys
import textwrap
import time

import pandas as pd
import pytest
from conftest import EXAMPLES, REPO_ROOT, build_config, subprocess_env
from IPython.core.completer import provisionalcompleter
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from traitlets.config import Config

import ratchet_jupyter
from ratchet_jupyter import JSRuntimeError, TaskSyntaxError, TimeoutError, ValidationError
from ratchet_jupyter.core.execution import Execution
from ratchet_jupyter.notebook import RatchetMagics, find_magics, load_ipython_extension, unload_ipython_extension
from ratchet_jupyter.services import Services, get_services, set_services

pytestmark = pytest.mark.timeout(60)

HELLO = """\
(function (input) {
  console.log("greeting", input.name);
  return { greeting: "Hello, " + input.name + "!" };
})"""


# -- fixtures -------------------------------------------------------------------------------------
@pytest.fixture
def services(tmp_path):
    """Services on a DuckDB file in tmp_path with one worker process, closed after the test."""
    made = Services(config=build_config("process", 1, StorageConfig={"path": str(tmp_path / "history.duckdb")}))
    yield made
    made.close()


@pytest.fixture
def bare_shell(tmp_path):
    """A fresh InteractiveShell (no extension loaded), its history in memory, its profile in tmp_path."""
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell(config=config, ipython_dir=str(tmp_path / "ipython"))
    yield shell
    atexit.unregister(shell.atexit_operations)
    InteractiveShell.clear_instance()


@pytest.fixture
def shell(bare_shell, services):
    """The shell with the magics loaded on the test's own services."""
    load_ipython_extension(bare_shell, services=services)
    yield bare_shell
    unload_ipython_extension(bare_shell)


class Ran:
    """A cell's result with what it printed."""

    def __init__(self, result, captured) -> None:
        self.result = result
        self.value = result.result
        self.error = result.error_in_exec or result.error_before_exec
        self.stdout = captured.stdout
        self.stderr = captured.stderr
        self.output = captured.stdout + captured.stderr


def run(shell, source: str, ok: bool = True) -> Ran:
    """Run a cell; with ``ok`` re-raise any error it had."""
    with capture_output() as captured:
        result = shell.run_cell(textwrap.dedent(source))
    if ok:
        result.raise_error()
    return Ran(result, captured)


def fails(shell, source: str) -> Ran:
    ran = run(shell, source, ok=False)
    assert ran.error is not None, ran.output
    return ran


def bundle(value) -> dict:
    data = value._repr_mimebundle_()
    return data[0] if isinstance(data, tuple) else data


def assert_no_library_traceback(ran: Ran) -> None:
    assert "Traceback" not in ran.output
    assert "ratchet_jupyter" not in ran.output and ".py" not in ran.output


# -- defining and running -------------------------------------------------------------------------
def test_a_cell_defines_runs_and_stores_the_output(shell, services):
    # When a cell defines a task and gives an input
    ran = run(shell, f'%%ratchet hello --input {{"name": "World"}} -o out\n{HELLO}')

    # Then the output is in the variable, the console output was printed and the cell shows it richly
    assert shell.user_ns["out"] == {"greeting": "Hello, World!"}
    assert "[info] greeting World" in ran.stdout
    data, metadata = ran.value._repr_mimebundle_()
    assert data["application/json"] == {"greeting": "Hello, World!"}
    assert json.loads(data["text/plain"]) == {"greeting": "Hello, World!"}
    assert "<details" in data["text/html"] and "Hello, World!" in data["text/html"]
    assert metadata["application/json"]["root"] == "hello"
    formatted, _ = shell.display_formatter.format(ran.value)
    assert set(formatted) >= {"text/plain", "text/html", "application/json"}
    # And the run was recorded, and the task stored
    assert services.history(task="hello")["status"].tolist() == ["success"]
    assert [s.version for s in services.storage.tasks.versions("hello")] == ["1.0.0"]


def test_a_cell_without_input_only_defines(shell):
    ran = run(shell, f"%%ratchet hello --description 'Says hello'\n{HELLO}")

    magics = find_magics(shell)
    assert magics.tasks["hello"].description == "Says hello"
    assert "hello 1.0.0: defined" in bundle(ran.value)["text/plain"]
    assert "[info]" not in ran.stdout  # nothing ran


def test_show_logs_can_be_turned_off_with_config(shell):
    run(shell, "%config RatchetMagics.show_logs = False")
    ran = run(shell, f'%%ratchet hello --input {{"name": "x"}}\n{HELLO}')
    assert ran.stdout.count("[info]") == 0


def test_redefining_with_other_code_makes_a_new_version(shell, services):
    # Given a task defined once
    run(shell, f"%%ratchet hello\n{HELLO}")

    # When the same cell runs again, and then with changed code
    same = run(shell, f"%%ratchet hello\n{HELLO}")
    changed = run(shell, "%%ratchet hello\n(function (input) { return { greeting: 'Hi' }; })")

    # Then the unchanged code keeps its version and the change gets the next patch version
    assert "hello 1.0.0" in bundle(same.value)["text/plain"]
    assert "hello 1.0.1: new version (was 1.0.0)" in bundle(changed.value)["text/plain"]
    assert run(shell, '%ratchet run hello -o out').error is None
    assert shell.user_ns["out"] == {"greeting": "Hi"}
    # And both versions stay in the store; an explicit --version wins
    run(shell, "%%ratchet hello --version 2.0.0\n(function () { return { greeting: 'Yo' }; })")
    assert sorted(s.version for s in services.storage.tasks.versions("hello")) == ["1.0.0", "1.0.1", "2.0.0"]
    shown = run(shell, "%ratchet show hello --version 1.0.0")
    assert "console.log" in bundle(shown.value)["text/plain"]


def test_a_list_variable_runs_a_batch_where_a_bad_item_fails_alone(shell):
    # Given a list of inputs, one of which breaks the input schema
    shell.user_ns["rows"] = [{"n": 1}, {"n": 2}, {"n": "three"}]
    schema = '{"type": "object", "properties": {"n": {"type": "integer"}}}'

    ran = run(shell, f"""\
        %%ratchet double --input rows --input-schema {schema} -o executions
        (function (input) {{ return {{ doubled: input.n * 2, seen: true }}; }})
        """)

    # Then the result is a DataFrame of inputs, flattened outputs, status, error and duration
    frame = ran.value.frame
    assert list(frame.columns) == ["n", "output.doubled", "output.seen", "status", "error", "duration_ms"]
    assert frame["status"].tolist() == ["success", "success", "failed"]
    assert frame["output.doubled"].tolist()[:2] == [2, 4]
    assert frame["error"].iloc[2].startswith("ValidationError: input $.n")
    assert "2 succeeded, 1 failed" in bundle(ran.value)["text/plain"]
    # And -o holds the executions
    executions = shell.user_ns["executions"]
    assert [type(e) for e in executions] == [Execution] * 3 and executions[0].output == {"doubled": 2, "seen": True}


def test_a_dataframe_runs_a_batch_shown_up_to_the_display_limit(shell):
    # Given a DataFrame with a custom index, a missing value and numpy numbers
    shell.user_ns["people"] = pd.DataFrame(
        {"name": ["Ada", "Bob", None], "age": [36, 41, 7]}, index=["a", "b", "c"]
    )
    run(shell, "%config RatchetMagics.display_limit = 2")

    ran = run(shell, """\
        %%ratchet greet --input people
        (function (input) { return { text: (input.name || "nobody") + " " + input.age, adult: input.age >= 18 }; })
        """)

    frame = ran.value.frame
    assert list(frame.index) == ["a", "b", "c"]
    assert list(frame.columns) == ["name", "age", "output.text", "output.adult", "status", "error", "duration_ms"]
    assert frame["output.text"].tolist() == ["Ada 36", "Bob 41", "nobody 7"]
    assert frame["output.adult"].tolist() == [True, True, False]
    text = bundle(ran.value)["text/plain"]
    assert "first 2 rows shown" in text and "nobody 7" not in text
    assert "<table" in bundle(ran.value)["text/html"]


# -- errors -------------------------------------------------------------------------------------------
def test_a_js_error_shows_the_cells_line_numbers_and_no_python_traceback(shell):
    ran = fails(shell, """\
        %%ratchet thrower --input {}
        (function (input) {
          const x = 1;
          throw new TypeError("bad value " + x);
        })
        """)

    assert isinstance(ran.error, JSRuntimeError)
    assert "TypeError: bad value 1" in ran.output
    assert "thrower/main.js:3:" in ran.output  # the cell's line 3
    assert '> 3 |   throw new TypeError("bad value " + x);' in ran.output
    assert_no_library_traceback(ran)


def test_a_schema_violation_names_the_json_path_and_shows_the_value(shell):
    ran = fails(shell, """\
        %%ratchet items --input {"items": [{"id": 1}, {"id": "two"}]} --input-schema {"type": "object", "properties": {"items": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "integer"}}}}}}
        (function (input) { return input; })
        """)

    assert isinstance(ran.error, ValidationError)
    assert "path:  $.items[1].id" in ran.output
    assert 'value: "two"' in ran.output
    assert_no_library_traceback(ran)


def test_a_syntax_error_is_reported_at_definition_with_its_line(shell):
    ran = fails(shell, "%%ratchet broken\n(function (input) {\n  return { a: 1 ;\n})")

    assert isinstance(ran.error, TaskSyntaxError)
    assert "broken/main.js:2:" in ran.output and "> 2 |   return { a: 1 ;" in ran.output
    assert "broken" not in find_magics(shell).tasks
    assert_no_library_traceback(ran)


def test_a_library_bug_still_shows_its_traceback(shell, services, monkeypatch):
    run(shell, f"%%ratchet hello\n{HELLO}")

    def broken(*args, **kwargs):
        raise RuntimeError("a bug in the library")

    monkeypatch.setattr(services.runtime, "run", broken)
    ran = fails(shell, "%ratchet run hello")

    assert isinstance(ran.error, RuntimeError)
    assert "Traceback" in ran.output and "a bug in the library" in ran.output


def test_config_of_the_runtime_is_reachable_with_percent_config(shell, services):
    # When the time limit is set from the kernel
    run(shell, "%config ExecutionConfig.max_duration = 1")

    # Then the services' runtime has it, %ratchet config shows it, and a runaway task stops in time
    assert services.runtime.execution.max_duration == 1.0
    assert run(shell, "%ratchet config").value.value("ExecutionConfig", "max_duration") == 1.0
    started = time.monotonic()
    ran = fails(shell, "%%ratchet spin --input {}\n(function () { while (true) {} })")
    assert time.monotonic() - started < 3
    assert isinstance(ran.error, TimeoutError)
    assert_no_library_traceback(ran)


# -- sub-commands -----------------------------------------------------------------------------------------
def test_run_takes_json_or_a_variable(shell):
    run(shell, f"%%ratchet hello\n{HELLO}")
    shell.user_ns["payload"] = {"name": "Var"}

    run(shell, "%ratchet run hello --input payload -o a")
    run(shell, "%ratchet run hello --input '{\"name\": \"Quoted\"}' -o b")
    run(shell, '%ratchet run hello --input={"name": "Eq"} -o c --timeout 5 --no-validate')

    assert [shell.user_ns[v]["greeting"] for v in "abc"] == ["Hello, Var!", "Hello, Quoted!", "Hello, Eq!"]


def test_list_show_history_and_sql(shell):
    run(shell, f"%%ratchet hello --description 'Says hello'\n{HELLO}")
    run(shell, '%ratchet run hello --input {"name": "A"}')
    run(shell, '%ratchet run hello --input [{"name": "B"}, {"name": "C"}]')

    listed = run(shell, "%ratchet list").value
    assert listed[["name", "version", "description"]].values.tolist() == [["hello", "1.0.0", "Says hello"]]
    stored = run(shell, "%ratchet list --stored").value
    assert stored["name"].tolist() == ["hello"]

    shown = bundle(run(shell, "%ratchet show hello").value)
    assert "1 | (function (input) {" in shown["text/plain"] and "main.js" in shown["text/html"]

    history = run(shell, "%ratchet history hello --limit 2").value
    assert isinstance(history, pd.DataFrame) and len(history) == 2
    assert len(run(shell, "%ratchet history").value) == 3

    counts = run(shell, "%ratchet sql SELECT status, count(*) AS n FROM executions GROUP BY status").value
    assert counts.set_index("status")["n"].to_dict() == {"success": 3}


def test_load_an_example_task_and_run_its_tests(shell):
    ran = run(shell, f"%ratchet load {EXAMPLES / 'hello'}")
    assert "hello 1.0.0: loaded from" in bundle(ran.value)["text/plain"]

    report = run(shell, "%ratchet test hello").value

    assert report.report.passed == 2 and report.report.failed == 0
    assert "2 passed, 0 failed" in bundle(report)["text/plain"]


def test_ratchet_test_cells_attach_cases_that_test_runs(shell):
    # Given a task that calls an API, and two cases (one with a mocked response, one that fails)
    run(shell, """\
        %%ratchet user
        (function (input) {
          const response = fetch("https://api.example.com/users/" + input.login);
          return { name: response.body.name, login: input.login };
        })
        """)
    cases = """\
        %%ratchet_test user
        [
          {"name": "known", "input": {"login": "octo"},
           "mock": {"http": {"url": "/users/octo", "method": "GET",
                             "response": {"ok": true, "status": 200, "statusText": "OK", "body": {"name": "Octo"}}}},
           "expected_output": {"name": "Octo", "login": "octo"}},
          {"name": "wrong", "input": {"login": "cat"},
           "mock": {"http": {"url": "/users/cat", "response": {"ok": true, "status": 200, "body": {"name": "Cat"}}}},
           "expected_output": {"name": "Dog", "login": "cat"}}
        ]
        """
    added = run(shell, cases)
    assert "2 test case(s), 2 added" in added.stdout
    assert "0 added" in run(shell, cases).stdout  # running the cell again adds nothing

    # When the tests run
    view = run(shell, "%ratchet test user").value

    # Then one passes, one fails with its difference, as text and as an HTML table
    assert [r.passed for r in view.report] == [True, False]
    data = bundle(view)
    assert "PASS known" in data["text/plain"] and "FAIL wrong" in data["text/plain"]
    assert '$.name: expected "Dog", got "Cat"' in data["text/plain"]
    assert "<table" in data["text/html"] and "FAIL" in data["text/html"]
    # And the cases survive a redefinition, and --replace replaces them
    run(shell, "%%ratchet user\n(function (input) { return { name: 'Octo', login: input.login }; })")
    assert len(find_magics(shell).tasks["user"].tests) == 2
    run(shell, '%%ratchet_test user --replace\n{"input": {"login": "x"}, "expected_output": {"name": "Octo", "login": "x"}}')
    assert run(shell, "%ratchet test user").value.report.summary_line() == "1 passed, 0 failed"


def test_bad_json_in_a_test_cell_names_line_and_column(shell):
    run(shell, f"%%ratchet hello\n{HELLO}")

    ran = fails(shell, '%%ratchet_test hello\n{"input": {},\n "expected_output": {"a": 1,}}')

    assert isinstance(ran.error, UsageError)
    assert "line 2 column" in str(ran.error)
    bad_case = fails(shell, '%%ratchet_test hello\n{"expected_output": {}}')
    assert "needs an 'input'" in bad_case.output
    assert_no_library_traceback(bad_case)


def test_saved_tasks_pass_the_command_line_validate_and_test(shell, tmp_path):
    # Given a task with a schema and a test case, defined in the notebook
    run(shell, f"""\
        %%ratchet hello --input-schema {{"type": "object", "properties": {{"name": {{"type": "string"}}}}}}
        {HELLO}
        """)
    run(shell, '%%ratchet_test hello\n{"name": "world", "input": {"name": "World"}, "expected_output": {"greeting": "Hello, World!"}}')

    # When it is saved
    target = tmp_path / "saved-hello"
    ran = run(shell, f"%ratchet save hello {target}")
    assert "saved hello 1.0.0 with 1 test case(s)" in ran.stdout

    # Then the ratchet command accepts it
    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "ratchet_jupyter", *args, "--from-fs", str(target), "--ExecutionConfig.worker_count=1"],
            capture_output=True, text=True, timeout=60, env=subprocess_env(), cwd=REPO_ROOT,
        )

    validated, tested = cli("validate"), cli("test")
    assert validated.returncode == 0, validated.stderr
    assert "hello 1.0.0: valid (1 test case(s))" in validated.stdout
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "1 passed, 0 failed" in tested.stdout
    assert json.loads((target / "input.schema.json").read_text())["properties"]["name"]["type"] == "string"


# -- help, usage, completion ------------------------------------------------------------------------------
def test_ratchet_alone_prints_help(shell):
    ran = run(shell, "%ratchet")
    assert "%%ratchet NAME" in ran.stdout and "%ratchet history" in ran.stdout and "%ratchet sql" in ran.stdout

    assert "usage: %ratchet run" in run(shell, "%ratchet help run").stdout
    cell_help = run(shell, "%%ratchet --help\n(x) => x").stdout
    assert cell_help.startswith("usage: %%ratchet [-h]")
    assert "--input-schema" in cell_help
    assert "--limit" in run(shell, "%ratchet history --help").stdout


@pytest.mark.parametrize(
    "source, words",
    [
        ("%ratchet nope", "unknown sub-command"),
        ("%ratchet run", "required"),
        ("%ratchet run nosuchtask", "no task 'nosuchtask'"),
        ("%ratchet run hello --timeout -1", "--timeout"),
        ("%ratchet run hello --input {broken", "--input"),
        ("%ratchet run hello --input missing_variable", "neither JSON nor a variable"),
        ("%ratchet run hello -o 1bad", "not a valid Python variable name"),
        ("%ratchet history --limit 0", "--limit"),
        ("%ratchet run hello --input 'unterminated", "unterminated quote"),
        ("%ratchet sql", "give a query"),
        ("%%ratchet\n(x) => x", "required"),
        ("%%ratchet hello -o out\n(x) => x", "-o VAR"),
        ("%%ratchet_test nosuchtask\n{}", "no task"),
    ],
)
def test_bad_usage_is_a_usage_error_never_system_exit(shell, source, words):
    run(shell, f"%%ratchet hello\n{HELLO}")

    ran = fails(shell, source)

    assert isinstance(ran.error, UsageError), repr(ran.error)
    assert words in str(ran.error)
    assert "UsageError" in ran.stderr and "Traceback" not in ran.output


def test_completion_offers_sub_commands_task_names_and_options(shell):
    run(shell, f"%%ratchet hello\n{HELLO}")
    run(shell, f"%%ratchet help_me\n{HELLO}")
    magics = find_magics(shell)

    # The completer function itself
    assert magics.completions("%ratchet ") == list(ratchet_jupyter.notebook.SUBCOMMANDS)
    assert magics.completions("%ratchet h") == ["history", "help"]
    assert magics.completions("%ratchet run ") == ["hello", "help_me"]
    assert magics.completions("%ratchet test hel") == ["hello", "help_me"]
    assert magics.completions("%%ratchet he") == ["hello", "help_me"]
    assert magics.completions("%%ratchet_test h") == ["hello", "help_me"]
    assert magics.completions("%ratchet run hello --ti") == ["--timeout"]
    assert magics.completions("%ratchet help ru") == ["run"]
    assert magics.completions("%ratchet load ") is None  # IPython completes the path
    assert magics.completions("%ratchet sql SEL") == []

    # And through IPython's completer
    def complete(line: str) -> list[str]:
        with provisionalcompleter():
            return [c.text for c in shell.Completer.completions(line, len(line))]

    assert complete("%ratchet te") == ["test"]
    assert complete("%ratchet show hello_") == []
    assert complete("%ratchet show help") == ["help_me"]


# -- loading the extension ------------------------------------------------------------------------------------
def test_the_extension_registers_magics_configurables_and_unloads_cleanly(bare_shell, services):
    magics = load_ipython_extension(bare_shell, services=services)
    assert load_ipython_extension(bare_shell, services=services) is magics  # loading twice: same magics
    assert isinstance(magics, RatchetMagics)
    names = {type(c).__name__ for c in bare_shell.configurables}
    assert {"RatchetMagics", "Runtime", "ExecutionConfig", "ValidationConfig", "StorageConfig"} <= names
    config_listing = run(bare_shell, "%config").stdout
    assert "ExecutionConfig" in config_listing and "RatchetMagics" in config_listing

    unload_ipython_extension(bare_shell)

    assert find_magics(bare_shell) is None
    assert "ratchet" not in bare_shell.magics_manager.magics["line"]
    assert "ratchet_test" not in bare_shell.magics_manager.magics["cell"]
    assert not {"ExecutionConfig", "StorageConfig"} & {type(c).__name__ for c in bare_shell.configurables}
    assert "%ratchet" not in bare_shell.strdispatchers["complete_command"].strs
    assert services.runtime.run(ratchet_jupyter.Task("t", "(x) => x"), 1).output == 1  # not closed: not ours


def test_load_extension_builds_session_services_from_the_shell_config(bare_shell, tmp_path):
    # Given no process-wide services, and a kernel configured for a history file of its own
    previous = set_services(None)
    path = tmp_path / "kernel-history.duckdb"
    bare_shell.config.StorageConfig.path = str(path)
    bare_shell.config.ExecutionConfig.worker_count = 1
    bare_shell.config.RatchetMagics.display_limit = 7
    try:
        # When the extension is loaded by name
        bare_shell.extension_manager.load_extension("ratchet_jupyter.notebook")
        services = get_services()
        magics = find_magics(bare_shell)

        # Then the process-wide services were built with that config and the magics use them
        assert magics.services is services and magics.display_limit == 7
        assert services.storage.settings.resolved_path() == str(path)
        run(bare_shell, f'%%ratchet hello --input {{"name": "K"}}\n{HELLO}')
        assert services.history(task="hello")["status"].tolist() == ["success"]

        # And unloading closes them and forgets them
        bare_shell.extension_manager.unload_extension("ratchet_jupyter.notebook")
        assert set_services(None) is None
    finally:
        set_services(previous)


def test_load_ext_ratchet_jupyter(bare_shell, services):
    previous = set_services(services)
    try:
        run(bare_shell, "%load_ext ratchet_jupyter")
        assert find_magics(bare_shell).services is services
        run(bare_shell, "%unload_ext ratchet_jupyter")
        assert find_magics(bare_shell) is None
    finally:
        set_services(previous)


def test_load_a_zipped_task_and_run_it(shell, tmp_path):
    import shutil

    archive = shutil.make_archive(str(tmp_path / "word-stats"), "zip", root_dir=EXAMPLES, base_dir="word-stats")

    run(shell, f"%ratchet load {archive}")
    ran = run(shell, '%ratchet run word-stats --input {"text": "one two three"} -o stats')

    assert shell.user_ns["stats"]["count"] == 3
    assert bundle(ran.value)["application/json"]["longest"] == "three"
