"""Progress of a batch or of a task's ``reportProgress``, shown while the magics run it.

A :class:`ProgressDisplay` is the ``progress=`` callback of ``Runtime.map`` (events
``{"done": k, "total": n}``) and ``Runtime.run`` (the task's events: ``progress``,
``step``, ``message``, ``time_ms``). In a kernel with ipywidgets it shows a progress
bar and a label; elsewhere (a terminal, a plain ``InteractiveShell``) it prints text
lines. Both show the elapsed time. Nothing is shown before the first event, or, with
``tick_after``, before that many seconds: a longer run then shows "running" and its
elapsed time even when it reports nothing. Display problems are swallowed: progress must
never break the run it reports on.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

#: Seconds between two text lines (a new step is printed sooner, see :class:`ProgressDisplay`).
TEXT_INTERVAL = 0.5
#: Seconds between a new step's line and the previous line.
STEP_INTERVAL = 0.1
#: Seconds between two widget updates (each one is a message to the frontend).
WIDGET_INTERVAL = 0.1


def widgets_available() -> bool:
    """Whether a widget can be shown: ipywidgets imports and the shell is a kernel with a frontend."""
    try:
        import ipywidgets  # noqa: F401
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class ProgressDisplay:
    """Shows the progress events of one run; call it with each event, then :meth:`close` it.

    Parameters
    ----------
    title
        What runs (the task's name), at the start of each text line and the widget's description.
    use_widgets
        ``True``: an ipywidgets progress bar; ``False``: text lines on stdout;
        ``None`` (default): a bar when :func:`widgets_available`, else text.

    Text lines come at most every :data:`TEXT_INTERVAL` seconds, except that a new
    ``step`` is printed at once (at most every :data:`STEP_INTERVAL` seconds), and a
    final line shows the last state if it was not printed yet. Use it as a context
    manager to close it however the run ends.
    """

    def __init__(self, title: str, use_widgets: bool | None = None, tick_after: float | None = None) -> None:
        self.title = title
        self.use_widgets = widgets_available() if use_widgets is None else use_widgets
        self.started = time.monotonic()
        self.event: dict[str, Any] | None = None
        self.closed = False
        self.bar: Any = None
        self.label: Any = None
        self._lock = threading.Lock()
        self._shown_at: float | None = None  # when a line was printed / the widget updated last
        self._shown_step: Any = None
        self._pending = False
        if tick_after is not None:
            # a long run that reports nothing still shows that it runs, and for how long
            threading.Thread(target=self._tick, args=(tick_after,), name="ratchet-progress", daemon=True).start()

    def _tick(self, after: float) -> None:
        time.sleep(after)
        while not self.closed:
            try:
                with self._lock:
                    if self.closed:
                        return
                    # only while the run reports nothing itself: its own events say more
                    if self.event is None or self.event.get("running"):
                        self.event = {"running": True}
                        self._pending = True
                        if self._due(time.monotonic()):
                            self._show()
            except Exception:  # noqa: BLE001 - a display error must not break the run
                pass
            time.sleep(TEXT_INTERVAL)

    # -- the callback ---------------------------------------------------------------------------
    def __call__(self, event: dict[str, Any]) -> None:
        try:
            with self._lock:
                if self.closed:
                    return
                self.event = dict(event)
                self._pending = True
                if self._due(time.monotonic()):
                    self._show()
        except Exception:  # noqa: BLE001 - a display error must not break the run
            pass

    def close(self, failed: bool = False, interrupted: bool = False) -> None:
        """Show the last state (and how the run ended, on a widget); later events are ignored."""
        try:
            with self._lock:
                if self.closed:
                    return
                self.closed = True
                if self.event is None:
                    return
                if self._pending or self.use_widgets:
                    self._show()
                if self.bar is not None:
                    self.bar.bar_style = "danger" if failed or interrupted else "success"
                    if interrupted:
                        self.label.value += " · interrupted"
        except Exception:  # noqa: BLE001
            pass

    def __enter__(self) -> ProgressDisplay:
        return self

    def __exit__(self, kind: Any, value: Any, traceback: Any) -> None:
        self.close(failed=kind is not None, interrupted=kind is not None and issubclass(kind, KeyboardInterrupt))

    # -- what is shown --------------------------------------------------------------------------
    @property
    def elapsed(self) -> float:
        """Seconds since the display was made (the run's start)."""
        return time.monotonic() - self.started

    def text(self) -> str:
        """The current state: ``done/total`` for a batch, else percent, step and message; then the elapsed time."""
        event = self.event or {}
        if "total" in event:
            parts = [f"{event.get('done', 0)}/{event['total']}"]
        else:
            fraction = _fraction(event.get("progress"))
            parts = [] if fraction is None else [f"{fraction:.0%}"]
            parts += [str(event[key]) for key in ("step", "message") if event.get(key) not in (None, "")]
            if not parts:
                parts = ["running"]
        parts.append(f"{self.elapsed:.1f} s")
        return " · ".join(parts)

    def _due(self, now: float) -> bool:
        if self._shown_at is None:
            return True
        since = now - self._shown_at
        if self.use_widgets:
            return since >= WIDGET_INTERVAL
        new_step = self.event is not None and self.event.get("step") not in (None, self._shown_step)
        return since >= (STEP_INTERVAL if new_step else TEXT_INTERVAL)

    def _show(self) -> None:
        self._shown_at = time.monotonic()
        self._shown_step = (self.event or {}).get("step")
        self._pending = False
        if self.use_widgets:
            self._update_widget()
        else:
            print(f"{self.title}: {self.text()}", file=sys.stdout, flush=True)

    def _update_widget(self) -> None:
        event = self.event or {}
        if self.bar is None:
            self._make_widget(batch="total" in event)
        if "total" in event:
            self.bar.max = max(int(event["total"]), 1)
            self.bar.value = int(event.get("done", 0))
        else:
            fraction = _fraction(event.get("progress"))
            if fraction is not None:
                self.bar.value = fraction
        self.label.value = self.text()

    def _make_widget(self, batch: bool) -> None:
        import ipywidgets as widgets
        from IPython.display import display

        bar_type = widgets.IntProgress if batch else widgets.FloatProgress
        self.bar = bar_type(value=0, min=0, max=1, description=self.title)
        self.label = widgets.Label("")
        display(widgets.HBox([self.bar, self.label]))


def _fraction(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return min(max(float(value), 0.0), 1.0)
