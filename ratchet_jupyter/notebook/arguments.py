"""Reading a magic's arguments: shell-like words, JSON literals kept whole, errors as ``UsageError``.

Nothing here exits the interpreter: argparse's ``error`` and ``exit`` are turned
into :class:`~IPython.core.error.UsageError` (or a printed help), so a bad
``%ratchet`` line shows one short line, never a ``SystemExit``.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from typing import Any, Callable, Mapping, NoReturn

from IPython.core.error import UsageError

_DECODER = json.JSONDecoder()


def split_line(line: str) -> list[str]:
    """Split a magic's argument line into words.

    Words are separated by white space; ``'...'`` and ``"..."`` quote as in a
    shell (backslash escapes inside double quotes). A JSON object or array that
    starts a word (or follows ``=``) is kept whole and verbatim, so
    ``--input {"name": "World"}`` needs no quoting.
    """
    words: list[str] = []
    i, end = 0, len(line)
    while True:
        while i < end and line[i].isspace():
            i += 1
        if i >= end:
            return words
        word, i = _read_word(line, i)
        words.append(word)


def _read_word(line: str, i: int) -> tuple[str, int]:
    parts: list[str] = []
    end = len(line)
    while i < end and not line[i].isspace():
        char = line[i]
        if char in "{[" and (not parts or parts[-1].endswith("=")):
            try:
                _, stop = _DECODER.raw_decode(line, i)
            except json.JSONDecodeError:
                stop = None
            if stop is not None:
                parts.append(line[i:stop])
                i = stop
                continue
        if char in "'\"":
            text, i = _read_quoted(line, i)
            parts.append(text)
            continue
        parts.append(char)
        i += 1
    return "".join(parts), i


def _read_quoted(line: str, i: int) -> tuple[str, int]:
    quote, start = line[i], i
    i += 1
    out: list[str] = []
    while i < len(line):
        char = line[i]
        if char == quote:
            return "".join(out), i + 1
        if char == "\\" and quote == '"' and i + 1 < len(line) and line[i + 1] in '"\\':
            out.append(line[i + 1])
            i += 2
            continue
        out.append(char)
        i += 1
    raise UsageError(f"unterminated quote starting at column {start + 1}: {line[start:start + 40]}")


class _HelpShown(Exception):
    """Raised by the parser after printing ``--help``: the magic stops quietly."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse for magics: errors are ``UsageError``; ``-h/--help`` prints help and stops the magic."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}\n{self.format_usage().strip()}")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if status == 0:
            raise _HelpShown()
        raise UsageError(message or f"{self.prog}: invalid arguments")


def parse(parser: ArgumentParser, line: str) -> argparse.Namespace | None:
    """Parse a magic's line; ``None`` when help was asked for (and printed)."""
    try:
        return parser.parse_args(split_line(line))
    except _HelpShown:
        return None


def variable_name(text: str | None, option: str) -> str | None:
    """Check that ``text`` can be a Python variable name (for ``-o VAR``)."""
    if text is not None and not text.isidentifier():
        raise UsageError(f"{option}: {text!r} is not a valid Python variable name")
    return text


def json_or_variable(text: str | None, namespace: Mapping[str, Any], option: str) -> Any:
    """A JSON literal, or the value of a variable (``name`` or ``name.attr``) of the notebook.

    Returns ``None`` when ``text`` is ``None``.
    """
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        problem = exc
    parts = text.split(".")
    if all(part.isidentifier() for part in parts):
        if parts[0] not in namespace:
            raise UsageError(f"{option}: {text!r} is neither JSON nor a variable of this notebook")
        value = namespace[parts[0]]
        for part in parts[1:]:
            try:
                value = getattr(value, part)
            except AttributeError:
                raise UsageError(f"{option}: {text!r}: {type(value).__name__} has no attribute {part!r}") from None
        return value
    raise UsageError(
        f"{option}: invalid JSON at column {problem.colno}: {problem.msg} "
        f"(in {text[:60]!r}); or give the name of a variable"
    )


def batch_inputs(value: Any) -> tuple[list[Any], Any] | None:
    """``(items, frame)`` when ``value`` is a batch (a list, tuple or DataFrame), else ``None``.

    A DataFrame becomes its records as JSON would have them (NaN -> null,
    timestamps -> ISO 8601 text, numpy numbers -> Python numbers); ``frame`` is
    the DataFrame itself (``None`` for a list).
    """
    if isinstance(value, (list, tuple)):
        return list(value), None
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        return None
    if isinstance(value, pd.DataFrame):
        return json.loads(value.to_json(orient="records", date_format="iso")), value
    return None


# -- declaring sub-commands ------------------------------------------------------------------------------
def arg(*names: str, **options: Any) -> tuple[tuple[str, ...], dict[str, Any]]:
    """One ``add_argument`` call, written down for later: ``arg("--limit", type=int)``."""
    return names, options


def positive_seconds(text: str) -> float:
    """argparse type: a positive number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def at_least_one(text: str) -> int:
    """argparse type: a whole number >= 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


@dataclass
class Command:
    """One magic command: its arguments, the function that does it, what its positionals are.

    ``completes`` names each positional for tab completion: ``"task"``, ``"path"``
    or ``"command"``. A ``raw`` command gets the rest of the line untouched (SQL).
    """

    name: str
    summary: str
    func: Callable[..., Any] | None  #: None for the cell magics, which have methods of their own
    arguments: tuple = ()
    raw: bool = False
    completes: tuple[str, ...] = ()
    prog: str = "%ratchet"

    def parser(self) -> ArgumentParser:
        parser = ArgumentParser(prog=f"{self.prog} {self.name}".strip(), description=self.summary)
        for names, options in self.arguments:
            parser.add_argument(*names, **options)
        return parser

    def options(self) -> list[str]:
        """The option strings (``--input``...), for tab completion."""
        return [name for names, _ in self.arguments for name in names if name.startswith("-")] + ["--help"]


class CommandTable(dict):
    """Sub-command name -> :class:`Command`; :meth:`register` is the decorator that fills it."""

    def register(
        self, name: str, summary: str, *arguments: Any, raw: bool = False, completes: tuple[str, ...] = ()
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Declare a function (taking the magics and the parsed arguments) as sub-command ``name``."""

        def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
            self[name] = Command(name, summary, func, arguments, raw, completes)
            return func

        return decorate
