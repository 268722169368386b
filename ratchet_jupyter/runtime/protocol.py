"""What the runtime's two sides agree on: result dicts, error dicts, stack filtering.

Free of mini-racer so that the calling process of a worker pool never loads V8.
"""

from __future__ import annotations

import functools
import re
from typing import Any

_PARSE_RE = re.compile(r"^<anonymous>:(\d+): (\w*Error: .*)$")
_JS_ERRORS_WE_RAISE = {"UnmatchedRequest": "FetchError", "ReplayDiverged": "RatchetError"}


@functools.lru_cache(maxsize=4096)
def source_name(task_name: str) -> str:
    """The file name stack traces show for a task's code."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", task_name).strip("-") or "task"
    return f"{safe}/main.js"


def parse_syntax_error(exc: Exception, line_offset: int = 1) -> dict[str, Any]:
    """Line, column and message of a V8 parse error (lines of the task's own source)."""
    text = str(exc)
    lines = text.split("\n")
    match = _PARSE_RE.match(lines[0]) if lines else None
    if not match:
        return {"message": text.strip().split("\n")[-1], "line": None, "column": None}
    column = None
    if len(lines) > 2 and "^" in lines[2]:
        column = lines[2].index("^") + 1
    return {
        "message": match.group(2),
        "line": int(match.group(1)) - line_offset,
        "column": column,
        "source_line": lines[1] if len(lines) > 1 else "",
    }


def syntax_message(source: str, syntax: dict[str, Any]) -> str:
    """``name/main.js:3:15: Unexpected token ';'`` (the type is said once, by the error)."""
    text = syntax["message"]
    for prefix in ("SyntaxError: ",):
        text = text[len(prefix):] if text.startswith(prefix) else text
    return f"{source}:{syntax['line']}:{syntax['column']}: {text}"


def task_stack(stack: str, source: str) -> str:
    """Keep only the stack frames inside the task's own source."""
    if not stack:
        return ""
    lines = stack.split("\n")
    kept = [lines[0]] + [ln.replace("at eval (", "at <task> (") for ln in lines[1:] if source in ln]
    return "\n".join(kept)


def js_error(env_error: dict[str, Any], source: str) -> dict[str, Any]:
    """An error dict (as :func:`~ratchet_jupyter.core.errors.error_from_dict` reads) from a JS error."""
    name = env_error.get("name", "Error")
    ours = _JS_ERRORS_WE_RAISE.get(name)
    if ours:
        return {"type": ours, "message": env_error.get("message", ""), "details": {}}
    details: dict[str, Any] = {"name": name, "stack": task_stack(env_error.get("stack", ""), source)}
    for key in ("status", "details"):
        if key in env_error:
            details[key] = env_error[key]
    return {"type": "JSRuntimeError", "message": env_error.get("message", ""), "details": details}



def envelope_to_result(env: dict[str, Any], source: str) -> dict[str, Any]:
    """Turn the prelude's compact envelope (``s``, ``o``, ``e``, ``l``, ``p``, ``q``) into a result dict."""
    if "status" in env:
        return env
    result: dict[str, Any] = {
        "logs": env.get("l", []),
        "progress": env.get("p", []),
        "requests": env.get("q", []),
    }
    if env["s"] == 1:
        result["status"] = "success"
        result["output"] = env.get("o")
    else:
        result["status"] = "error"
        result["error"] = js_error(env["e"], source)
    return result
