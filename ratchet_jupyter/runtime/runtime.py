"""The runtime: load -> validate input -> execute in a worker -> validate output -> record.

:class:`Runtime` is what ``Task.run``, ``task.map``, ``task.test``, the CLI and
(later) the magics and the server call. It owns its configuration
(``ExecutionConfig``, ``ValidationConfig``, ``RetryConfig``, ``HttpConfig``) and
an execution backend, started on first use.
"""

from __future__ import annotations

import gc
import json
import math
import threading
import time
import uuid
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

from traitlets import Instance, List, Type
from traitlets.config import Config, LoggingConfigurable

from ..config import ExecutionConfig, HttpConfig, RetryConfig, ValidationConfig
from ..core.errors import (
    CancelledError, ConfigError, MiddlewareError,
    RatchetError, TaskSyntaxError, TimeoutError, ValidationError, WorkerLostError, error_from_dict,
)
from ..core.events import EventBus
from ..core.execution import BulkChunk, Execution, ExecutionBatch, ExecutionStatus
from ..core.task import Task
from ..core.testcase import TestCase, TestReport, judge
from ..plugins.middleware import MiddlewareChain
from .backends import ExecutionBackend, InlineBackend, ProcessBackend
from .frames import executions_frame, frame_inputs, is_dataframe
from .http import HttpSettings
from .protocol import envelope_to_result, source_name, syntax_message

ProgressCallback = Callable[[dict[str, Any]], None]
_NO_MIDDLEWARE = MiddlewareChain()
_MAX_CHUNK = 2000


def _dumps(value: Any, which: str) -> str:
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            f"{which} is not JSON-serialisable: {exc}", operation=f"encode {which}", details={"path": "$", "which": which}
        ) from None


def _has_schema(schema: Any) -> bool:
    return schema not in (None, True, {})


def _tagged(validator: Callable[[Any], None], value: Any, which: str) -> None:
    """Run a validator; name ``input``/``output`` in the error it raises."""
    try:
        validator(value)
    except ValidationError as exc:
        if "which" not in exc.details:
            exc.details["which"] = which
            exc.message = f"{which} {exc.message}"
            exc.args = (exc.message,)
        raise


def _deterministic_opts(cfg: ExecutionConfig) -> dict[str, Any]:
    instant = datetime.fromisoformat(cfg.deterministic_time.replace("Z", "+00:00"))
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=timezone.utc)
    return {"now": int(instant.timestamp() * 1000), "seed": int(cfg.random_seed)}


