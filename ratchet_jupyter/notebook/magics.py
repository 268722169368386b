"""The ``%ratchet``, ``%%ratchet`` and ``%%ratchet_test`` magics.

Each magic parses its line, calls the services, and returns a display object;
``%ratchet <sub>`` goes through :data:`SUBCOMMANDS`, one small method per
sub-command. Bad arguments are a ``UsageError``; a failing task shows a short
error in the task's own terms (see :mod:`.errors`), never a library traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import contextlib
import sys
from typing import Any, Callable

from IPython.core.error import TryNext, UsageError
from IPython.core.magic import Magics, cell_magic, line_cell_magic, magics_class
from traitlets import Bool, Int
from traitlets.config import Configurable

from ..core.errors import RatchetError
from ..core.testcase import TestCase
from ..listing import registry_tasks
from . import admin
from .arguments import (
    Command, CommandTable, arg, at_least_one, batch_inputs, json_or_variable, parse, positive_seconds, variable_name,
)
from .display import BatchView, ConfigView, ExecutionView, TaskView, TestReportView, batch_frame
from .errors import short_error
from .progress import ProgressDisplay
from .tasks import NotebookTasks


#: The routing table of ``%ratchet <sub>``: one method per sub-command, declared below.
SUBCOMMANDS = CommandTable()
subcommand = SUBCOMMANDS.register

_NAME = arg("name", metavar="NAME", help="the task's name")
_RUN_OPTIONS = (
    arg("--input", metavar="JSON|VAR", help="""the input: JSON, or the name of a variable holding a dict, a list
         of inputs or a DataFrame (a list or DataFrame runs a batch)"""),
    arg("-o", dest="output_var", metavar="VAR", help="store the output (a batch: the list of executions) in VAR"),
    arg("--timeout", type=positive_seconds, metavar="SECONDS", help="time limit of each execution"),
    arg("--no-validate", action="store_true", help="do not check inputs and outputs against the schemas"),
    arg("--output", dest="outputs", action="append", metavar="DEST",
        help="deliver the output to this destination of OutputConfig.destinations (repeatable)"),
)
_DEFINE = Command(
    "", "Define a task from the cell (its main.js); run it when --input is given.", None,
    (
        _NAME, *_RUN_OPTIONS,
        arg("--input-schema", metavar="JSON|VAR", help="JSON Schema of the input"),
        arg("--output-schema", metavar="JSON|VAR", help="JSON Schema of the output"),
        arg("--version", help="the version (default: 1.0.0, or the next patch version when the code changed)"),
        arg("--description", help="what the task does"),
    ),
    completes=("task",),
    prog="%%ratchet",
)
_TESTS = Command(
    "", "Attach test cases (JSON in Ratchet's tests/*.json format, one or a list) to a task.", None,
    (_NAME, arg("--replace", action="store_true", help="replace the task's test cases instead of adding to them")),
    completes=("task",),
    prog="%%ratchet_test",
)
_COMPLETER_KEYS = ("%ratchet", "%%ratchet", "%%ratchet_test")


def _starting(options: Any, prefix: str) -> list[str]:
    return [option for option in options if option.startswith(prefix)]


@magics_class
class RatchetMagics(Magics, Configurable):
    """Define, run and test Ratchet tasks in notebook cells.

    Parameters
    ----------
    shell
        The IPython shell.
    services
        The :class:`~ratchet_jupyter.services.Services` to use (default: the process-wide ones).

    Set traits with ``%config RatchetMagics.display_limit = 50`` or in ``ipython_config.py``.
    """

    display_limit = Int(
        20, help="Rows of a batch's result shown in the cell's output (every row stays in the result's .frame)."
    ).tag(config=True)
    show_logs = Bool(
        True, help="Print what a single run wrote with console.log/info (stdout) and console.warn/error (stderr)."
    ).tag(config=True)
    auto_version = Bool(
        True,
        help="""When %%ratchet redefines a task with changed code or schemas and no --version, give it the
        next patch version (every version stays in the task store).""",
    ).tag(config=True)
    check_on_define = Bool(
        True, help="Check a task's JavaScript syntax and schemas when %%ratchet defines it or %ratchet load loads it."
    ).tag(config=True)
    history_limit = Int(20, help="Rows %ratchet history returns when no --limit is given.").tag(config=True)
    progress = Bool(
        True,
        help="""Show the progress of a batch, and of a single run whose task calls reportProgress, with the
        elapsed time: a progress bar in a notebook with ipywidgets, text lines otherwise.""",
    ).tag(config=True)

    def __init__(self, shell: Any = None, services: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        if services is None:
            from ..services import get_services

            services = get_services()
        self.services = services
        self.tasks = NotebookTasks(services)

    def service_configurables(self) -> list[Configurable]:
        """The runtime's and storage's configurables (what ``%config`` and ``%ratchet config`` reach)."""
        runtime = self.services.runtime
        return [runtime, runtime.execution, runtime.validation, runtime.retry, runtime.http, self.services.storage.settings]

    # -- the magics -------------------------------------------------------------------------
    @line_cell_magic
    def ratchet(self, line: str, cell: str | None = None) -> Any:
        """Ratchet tasks in notebooks.

        %%ratchet NAME [--input JSON|VAR] [-o VAR] [--input-schema ...] [--output-schema ...]
            defines the task NAME from the cell's JavaScript (runs it when --input is given).
        %ratchet SUB ... : run, test, list, show, history, form, sql, load, save, config, help,
            plugins, sources, outputs.
        %ratchet alone lists the sub-commands.
        """
        if cell is not None:
            args = parse(_DEFINE.parser(), line)
            return None if args is None else self._guarded(self._define, args, cell)
        words = line.split(None, 1)
        if not words:
            return self._help(None)
        sub, rest = words[0], words[1] if len(words) > 1 else ""
        command = SUBCOMMANDS.get(sub)
        if command is None:
            raise UsageError(f"%ratchet: unknown sub-command {sub!r}; use one of: {', '.join(SUBCOMMANDS)}")
        args = rest.strip() if command.raw else parse(command.parser(), rest)
        return None if args is None else self._guarded(command.func, self, args)

    @cell_magic
    def ratchet_test(self, line: str, cell: str) -> None:
        """%%ratchet_test NAME [--replace]: attach the cell's test case(s) (JSON) to the task NAME."""
        args = parse(_TESTS.parser(), line)
        if args is not None:
            self._guarded(self._add_tests, args, cell)

    # -- cells ----------------------------------------------------------------------------------
    def _define(self, args: argparse.Namespace, cell: str) -> Any:
        variable_name(args.output_var, "-o")
        if args.output_var and args.input is None:
            raise UsageError("-o VAR stores the output of a run: give --input too")
        namespace = self.shell.user_ns
        input_schema = json_or_variable(args.input_schema, namespace, "--input-schema")
        output_schema = json_or_variable(args.output_schema, namespace, "--output-schema")
        try:
            task, previous = self.tasks.define(
                args.name, cell, input_schema=input_schema, output_schema=output_schema, version=args.version,
                description=args.description, auto_version=self.auto_version, check=self.check_on_define,
            )
        except RatchetError as exc:  # the cell's code is not registered yet: show its lines here
            raise short_error(exc, cell, self._color)
        if args.input is None:
            if previous is None:
                note = "defined"
            elif previous.version != task.version:
                note = f"new version (was {previous.version})"
            else:
                note = "redefined"
            return TaskView(task, note)
        return self._run_task(task, args)

    def _add_tests(self, args: argparse.Namespace, cell: str) -> None:
        self._task(args.name)
        try:
            data = json.loads(cell)
        except json.JSONDecodeError as exc:
            raise UsageError(
                f"%%ratchet_test {args.name}: the cell is not valid JSON: {exc.msg} "
                f"at line {exc.lineno} column {exc.colno}"
            ) from None
        documents = data if isinstance(data, list) else [data]
        cases = [
            TestCase.from_json(doc, where=f"%%ratchet_test {args.name}, case {index}")
            for index, doc in enumerate(documents, 1)
        ]
        task, added = self.tasks.add_tests(args.name, cases, replace_all=args.replace)
        print(f"{task.name} {task.version}: {len(task.tests)} test case(s), {added} added")

    # -- sub-commands ---------------------------------------------------------------------------
    @subcommand("run", "Run a task once, or over a batch (a list or a DataFrame).", _NAME, *_RUN_OPTIONS,
                completes=("task",))
    def _run(self, args: argparse.Namespace) -> Any:
        return self._run_task(self._task(args.name), args)

    @subcommand("test", "Run a task's test cases; show PASS/FAIL and the differences.", _NAME, completes=("task",))
    def _test(self, args: argparse.Namespace) -> TestReportView:
        return TestReportView(self.services.runtime.test(self._task(args.name)))

    @subcommand("list", "The tasks of this notebook (--stored: every stored version; --registry: the sources').",
                arg("--stored", action="store_true", help="list every version in the task store"),
                arg("--registry", action="store_true", help="list the tasks of the task sources (RegistryConfig)"))
    def _list(self, args: argparse.Namespace) -> Any:
        import pandas as pd

        if args.registry:
            return registry_tasks(self.services)
        if args.stored:
            rows = [
                {"name": s.name, "version": s.version, "hash": s.content_hash[:12], "tests": len(s.tests or []),
                 "source": s.source, "created_at": s.created_at}
                for s in self.tasks.versions()
            ]
            return pd.DataFrame(rows, columns=["name", "version", "hash", "tests", "source", "created_at"])
        rows = [
            {"name": t.name, "version": t.version, "tests": len(t.tests), "description": t.description, "source": t.source}
            for t in self.tasks.values()
        ]
        return pd.DataFrame(rows, columns=["name", "version", "tests", "description", "source"])

    @subcommand("show", "A task's code (with line numbers), schemas, tests and metadata.", _NAME,
                arg("--version", help="a stored version (default: the current one)"), completes=("task",))
    def _show(self, args: argparse.Namespace) -> TaskView:
        return TaskView(self._task(args.name, args.version), detail=True)

    @subcommand("history", "Recorded executions, newest first (a DataFrame).",
                arg("name", nargs="?", metavar="NAME", help="only this task"),
                arg("--status", choices=["success", "failed", "timeout", "cancelled"], help="only this status"),
                arg("--since", metavar="TIME", help="only executions started at or after TIME (ISO 8601)"),
                arg("--limit", type=at_least_one, metavar="N", help="at most N rows (default: RatchetMagics.history_limit)"),
                completes=("task",))
    def _history(self, args: argparse.Namespace) -> Any:
        limit = args.limit or self.history_limit
        return self.services.history(task=args.name, status=args.status, since=args.since, limit=limit)

    @subcommand("form", "A form for the task's input with a Run button (an ipywidgets widget).", _NAME,
                completes=("task",))
    def _form(self, args: argparse.Namespace) -> Any:
        from ..widgets import TaskForm  # ipywidgets is needed by this sub-command only

        return TaskForm(self._task(args.name), services=self.services)

    @subcommand("sql", "Read-only SQL over the history (tables executions and tasks); a DataFrame.", raw=True)
    def _sql(self, text: str) -> Any:
        if not text:
            raise UsageError("%ratchet sql: give a query, e.g. %ratchet sql SELECT status, count(*) FROM executions GROUP BY 1")
        return self.services.sql(text)

    @subcommand("load", "Load a Ratchet task directory or zip and make it this notebook's version of its name.",
                arg("path", metavar="PATH", help="task directory or .zip"), completes=("path",))
    def _load(self, args: argparse.Namespace) -> TaskView:
        task = self.tasks.load(os.path.expanduser(args.path), check=self.check_on_define)
        return TaskView(task, f"loaded from {args.path}")

    @subcommand("save", "Write a task (with its test cases) as a Ratchet task directory.", _NAME,
                arg("directory", metavar="DIR", help="the directory to write"), completes=("task", "path"))
    def _save(self, args: argparse.Namespace) -> None:
        task = self._task(args.name)
        path = task.save(os.path.expanduser(args.directory))
        print(f"saved {task.name} {task.version} with {len(task.tests)} test case(s) to {path}")

    @subcommand("config", "The current settings of the magics, the runtime and the storage.")
    def _config(self, args: argparse.Namespace) -> ConfigView:
        return ConfigView([self, *self.service_configurables()])

    @subcommand("help", "Help on the magics, or on one sub-command.",
                arg("command", nargs="?", metavar="SUB", help="a sub-command"), completes=("command",))
    def _help_command(self, args: argparse.Namespace) -> None:
        self._help(args.command)

    # -- helpers --------------------------------------------------------------------------------
    def _help(self, command: str | None) -> None:
        if command is not None:
            if command not in SUBCOMMANDS:
                raise UsageError(f"%ratchet help: unknown sub-command {command!r}; use one of: {', '.join(SUBCOMMANDS)}")
            print(SUBCOMMANDS[command].parser().format_help())
            return
        lines = [
            "Ratchet magics:",
            f"  %%ratchet NAME [options]    {_DEFINE.summary}",
            f"  %%ratchet_test NAME         {_TESTS.summary}",
            *(f"  %ratchet {name:<18} {cmd.summary}" for name, cmd in SUBCOMMANDS.items()),
            "",
            "Options of one of them: %ratchet help SUB, %ratchet SUB --help, %%ratchet --help.",
            "Settings: %ratchet config; change them with %config, e.g. %config ExecutionConfig.max_duration = 5",
        ]
        print("\n".join(lines))

    def _task(self, name: str, version: str | None = None) -> Any:
        task = self.tasks.find(name, version)
        if task is None:
            which = f"{name!r} version {version!r}" if version else repr(name)
            raise UsageError(f"no task {which}: define it with %%ratchet {name}, or load it with %ratchet load PATH")
        return task

    def _run_task(self, task: Any, args: argparse.Namespace) -> Any:
        variable_name(args.output_var, "-o")
        value = json_or_variable(args.input if args.input is not None else "{}", self.shell.user_ns, "--input")
        options = {"timeout": args.timeout, "validate": False if args.no_validate else None, "outputs": args.outputs}
        self.services.check_outputs(task, args.outputs)
        batch = batch_inputs(value)
        if batch is None:
            with self._progress_display(task.name) as progress:
                execution = self.services.runtime.run(task, value, progress=progress, **options)
                if progress is not None:
                    progress.close(failed=execution.error is not None)
            self._print_logs(execution)
            if execution.error is not None:
                raise short_error(execution.error, task.code, self._color)
            self._set(args.output_var, execution.output)
            return ExecutionView(execution)
        items, frame = batch
        with self._progress_display(task.name) as progress:
            executions = self.services.runtime.map(task, items, progress=progress, **options)
        self._set(args.output_var, executions)
        return BatchView(batch_frame(items, executions, frame), executions, self.display_limit)

    def _progress_display(self, title: str) -> Any:
        """A context giving a :class:`ProgressDisplay` (closed when the run ends), or ``None`` when switched off."""
        return ProgressDisplay(title, tick_after=1.0) if self.progress else contextlib.nullcontext()

    def _print_logs(self, execution: Any) -> None:
        if not self.show_logs:
            return
        for entry in execution.logs:
            stream = sys.stderr if entry.get("level") in ("warn", "error") else sys.stdout
            print(f"[{entry.get('level', 'log')}] {entry.get('message', '')}", file=stream)

    def _set(self, variable: str | None, value: Any) -> None:
        if variable:
            self.shell.user_ns[variable] = value

    @property
    def _color(self) -> bool:
        return str(getattr(self.shell, "colors", "NoColor")).lower() != "nocolor"

    def _guarded(self, func: Callable[..., Any], *args: Any) -> Any:
        """Call ``func``; a RatchetError leaves as a short error (no traceback of the library)."""
        try:
            return func(*args)
        except RatchetError as exc:
            if not hasattr(exc, "_render_traceback_"):
                task = self.tasks.get(exc.task) if exc.task else None
                short_error(exc, task.code if task is not None else None, self._color)
            raise

    # -- tab completion -------------------------------------------------------------------------
    def completions(self, text: str) -> list[str] | None:
        """Completions of the last word of ``text`` (a line up to the cursor); ``None``: complete a path."""
        words = text.split()
        if not words:
            return []
        if text[-1].isspace():
            words.append("")
        magic, current, position = words[0], words[-1], len(words) - 1
        if position == 0:
            return []
        if magic in ("%%ratchet", "%%ratchet_test"):
            command = _DEFINE if magic == "%%ratchet" else _TESTS
        elif position == 1:
            return _starting(SUBCOMMANDS, current)
        else:
            command = SUBCOMMANDS.get(words[1])
            position -= 1
            if command is None or command.raw:
                return []
        if current.startswith("-"):
            return _starting(command.options(), current)
        positionals = [w for w in words[len(words) - position:-1] if not w.startswith("-")]
        kind = command.completes[len(positionals)] if len(positionals) < len(command.completes) else None
        if kind == "task":
            return _starting(sorted(self.tasks), current)
        if kind == "command":
            return _starting(SUBCOMMANDS, current)
        return None if kind == "path" else []

    def _complete_hook(self, shell: Any, event: Any) -> list[str]:
        found = self.completions(event.text_until_cursor)
        if found is None:
            raise TryNext()
        return found

    def install_completer(self) -> None:
        """Offer sub-commands, task names and options on Tab after the magics."""
        for key in _COMPLETER_KEYS:
            self.shell.set_hook("complete_command", self._complete_hook, str_key=key)

    def remove_completer(self) -> None:
        dispatcher = getattr(self.shell, "strdispatchers", {}).get("complete_command")
        if dispatcher is None:
            return
        for key in _COMPLETER_KEYS:
            chain = dispatcher.strs.get(key)
            if chain is not None:
                chain.chain = [(p, f) for p, f in chain.chain if getattr(f, "__func__", None) != self._complete_hook]
                if not chain.chain:
                    del dispatcher.strs[key]


# -- sub-commands living in their own modules ----------------------------------------------------
subcommand("plugins", "Plugins found: loaded, failed (stage and error) or disabled; what each adds.")(admin.plugins)
subcommand(
    "sources", "Task sources (RegistryConfig.sources) and their status.",
    arg("--sync", action="store_true", help="scan every source again first"),
    arg("--problems", action="store_true", help="list the tasks that failed to load, duplicates and conflicts"),
)(admin.sources)
subcommand(
    "outputs", "Deliveries of outputs to destinations; --redeliver ID sends an execution's output again.",
    arg("--execution", metavar="ID", help="only the deliveries of this execution"),
    arg("--status", choices=["delivered", "failed"], help="only this status"),
    arg("--redeliver", metavar="ID", help="deliver this execution's output again"),
    arg("--destination", metavar="DEST", help="with --redeliver: only to this destination"),
)(admin.outputs)
