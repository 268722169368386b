"""The HTTP requests tasks make through ``fetch``, performed by Python."""

from __future__ import annotations

import fnmatch
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class HttpSettings:
    """A picklable snapshot of :class:`~ratchet_jupyter.config.HttpConfig` sent to workers."""

    allowed_hosts: tuple[str, ...] = ()
    denied_hosts: tuple[str, ...] = ()
    timeout: float = 10.0
    max_response_size: int = 10 * 1024 * 1024
    max_requests: int = 100
    user_agent: str = "ratchet-jupyter"

    @classmethod
    def from_config(cls, cfg: Any) -> "HttpSettings":
        return cls(
            tuple(cfg.allowed_hosts), tuple(cfg.denied_hosts), cfg.timeout,
            cfg.max_response_size, cfg.max_requests, cfg.user_agent,
        )

    def refusal(self, url: str) -> str | None:
        """Why ``url`` may not be fetched (naming the setting), or None if it may."""
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https"):
            return f"only http and https URLs can be fetched, not {url!r}"
        host = (parsed.hostname or "").lower()
        for pattern in self.denied_hosts:
            if fnmatch.fnmatch(host, pattern.lower()):
                return f"host '{host}' is refused by HttpConfig.denied_hosts ({pattern!r})"
        if self.allowed_hosts and not any(fnmatch.fnmatch(host, p.lower()) for p in self.allowed_hosts):
            return f"host '{host}' is not in HttpConfig.allowed_hosts {list(self.allowed_hosts)}"
        return None


@dataclass
class FetchOutcome:
    """What one request gave: a response spec for the task, or an error it sees."""

    record: dict[str, Any]
    response: dict[str, Any] | None = None
    error: dict[str, str] | None = None
    refused: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def for_task(self, request: dict[str, Any]) -> dict[str, Any]:
        entry = {"url": request["url"], "method": request["method"]}
        if self.error is not None:
            entry["error"] = self.error
        else:
            entry["response"] = self.response
        return entry


def _decode_body(raw: bytes, content_type: str) -> Any:
    text = raw.decode("utf-8", errors="replace")
    if "json" in content_type or text[:1] in ("{", "["):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def perform(request: dict[str, Any], settings: HttpSettings, time_left: float) -> FetchOutcome:
    """Perform one request a task asked for, within the settings and the time left."""
    method, url = request["method"], request["url"]
    record: dict[str, Any] = {"method": method, "url": url, "status": None, "duration_ms": 0.0}
    refusal = settings.refusal(url)
    if refusal is not None:
        record["error"] = refusal
        return FetchOutcome(record, refused=refusal)
    headers = dict(request.get("headers") or {})
    if not any(k.lower() == "user-agent" for k in headers):
        headers["User-Agent"] = settings.user_agent
    body = request.get("body")
    data = body.encode("utf-8") if isinstance(body, str) else None
    if data is not None and not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    started = time.perf_counter()
    timeout = max(0.05, min(settings.timeout, time_left))
    try:
        try:
            resp = urllib.request.urlopen(req, timeout=timeout)  # noqa: S310 - scheme checked above
        except urllib.error.HTTPError as exc:
            resp = exc  # a 4xx/5xx is a response the task handles, not an exception
        with resp:
            raw = resp.read(settings.max_response_size + 1)
            status = resp.status if hasattr(resp, "status") else resp.code
            reason = resp.reason or ""
            resp_headers = {k.lower(): v for k, v in resp.headers.items()}
    except TimeoutError:
        record["duration_ms"] = (time.perf_counter() - started) * 1000
        record["error"] = f"timed out after {timeout:.1f}s"
        return FetchOutcome(record, error={"name": "TimeoutError", "message": f"request to {url} timed out after {timeout:.1f}s"})
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        record["duration_ms"] = (time.perf_counter() - started) * 1000
        record["error"] = str(reason)
        return FetchOutcome(record, error={"name": "NetworkError", "message": f"request to {url} failed: {reason}"})
    record["duration_ms"] = (time.perf_counter() - started) * 1000
    record["status"] = status
    if len(raw) > settings.max_response_size:
        record["error"] = "response too large"
        return FetchOutcome(
            record,
            error={
                "name": "NetworkError",
                "message": f"response from {url} exceeds HttpConfig.max_response_size ({settings.max_response_size} bytes)",
            },
        )
    response = {
        "ok": 200 <= status < 300,
        "status": status,
        "statusText": reason,
        "headers": resp_headers,
        "body": _decode_body(raw, resp_headers.get("content-type", "")),
    }
    return FetchOutcome(record, response=response)