class Runtime(LoggingConfigurable):
    """Runs tasks: validation, a worker pool (or inline V8), time and heap limits, retries.

    Parameters
    ----------
    config
        A traitlets ``Config``; sections ``ExecutionConfig``, ``ValidationConfig``,
        ``RetryConfig`` and ``HttpConfig`` are read from it.
    """

    process_backend_class = Type(
        ProcessBackend, klass=ExecutionBackend, help="Backend used when ExecutionConfig.isolation is 'process'."
    ).tag(config=True)
    inline_backend_class = Type(
        InlineBackend, klass=ExecutionBackend, help="Backend used when ExecutionConfig.isolation is 'inline'."
    ).tag(config=True)

    execution = Instance(ExecutionConfig)
    validation = Instance(ValidationConfig)
    retry = Instance(RetryConfig)
    http = Instance(HttpConfig)
    listeners = List(help="Callables given an ExecutionBatch after every run and map (the recorder hooks in here).")

    def __init__(self, config: Config | None = None, **kwargs: Any) -> None:
        super().__init__(config=config or Config(), **kwargs)
        self.execution = ExecutionConfig(parent=self)
        self.validation = ValidationConfig(parent=self)
        self.retry = RetryConfig(parent=self)
        self.http = HttpConfig(parent=self)
        #: Hooks run before and after every execution (plugins add to it).
        self.middleware = MiddlewareChain()
        #: Where execution.started/finished/failed events go (None: nowhere).
        self.events: EventBus | None = None
        #: Execution backends from plugins: name -> callable(ExecutionConfig) -> ExecutionBackend;
        #: ``ExecutionConfig.backend`` picks one. (Plain attributes: read on every run, traitlets are slow.)
        self.backend_factories: dict[str, Callable[[Any], ExecutionBackend]] = {}
        self._backend: ExecutionBackend | None = None
        self._backend_lock = threading.Lock()
        self._snapshot: _Snapshot | None = None
        for configurable in (self.execution, self.validation, self.retry, self.http):
            configurable.observe(self._on_config_change)

    def _on_config_change(self, change: Any) -> None:
        self._snapshot = None

    @property
    def settings(self) -> "_Snapshot":
        """Plain values of the current configuration (traitlets access is slow on the hot path)."""
        snap = self._snapshot
        if snap is None:
            snap = self._snapshot = _Snapshot(self)
        return snap

    # -- backend ---------------------------------------------------------------------------
    @property
    def backend(self) -> ExecutionBackend:
        """The execution backend, started on first use."""
        if self._backend is None:
            with self._backend_lock:
                if self._backend is None:
                    cfg = self.execution
                    if cfg.backend:
                        factory = self.backend_factories.get(cfg.backend)
                        if factory is None:
                            known = ", ".join(sorted(self.backend_factories)) or "none"
                            raise ConfigError(
                                f"ExecutionConfig.backend: no execution backend named {cfg.backend!r} "
                                f"(plugins provide: {known})"
                            )
                        self._backend = factory(cfg)
                    elif cfg.isolation == "inline":
                        self._backend = self.inline_backend_class(grace=cfg.kill_grace)
                    else:
                        self._backend = self.process_backend_class(
                            cfg.worker_count, cfg.pin_workers, cfg.startup_timeout, cfg.kill_grace
                        )
        return self._backend

    def start(self) -> "Runtime":
        """Start the backend now (otherwise it starts on the first run)."""
        self.backend  # noqa: B018 - property starts it
        return self

    def close(self) -> None:
        """Stop the backend and its workers."""
        with self._backend_lock:
            backend, self._backend = self._backend, None
        if backend is not None:
            backend.close()
        self.middleware.close()

    def __enter__(self) -> "Runtime":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- requests --------------------------------------------------------------------------
    def _payload(
        self, task: Task, timeout: float | None, mocks: list | None, deterministic: bool, execution_id: str | None
    ) -> dict[str, Any]:
        snap = self.settings
        opts: dict[str, Any] = {"taskName": task.name, "taskVersion": task.version}
        if execution_id is not None:
            opts["executionId"] = execution_id
        if deterministic:
            opts["det"] = snap.det
        if mocks is not None:
            opts["mocks"] = mocks
        return {
            "hash": task.code_hash,
            "code": task.code,
            "source": source_name(task.name),
            "timeout": float(timeout or task.timeout or snap.max_duration),
            "memory": task.memory_limit or snap.max_memory,
            "opts": opts,
            "http": snap.http,
            "checks": task.js_predicates,
        }

    def _retryable(self, error: RatchetError) -> bool:
        if isinstance(error, TimeoutError):
            return self.settings.retry_timeouts
        return error.retryable

    def _started(self, task: Task, ids: list[str]) -> None:
        events = self.events
        if events is not None and events.has_subscribers("execution.started"):
            events.emit("execution.started", task=task, execution_ids=ids, count=len(ids))

    def _notify(self, batch: ExecutionBatch) -> None:
        events = self.events
        if events is not None:
            ok = [e for e in batch.executions if e.status is ExecutionStatus.SUCCESS]
            if ok and events.has_subscribers("execution.finished"):
                events.emit("execution.finished", task=batch.task, batch=batch, executions=ok)
            if len(ok) < len(batch.executions) and events.has_subscribers("execution.failed"):
                failed = [e for e in batch.executions if e.status is not ExecutionStatus.SUCCESS]
                events.emit("execution.failed", task=batch.task, batch=batch, executions=failed)
        for listener in list(self.listeners):
            try:
                listener(batch)
            except Exception:  # noqa: BLE001 - a listener must not break a run
                self.log.exception("execution listener %r failed", listener)

    # -- single runs -------------------------------------------------------------------------
    def run(
        self,
        task: Task,
        input: Any = None,
        *,
        timeout: float | None = None,
        validate: bool | None = None,
        mocks: list[dict[str, Any]] | None = None,
        deterministic: bool | None = None,
        progress: ProgressCallback | None = None,
        execution_id: str | None = None,
        outputs: list[str] | None = None,
        _nested: bool = False,
    ) -> Execution:
        """Run ``task`` on ``input`` and return the :class:`Execution`.

        Task failures (validation, JS errors, limits) are recorded in the
        execution, not raised; use ``execution.result()`` to raise them.
        ``outputs`` names the output destinations of this run (default: the
        task's configured ones); listeners receive it on the batch.
        """
        snap = self.settings
        det = snap.deterministic if deterministic is None else deterministic
        execution = Execution(task.name, task.version, task.content_hash, input, id=execution_id, deterministic=det)
        if not _nested:
            self._started(task, [execution.id])
        started = time.perf_counter()
        chain = self.middleware if not _nested else _NO_MIDDLEWARE
        try:
            if chain.has_before:
                input = execution.input = chain.before(task, input)
            if validate if validate is not None else snap.validate_input:
                _tagged(task.validator("input", snap.strict), input, "input")
            payload = self._payload(task, timeout, mocks, det, execution.id)
            payload["input"] = _dumps(input, "input")
            payload["opts"] = json.dumps(payload["opts"], separators=(",", ":"))
            live = None
            if progress is not None:
                payload["live_progress"] = True
                live = _LiveProgress(progress, execution.id)
            result = self._call_with_retries(execution, payload, live)
            self._apply(task, execution, result, validate, live)
        except ValidationError as exc:
            exc.task = task.name
            self._fail(execution, exc)
        except RatchetError as exc:
            exc.task = exc.task or task.name
            self._fail(execution, exc)
        except KeyboardInterrupt:
            # the worker was stopped by the pool; the run is recorded as cancelled
            self._fail(execution, CancelledError("the run was interrupted", task=task.name))
            execution.duration_ms = (time.perf_counter() - started) * 1000
            if not _nested:
                self._notify(ExecutionBatch(task, [execution], outputs=outputs))
            raise
        execution.duration_ms = (time.perf_counter() - started) * 1000
        if chain.has_after:
            execution = chain.after(task, execution)
        if not _nested:
            self._notify(ExecutionBatch(task, [execution], outputs=outputs))
        return execution

    def _call_with_retries(self, execution: Execution, payload: dict[str, Any], live: Any = None) -> dict[str, Any]:
        attempt = 0
        while True:
            attempt += 1
            execution.attempts = attempt
            try:
                result = self.backend.call("run", payload, payload["timeout"], live)
            except WorkerLostError as exc:
                result = {"status": "error", "error": exc.to_dict()}
            if result.get("status") != "error" or attempt >= self.settings.max_attempts:
                return result
            if not self._retryable(error_from_dict(result["error"])):
                return result
            time.sleep(self.retry.delay(attempt))

    def _apply(
        self, task: Task, execution: Execution, result: dict[str, Any], validate: bool | None, progress: ProgressCallback | None
    ) -> None:
        execution.logs = result.get("logs") or []
        execution.requests = result.get("requests") or []
        execution.progress = result.get("progress") or []
        if progress is not None:
            for index, event in enumerate(execution.progress):
                if isinstance(progress, _LiveProgress):
                    progress.final(index, event)
                else:
                    progress(dict(event, execution_id=execution.id))
        if result.get("status") == "success":
            execution.output = result.get("output")
            if validate if validate is not None else self.settings.validate_output:
                _tagged(task.validator("output", self.settings.strict), execution.output, "output")
            execution.status = ExecutionStatus.SUCCESS
        else:
            raise error_from_dict(result["error"])

    @staticmethod
    def _fail(execution: Execution, error: RatchetError) -> None:
        execution.error = error
        if isinstance(error, TimeoutError):
            execution.status = ExecutionStatus.TIMEOUT
        elif isinstance(error, CancelledError):
            execution.status = ExecutionStatus.CANCELLED
        else:
            execution.status = ExecutionStatus.FAILED

    # -- batches ------------------------------------------------------------------------------
    def map(
        self,
        task: Task,
        inputs: Iterable[Any],
        *,
        chunk_size: int | None = None,
        timeout: float | None = None,
        validate: bool | None = None,
        mocks: list[dict[str, Any]] | None = None,
        deterministic: bool | None = None,
        progress: ProgressCallback | None = None,
        outputs: list[str] | None = None,
    ) -> Any:
        """Run ``task`` over ``inputs`` in chunks across the backend, keeping order.

        Each item succeeds or fails on its own. ``progress`` receives
        ``{"done": k, "total": n}`` as chunks finish. For batch items,
        ``duration_ms`` is the item's share of its chunk's time.

        ``inputs`` may be a pandas DataFrame (one row, one input): the result is then a
        DataFrame with the input columns, the output's fields, status, error and
        duration (the executions are in its ``attrs["executions"]``); otherwise a list
        of :class:`Execution`.

        Interrupting (``KeyboardInterrupt``, the kernel's stop button) stops the
        workers; the items that finished are kept and recorded, the rest are marked
        cancelled, and :class:`BatchInterrupted` carries them all.
        """
        options = dict(chunk_size=chunk_size, timeout=timeout, validate=validate, mocks=mocks,
                       deterministic=deterministic, progress=progress, outputs=outputs)
        if is_dataframe(inputs):
            return executions_frame(inputs, self._map(task, frame_inputs(inputs), **options))
        return self._map(task, inputs, **options)

    def _map(self, task: Task, inputs: Iterable[Any], *, chunk_size, timeout, validate, mocks, deterministic, progress,
             outputs) -> list[Execution]:
        items = list(inputs)
        total = len(items)
        det = self.execution.deterministic if deterministic is None else deterministic
        check_in = validate if validate is not None else self.validation.validate_input
        check_out = validate if validate is not None else self.validation.validate_output
        strict = self.validation.strict_mode
        batch = uuid.uuid4().hex[:20]
        started_at = datetime.now(timezone.utc)
        executions: list[Execution | None] = [None] * total
        name, version, digest = task.name, task.version, task.content_hash

        def make(index: int) -> Execution:
            return Execution(name, version, digest, items[index], id=f"{batch}{index:012x}", started_at=started_at, deterministic=det)

        self._started(task, [f"{batch}{index:012x}" for index in range(total)])
        chain = self.middleware
        rejected: set[int] = set()
        if chain.has_before:
            for index in range(total):
                try:
                    items[index] = chain.before(task, items[index])
                except MiddlewareError as exc:
                    execution = make(index)
                    self._fail(execution, exc)
                    executions[index] = execution
                    rejected.add(index)

        in_check_js, out_check_js = task.js_predicates
        use_js = bool((check_in and in_check_js) or (check_out and out_check_js))
        runnable: list[int] = []
        # Inputs the V8-side predicate checks are validated there; Python decides the rest.
        in_validator = task.validator("input", strict) if check_in and not in_check_js and _has_schema(task.input_schema) else None
        for index, item in enumerate(items):
            if index in rejected:
                continue
            try:
                if in_validator is not None:
                    _tagged(in_validator, item, "input")
                runnable.append(index)
            except ValidationError as exc:
                exc.task = name
                execution = make(index)
                self._fail(execution, exc)
                executions[index] = execution

        base = self._payload(task, timeout, mocks, det, None)
        if use_js:
            base["opts"]["checks"] = True
            if not check_in or not check_out:  # only the side that is asked for
                base["checks"] = (in_check_js if check_in else None, out_check_js if check_out else None)
        workers = max(1, getattr(self.execution, "worker_count", 1))
        size = chunk_size or self.execution.chunk_size or max(1, min(_MAX_CHUNK, math.ceil(len(runnable) / (workers * 4))))
        chunks: list[tuple[int, Any]] = []
        members: dict[int, list[int]] = {}
        for key, start in enumerate(range(0, len(runnable), size)):
            indices = runnable[start : start + size]
            members[key] = indices
            payload = dict(base, count=len(indices))
            contiguous = indices[-1] - indices[0] == len(indices) - 1
            payload["opts"] = dict(base["opts"], **({"offset": indices[0]} if contiguous else {"indices": indices}))
            payload["inputs"] = _dumps([items[i] for i in indices], "input")
            chunks.append((key, payload))
        out_validator = task.validator("output", strict) if check_out and not out_check_js and _has_schema(task.output_schema) else None
        attempts: dict[int, int] = {}
        done = [total - len(runnable)]
        bulk: list[BulkChunk] = []
        source = base["source"]

        def on_result(key: int, result: Any) -> None:
            indices = members[key]
            if isinstance(result, dict):  # the worker failed as a whole
                for index in indices:
                    execution = make(index)
                    self._fail(execution, error_from_dict(result["error"]))
                    executions[index] = execution
            else:
                ms_text, _, body = result.partition("|")
                data = json.loads(body)
                share = float(ms_text) / max(1, len(indices))
                outputs, extra = data["o"], data["x"]
                if not extra and out_validator is None:
                    # fast path: every item of the chunk simply succeeded
                    built = Execution.successes(
                        (name, version, digest),
                        ((f"{batch}{i:012x}", items[i], o) for i, o in zip(indices, outputs)),
                        started_at, share, attempts.get(key, 0) + 1, det,
                    )
                    for index, execution in zip(indices, built):
                        executions[index] = execution
                    bulk.append(BulkChunk(indices, chunks[key][1]["inputs"], body))
                    indices = []
                for position, index in enumerate(indices):
                    execution = make(index)
                    execution.duration_ms = share
                    execution.attempts = attempts.get(key, 0) + 1
                    special = extra.get(str(position))
                    try:
                        if special is not None and special.get("s") == 3:
                            # the V8 predicate could not vouch for this input: Python decides
                            _tagged(task.validator("input", strict), items[index], "input")
                            execution = self.run(
                                task, items[index], timeout=timeout, validate=validate, mocks=mocks, deterministic=det, _nested=True
                            )
                            execution.id = make(index).id
                        elif special is None:
                            execution.output = outputs[position]
                            if out_validator is not None:
                                _tagged(out_validator, execution.output, "output")
                            execution.status = ExecutionStatus.SUCCESS
                        else:
                            self._apply(task, execution, envelope_to_result(special, source), validate, None)
                    except RatchetError as exc:
                        exc.task = exc.task or name
                        self._fail(execution, exc)
                    executions[index] = execution
            done[0] += len(members[key])
            if progress is not None:
                progress({"done": done[0], "total": total})

        def on_lost(key: int, payload: Any, why: str) -> bool:
            attempts[key] = attempts.get(key, 0) + 1
            if attempts[key] < self.retry.max_attempts:
                self.log.warning("a worker %s with a chunk of %d items; running it again", why, len(members[key]))
                return True
            on_result(key, {"status": "error", "error": WorkerLostError(f"worker process {why} while running this item").to_dict()})
            return False

        if chunks:
            # Building ~10^5 result objects trips the cyclic GC over and over (it scans
            # every tracked object each time); nothing here makes cycles, so it waits.
            gc_was_enabled = gc.isenabled()
            gc.disable()
            try:
                self.backend.run_chunks(chunks, lambda p: p["timeout"] * (p["count"] + 1), on_result, on_lost)
            except KeyboardInterrupt:
                for index, execution in enumerate(executions):
                    if execution is None:
                        execution = executions[index] = make(index)
                        self._fail(execution, CancelledError("the batch was interrupted before this item ran", task=name))
                bulk = [chunk for chunk in bulk]  # only chunks that finished are in bulk
                done_batch = ExecutionBatch(task, list(executions), bulk, batch, outputs)  # type: ignore[arg-type]
                self._notify(done_batch)
                raise BatchInterrupted(done_batch.executions) from None
            finally:
                if gc_was_enabled:
                    gc.enable()
        finished = [e for e in executions if e is not None]
        assert len(finished) == total
        if chain.has_after:
            # hooks may change outputs: the raw chunk texts would no longer match them
            finished = [chain.after(task, execution) for execution in finished]
            bulk = []
        self._notify(ExecutionBatch(task, finished, bulk, batch, outputs))
        return finished

    # -- checks and tests ------------------------------------------------------------------------
    def validate_input(self, task: Task, value: Any) -> None:
        """Raise the ValidationError (naming ``input`` and the JSON path) that running on ``value`` would record."""
        if self.settings.validate_input:
            _tagged(task.validator("input", self.settings.strict), value, "input")

    def check(self, task: Task) -> None:
        """Check a task's JS (syntax with line and column; that it evaluates to a function) and schemas.

        Raises the first problem found as a :class:`RatchetError`.
        """
        from ..core.schema import check_schema

        syntax = self.backend.call("check", task.code, 15.0)
        if syntax is not None:
            raise TaskSyntaxError(
                syntax_message(source_name(task.name), syntax),
                operation="validate",
                task=task.name,
                details=syntax,
            )
        payload = self._payload(task, None, None, False, None)
        error = self.backend.call("compile", payload, payload["timeout"])
        if error is not None:
            raise error_from_dict(dict(error, task=task.name))
        for which, schema in (("input", task.input_schema), ("output", task.output_schema)):
            if schema is not None:
                check_schema(schema, strict=True, where=f"{which}.schema.json of task '{task.name}'")
        for case in task.tests:
            if task.input_schema is not None and self.validation.validate_input:
                try:
                    task.validator("input")(case.input)
                except ValidationError as exc:
                    raise ValidationError(
                        f"test '{case.label}': {exc.message}", operation="validate", task=task.name, details=exc.details
                    ) from None

    def run_case(self, task: Task, case: TestCase, **options: Any) -> Any:
        """Run one test case (with its mocks) and judge it: the one case runner."""
        mocks = case.mocks if case.mocks else None
        execution = self.run(task, case.input, mocks=mocks, **options)
        return judge(case, execution)

    def test(self, task: Task, cases: list[TestCase] | None = None, **options: Any) -> TestReport:
        """Run a task's test cases (or the given ones); return a :class:`TestReport`."""
        report = TestReport(task.name)
        for case in task.tests if cases is None else cases:
            report.results.append(self.run_case(task, case, **options))
        return report


