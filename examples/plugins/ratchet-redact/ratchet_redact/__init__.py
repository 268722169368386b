"""Example plugin: middleware masking output keys and rejecting inputs with forbidden keys."""

from __future__ import annotations

from typing import Any

from ratchet_jupyter.plugins import Capabilities, Middleware, Plugin, PluginContext


def _keys_in(value: Any, keys: set[str], path: str = "$") -> str | None:
    """The JSON path of the first forbidden key in ``value``, or None."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in keys:
                return f"{path}.{key}"
            found = _keys_in(item, keys, f"{path}.{key}")
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _keys_in(item, keys, f"{path}[{index}]")
            if found:
                return found
    return None


def _masked(value: Any, keys: set[str]) -> Any:
    if isinstance(value, dict):
        return {k: "***" if k in keys else _masked(v, keys) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v, keys) for v in value]
    return value


class RedactMiddleware(Middleware):
    """Reject inputs holding ``reject`` keys; mask ``mask`` keys in outputs."""

    name = "redact"
    order = 10

    def __init__(self, mask: list[str], reject: list[str]) -> None:
        self.mask = set(mask)
        self.reject = set(reject)

    def before(self, task, input):
        found = _keys_in(input, self.reject) if self.reject else None
        if found:
            raise ValueError(f"input holds the forbidden key {found}")
        return input

    def after(self, task, execution):
        if self.mask and execution.output is not None:
            execution.output = _masked(execution.output, self.mask)
        return execution


class RedactPlugin(Plugin):
    """Adds :class:`RedactMiddleware` when ``mask`` or ``reject`` keys are configured."""

    id = "redact"
    name = "Redact"
    version = "0.1.0"

    def __init__(self) -> None:
        self.middleware: RedactMiddleware | None = None

    def initialize(self, context: PluginContext) -> None:
        mask, reject = context.config.get("mask", []), context.config.get("reject", [])
        for label, keys in (("mask", mask), ("reject", reject)):
            if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
                raise ValueError(f"settings.redact.{label} must be a list of key names, got {keys!r}")
        if mask or reject:
            self.middleware = RedactMiddleware(mask, reject)

    def capabilities(self) -> Capabilities:
        return Capabilities(middleware=[self.middleware] if self.middleware else [])
