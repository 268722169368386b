"""Answering a task's ``fetch`` from given responses, and keeping the requests it made."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from ..core.errors import TaskError

_RESPONSE_KEYS = {"status", "body", "ok", "statusText", "headers"}
_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}


def _response(value: Any, where: str) -> dict[str, Any]:
    if isinstance(value, Mapping) and set(value) <= _RESPONSE_KEYS and value:
        return dict(value)
    if isinstance(value, Mapping) and not value:
        return {}
    raise TaskError(
        f"{where}: a mocked response is an object with some of {sorted(_RESPONSE_KEYS)}, "
        f"e.g. {{'status': 200, 'body': {{...}}}}; got {value!r}",
        operation="mock",
    )


def normalise_responses(responses: Mapping[str, Any] | Iterable[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """Mocks in the runtime's format: a list of ``{"url", "method", "response"}``.

    Accepts what a person writes:

    - ``{"https://api.x/users/1": {"status": 200, "body": {...}}}``: a URL (matched as a substring of
      the requested URL, as in ``tests/*.json``) and its response, any method; a key
      ``"POST https://api.x/users"`` matches that method only;
    - ``[{"url": ..., "method": "GET", "response": {...}}]``: the ``tests/*.json`` ``mock.http`` form.

    A response has some of ``status`` (default 200), ``body``, ``ok`` (default: status is 2xx),
    ``statusText`` and ``headers``. Earlier entries win when several match.
    """
    if responses is None:
        return []
    out: list[dict[str, Any]] = []
    if isinstance(responses, Mapping):
        for key, value in responses.items():
            method, _, rest = str(key).partition(" ")
            if rest and method.upper() in _METHODS:
                url, method = rest.strip(), method.upper()
            else:
                url, method = str(key), None
            out.append({"url": url, "method": method, "response": _response(value, f"mock {key!r}")})
        return out
    for index, entry in enumerate(responses):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("url"), str):
            raise TaskError(f"mocks[{index}] needs a 'url' string", operation="mock")
        method = (entry.get("method") or "").upper() or None
        out.append({"url": entry["url"], "method": method,
                    "response": _response(entry.get("response") or {}, f"mocks[{index}]")})
    return out


class HttpMock:
    """Runs tasks with ``fetch`` answered from given responses; keeps every request made.

    What the ``http_mock`` fixture gives. A request that no response matches fails the
    run with a :class:`~ratchet_jupyter.FetchError` naming its method and URL (even if
    the task catches the error), so nothing reaches the network.

    Parameters
    ----------
    responses
        See :func:`normalise_responses`.
    runtime
        The :class:`~ratchet_jupyter.Runtime` that runs the tasks.

    Examples
    --------
    ::

        with http_mock({"https://api.x/users/1": {"status": 200, "body": {"id": 1}}}) as mock:
            execution = mock.run(task, {"id": 1})
        assert mock.requests[0]["url"] == "https://api.x/users/1"
    """

    def __init__(self, responses: Any = None, runtime: Any = None) -> None:
        self.mocks = normalise_responses(responses)
        self.runtime = runtime
        #: Every execution run through this mock, in order.
        self.executions: list[Any] = []

    def respond(self, url: str, response: Mapping[str, Any] | None = None, *, method: str | None = None,
                status: int | None = None, body: Any = None) -> "HttpMock":
        """Answer requests to ``url`` (a substring) with ``response`` (or ``status``/``body``)."""
        spec = dict(response or {})
        if status is not None:
            spec["status"] = status
        if body is not None:
            spec["body"] = body
        self.mocks.append({"url": url, "method": method.upper() if method else None,
                           "response": _response(spec, f"mock {url!r}")})
        return self

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Every request of every run, in order: ``{"method", "url", "status", "duration_ms", "mocked"}``."""
        return [request for execution in self.executions for request in execution.requests]

    def urls(self) -> list[str]:
        """The URLs requested, in order."""
        return [request["url"] for request in self.requests]

    def run(self, task: Any, input: Any = None, **options: Any) -> Any:
        """``runtime.run(task, input, mocks=..., **options)``; return the :class:`~ratchet_jupyter.Execution`."""
        execution = self._runtime().run(task, input, mocks=self.mocks, **options)
        self.executions.append(execution)
        return execution

    def map(self, task: Any, inputs: Iterable[Any], **options: Any) -> list[Any]:
        """``runtime.map(task, inputs, mocks=..., **options)``; return the executions."""
        executions = self._runtime().map(task, inputs, mocks=self.mocks, **options)
        self.executions.extend(executions)
        return executions

    def reset(self) -> None:
        """Forget the executions (and so the requests) seen so far."""
        self.executions.clear()

    def _runtime(self) -> Any:
        if self.runtime is None:
            raise TaskError("this HttpMock has no runtime to run tasks with", operation="mock")
        if callable(self.runtime) and not hasattr(self.runtime, "run"):
            self.runtime = self.runtime()  # a lazy runtime: built on first use
        return self.runtime

    def __enter__(self) -> "HttpMock":
        return self

    def __exit__(self, *exc: Any) -> None:
        pass

    def __repr__(self) -> str:
        return f"HttpMock({len(self.mocks)} response(s), {len(self.requests)} request(s) seen)"
