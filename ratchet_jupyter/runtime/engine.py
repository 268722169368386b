"""The V8 engine wrapper: one mini-racer context with the task prelude installed.

An :class:`Engine` lives on an asyncio loop (a worker process's main loop, or the
private loop thread of inline mode). Creating the mini-racer context inside the
running loop lets calls skip one thread hand-off; every call is made with
``eval_cancelable`` under ``asyncio.wait_for`` so a runaway task is interrupted
at its limit. After a timeout or an exhausted heap the context is thrown away
and rebuilt: an abandoned promise chain or a full heap must not leak into the
next execution.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from importlib import resources
from typing import Any

from py_mini_racer import JSEvalException, JSOOMException, JSParseException, MiniRacer

from .http import HttpSettings, perform
from .protocol import envelope_to_result, parse_syntax_error, syntax_message, task_stack

_PRELUDE = resources.files(__package__).joinpath("prelude.js").read_text(encoding="utf-8")
_MAX_PASSES = 200
_PENDING = "\u0000pending"


class LimitExceeded(Exception):
    """An execution hit its time (``kind='timeout'``) or heap (``kind='memory'``) limit."""

    def __init__(self, kind: str, limit: float) -> None:
        super().__init__(kind)
        self.kind = kind
        self.limit = limit


class Engine:
    """A V8 context holding compiled tasks, run from an asyncio loop."""

    def __init__(self) -> None:
        self._mr: MiniRacer | None = None
        self._compiled: set[str] = set()
        self._code: dict[str, tuple[str, str]] = {}
        self._memory_limit = 0
        self.resets = 0

    # -- life cycle ----------------------------------------------------------------------
    async def start(self) -> None:
        """Create the context and install the prelude (call from inside the running loop)."""
        self._mr = MiniRacer()
        await self._mr.eval_cancelable(_PRELUDE)
        self._progress = await self._mr.eval_cancelable("__ratchet__.progressBuffer")
        self._compiled.clear()
        self._memory_limit = 0

    def read_progress(self) -> dict[str, Any] | None:
        """The latest progress event the running task published, or None (no torn reads)."""
        view = getattr(self, "_progress", None)
        if view is None:
            return None
        head = view[0:8].cast("i")
        seq = head[0]
        if seq == 0 or seq % 2:
            return None
        length = head[1]
        raw = bytes(view[8 : 8 + 2 * length])
        if view[0:8].cast("i")[0] != seq:
            return None
        try:
            event = json.loads(raw.decode("utf-16-le"))
        except (UnicodeDecodeError, ValueError):
            return None
        event["seq"] = seq
        return event

    async def watch_progress(self, deliver: Any, interval: float = 0.1) -> None:
        """Hand each new progress event to ``deliver`` until cancelled (runs beside an execution)."""
        last = self.read_progress()
        last_seq = last["seq"] if last else 0
        while True:
            await asyncio.sleep(interval)
            event = self.read_progress()
            if event is not None and event["seq"] != last_seq:
                last_seq = event.pop("seq")
                deliver(event)

    async def reset(self) -> None:
        """Throw the context away and build a fresh one (after a limit was hit)."""
        old, self._mr = self._mr, None
        if old is not None:
            try:
                old.close()
            except Exception:  # noqa: BLE001 - a broken context is being discarded anyway
                pass
        self.resets += 1
        await self.start()

    def close(self) -> None:
        if self._mr is not None:
            self._mr.close()
            self._mr = None

    # -- low level -------------------------------------------------------------------------
    async def _eval(self, script: str, timeout: float, memory: int) -> Any:
        assert self._mr is not None
        if memory != self._memory_limit:
            self._mr.set_hard_memory_limit(memory)
            self._memory_limit = memory
        try:
            # asyncio.timeout cancels the awaiting task in place; wait_for would wrap
            # every call in a new task, a measurable cost at ~100 us per call.
            async with asyncio.timeout(timeout):
                result = await self._mr.eval_cancelable(script)
                pause = 0.0
                while result == _PENDING:  # an async task: collect it when it settles
                    await asyncio.sleep(pause)
                    pause = min(0.005, pause * 2 or 0.0002)
                    result = await self._mr.eval_cancelable("__ratchet__.take()")
            return result
        except TimeoutError:
            await self.reset()
            raise LimitExceeded("timeout", timeout) from None
        except JSOOMException:
            await self.reset()
            raise LimitExceeded("memory", memory) from None

    async def check_syntax(self, code: str) -> dict[str, Any] | None:
        """Parse ``code`` without running it; return the syntax error or None."""
        assert self._mr is not None
        try:
            await asyncio.wait_for(self._mr.eval_cancelable("(function(){\n" + code + "\n})"), 10)
        except JSParseException as exc:
            return parse_syntax_error(exc)
        return None

    async def ensure(
        self, code_hash: str, code: str | None, source: str, timeout: float, memory: int, checks: tuple = (None, None)
    ) -> None:
        """Compile a task (and its schema predicates) into the context unless it is there already."""
        if code is not None:
            self._code[code_hash] = (code, source, checks)
        if code_hash in self._compiled:
            return
        if code_hash not in self._code:
            raise KeyError(code_hash)
        code, source, checks = self._code[code_hash]
        syntax = await self.check_syntax(code)
        if syntax is not None:
            raise CompileFailure({
                "type": "SyntaxError",
                "message": syntax_message(source, syntax),
                "details": syntax,
            })
        predicates = ", ".join(c or "null" for c in checks)
        script = f"__ratchet__.compile({json.dumps(code_hash)}, {json.dumps(code)}, {json.dumps(source)}, {predicates})"
        try:
            await self._eval(script, timeout, memory)
        except JSEvalException as exc:
            message = str(exc).strip()
            first = re.sub(r"^<anonymous>:\d+: ", "", message.split("\n")[0])
            name, _, text = first.partition(": ")
            if name.endswith("TypeError") and "must evaluate to a function" in text:
                raise CompileFailure({"type": "TaskError", "message": f"{source}: {text}", "details": {}}) from None
            raise CompileFailure({
                "type": "JSRuntimeError",
                "message": f"top-level code of {source} threw: {text or first}",
                "details": {"name": name.split(" ")[-1] or "Error", "stack": task_stack(message, source)},
            }) from None
        self._compiled.add(code_hash)

    async def compile_only(self, req: dict[str, Any]) -> dict[str, Any] | None:
        """Compile a task (running its top-level code); return an error dict or None."""
        try:
            await self.ensure(
                req["hash"], req["code"], req["source"], req.get("timeout", 10.0), req.get("memory", 256 << 20),
                req.get("checks") or (None, None),
            )
        except CompileFailure as exc:
            return exc.error
        except LimitExceeded as exc:
            return _limit_result(exc, time.monotonic())["error"]
        return None

    # -- running ---------------------------------------------------------------------------
    async def run(self, req: dict[str, Any], on_progress: Any = None) -> dict[str, Any]:
        """Run one execution; with ``on_progress``, progress events are also handed over live."""
        if on_progress is None:
            return await self._run(req)
        watcher = asyncio.ensure_future(self.watch_progress(on_progress))
        try:
            return await self._run(req)
        finally:
            watcher.cancel()

    async def _run(self, req: dict[str, Any]) -> dict[str, Any]:
        """Run one execution, performing the task's fetches between replay passes.

        ``req`` holds ``hash``, ``code`` (or None when already sent), ``source``,
        ``input`` (JSON text), ``timeout``, ``memory``, ``opts`` (for the prelude)
        and ``http`` (:class:`HttpSettings`). Returns a result dict with
        ``status``, ``output`` or ``error``, ``logs``, ``progress``, ``requests``.
        """
        started = time.monotonic()
        deadline = started + req["timeout"]
        source = req["source"]
        try:
            await self.ensure(req["hash"], req.get("code"), source, req["timeout"], req["memory"], req.get("checks") or (None, None))
        except CompileFailure as exc:
            return {"status": "error", "error": exc.error, "duration_ms": _ms(started)}
        except LimitExceeded as exc:
            return _limit_result(exc, started)
        http: HttpSettings = req.get("http") or HttpSettings()
        opts_text = _opts_text(req, http)
        opts: dict[str, Any] | None = None  # parsed only if the task fetches
        fetched: list[dict[str, Any]] = []
        records: list[dict[str, Any]] = []
        head = f"__ratchet__.run({json.dumps(req['hash'])}, {req['input']}, "
        for _ in range(_MAX_PASSES):
            left = deadline - time.monotonic()
            if left <= 0:
                return _limit_result(LimitExceeded("timeout", req["timeout"]), started, records)
            try:
                text = await self._eval(head + opts_text + ")", left, req["memory"])
            except JSEvalException as exc:
                return _engine_failure(exc, started, records)
            except LimitExceeded as exc:
                exc.limit = req["timeout"] if exc.kind == "timeout" else exc.limit
                return _limit_result(exc, started, records)
            env = json.loads(text)
            if env["s"] != 2:
                break
            outcome = perform(env["f"], http, deadline - time.monotonic())
            records.append(outcome.record)
            if outcome.refused:
                return {
                    "status": "error",
                    "error": {"type": "FetchError", "message": outcome.refused, "details": {"url": env["f"]["url"]}},
                    "requests": records,
                    "duration_ms": _ms(started),
                }
            fetched.append(outcome.for_task(env["f"]))
            opts = opts if opts is not None else json.loads(opts_text)
            opts["fetched"] = fetched
            opts["tape"] = env["t"]
            opts_text = json.dumps(opts)
        else:  # pragma: no cover - bounded by HttpConfig.max_requests well before this
            env = {"s": 0, "e": {"name": "Error", "message": "too many replay passes"}}
        result = envelope_to_result(env, source)
        result["requests"] = records + result["requests"]
        result["duration_ms"] = _ms(started)
        return result

    async def map(self, req: dict[str, Any]) -> str:
        """Run a chunk of inputs (``req['inputs']``: a JSON array text) in one V8 call.

        Returns ``"<ms>|"`` (the chunk's milliseconds) followed by JSON text
        ``{"o": [outputs], "x": {index: result}}`` where ``x``
        holds every item that did not simply succeed (errors, logs, requests). A
        chunk that hits a limit is run again item by item, so one runaway item
        fails alone.
        """
        started = time.monotonic()
        source = req["source"]
        try:
            await self.ensure(req["hash"], req.get("code"), source, req["timeout"], req["memory"], req.get("checks") or (None, None))
        except CompileFailure as exc:
            failed = {str(i): {"status": "error", "error": exc.error} for i in range(req["count"])}
            return "0|" + json.dumps({"o": [None] * req["count"], "x": failed})
        opts_text = _opts_text(req, req.get("http") or HttpSettings())
        script = f"__ratchet__.map({json.dumps(req['hash'])}, {req['inputs']}, {opts_text})"
        try:
            text = await self._eval(script, req["timeout"], req["memory"])
        except (LimitExceeded, JSEvalException):
            return f"{_ms(started):.3f}|" + await self._map_one_by_one(req)
        if text[0] == "0":
            return f"{_ms(started):.3f}|" + text[1:]
        data = json.loads(text[1:])
        inputs = None
        for key, env in list(data["x"].items()):
            if env["s"] == 2:
                inputs = inputs if inputs is not None else json.loads(req["inputs"])
                data["x"][key] = await self.run(_item_request(req, inputs[int(key)], int(key)))
        return f"{_ms(started):.3f}|" + json.dumps(data)

    async def _map_one_by_one(self, req: dict[str, Any]) -> str:
        inputs = json.loads(req["inputs"])
        extra = {}
        for index, item in enumerate(inputs):
            extra[str(index)] = await self.run(_item_request(req, item, index))
        return json.dumps({"o": [None] * len(inputs), "x": extra})


class CompileFailure(Exception):
    """A task could not be compiled; ``error`` is an error dict."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error["message"])
        self.error = error


def _opts_text(req: dict[str, Any], http: HttpSettings) -> str:
    """The prelude's options as JSON text (the pool may send them pre-encoded)."""
    opts = req["opts"]
    if isinstance(opts, str):
        return opts[:-1] + f',"maxRequests":{http.max_requests}}}' if opts != "{}" else f'{{"maxRequests":{http.max_requests}}}'
    return json.dumps(dict(opts, maxRequests=http.max_requests))


def _item_request(req: dict[str, Any], item: Any, index: int) -> dict[str, Any]:
    single = dict(req)
    single["input"] = json.dumps(item)
    opts = dict(json.loads(req["opts"]) if isinstance(req["opts"], str) else req["opts"])
    indices = opts.pop("indices", None)
    # run() treats a single item as item 0 of a one-item chunk
    opts["offset"] = indices[index] if indices else opts.pop("offset", 0) + index
    single["opts"] = opts
    single["code"] = None
    return single


def _engine_failure(exc: Exception, started: float, records: list) -> dict[str, Any]:
    text = str(exc).strip().split("\n")[0]
    return {
        "status": "error",
        "error": {"type": "JSRuntimeError", "message": text, "details": {"name": "Error", "stack": ""}},
        "requests": records,
        "duration_ms": _ms(started),
    }


def _ms(started: float) -> float:
    return (time.monotonic() - started) * 1000


def _limit_result(exc: LimitExceeded, started: float, records: list | None = None) -> dict[str, Any]:
    if exc.kind == "timeout":
        error = {
            "type": "TimeoutError",
            "message": f"execution exceeded its time limit of {exc.limit:g}s and was interrupted",
            "details": {"limit_s": exc.limit},
        }
    else:
        error = {
            "type": "MemoryLimitError",
            "message": f"execution exceeded its heap limit of {int(exc.limit) // (1024 * 1024)}MB and was interrupted",
            "details": {"limit_bytes": int(exc.limit)},
        }
    return {"status": "error", "error": error, "requests": records or [], "duration_ms": _ms(started)}
