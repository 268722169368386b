"""``HistoryBrowser``: the recorded executions, newest first, filtered by task and status, a page at a time."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets

from ..storage.query import PageRequest, Query

STATUSES = ("all", "success", "failed", "timeout", "cancelled")
COLUMNS = ("started_at", "task", "version", "status", "duration", "error")


def _cell(value: Any) -> str:
    return f"<td>{html.escape(str(value), quote=False)}</td>"


def execution_row(execution: Any) -> str:
    """One ``<tr>`` of the table: started_at, task, version, status, duration, error."""
    started = execution.started_at
    started = started.isoformat(sep=" ", timespec="seconds") if started is not None else ""
    error = execution.error.one_line() if execution.error is not None else ""
    values = (started, execution.task_name, execution.task_version, execution.status.value,
              f"{execution.duration_ms:.1f} ms", error)
    return "<tr>" + "".join(_cell(v) for v in values) + "</tr>"


class HistoryBrowser(widgets.VBox):
    """The execution history as a paged table (an ipywidgets ``VBox``).

    Parameters
    ----------
    services
        The :class:`~ratchet_jupyter.services.Services` whose storage is browsed (default: the process-wide ones).
    page_size
        Executions per page.

    Attributes
    ----------
    task
        A ``Text``: only executions of this task (empty: every task).
    status
        A ``Dropdown``: ``all`` or one status.
    previous_button, next_button, refresh_button
        Move a page back or on; reload the current page.
    label
        ``page P of N (T executions)``.
    table
        An ``HTML`` widget with the page's executions.
    page
        The page shown (1-based); :attr:`result` is the storage's ``Page``.
    """

    def __init__(self, services: Any = None, page_size: int = 20, **kwargs: Any) -> None:
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, got {page_size}")
        self._services = services
        self.page_size = page_size
        self.page = 1
        self.result: Any = None
        self.task = widgets.Text(placeholder="task (all)", description="task", continuous_update=False)
        self.status = widgets.Dropdown(options=list(STATUSES), value="all", description="status")
        self.previous_button = widgets.Button(description="Prev", icon="arrow-left")
        self.next_button = widgets.Button(description="Next", icon="arrow-right")
        self.refresh_button = widgets.Button(description="Refresh", icon="refresh")
        self.label = widgets.Label()
        self.table = widgets.HTML()
        self.task.observe(self._filter_changed, "value")
        self.status.observe(self._filter_changed, "value")
        self.previous_button.on_click(lambda _button: self.previous_page())
        self.next_button.on_click(lambda _button: self.next_page())
        self.refresh_button.on_click(lambda _button: self.refresh())
        controls = widgets.HBox([self.task, self.status, self.refresh_button])
        pager = widgets.HBox([self.previous_button, self.next_button, self.label])
        super().__init__(children=[controls, pager, self.table], **kwargs)
        self.refresh()

    @property
    def services(self) -> Any:
        if self._services is None:
            from ..services import get_services

            self._services = get_services()
        return self._services

    def query(self) -> Query:
        """The storage query the filters make (newest first)."""
        status = None if self.status.value == "all" else self.status.value
        return Query.where(
            task_name=self.task.value.strip() or None, status=status, sort="started_at", descending=True
        )

    def refresh(self) -> None:
        """Reload the current page (the last one, when the history got shorter)."""
        storage = self.services.storage
        storage.recorder.flush()
        result = storage.executions.find_paginated(self.query(), PageRequest(self.page, self.page_size))
        if self.page > result.pages:
            self.page = result.pages
            result = storage.executions.find_paginated(self.query(), PageRequest(self.page, self.page_size))
        self.result = result
        noun = "execution" if result.total == 1 else "executions"
        self.label.value = f"page {result.page} of {result.pages} ({result.total} {noun})"
        self.previous_button.disabled = result.page <= 1
        self.next_button.disabled = not result.has_next
        header = "<tr>" + "".join(f"<th>{c}</th>" for c in COLUMNS) + "</tr>"
        rows = "".join(execution_row(e) for e in result.items)
        self.table.value = f"<table><thead>{header}</thead><tbody>{rows}</tbody></table>"

    def next_page(self) -> None:
        if self.result is None or self.result.has_next:
            self.page += 1
        self.refresh()

    def previous_page(self) -> None:
        self.page = max(1, self.page - 1)
        self.refresh()

    def _filter_changed(self, change: Any) -> None:
        self.page = 1
        self.refresh()
