"""Tables of what the services hold (plugins, sources, registry tasks, deliveries), for every front-end.

Records become plain rows with their most telling columns first; the magics show
the DataFrame, the CLI prints it.
"""

from __future__ import annotations

from typing import Any

PLUGIN_COLUMNS = ["id", "name", "version", "status", "stage", "error", "origin", "capabilities"]
SOURCE_COLUMNS = ["uri", "kind", "label", "status", "task_count", "last_sync", "error"]
REGISTRY_COLUMNS = ["name", "version", "source", "path", "description"]
DELIVERY_COLUMNS = ["created_at", "execution_id", "task_name", "destination", "status", "attempts", "error", "location"]


def as_row(record: Any) -> dict[str, Any]:
    """A plain dict of a record (dataclass, object with ``to_dict``, or dict)."""
    if isinstance(record, dict):
        return dict(record)
    if hasattr(record, "to_dict"):
        return record.to_dict()
    from dataclasses import asdict, is_dataclass

    if is_dataclass(record):
        return asdict(record)
    return dict(vars(record))


def records_frame(records: list[Any], columns: list[str]) -> Any:
    """A DataFrame of ``records`` with ``columns`` first (other fields after them)."""
    import pandas as pd

    rows = [as_row(r) for r in records]
    extra = [key for row in rows for key in row if key not in columns]
    ordered = columns + list(dict.fromkeys(extra))
    return pd.DataFrame(rows, columns=ordered)


def registry_tasks(services: Any) -> Any:
    """The current version of each task of the task sources (a DataFrame)."""
    rows = [
        {"name": t.name, "version": t.version, "source": t.source, "path": t.path, "description": t.task.description}
        for t in services.registry.tasks()
    ]
    return records_frame(rows, REGISTRY_COLUMNS)
