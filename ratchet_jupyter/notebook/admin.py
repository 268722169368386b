"""``%ratchet plugins``, ``%ratchet sources`` and ``%ratchet outputs``: what is loaded, from where, what failed.

Plain functions taking the magics and the parsed arguments; :mod:`.magics`
registers them in its sub-command table.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..listing import DELIVERY_COLUMNS, PLUGIN_COLUMNS, SOURCE_COLUMNS, records_frame


def plugins(magics: Any, args: argparse.Namespace) -> Any:
    """Every plugin found: loaded, failed (with where and why) or disabled."""
    return records_frame(magics.services.plugin_records(), PLUGIN_COLUMNS)


def sources(magics: Any, args: argparse.Namespace) -> Any:
    """The task sources with their status; ``--sync`` scans them again first and prints problems."""
    if args.sync:
        report = magics.services.sync_sources()
        print(report.summary() if hasattr(report, "summary") else report)
    if args.problems:
        return records_frame(magics.services.registry.problems, ["source", "path", "kind", "error"])
    return records_frame(magics.services.sources(), SOURCE_COLUMNS)


def outputs(magics: Any, args: argparse.Namespace) -> Any:
    """Recorded deliveries of outputs; ``--redeliver ID`` delivers an execution's output again."""
    if args.redeliver:
        records = magics.services.redeliver(args.redeliver, args.destination)
        return records_frame(records, DELIVERY_COLUMNS)
    return records_frame(
        magics.services.outputs.deliveries(execution_id=args.execution, status=args.status), DELIVERY_COLUMNS
    )
