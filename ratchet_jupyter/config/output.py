"""Where the outputs of task runs are delivered: destinations, and which runs go where."""

from __future__ import annotations

from typing import Any

from traitlets import Dict, Float, Int, List, Unicode, validate
from traitlets.config import Configurable

from ..core.errors import ConfigError


class OutputConfig(Configurable):
    """Output destinations and their selection per task and per run.

    A destination is a name and a spec, e.g.::

        c.OutputConfig.destinations = {
            "files": {"type": "filesystem", "root": "/data/out", "path": "{task}/{date}/{execution_id}.json"},
            "hook": {"type": "webhook", "url": "https://example.org/ratchet", "headers": {"X-Key": "..."}},
            "table": {"type": "duckdb", "table": "enriched"},
            "console": {"type": "stdout"},
        }
        c.OutputConfig.task_outputs = {"enrich": ["files", "table"]}
    """

    destinations = Dict(
        help="""Named output destinations: name -> spec. Each spec has a 'type' (filesystem,
        webhook, duckdb, stdout, or a type a plugin provides) and that type's options:
        filesystem: root (directory), path (template with {task}, {version}, {date},
        {time}, {execution_id}; default {task}/{date}/{execution_id}.json), format (json:
        one file per output, or ndjson: one line per output appended to the file);
        webhook: url, headers, retries, backoff, timeout, include_input;
        duckdb: table, path (default: the history database);
        stdout: include_input.""",
    ).tag(config=True)

    task_outputs = Dict(
        value_trait=List(Unicode()),
        help="""Task name -> list of destination names its successful runs are delivered to.
        A run's own outputs (e.g. %ratchet run --output NAME) replace these; a task with no
        entry here uses the 'outputs' list of its metadata.json, else default_outputs.""",
    ).tag(config=True)

    default_outputs = List(
        Unicode(),
        help="Destination names used for runs of every task that names none (default: no delivery).",
    ).tag(config=True)

    webhook_retries = Int(
        3,
        help="""Retries of a webhook delivery after a connection error, a timeout, a 5xx, 408
        or 429 answer (so at most retries + 1 attempts). Other 4xx answers are not retried.""",
    ).tag(config=True)

    webhook_backoff = Float(
        0.5, help="Seconds before the first webhook retry; doubled before each further one."
    ).tag(config=True)

    webhook_timeout = Float(10.0, help="Seconds a webhook request may take before it counts as failed.").tag(
        config=True
    )

    @validate("destinations")
    def _check_destinations(self, proposal: Any) -> dict[str, dict[str, Any]]:
        value = proposal["value"]
        for name, spec in value.items():
            if not isinstance(name, str) or not name:
                raise ConfigError(
                    f"OutputConfig.destinations: a destination name must be a non-empty string, got {name!r}"
                )
            if not isinstance(spec, dict):
                raise ConfigError(f"output destination {name!r}: the spec must be a dict, got {type(spec).__name__}",
                                  details={"destination": name})
            kind = spec.get("type")
            if not isinstance(kind, str) or not kind:
                raise ConfigError(
                    f"output destination {name!r}: the spec needs a 'type' (filesystem, webhook, duckdb, stdout "
                    "or a plugin's type)",
                    details={"destination": name},
                )
        return value

    @validate("webhook_retries")
    def _check_retries(self, proposal: Any) -> int:
        if proposal["value"] < 0:
            raise ConfigError(f"OutputConfig.webhook_retries must be 0 or more, got {proposal['value']}")
        return proposal["value"]

    @validate("webhook_backoff")
    def _check_backoff(self, proposal: Any) -> float:
        if proposal["value"] < 0:
            raise ConfigError(f"OutputConfig.webhook_backoff must be 0 or more, got {proposal['value']}")
        return proposal["value"]

    @validate("webhook_timeout")
    def _check_timeout(self, proposal: Any) -> float:
        if proposal["value"] <= 0:
            raise ConfigError(f"OutputConfig.webhook_timeout must be positive, got {proposal['value']}")
        return proposal["value"]
