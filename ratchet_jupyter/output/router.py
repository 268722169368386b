"""Which outputs go where, their delivery, its record, and redelivery of the ones that failed."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping, Sequence

from ..core.errors import ConfigError, RatchetError
from ..core.execution import Execution
from ..storage.entities import DeliveryRecord
from ..storage.query import Query
from .base import Destination, Outcome, OutputItem, one_line
from .duckdb_table import DuckDBTableDestination
from .filesystem import FilesystemDestination
from .stdout import StdoutDestination
from .webhook import WebhookDestination

log = logging.getLogger("ratchet_jupyter.output")

#: The destination types every install has, by ``type`` name.
BUILTIN_DESTINATIONS: dict[str, type[Destination]] = {
    cls.type_name: cls
    for cls in (FilesystemDestination, WebhookDestination, DuckDBTableDestination, StdoutDestination)
}


class OutputRouter:
    """Deliver the outputs of successful executions to their destinations and record each delivery.

    Parameters
    ----------
    settings
        The :class:`~ratchet_jupyter.config.output.OutputConfig`.
    storage
        The :class:`~ratchet_jupyter.storage.Storage` where deliveries are recorded and
        executions are read back for redelivery. Without one, deliveries are kept in
        this object only and nothing can be redelivered.
    destination_types
        ``type`` name -> :class:`Destination` subclass, from plugins; they take
        precedence over the built-in types of the same name.
    events
        An :class:`~ratchet_jupyter.core.events.EventBus`: ``output.delivered`` and
        ``output.failed`` are emitted with ``delivery=<DeliveryRecord>``.

    Raises
    ------
    ConfigError
        A destination has an unknown type or bad options, or a selection names an
        unknown destination (the message names it).
    """

    def __init__(
        self,
        settings: Any,
        storage: Any = None,
        destination_types: Mapping[str, type[Destination]] | None = None,
        events: Any = None,
    ) -> None:
        self.settings = settings
        self.storage = storage
        self.events = events
        self.types: dict[str, type[Destination]] = {**BUILTIN_DESTINATIONS, **dict(destination_types or {})}
        self._destinations: dict[str, Destination] = {}
        self._lock = threading.Lock()
        self._memory: list[DeliveryRecord] = []
        self.check()

    # -- configuration -------------------------------------------------------------------------
    def check(self) -> None:
        """Build every configured destination and check the selections; raise the first problem
        as a ConfigError naming the destination (destinations built so far are closed)."""
        try:
            for name in self.settings.destinations:
                self.destination(name)
            for task, names in self.settings.task_outputs.items():
                self._known(names, f"OutputConfig.task_outputs[{task!r}]")
            self._known(self.settings.default_outputs, "OutputConfig.default_outputs")
        except BaseException:
            self.close()
            raise

    def _resolve(self, name: str, spec: Any) -> tuple[type[Destination], dict[str, Any]]:
        if not isinstance(spec, Mapping) or not spec.get("type"):
            raise ConfigError(f"output destination {name!r}: the spec needs a 'type'", details={"destination": name})
        kind = spec["type"]
        cls = self.types.get(kind)
        if cls is None:
            raise ConfigError(
                f"output destination {name!r}: unknown type {kind!r} (known: {', '.join(sorted(self.types))})",
                operation="configure outputs",
                details={"destination": name, "type": kind},
            )
        return cls, {k: v for k, v in spec.items() if k != "type"}

    def _known(self, names: Iterable[str], where: str) -> list[str]:
        names = list(names)
        unknown = [n for n in names if n not in self.settings.destinations]
        if unknown:
            configured = ", ".join(sorted(self.settings.destinations)) or "none"
            raise ConfigError(
                f"{where}: unknown output destination(s) {', '.join(map(repr, unknown))} (configured: {configured})",
                operation="configure outputs",
                details={"destination": unknown[0], "configured": sorted(self.settings.destinations)},
            )
        return names

    def destination(self, name: str) -> Destination:
        """The destination called ``name`` (built on first use)."""
        with self._lock:
            found = self._destinations.get(name)
            if found is not None:
                return found
            self._known([name], "output")
            cls, options = self._resolve(name, self.settings.destinations[name])
            made = cls(name, options, settings=self.settings, storage=self.storage)
            self._destinations[name] = made
            return made

    def destinations_for(self, task: Any, outputs: Sequence[str] | str | None = None) -> list[Destination]:
        """Where runs of ``task`` go: ``outputs`` (this run's names) if given, else
        ``OutputConfig.task_outputs[task.name]``, else the ``outputs`` list of the task's
        metadata, else ``OutputConfig.default_outputs``. An empty list means no delivery."""
        names = self.names_for(task, outputs)
        return [self.destination(n) for n in names]

    def names_for(self, task: Any, outputs: Sequence[str] | str | None = None) -> list[str]:
        """The destination names :meth:`destinations_for` uses."""
        name = getattr(task, "name", task)
        if outputs is not None:
            names, where = ([outputs] if isinstance(outputs, str) else list(outputs)), "outputs"
        elif name in self.settings.task_outputs:
            names, where = list(self.settings.task_outputs[name]), f"OutputConfig.task_outputs[{name!r}]"
        elif isinstance((getattr(task, "metadata", None) or {}).get("outputs"), (list, tuple, str)):
            meta = task.metadata["outputs"]
            names, where = ([meta] if isinstance(meta, str) else list(meta)), f"task {name!r} metadata outputs"
        else:
            names, where = list(self.settings.default_outputs), "OutputConfig.default_outputs"
        return list(dict.fromkeys(self._known(names, where)))

    # -- delivery ------------------------------------------------------------------------------
    def deliver(
        self, task: Any, executions: Execution | Iterable[Execution], outputs: Sequence[str] | str | None = None
    ) -> list[DeliveryRecord]:
        """Deliver the successful ``executions`` of ``task``; return one record per item and destination.

        Failed executions are skipped. A destination that fails gives "failed" records
        (the output stays in the history and can be redelivered); nothing is raised,
        except a ConfigError for an unknown destination name.
        """
        destinations = self.destinations_for(task, outputs)
        if not destinations:  # the common case, after every run: decided before any item is built
            return []
        if isinstance(executions, Execution):
            executions = [executions]
        items = [OutputItem.from_execution(e, task) for e in executions if e.ok]
        if not items:
            return []
        records = []
        for destination in destinations:
            records.extend(self._deliver_to(destination, items))
        self._record(records)
        return records

    def _deliver_to(self, destination: Destination, items: list[OutputItem]) -> list[DeliveryRecord]:
        try:
            outcomes = list(destination.deliver_many(items))
            if len(outcomes) != len(items):
                raise RatchetError(
                    f"{type(destination).__name__}.deliver_many gave {len(outcomes)} outcomes for {len(items)} items"
                )
        except Exception as exc:  # noqa: BLE001 - a destination never breaks the run
            outcomes = [Outcome(error=exc)] * len(items)
        now = datetime.now(timezone.utc)
        records = []
        for item, outcome in zip(items, outcomes):
            failed = outcome.error is not None
            if failed:
                log.warning(
                    "delivering %s to %r failed: %s", item.execution_id, destination.name, one_line(outcome.error)
                )
            records.append(
                DeliveryRecord(
                    execution_id=item.execution_id,
                    task_name=item.task_name,
                    destination=destination.name,
                    destination_type=destination.type_name or type(destination).__name__,
                    status="failed" if failed else "delivered",
                    attempts=outcome.attempts,
                    error=one_line(outcome.error) if failed else None,
                    location=None if failed else outcome.location,
                    created_at=now,
                )
            )
        return records

    def _record(self, records: list[DeliveryRecord]) -> None:
        if not records:
            return
        if self.storage is None:
            with self._lock:
                self._memory.extend(records)
        else:
            try:
                self.storage.deliveries.create_many(records)
            except Exception:  # noqa: BLE001 - the outputs went out; only their record is missing
                log.exception("recording %d deliveries failed", len(records))
        if self.events is not None:
            for record in records:
                self.events.emit("output.delivered" if record.delivered else "output.failed", delivery=record)

    def redeliver(self, execution_id: str, destination: str | None = None) -> list[DeliveryRecord]:
        """Deliver a recorded execution's output again.

        To ``destination`` if given, else to every destination whose latest delivery of
        this execution failed (none: nothing is done). The output is read from the history.

        Raises
        ------
        ConfigError
            Without storage, or for an unknown destination.
        StorageError
            No execution has this id.
        """
        if self.storage is None:
            raise ConfigError("redelivery needs the history: this output router has no storage")
        self.storage.recorder.flush()
        execution = self.storage.executions.get(execution_id)
        if not execution.ok:
            raise RatchetError(
                f"execution {execution_id!r} ended {execution.status}: it has no output to deliver",
                operation="redeliver",
                task=execution.task_name,
                details={"execution_id": execution_id, "status": str(execution.status)},
            )
        if destination is not None:
            names = self._known([destination], "redeliver")
        else:
            latest: dict[str, DeliveryRecord] = {}
            for record in self.storage.deliveries.for_execution(execution_id):
                latest[record.destination] = record
            # (a destination since removed from the config is left alone)
            names = [n for n, r in latest.items() if not r.delivered and n in self.settings.destinations]
        item = OutputItem.from_execution(execution)
        records = []
        for name in names:
            records.extend(self._deliver_to(self.destination(name), [item]))
        self._record(records)
        return records

    def deliveries(self, execution_id: str | None = None, status: str | None = None) -> list[DeliveryRecord]:
        """Recorded deliveries, oldest first (of one execution, with one status, when given)."""
        if self.storage is None:
            with self._lock:
                return [
                    r for r in self._memory
                    if execution_id in (None, r.execution_id) and status in (None, r.status)
                ]
        query = Query.where(execution_id=execution_id, status=status, sort="created_at")
        return self.storage.deliveries.find_all(query)

    def close(self) -> None:
        """Close every destination that was built."""
        with self._lock:
            destinations, self._destinations = list(self._destinations.values()), {}
        for destination in destinations:
            try:
                destination.close()
            except Exception:  # noqa: BLE001 - close the others anyway
                log.exception("closing output destination %r failed", destination.name)

    def __enter__(self) -> "OutputRouter":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
