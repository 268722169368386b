"""The registry of known tasks: every version from every configured source, kept current."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from ..config.registry import RegistryConfig
from ..core.errors import RatchetError, RegistryError
from ..core.task import Task
from .model import RegisteredTask, SourceStatus, SyncReport, version_key
from .sources import SourceProblem, TaskLoader, TaskSource, one_line, parse_source

if TYPE_CHECKING:  # pragma: no cover
    from ..core.events import EventBus
    from ..storage import Storage
    from .watch import SourceWatcher

log = logging.getLogger("ratchet_jupyter.registry")


class TaskRegistry:
    """Every task of the configured sources, each name's versions, the current one, and what failed.

    Parameters
    ----------
    settings
        The :class:`RegistryConfig` (sources, cache, watching).
    storage
        A :class:`~ratchet_jupyter.storage.Storage`: loaded tasks are saved to its task store with
        ``source`` set to the source's uri.
    checker
        ``checker(task)`` raising a :class:`RatchetError` for a broken task (e.g. ``runtime.check``).
    events
        An :class:`~ratchet_jupyter.core.events.EventBus` for ``task.loaded`` and ``task.reload_failed``.
    loaders
        Plugin :class:`TaskLoader` instances adding source kinds.

    Raises
    ------
    ConfigError
        When a source spec cannot be turned into a source.
    """

    def __init__(
        self,
        settings: RegistryConfig,
        *,
        storage: Storage | None = None,
        checker: Callable[[Task], Any] | None = None,
        events: EventBus | None = None,
        loaders: Iterable[TaskLoader] = (),
    ) -> None:
        self.settings = settings
        self.storage, self.checker, self.events = storage, checker, events
        self.loaders = list(loaders)
        self._lock = threading.RLock()  # guards the state below
        self._sync_lock = threading.RLock()  # one scan or reload at a time
        self._entries: dict[tuple[str, str], RegisteredTask] = {}
        self._problems: list[SourceProblem] = []
        self._seq = 0
        self._watcher: SourceWatcher | None = None
        #: The report of the latest sync (None before the first).
        self.last_report: SyncReport | None = None
        self._sources = self._build_sources(settings.sources)
        self._status = {s.uri: SourceStatus(s.uri, s.kind, s.label) for s in self._sources}
        settings.observe(self._sources_changed, "sources")

    # -- sources ---------------------------------------------------------------------------------
    def _build_sources(self, specs: Iterable[Any]) -> list[TaskSource]:
        built: list[TaskSource] = []
        for spec in specs:
            source = parse_source(spec, self.loaders, http_timeout=self.settings.http_timeout,
                                  git_timeout=self.settings.git_timeout)
            if all(s.uri != source.uri for s in built):
                built.append(source)
        return built

    def _sources_changed(self, change: dict[str, Any]) -> None:
        sources = self._build_sources(change["new"])
        with self._lock:
            self._sources = sources
            self._status = {s.uri: self._status.get(s.uri) or SourceStatus(s.uri, s.kind, s.label) for s in sources}

    @property
    def cache_dir(self) -> Path:
        """Where downloads and checkouts are kept."""
        return Path(self.settings.resolved_cache_dir())

    def source_objects(self) -> list[TaskSource]:
        """The :class:`TaskSource` objects, in config order."""
        with self._lock:
            return list(self._sources)

    def sources(self) -> list[SourceStatus]:
        """Per source: uri, kind, label, status, task count, last sync time and error."""
        with self._lock:
            return [replace(self._status[s.uri]) for s in self._sources]

    # -- reading ---------------------------------------------------------------------------------
    def tasks(self) -> list[RegisteredTask]:
        """The current version of every task, by name."""
        with self._lock:
            return [self._current[name] for name in sorted(self._current)]

    def all_versions(self) -> list[RegisteredTask]:
        """Every registered task, every version."""
        with self._lock:
            return sorted(self._entries.values(), key=lambda e: (e.name, version_key(e.version), e.seq))

    def versions(self, name: str) -> list[RegisteredTask]:
        """The registered versions of ``name``, oldest first."""
        with self._lock:
            found = [e for e in self._entries.values() if e.name == name]
        return sorted(found, key=lambda e: (version_key(e.version), e.seq))

    def get(self, name: str, version: str | None = None) -> Task | None:
        """The task called ``name``: its current version, or ``version`` (also looked up in storage)."""
        with self._lock:
            if version is None:
                entry = self._current.get(name)
                return entry.task if entry else None
            matches = [e for e in self._entries.values() if e.name == name and e.version == str(version)]
        if matches:
            return max(matches, key=lambda e: e.seq).task
        if self.storage is not None:
            stored = self.storage.tasks.find_by_name(name, str(version))
            return stored.to_task() if stored is not None else None
        return None

    @property
    def problems(self) -> list[SourceProblem]:
        """The problems of the last sync and of reloads since."""
        with self._lock:
            return list(self._problems)

    @property
    def _current(self) -> dict[str, RegisteredTask]:
        current: dict[str, RegisteredTask] = {}
        for entry in self._entries.values():
            best = current.get(entry.name)
            if best is None or (version_key(entry.version), entry.seq) > (version_key(best.version), best.seq):
                current[entry.name] = entry
        return current

    # -- loading ---------------------------------------------------------------------------------
    def _check(self, task: Task) -> None:
        if self.checker is not None and self.settings.check_on_load:
            self.checker(task)

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def sync(self) -> SyncReport:
        """Scan every source; register what loads; report the rest.

        A source that cannot be read is reported (status ``error``) and keeps the tasks it
        had; the other sources load regardless.
        """
        with self._sync_lock:
            sources = self.source_objects()
            report = SyncReport()
            found: list[tuple[int, Any]] = []  # (source index, LoadedTask)
            kept: dict[tuple[str, str], RegisteredTask] = {}
            problems: list[SourceProblem] = []
            statuses: dict[str, SourceStatus] = {}
            for order, source in enumerate(sources):
                status = SourceStatus(source.uri, source.kind, source.label, last_sync=datetime.now(timezone.utc))
                statuses[source.uri] = status
                try:
                    scan = source.scan(self.cache_dir)
                except Exception as exc:  # noqa: BLE001 - one source never stops the others
                    status.status, status.error = "error", one_line(exc)
                    log.warning("task source %s failed: %s", source.label, status.error)
                    with self._lock:
                        kept.update({k: e for k, e in self._entries.items() if e.source == source.uri})
                        problems.extend(p for p in self._problems if p.source == source.uri and p.kind != "source")
                    problems.append(SourceProblem(source.uri, getattr(exc, "details", {}).get("path") or source.uri,
                                                  status.error, "source"))
                    continue
                status.status = "ok"
                problems.extend(scan.problems)
                report.skipped += len(scan.problems)
                for loaded in scan.tasks:
                    try:
                        self._check(loaded.task)
                    except Exception as exc:  # noqa: BLE001 - a broken task is skipped, not fatal
                        problems.append(SourceProblem(source.uri, loaded.path, one_line(exc), "check"))
                        report.skipped += 1
                        continue
                    found.append((order, loaded))
            entries, clashes = self._resolve(found, kept, {s.uri: i for i, s in enumerate(sources)})
            problems.extend(clashes)
            report.skipped += len(clashes)
            with self._lock:
                previous = self._entries
                for key, entry in entries.items():
                    if key not in kept:
                        old = previous.get(key)
                        same = old is not None and old.task.content_hash == entry.task.content_hash
                        entries[key] = replace(entry, seq=old.seq if same else self._next_seq(),
                                               loaded_at=old.loaded_at if same else time.time())
                self._entries = entries
                self._problems = problems
                for uri, status in statuses.items():
                    status.task_count = sum(1 for e in entries.values() if e.source == uri)
                self._status = statuses
            changed = [e for k, e in entries.items()
                       if k not in kept and (k not in previous or previous[k].task.content_hash != e.task.content_hash)]
            self._store(changed)
            for entry in changed:
                self._emit("task.loaded", task=entry.task, source=entry.source, path=entry.path, reloaded=False)
            report.loaded = sum(1 for k in entries if k not in kept)
            report.problems = self.problems
            report.sources = self.sources()
            self.last_report = report
        return report

    @staticmethod
    def _resolve(found: list[tuple[int, Any]], kept: dict[tuple[str, str], RegisteredTask], order: dict[str, int]):
        """Drop duplicates (same content twice) and conflicts (same uuid or name and version, other content).

        Candidates are taken in config order, so the first source wins; entries kept from a
        source that failed to scan take part at their source's place.
        """
        candidates = [(o, loaded.path, loaded.task, None) for o, loaded in found]
        candidates += [(order.get(e.source, len(order)), e.path, e.task, e) for e in kept.values()]
        entries: dict[tuple[str, str], RegisteredTask] = {}
        clashes: list[SourceProblem] = []
        seen: dict[tuple[str, str, str], RegisteredTask] = {}
        for _order, path, task, previous in sorted(candidates, key=lambda c: c[0]):
            ids = [("uuid", task.uuid or "", task.version), ("name", task.name, task.version)]
            other = next((seen[i] for i in ids if i in seen), None)
            if other is not None:
                same = other.task.content_hash == task.content_hash
                text = (f"duplicate of {other.path}: '{task.name}' {task.version} is identical; kept {other.path}"
                        if same else
                        f"conflict: '{task.name}' {task.version} (uuid {task.uuid}) differs between {other.path} "
                        f"and {path}; kept {other.path}")
                clashes.append(SourceProblem(task.source or "", path, text, "duplicate" if same else "conflict"))
                continue
            entry = previous or RegisteredTask(task.name, task.version, task.source or "", path, task)
            entries[(entry.source, entry.path)] = entry
            for i in ids:
                seen[i] = entry
        return entries, clashes

    def _store(self, entries: list[RegisteredTask]) -> None:
        if self.storage is None:
            return
        for entry in entries:
            try:
                self.storage.tasks.save(entry.task)
            except RatchetError as exc:
                log.warning("could not store task %s from %s: %s", entry.name, entry.path, exc)
                with self._lock:
                    self._problems.append(SourceProblem(entry.source, entry.path, one_line(exc), "storage"))

    def _emit(self, event: str, **payload: Any) -> None:
        if self.events is not None:
            self.events.emit(event, **payload)

    # -- reloading -------------------------------------------------------------------------------
    def source_for(self, path: str | Path) -> TaskSource | None:
        """The watched source whose directory holds ``path``."""
        target = Path(path).resolve()
        best: TaskSource | None = None
        for source in self.source_objects():
            root = source.watch_root()
            if root is not None and target.is_relative_to(root):
                if best is None or len(root.parts) > len(best.watch_root().parts):  # type: ignore[union-attr]
                    best = source
        return best

    def reload(self, path: str | Path) -> RegisteredTask | None:
        """Load the task directory ``path`` again after an edit.

        On success it replaces what that path held (even at the same version), is saved
        to storage and ``task.loaded`` is emitted (``reloaded=True`` if the path held a task).
        On failure the last good version stays, a ``"reload"`` problem is recorded and
        ``task.reload_failed`` is emitted; None is returned. A deleted task directory is
        dropped from the registry.

        Raises
        ------
        RegistryError
            When ``path`` is in no watched (directory) source.
        """
        source = self.source_for(path)
        if source is None:
            raise RegistryError(f"{path}: not inside a directory task source", details={"path": str(path)})
        key_path = str(Path(path).resolve())
        key = (source.uri, key_path)
        with self._sync_lock:
            with self._lock:
                old = self._entries.get(key)
            if not Path(key_path).exists():
                with self._lock:
                    self._entries.pop(key, None)
                    self._problems = [p for p in self._problems if p.path != key_path]
                log.info("task directory %s was removed", key_path)
                return None
            try:
                task = source.load_one(key_path)
                self._check(task)
                self._check_clash(task, key)
            except Exception as exc:  # noqa: BLE001 - an edit that breaks a task keeps the last good one
                return self._reload_failed(source, key_path, old, exc)
            with self._lock:
                entry = RegisteredTask(task.name, task.version, source.uri, key_path, task, time.time(),
                                       self._next_seq())
                self._entries[key] = entry
                self._problems = [p for p in self._problems if p.path != key_path]
                if source.uri in self._status:
                    self._status[source.uri].task_count = sum(
                        1 for e in self._entries.values() if e.source == source.uri)
            self._store([entry])
            self._emit("task.loaded", task=task, source=source.uri, path=key_path, reloaded=old is not None)
            return entry

    def _check_clash(self, task: Task, key: tuple[str, str]) -> None:
        with self._lock:
            for other_key, other in self._entries.items():
                if other_key == key or other.version != task.version:
                    continue
                if (other.task.uuid == task.uuid or other.name == task.name) and \
                        other.task.content_hash != task.content_hash:
                    raise RegistryError(
                        f"conflict: '{task.name}' {task.version} differs from the one at {other.path}",
                        details={"source": key[0], "path": key[1]},
                    )

    def _reload_failed(self, source: TaskSource, path: str, old: RegisteredTask | None, exc: BaseException) -> None:
        error = one_line(exc)
        kind = "conflict" if error.startswith("RegistryError: conflict") else "reload"
        with self._lock:
            self._problems = [p for p in self._problems if p.path != path]
            self._problems.append(SourceProblem(source.uri, path, error, kind))
        log.warning("reloading %s failed: %s", path, error)
        self._emit("task.reload_failed", name=old.name if old else Path(path).name, source=source.uri, path=path,
                   error=error, kept_version=old.version if old else None)
        return None

    # -- watching --------------------------------------------------------------------------------
    def start_watching(self) -> SourceWatcher | None:
        """Watch the directory sources (when ``settings.watch``); return the watcher, or None."""
        from .watch import SourceWatcher

        if not self.settings.watch:
            return None
        with self._lock:
            if self._watcher is not None and self._watcher.running:
                return self._watcher
            roots = [r for r in (s.watch_root() for s in self._sources) if r is not None and r.is_dir()]
            if not roots:
                return None
            self._watcher = SourceWatcher(self, roots, debounce_ms=self.settings.watch_debounce_ms)
        self._watcher.start()
        return self._watcher

    def close(self) -> None:
        """Stop watching and stop following config changes."""
        with self._lock:
            watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.stop()
        try:
            self.settings.unobserve(self._sources_changed, "sources")
        except ValueError:
            pass

    def __enter__(self) -> "TaskRegistry":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