class BatchInterrupted(KeyboardInterrupt):
    """A batch was interrupted; ``executions`` holds every item: finished ones and cancelled ones."""

    def __init__(self, executions: list[Execution]) -> None:
        done = sum(e.status is not ExecutionStatus.CANCELLED for e in executions)
        super().__init__(f"batch interrupted: {done} of {len(executions)} items finished, the rest cancelled")
        self.executions = executions


class _LiveProgress:
    """Hands a run's progress to the caller as the worker samples it, then whatever it missed."""

    def __init__(self, callback: ProgressCallback, execution_id: str) -> None:
        self.callback = callback
        self.execution_id = execution_id
        self.delivered: set[int] = set()

    def __call__(self, event: dict[str, Any]) -> None:
        index = event.pop("index", None)
        if index is not None:
            self.delivered.add(index)
        self.callback(dict(event, execution_id=self.execution_id))

    def final(self, index: int, event: dict[str, Any]) -> None:
        if index not in self.delivered:
            self.delivered.add(index)
            self.callback(dict(event, execution_id=self.execution_id))


class _Snapshot:
    """The configuration values the hot path reads, copied out of the Configurables."""

    def __init__(self, runtime: Runtime) -> None:
        ex, va, re_, ht = runtime.execution, runtime.validation, runtime.retry, runtime.http
        self.max_duration = ex.max_duration
        self.max_memory = ex.max_memory_bytes
        self.deterministic = ex.deterministic
        self.det = _deterministic_opts(ex)
        self.validate_input = va.validate_input
        self.validate_output = va.validate_output
        self.strict = va.strict_mode
        self.max_attempts = re_.max_attempts
        self.retry_timeouts = re_.retry_timeouts
        self.http = HttpSettings.from_config(ht)


_default: Runtime | None = None


def current_default_runtime() -> Runtime | None:
    """The runtime set with :func:`set_default_runtime`, if any."""
    return _default


def set_default_runtime(runtime: Runtime | None) -> Runtime | None:
    """Make ``runtime`` the one ``Task.run`` uses (closing nothing); return the previous one.

    ``None`` goes back to the runtime of the process-wide services.
    """
    global _default
    previous, _default = _default, runtime
    return previous
