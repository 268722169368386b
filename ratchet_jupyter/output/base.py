"""What an output destination is, and what it is given and gives back."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Mapping, Sequence

from ..core.errors import ConfigError
from ..core.execution import Execution
from ..storage.entities import DeliveryRecord

__all__ = ["Destination", "DeliveryRecord", "Outcome", "OutputItem"]


@dataclass(frozen=True)
class OutputItem:
    """The output of one successful execution, as destinations receive it."""

    execution_id: str
    task_name: str
    task_version: str
    input: Any
    output: Any
    status: str
    started_at: datetime | None
    duration_ms: float

    @classmethod
    def from_execution(cls, execution: Execution, task: Any = None) -> "OutputItem":
        """The item of ``execution`` (``task``, when given, supplies name and version)."""
        return cls(
            execution_id=execution.id,
            task_name=getattr(task, "name", None) or execution.task_name,
            task_version=getattr(task, "version", None) or execution.task_version or "",
            input=execution.input,
            output=execution.output,
            status=str(execution.status),
            started_at=execution.started_at,
            duration_ms=execution.duration_ms,
        )

    def to_json(self, include_input: bool = True) -> dict[str, Any]:
        """A JSON-serialisable document of the item (what files and stdout receive)."""
        doc: dict[str, Any] = {
            "execution_id": self.execution_id,
            "task": self.task_name,
            "version": self.task_version,
            "status": self.status,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "duration_ms": self.duration_ms,
        }
        if include_input:
            doc["input"] = self.input
        doc["output"] = self.output
        return doc

    def output_json(self) -> str:
        """The output as compact JSON text."""
        return json.dumps(self.output, default=str, separators=(",", ":"))


@dataclass(frozen=True)
class Outcome:
    """How the delivery of one item went: where it landed, or the exception that stopped it."""

    location: str | None = None
    attempts: int = 1
    error: BaseException | None = None


class Destination(ABC):
    """A place outputs are delivered to.

    Implementers set :attr:`type_name` (the ``type`` of config specs), list their
    options in :attr:`required_options` and :attr:`optional_options` (the base
    class rejects missing and unknown ones with a ConfigError naming the
    destination), and implement :meth:`deliver`, which writes one item and returns
    where it went (or None), raising on failure. Override :meth:`deliver_many`
    when a batch can be written more cheaply than item by item, and :meth:`close`
    to release what the destination holds.

    Parameters
    ----------
    name
        The configured name of this destination.
    options
        The spec's options (its ``type`` removed).
    settings
        The :class:`~ratchet_jupyter.config.output.OutputConfig` (defaults of options), or None.
    storage
        The :class:`~ratchet_jupyter.storage.Storage` of the history, or None.
    """

    #: The ``type`` of config specs that builds this destination.
    type_name: ClassVar[str] = ""
    #: Options a spec must give.
    required_options: ClassVar[tuple[str, ...]] = ()
    #: Options a spec may give.
    optional_options: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self, name: str, options: Mapping[str, Any] | None = None, *, settings: Any = None, storage: Any = None
    ) -> None:
        self.name = name
        self.options = dict(options or {})
        self.settings = settings
        self.storage = storage
        self.check_options(name, self.options)

    @classmethod
    def check_options(cls, name: str, options: Mapping[str, Any]) -> None:
        """Raise ConfigError (naming the destination) for missing or unknown options."""
        missing = [o for o in cls.required_options if options.get(o) in (None, "")]
        if missing:
            raise cls.config_error(name, f"missing option(s) {', '.join(missing)}")
        known = set(cls.required_options) | set(cls.optional_options)
        unknown = sorted(set(options) - known)
        if unknown:
            raise cls.config_error(
                name,
                f"unknown option(s) {', '.join(unknown)} (known: {', '.join(sorted(known)) or 'none'})",
            )

    @classmethod
    def config_error(cls, name: str, problem: str) -> ConfigError:
        """A ConfigError about destination ``name``."""
        kind = f" ({cls.type_name})" if cls.type_name else ""
        return ConfigError(
            f"output destination {name!r}{kind}: {problem}",
            operation="configure outputs",
            details={"destination": name, "type": cls.type_name},
        )

    @abstractmethod
    def deliver(self, item: OutputItem) -> str | None:
        """Deliver one item; return where it went (a path, a URL, a table) or None; raise on failure."""

    def deliver_many(self, items: Sequence[OutputItem]) -> list[Outcome]:
        """Deliver several items; one :class:`Outcome` per item, in order.

        The default delivers them one by one, so one failure fails only its item.
        An override may raise instead, which fails every item of the call.
        """
        outcomes = []
        for item in items:
            try:
                outcomes.append(Outcome(location=self.deliver(item)))
            except Exception as exc:  # noqa: BLE001 - recorded as a failed delivery
                outcomes.append(Outcome(error=exc, attempts=attempts_of(exc)))
        return outcomes

    def close(self) -> None:
        """Release files, connections and threads (the default holds none)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


def attempts_of(exc: BaseException) -> int:
    """The attempts an exception says were made (``details['attempts']``), else 1."""
    details = getattr(exc, "details", None)
    if isinstance(details, dict):
        try:
            return max(1, int(details.get("attempts") or 1))
        except (TypeError, ValueError):
            return 1
    return 1


def one_line(exc: BaseException) -> str:
    """An exception as one short line."""
    if hasattr(exc, "one_line"):
        text = exc.one_line()
    else:
        text = f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())[:500]
