"""The ``ratchet`` command, with Ratchet's command names.

Every command parses its arguments, calls the runtime, prints the result. Any
failure prints one line, ``<ErrorType>: <message>``, on stderr and exits 1.
Configuration comes from ``ratchet_config.{py,json}`` and ``--Class.trait=value``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any, Sequence

from .config import CONFIG_CLASSES, load_config, parse_config_args
from .config.loader import check_config_names
from .core.errors import RatchetError
from .core.scaffold import generate_task
from .core.task import load_task

_CONFIG_HELP = (
    "configuration: any --Class.trait=value option, e.g. --ExecutionConfig.max_duration=1 "
    "(see 'ratchet --help-config'); also read from ratchet_config.py / ratchet_config.json"
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, as argparse users expect
        self.print_usage(sys.stderr)
        print(f"UsageError: {message}", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ratchet", description="Run, validate and test Ratchet JavaScript tasks.", epilog=_CONFIG_HELP)
    parser.add_argument("--version", dest="show_version", action="store_true", help="print the version and exit")
    parser.add_argument("--help-config", action="store_true", help="list every configuration option and exit")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    run = sub.add_parser("run-once", help="run a task once and print its output as JSON", epilog=_CONFIG_HELP)
    run.add_argument("--from-fs", required=True, metavar="PATH", help="task directory or .zip")
    group = run.add_mutually_exclusive_group()
    group.add_argument("--input-json", metavar="JSON", help="the input, as JSON (default {})")
    group.add_argument("--input-file", metavar="FILE", help="read the input JSON from FILE ('-' for stdin)")
    run.add_argument("--timeout", type=float, metavar="SECONDS", help="time limit for this run")
    run.add_argument("--logs", action="store_true", help="print the task's console output on stderr")
    run.add_argument("--output", dest="outputs", action="append", metavar="DEST",
                     help="deliver the output to this destination of OutputConfig.destinations (repeatable)")

    val = sub.add_parser("validate", help="check a task's metadata, JS syntax and schemas", epilog=_CONFIG_HELP)
    val.add_argument("--from-fs", required=True, metavar="PATH", help="task directory or .zip")

    test = sub.add_parser("test", help="run a task's tests/*.json cases", epilog=_CONFIG_HELP)
    test.add_argument("--from-fs", required=True, metavar="PATH", help="task directory or .zip")
    test.add_argument("--verbose", "-v", action="store_true", help="show every difference of a failed case")

    hist = sub.add_parser("history", help="recorded executions, newest first", epilog=_CONFIG_HELP)
    hist.add_argument("--task", metavar="NAME", help="only this task")
    hist.add_argument("--status", choices=["success", "failed", "timeout", "cancelled"], help="only this status")
    hist.add_argument("--since", metavar="TIME", help="only executions started at or after TIME (ISO 8601)")
    hist.add_argument("--limit", type=int, default=20, metavar="N", help="at most N rows (default 20)")
    hist.add_argument("--format", choices=["table", "json", "csv"], default="table", help="output format")

    sql = sub.add_parser("sql", help="run read-only SQL over the history (tables executions, tasks)", epilog=_CONFIG_HELP)
    sql.add_argument("query", nargs="+", help="the SQL (quote it)")
    sql.add_argument("--format", choices=["table", "json", "csv"], default="table", help="output format")

    gen = sub.add_parser("generate", help="create new things (ratchet generate task ...)")
    gen_sub = gen.add_subparsers(dest="what", parser_class=_Parser, metavar="WHAT", required=True)
    gen_task = gen_sub.add_parser("task", help="create a new task directory")
    gen_task.add_argument("--path", required=True, metavar="DIR", help="directory to create")
    gen_task.add_argument("--label", required=True, help="the task's label (its name)")
    gen_task.add_argument("--description", default="", help="what the task does")
    gen_task.add_argument("--version", default="1.0.0", help="version (default 1.0.0)")

    fmt = dict(choices=["table", "json", "csv"], default="table", help="output format")
    plugins = sub.add_parser("plugins", help="plugins found: loaded, failed and disabled")
    plugins_sub = plugins.add_subparsers(dest="action", parser_class=_Parser, metavar="ACTION", required=True)
    plugins_sub.add_parser("list", help="list the plugins", epilog=_CONFIG_HELP).add_argument("--format", **fmt)

    repo = sub.add_parser("repo", help="task sources (RegistryConfig.sources): list and sync")
    repo_sub = repo.add_subparsers(dest="action", parser_class=_Parser, metavar="ACTION", required=True)
    repo_list = repo_sub.add_parser("list", help="the tasks of every source", epilog=_CONFIG_HELP)
    repo_list.add_argument("--sources", action="store_true", help="list the sources instead of their tasks")
    repo_list.add_argument("--format", **fmt)
    repo_sub.add_parser("sync", help="scan every source again; report what loaded and what failed", epilog=_CONFIG_HELP)

    outputs = sub.add_parser("outputs", help="deliveries of task outputs: list, redeliver")
    outputs_sub = outputs.add_subparsers(dest="action", parser_class=_Parser, metavar="ACTION", required=True)
    out_list = outputs_sub.add_parser("list", help="recorded deliveries, newest first", epilog=_CONFIG_HELP)
    out_list.add_argument("--execution", metavar="ID", help="only the deliveries of this execution")
    out_list.add_argument("--status", choices=["delivered", "failed"], help="only this status")
    out_list.add_argument("--format", **fmt)
    redeliver = outputs_sub.add_parser("redeliver", help="deliver a recorded execution's output again", epilog=_CONFIG_HELP)
    redeliver.add_argument("execution", metavar="ID", help="the execution id")
    redeliver.add_argument("--destination", metavar="DEST", help="only this destination (default: where it failed)")

    spec = sub.add_parser("kernelspec", help="the 'Python 3 (Ratchet)' Jupyter kernel (ratchet kernelspec install)")
    spec_sub = spec.add_subparsers(dest="action", parser_class=_Parser, metavar="ACTION", required=True)
    spec_install = spec_sub.add_parser("install", help="install the kernel (default: system-wide)")
    where = spec_install.add_mutually_exclusive_group()
    where.add_argument("--user", action="store_true", help="install for the current user")
    where.add_argument("--sys-prefix", action="store_true", help="install into this Python's prefix (a virtualenv)")
    where.add_argument("--prefix", metavar="DIR", help="install under DIR/share/jupyter/kernels")
    return parser


def _read_input(args: argparse.Namespace) -> Any:
    if args.input_file:
        text = sys.stdin.read() if args.input_file == "-" else open(args.input_file, encoding="utf-8").read()
        where = "stdin" if args.input_file == "-" else args.input_file
    else:
        text, where = (args.input_json if args.input_json is not None else "{}"), "--input-json"
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise RatchetError(f"{where} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None


class _services:
    """The services for one command, closed (history written) when it ends."""

    def __init__(self, config_args: Sequence[str]) -> None:
        self.config_args = config_args

    def __enter__(self) -> Any:
        from .services import Services

        self.services = Services(config=load_config(self.config_args))
        return self.services

    def __exit__(self, *exc: Any) -> None:
        self.services.close()


def _runtime(config_args: Sequence[str]) -> Any:
    from .runtime import Runtime

    return Runtime(config=load_config(config_args))


def _as_text(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str)
    return value


def _print_frame(frame: Any, fmt: str) -> None:
    if fmt != "json":
        frame = frame.copy()
        for column in frame.columns:
            if frame[column].dtype == object:
                frame[column] = frame[column].map(_as_text)
        frame = frame.astype(object).where(frame.notna(), "")
    if fmt == "json":
        print(frame.to_json(orient="records", date_format="iso", default_handler=str))
    elif fmt == "csv":
        print(frame.to_csv(index=False), end="")
    else:
        import pandas as pd

        with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", 200,
                               "display.max_colwidth", 40):
            print(frame.to_string(index=False) if len(frame) else "(no rows)")


def cmd_run_once(args: argparse.Namespace, config_args: Sequence[str]) -> int:
    task = load_task(args.from_fs)
    payload = _read_input(args)
    with _services(config_args) as services:
        services.check_outputs(task, args.outputs)
        execution = services.runtime.run(task, payload, timeout=args.timeout, outputs=args.outputs)
        failed = [d for d in services.outputs.deliveries(execution_id=execution.id) if d.status != "delivered"]
    if args.logs:
        for entry in execution.logs:
            print(f"[{entry['level']}] {entry['message']}", file=sys.stderr)
    output = execution.result()
    print(json.dumps(output))
    for delivery in failed:
        print(f"DeliveryError: {delivery.destination}: {delivery.error}", file=sys.stderr)
    return 1 if failed else 0


def cmd_validate(args: argparse.Namespace, config_args: Sequence[str]) -> int:
    task = load_task(args.from_fs)
    with _runtime(config_args) as runtime:
        runtime.check(task)
    print(f"{task.name} {task.version}: valid ({len(task.tests)} test case(s))")
    return 0


def cmd_test(args: argparse.Namespace, config_args: Sequence[str]) -> int:
    task = load_task(args.from_fs)
    with _services(config_args) as services:
        report = services.runtime.test(task)
    for result in report:
        print(result.summary())
        shown = result.failures if args.verbose else result.failures[1:6]
        for line in shown:
            print(f"    {line}")
    print(report.summary_line())
    return 0 if report.ok else 1


def cmd_history(args: argparse.Namespace, config_args: Sequence[str]) -> int:
    if args.limit < 1:
        raise RatchetError(f"--limit must be at least 1, got {args.limit}")
    with _services(config_args) as services:
        frame = services.history(task=args.task, status=args.status, since=args.since, limit=args.limit)
    columns = ["started_at", "task_name", "task_version", "status", "duration_ms", "error_type", "error_message", "input", "output", "id"]
    _print_frame(frame[columns] if args.format == "table" else frame, args.format)
    return 0


def cmd_sql(args: argparse.Namespace, config_args: Sequence[str]) -> int:
    with _services(config_args) as services:
        frame = services.sql(" ".join(args.query))
    _print_frame(frame, args.format)
    return 0


def _frame(records: list[Any], columns: list[str]) -> Any:
    from .listing import records_frame

    return records_frame(records, columns)


def cmd_plugins(args: argparse.Namespace, config_args: Sequence[str]) -> int:
    from .listing import PLUGIN_COLUMNS

    with _services(config_args) as services:
        records = services.plugin_records()
    _print_frame(_frame(records, PLUGIN_COLUMNS), args.format)
    return 1 if any(r.status == "failed" for r in records) else 0


def cmd_repo(args: argparse.Namespace, config_args: Sequence[str]) -> int:
    from .listing import SOURCE_COLUMNS, registry_tasks

    with _services(config_args) as services:
        if args.action == "sync":
            report = services.sync_sources()
            print(report.summary())
            for problem in services.registry.problems:
                print(f"{problem.kind}: {problem.path}: {problem.error}", file=sys.stderr)
            return 0 if report.ok and not report.problems else 1
        if args.sources:
            _print_frame(_frame(services.sources(), SOURCE_COLUMNS), args.format)
        else:
            _print_frame(registry_tasks(services), args.format)
    return 0


def cmd_outputs(args: argparse.Namespace, config_args: Sequence[str]) -> int:
    from .listing import DELIVERY_COLUMNS

    with _services(config_args) as services:
        if args.action == "redeliver":
            records = services.redeliver(args.execution, args.destination)
            _print_frame(_frame(records, DELIVERY_COLUMNS), "table")
            return 0 if records and all(r.status == "delivered" for r in records) else 1
        records = services.outputs.deliveries(execution_id=args.execution, status=args.status)
    _print_frame(_frame(records, DELIVERY_COLUMNS), args.format)
    return 0


def cmd_generate(args: argparse.Namespace, config_args: Sequence[str]) -> int:
    path = generate_task(args.path, args.label, args.description, args.version)
    print(f"created {path}")
    return 0


def cmd_kernelspec(args: argparse.Namespace, config_args: Sequence[str]) -> int:
    from .kernelspec import DISPLAY_NAME, install

    prefix = sys.prefix if args.sys_prefix else args.prefix
    path = install(user=args.user, prefix=prefix)
    print(f"installed kernel '{DISPLAY_NAME}' in {path}")
    return 0


def _config_help() -> str:
    return "\n".join(cls.class_get_help() for cls in CONFIG_CLASSES)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ratchet`` console script; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    config_args = [a for a in argv if a.startswith("--") and "=" in a and "." in a.split("=", 1)[0]]
    rest = [a for a in argv if a not in config_args]
    parser = build_parser()
    args = parser.parse_args(rest)
    if getattr(args, "show_version", False):
        from ._version import __version__

        print(__version__)
        return 0
    if args.help_config:
        print(_config_help())
        return 0
    commands = {
        "run-once": cmd_run_once, "validate": cmd_validate, "test": cmd_test, "history": cmd_history,
        "sql": cmd_sql, "generate": cmd_generate, "kernelspec": cmd_kernelspec, "plugins": cmd_plugins,
        "repo": cmd_repo, "outputs": cmd_outputs,
    }
    if args.command is None:
        parser.print_help()
        return 2
    # commands report problems themselves, once; the services' warnings would repeat them
    logging.getLogger("ratchet_jupyter").setLevel(logging.ERROR)
    try:
        load_config(config_args)  # bad config fails here, before anything runs
        if config_args:
            from .runtime import Runtime
            from .services import Services

            check_config_names(parse_config_args(config_args), [*CONFIG_CLASSES, Services, Runtime], "command line")
        return commands[args.command](args, config_args)
    except RatchetError as exc:
        print(exc.one_line(), file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"OSError: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("Interrupted", file=sys.stderr)
        return 130


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
