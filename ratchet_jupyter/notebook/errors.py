"""Task failures shown the way the user wrote the task: JS error, stack, the offending line.

IPython renders an exception that has a ``_render_traceback_`` method with the
lines it returns instead of a Python traceback (ipykernel sends them as the
error output). :func:`short_error` gives a :class:`RatchetError` such a method,
so a failing task reads as a short message; any other exception (a bug in the
library) keeps its full traceback.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..core.errors import JSRuntimeError, RatchetError, TaskSyntaxError, ValidationError

_FRAME_RE = re.compile(r"main\.js:(\d+):(\d+)")
_RED, _RESET = "\x1b[0;31m", "\x1b[0m"


def _shown(value: Any, limit: int = 200) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def source_excerpt(code: str, line: int, column: int | None = None, context: int = 1) -> list[str]:
    """The lines of ``code`` around ``line`` (1-based), the line marked, a caret under ``column``."""
    lines = code.split("\n")
    if not 1 <= line <= len(lines):
        return []
    width = len(str(min(len(lines), line + context)))
    out = []
    for number in range(max(1, line - context), line + 1):
        mark = ">" if number == line else " "
        out.append(f"  {mark} {number:>{width}} | {lines[number - 1]}")
    if column and column > 0:
        out.append(f"    {' ' * width} | {' ' * (column - 1)}^")
    return out


def render_error(error: RatchetError, code: str | None = None, color: bool = False) -> list[str]:
    """The lines a notebook shows for ``error`` (``code``: the task's source, for excerpts)."""
    message_lines = (error.message or "").split("\n")
    header = error.one_line()
    lines = [f"{_RED}{header}{_RESET}" if color else header]
    lines.extend(f"  {extra}" for extra in message_lines[1:] if extra.strip())
    where: tuple[int, int | None] | None = None
    if isinstance(error, JSRuntimeError):
        frames = [frame.strip() for frame in error.stack.split("\n")[1:] if frame.strip()]
        lines.extend(f"    {frame}" for frame in frames)
        found = next((m for m in map(_FRAME_RE.search, frames) if m), None)
        if found:
            where = (int(found.group(1)), int(found.group(2)))
        if "status" in error.details:
            lines.append(f"  status: {error.details['status']}")
    elif isinstance(error, TaskSyntaxError) and isinstance(error.details.get("line"), int):
        where = (error.details["line"], error.details.get("column"))
    elif isinstance(error, ValidationError):
        if error.details.get("path"):
            lines.append(f"  path:  {error.details['path']}")
        if "value" in error.details:
            lines.append(f"  value: {_shown(error.details['value'])}")
    if where is not None and code:
        lines.extend(source_excerpt(code, *where))
    return lines


def short_error(error: RatchetError, code: str | None = None, color: bool = False) -> RatchetError:
    """Make IPython show ``error`` as :func:`render_error`'s lines instead of a traceback; return it."""
    lines = render_error(error, code, color)
    error._render_traceback_ = lambda: lines  # type: ignore[attr-defined]
    return error
