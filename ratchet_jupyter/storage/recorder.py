"""Recording executions without slowing the runs that produce them.

``record`` only appends to an in-memory queue. A background thread hands the
queue to the backend every ``flush_interval`` seconds, one transaction per
hand-off (see :mod:`.duckdb_backend` for why). A failed hand-off is retried with
back-off; if the database stays unavailable the rows are spooled to files and
written by a later flush (of this or any other process), with a warning. The
caller's result never depends on any of this.
"""

from __future__ import annotations

import atexit
import logging
import os
import pickle
import threading
import time
import uuid
import weakref
from collections import deque
from pathlib import Path

from ..core.execution import ExecutionBatch
from .backends import StorageBackend
from .entities import PROCESS_LABEL, StoredTask, execution_row
from .repository import TaskRepository

log = logging.getLogger("ratchet_jupyter.storage")
_recorders: "weakref.WeakSet[HistoryRecorder]" = weakref.WeakSet()


@atexit.register
def _flush_all_at_exit() -> None:
    for recorder in list(_recorders):
        recorder.close(timeout=5.0)


class HistoryRecorder:
    """Buffers executions and hands them to a backend in the background.

    Parameters
    ----------
    backend
        Where rows go.
    tasks
        The task store (each task an execution ran is stored once).
    flush_interval
        Seconds between hand-offs.
    write_attempts
        Tries per hand-off before spooling.
    spool_dir
        Where rows wait when the database is unavailable (None: no spooling).
    """

    def __init__(
        self,
        backend: StorageBackend,
        tasks: TaskRepository,
        flush_interval: float = 0.25,
        write_attempts: int = 3,
        spool_dir: str | None = None,
        process_label: str = PROCESS_LABEL,
    ) -> None:
        self.backend = backend
        self.tasks = tasks
        self.flush_interval = flush_interval
        self.write_attempts = max(1, write_attempts)
        self.spool_dir = Path(spool_dir) if spool_dir else None
        self.process_label = process_label
        self.enabled = True
        self._pending: deque[ExecutionBatch] = deque()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._stored_tasks: set[str] = set()
        self.written = 0
        self.spooled = 0
        self._thread = threading.Thread(target=self._loop, name="ratchet-recorder", daemon=True)
        self._thread.start()
        _recorders.add(self)

    # -- the hot path ----------------------------------------------------------------------------
    def record(self, batch: ExecutionBatch) -> None:
        """Queue a batch for the history (O(1); called by the runtime after every run and map)."""
        if self.enabled and not self._closed and batch.executions:
            self._pending.append(batch)

    __call__ = record

    # -- the background ---------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._closed:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            if self._pending or self._spool_files():
                try:
                    self.flush()
                except Exception:  # noqa: BLE001 - the thread must survive anything
                    log.exception("recording executions failed")

    def flush(self) -> int:
        """Hand everything queued so far to the backend now; return how many executions were written."""
        with self._flush_lock:
            batches = []
            while self._pending:
                batches.append(self._pending.popleft())
            written = self._write_spooled()
            if not batches:
                return written
            tasks, rows, bulk = self._prepare(batches)
            for attempt in range(1, self.write_attempts + 1):
                try:
                    self._write(tasks, rows, bulk)
                    count = len(rows) + sum(len(ids) for _, _, ids in bulk)
                    self.written += count
                    return written + count
                except Exception as exc:  # noqa: BLE001
                    if attempt == self.write_attempts:
                        try:
                            self._spool(tasks, rows, bulk, exc)
                        except Exception:  # noqa: BLE001 - keep them queued rather than lose them
                            log.exception("could not spool %d batch(es); they stay queued", len(batches))
                            self._pending.extendleft(reversed(batches))
                        return written
                    time.sleep(min(2.0, 0.05 * 2 ** attempt))
            return written

    def _prepare(self, batches: list[ExecutionBatch]) -> tuple[list, list, list]:
        tasks, rows, bulk = [], [], []
        for batch in batches:
            task = batch.task
            task_uuid = getattr(task, "uuid", None)
            if task is not None and task.content_hash not in self._stored_tasks:
                # plain data only: the spool pickles it, and a Task holds compiled validators
                tasks.append(StoredTask.from_task(task))
            covered: set[int] = set()
            for chunk in batch.bulk:
                positions = list(chunk.positions)
                if not positions:
                    continue
                covered.update(positions)
                first = batch.executions[positions[0]]
                shared = execution_row(first, task_uuid, batch.batch_id, self.process_label)
                ids = [batch.executions[p].id for p in positions]
                bulk.append((shared, chunk, ids))
            for index, execution in enumerate(batch.executions):
                if index not in covered:
                    rows.append(execution_row(execution, task_uuid, batch.batch_id, self.process_label))
        return tasks, rows, bulk

    def _write(self, tasks: list, rows: list, bulk: list) -> None:
        for stored in tasks:
            self.tasks.save(stored)
            self._stored_tasks.add(stored.content_hash)
        self.backend.append_executions(rows, bulk)

    # -- spooling -----------------------------------------------------------------------------------
    def _spool(self, tasks: list, rows: list, bulk: list, exc: Exception) -> None:
        count = len(rows) + sum(len(ids) for _, _, ids in bulk)
        if self.spool_dir is None:
            log.warning("could not record %d execution(s), and no spool directory is set: %s", count, exc)
            return
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        name = f"{os.getpid()}-{uuid.uuid4().hex}.spool"
        tmp = self.spool_dir / (name + ".tmp")
        with open(tmp, "wb") as fh:
            pickle.dump((tasks, rows, bulk), fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, self.spool_dir / name)
        self.spooled += count
        log.warning(
            "the history database is unavailable (%s); %d execution(s) spooled to %s and will be written later",
            exc, count, self.spool_dir,
        )

    def _spool_files(self) -> list[Path]:
        if self.spool_dir is None or not self.spool_dir.is_dir():
            return []
        return sorted(self.spool_dir.glob("*.spool"))

    def _write_spooled(self) -> int:
        written = 0
        for path in self._spool_files():
            claimed = path.with_suffix(f".claimed-{os.getpid()}")
            try:
                os.replace(path, claimed)  # whoever renames it first writes it
            except FileNotFoundError:
                continue
            try:
                with open(claimed, "rb") as fh:
                    tasks, rows, bulk = pickle.load(fh)
                self._write(tasks, rows, bulk)
            except Exception as exc:  # noqa: BLE001 - leave it for a later flush
                os.replace(claimed, path)
                log.debug("spooled executions in %s not written yet: %s", path, exc)
                break
            claimed.unlink()
            count = len(rows) + sum(len(ids) for _, _, ids in bulk)
            written += count
            self.written += count
        return written

    # -- shutdown -----------------------------------------------------------------------------------
    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued (spooling it if the database is unavailable) and stop."""
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        self._thread.join(timeout)
        try:
            self.flush()
        except Exception:  # noqa: BLE001
            log.exception("final recording of executions failed")
        _recorders.discard(self)
