"""Watching directory sources: an edited task is reloaded as soon as its files change."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from .sources import SKIPPED_DIRS, find_task_dirs

if TYPE_CHECKING:  # pragma: no cover
    from .registry import TaskRegistry

log = logging.getLogger("ratchet_jupyter.registry")


class SourceWatcher:
    """Watch directories in a daemon thread and reload the tasks whose files change.

    Each changed file is mapped to its task directory (the nearest ancestor holding
    ``metadata.json``, or a registered task directory that was removed) and handed to
    :meth:`TaskRegistry.reload`; a directory that just became a task is loaded.

    Parameters
    ----------
    registry
        The registry to reload tasks in.
    roots
        The directories to watch (the roots of directory sources).
    debounce_ms
        Longest time to group changes before reloading.
    """

    def __init__(self, registry: TaskRegistry, roots: Iterable[Path], *, debounce_ms: int = 100) -> None:
        self.registry = registry
        self.roots = [Path(r).resolve() for r in roots]
        self.debounce_ms = debounce_ms
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """Whether the watching thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self, settle: float = 0.1) -> None:
        """Start the watching thread (it runs until :meth:`stop`).

        Returns once the thread is about to watch, plus ``settle`` seconds: watchfiles
        gives no signal when its OS watches are in place (a few milliseconds), and an edit
        made before then would be missed.
        """
        if self.running:
            return
        self._stop.clear()
        self._ready.clear()
        self._thread = threading.Thread(target=self._run, name="ratchet-registry-watch", daemon=True)
        self._thread.start()
        self._ready.wait(5)
        self._stop.wait(settle)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop watching and wait for the thread to end."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        try:
            import watchfiles

            self._ready.set()
            for changes in watchfiles.watch(
                *self.roots,
                stop_event=self._stop,
                debounce=self.debounce_ms,
                step=50,
                yield_on_timeout=False,
                raise_interrupt=False,
            ):
                added = {path for change, path in changes if change == watchfiles.Change.added}
                self.handle([path for _change, path in changes], added=added)
        except Exception:  # noqa: BLE001 - a dying watcher is logged; the registry keeps working
            if not self._stop.is_set():
                log.exception("watching %s stopped", ", ".join(map(str, self.roots)))
        finally:
            self._ready.set()

    def handle(self, paths: Iterable[str | Path], added: Iterable[str | Path] = ()) -> list[Path]:
        """Reload the task directories touched by ``paths``; return those directories.

        ``added`` names the paths that were created (a created directory is searched for tasks).
        """
        targets: list[Path] = []
        created = {Path(p) for p in added}
        for path in map(Path, paths):
            for task_dir in self.task_dirs_for(path, added=path in created):
                if task_dir not in targets:
                    targets.append(task_dir)
        for task_dir in targets:
            try:
                self.registry.reload(task_dir)
            except Exception:  # noqa: BLE001 - one failing reload never stops the watcher
                log.exception("reloading %s failed", task_dir)
        return targets

    def task_dirs_for(self, path: Path, *, added: bool = False) -> list[Path]:
        """The task directories a change at ``path`` concerns (``added``: it was just created)."""
        root = next((r for r in self.roots if path == r or path.is_relative_to(r)), None)
        if root is None or any(part.startswith(".") or part in SKIPPED_DIRS for part in path.relative_to(root).parts):
            return []
        known = [Path(e.path) for e in self.registry.all_versions()]
        # A removed directory: the registered tasks inside it go too.
        inside = [k for k in known if k != path and k.is_relative_to(path)] if not path.exists() else []
        for candidate in (path, *path.parents):
            if candidate != root and not candidate.is_relative_to(root):
                break
            if candidate in known or (candidate / "metadata.json").is_file():
                return [candidate, *inside]
            if candidate == root:
                break
        if added and path != root and path.is_dir():
            # A directory created with tasks already inside: the OS watch on it may come
            # after its files were written, so their own events can be missed.
            return [*find_task_dirs(path), *inside]
        return inside
