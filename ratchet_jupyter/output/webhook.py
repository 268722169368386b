"""Outputs POSTed as JSON to a URL, retried with back-off when the failure may pass."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from typing import Any, ClassVar, Sequence

from ..core.errors import DeliveryError
from .base import Destination, Outcome, OutputItem, attempts_of

#: Answers worth another try: the server may recover or the rate limit may lift.
RETRY_STATUSES = frozenset({408, 429}) | frozenset(range(500, 600))


class WebhookDestination(Destination):
    """POST ``{execution_id, task, version, output, input?}`` to ``url``, one request per output.

    Options
    -------
    url
        http(s) URL.
    headers
        Extra request headers (e.g. an authorization token).
    retries, backoff, timeout
        Default from ``OutputConfig.webhook_retries`` / ``webhook_backoff`` / ``webhook_timeout``.
        Connection errors, timeouts and 5xx, 408 and 429 answers are retried (the
        pause doubling from ``backoff``); other 4xx answers are not.
    include_input
        Put the execution's input in the body too (default false).
    """

    type_name: ClassVar[str] = "webhook"
    required_options = ("url",)
    optional_options = ("headers", "retries", "backoff", "timeout", "include_input")

    def __init__(self, name: str, options: Any = None, **kwargs: Any) -> None:
        super().__init__(name, options, **kwargs)
        o, s = self.options, self.settings
        self.url = str(o["url"])
        if not self.url.startswith(("http://", "https://")):
            raise self.config_error(name, f"url must start with http:// or https://, got {self.url!r}")
        headers = o.get("headers") or {}
        if not isinstance(headers, dict):
            raise self.config_error(name, f"headers must be a dict, got {type(headers).__name__}")
        self.headers = {str(k): str(v) for k, v in headers.items()}
        try:
            self.retries = int(o["retries"] if "retries" in o else (s.webhook_retries if s is not None else 3))
            self.backoff = float(o["backoff"] if "backoff" in o else (s.webhook_backoff if s is not None else 0.5))
            self.timeout = float(o["timeout"] if "timeout" in o else (s.webhook_timeout if s is not None else 10.0))
        except (TypeError, ValueError) as exc:
            raise self.config_error(name, f"retries, backoff and timeout must be numbers ({exc})") from None
        if self.retries < 0 or self.backoff < 0 or self.timeout <= 0:
            raise self.config_error(name, "retries and backoff must be 0 or more, timeout positive")
        self.include_input = bool(o.get("include_input", False))

    def body(self, item: OutputItem) -> bytes:
        """The JSON body sent for ``item``."""
        payload: dict[str, Any] = {
            "execution_id": item.execution_id,
            "task": item.task_name,
            "version": item.task_version,
            "output": item.output,
        }
        if self.include_input:
            payload["input"] = item.input
        return json.dumps(payload, default=str, separators=(",", ":")).encode("utf-8")

    def deliver(self, item: OutputItem) -> str | None:
        return self._post(item)[0]

    def deliver_many(self, items: Sequence[OutputItem]) -> list[Outcome]:
        outcomes = []
        for item in items:
            try:
                location, attempts = self._post(item)
                outcomes.append(Outcome(location=location, attempts=attempts))
            except Exception as exc:  # noqa: BLE001 - recorded as a failed delivery
                outcomes.append(Outcome(error=exc, attempts=attempts_of(exc)))
        return outcomes

    def _post(self, item: OutputItem) -> tuple[str, int]:
        """POST ``item`` with retries; return (location, attempts) or raise DeliveryError."""
        data = self.body(item)
        headers = {"Content-Type": "application/json", "User-Agent": "ratchet-jupyter", **self.headers}
        attempts = self.retries + 1
        for attempt in range(1, attempts + 1):
            location, retry, problem, asked_wait = self._attempt(data, headers)
            if problem is None:
                return location, attempt
            if not retry or attempt == attempts:
                raise DeliveryError(
                    f"webhook {self.name!r}: {problem} after {attempt} attempt{'s' if attempt > 1 else ''}",
                    operation="deliver output",
                    task=item.task_name,
                    details={"destination": self.name, "attempts": attempt, "url": self.url},
                    retryable=retry,
                )
            # the server's Retry-After (seconds, at most MAX_RETRY_AFTER) when it gives one, else back-off
            time.sleep(max(self.backoff * 2 ** (attempt - 1), asked_wait))
        raise AssertionError("unreachable")  # pragma: no cover

    def _attempt(self, data: bytes, headers: dict[str, str]) -> tuple[str, bool, str | None, float]:
        """One request: ``(location, False, None, 0)`` on success, else ``("", retryable, problem, wait)``.

        ``wait`` is the answer's ``Retry-After`` in seconds (0 when it has none or gives a date).
        """
        request = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
                return f"{self.url} ({response.status})", False, None, 0.0
        except urllib.error.HTTPError as exc:
            with exc:  # an HTTPError holds the response open
                detail = _snippet(exc)
                wait = _retry_after(exc.headers.get("Retry-After") if exc.headers else None)
            return "", exc.code in RETRY_STATUSES, f"HTTP {exc.code} {exc.reason}{detail}", wait
        except (TimeoutError, socket.timeout) as exc:
            return "", True, f"no answer within {self.timeout:g}s ({exc})", 0.0
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, (TimeoutError, socket.timeout)):
                return "", True, f"no answer within {self.timeout:g}s", 0.0
            return "", True, f"cannot reach {self.url}: {reason}", 0.0
        except (ConnectionError, OSError) as exc:
            return "", True, f"connection to {self.url} failed: {exc}", 0.0


def _snippet(exc: urllib.error.HTTPError) -> str:
    """A short piece of an error answer's body (servers often say why there)."""
    try:
        text = exc.read(200).decode("utf-8", errors="replace")
    except Exception:  # noqa: BLE001 - the body is a courtesy
        return ""
    text = " ".join(text.split())
    return f": {text}" if text else ""


#: The longest ``Retry-After`` honoured, in seconds (a longer one is cut to this).
MAX_RETRY_AFTER = 30.0


def _retry_after(value: str | None) -> float:
    """Seconds of a ``Retry-After: <seconds>`` header; 0 for none, a date or nonsense."""
    try:
        return min(MAX_RETRY_AFTER, max(0.0, float(value))) if value else 0.0
    except ValueError:
        return 0.0
