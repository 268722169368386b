"""Task sources: where the registry finds tasks (directories and zips here; HTTP and git in ``remote``).

A source scans into a :class:`SourceScan`: the tasks it holds and, for each task that
does not load, a :class:`SourceProblem` naming its path. One broken task never hides
the others; a source that cannot be read at all raises :class:`RegistryError`.
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Iterable, Mapping

from ..core.errors import ConfigError, RatchetError, RegistryError
from ..core.task import Task, load_task

#: Directory names never scanned for tasks.
SKIPPED_DIRS = frozenset({"node_modules", "__pycache__", "__MACOSX"})
_URL_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


@dataclass(frozen=True)
class SourceProblem:
    """A task that could not be registered.

    Attributes
    ----------
    source
        The source's uri.
    path
        The task's directory, zip member (``archive.zip!/folder``) or URL.
    error
        One line: ``<ErrorClass>: <message>``.
    kind
        ``"load"`` (did not load), ``"check"`` (failed the check), ``"reload"`` (an edit broke it),
        ``"duplicate"``, ``"conflict"``, ``"source"`` (the whole source failed) or ``"storage"``.
    """

    source: str
    path: str
    error: str
    kind: str = "load"


@dataclass(frozen=True)
class LoadedTask:
    """A task found by a source, and where (its directory, zip member or URL)."""

    task: Task
    path: str


@dataclass
class SourceScan:
    """What one scan of a source found."""

    tasks: list[LoadedTask] = field(default_factory=list)
    problems: list[SourceProblem] = field(default_factory=list)


def one_line(exc: BaseException) -> str:
    """``<ErrorClass>: <first line of the message>``."""
    text = str(exc).strip().split("\n")[0].strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class TaskSource(ABC):
    """A place tasks are loaded from.

    Implementers set the class attribute ``kind`` and, in ``__init__``, ``uri`` (a stable
    string naming the source: it becomes ``Task.source`` and is what
    ``TaskRepository.find_by_registry`` looks up) and ``label`` (for people), and implement
    :meth:`scan`. Sources whose tasks live in a local directory that can change under
    the user return it from :meth:`watch_root` and reload single tasks in :meth:`load_one`.
    """

    kind: str = ""
    uri: str
    label: str

    @abstractmethod
    def scan(self, cache_dir: Path) -> SourceScan:
        """Load every task of the source.

        Parameters
        ----------
        cache_dir
            A directory the source may keep downloads and checkouts in.

        Returns
        -------
        SourceScan
            The tasks that loaded, and one problem per task that did not.

        Raises
        ------
        RegistryError
            When the source as a whole cannot be read (``details`` has ``source`` and ``path``).
        """

    def watch_root(self) -> Path | None:
        """The local directory to watch for edits, or None (the default: not watchable)."""
        return None

    def load_one(self, path: str | Path) -> Task:
        """Load the single task at ``path`` again (after an edit).

        Raises
        ------
        RatchetError
            A :class:`TaskError` when the task is broken; :class:`RegistryError` when the
            source cannot reload single tasks.
        """
        raise RegistryError(
            f"{self.label}: a {self.kind or 'this'} source cannot reload a single task; sync it instead",
            details={"source": self.uri, "path": str(path)},
        )

    def _stamp(self, task: Task) -> Task:
        task.source = self.uri
        return task

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.uri!r})"


def _is_skipped(name: str) -> bool:
    return name.startswith(".") or name in SKIPPED_DIRS


def find_task_dirs(root: Path) -> list[Path]:
    """Every directory under ``root`` (``root`` included) holding ``metadata.json``, sorted.

    Hidden directories, ``node_modules`` and ``.git`` are skipped, and a task directory is
    not descended into (its ``tests/`` and other folders belong to it).
    """
    found: list[Path] = []
    for current, dirs, files in os.walk(root):
        if "metadata.json" in files:
            found.append(Path(current))
            dirs[:] = []
            continue
        dirs[:] = sorted(d for d in dirs if not _is_skipped(d))
    return sorted(found)


class DirectorySource(TaskSource):
    """Every directory holding a ``metadata.json`` under ``path``, at any depth (nested collections).

    Parameters
    ----------
    path
        The directory (``~`` is expanded; relative paths are taken from the current directory).
    label
        A name for people; the directory's name by default.
    uri
        Overrides the uri (used by sources that check out into a directory, such as git).
    """

    kind = "directory"

    def __init__(self, path: str | Path, *, label: str | None = None, uri: str | None = None) -> None:
        self.root = Path(path).expanduser().resolve()
        self.uri = uri or str(self.root)
        self.label = label or self.root.name or str(self.root)

    def scan(self, cache_dir: Path) -> SourceScan:
        if not self.root.is_dir():
            raise RegistryError(
                f"task source {self.label}: no such directory {self.root}",
                details={"source": self.uri, "path": str(self.root)},
            )
        scan = SourceScan()
        for task_dir in find_task_dirs(self.root):
            try:
                scan.tasks.append(LoadedTask(self._stamp(load_task(task_dir)), str(task_dir)))
            except (RatchetError, OSError) as exc:
                scan.problems.append(SourceProblem(self.uri, str(task_dir), one_line(exc)))
        return scan

    def watch_root(self) -> Path | None:
        return self.root

    def load_one(self, path: str | Path) -> Task:
        return self._stamp(load_task(path))


def scan_zip_bytes(data: bytes, *, uri: str, where: str) -> SourceScan:
    """Load every task in a zip: one at its root, or one per folder holding ``metadata.json``.

    Parameters
    ----------
    data
        The zip's bytes.
    uri
        The source's uri (stamped on the tasks and problems).
    where
        How the zip is named in paths: a task in folder ``f`` is at ``<where>!/f``.

    Raises
    ------
    RegistryError
        The data is not a zip, or holds no task.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise RegistryError(f"{where}: not a zip file ({exc})", details={"source": uri, "path": where}) from None
    with archive:
        names = [n for n in archive.namelist() if not n.endswith("/")]
        names = [n for n in names if not any(_is_skipped(part) for part in PurePosixPath(n).parts[:-1])]
        folders = sorted(
            (str(PurePosixPath(n).parent) for n in names if PurePosixPath(n).name == "metadata.json"),
            key=lambda f: (f != ".", f.count("/"), f),
        )
        roots: list[str] = []
        for folder in folders:
            # A folder inside a task folder belongs to that task (e.g. its tests).
            if not any(root == "." or folder.startswith(root + "/") for root in roots):
                roots.append(folder)
        if not roots:
            raise RegistryError(f"{where}: the zip holds no task (no metadata.json)", details={"source": uri, "path": where})
        scan = SourceScan()
        for root in sorted(roots):
            prefix = "" if root == "." else root + "/"
            path = where if root == "." else f"{where}!/{root}"
            try:
                files = {n[len(prefix):]: archive.read(n) for n in names if n.startswith(prefix)}
                task = Task.from_files(files, path)
                task.source = uri
                scan.tasks.append(LoadedTask(task, path))
            except (RatchetError, zipfile.BadZipFile, OSError, ValueError) as exc:
                scan.problems.append(SourceProblem(uri, path, one_line(exc)))
        return scan


class ZipSource(TaskSource):
    """A ``.zip`` holding one task at its root, or many tasks in folders.

    Parameters
    ----------
    path
        The zip file.
    label
        A name for people; the file's name by default.
    """

    kind = "zip"

    def __init__(self, path: str | Path, *, label: str | None = None) -> None:
        self.path = Path(path).expanduser().resolve()
        self.uri = str(self.path)
        self.label = label or self.path.name

    def scan(self, cache_dir: Path) -> SourceScan:
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise RegistryError(
                f"task source {self.label}: cannot read {self.path} ({exc.strerror or exc})",
                details={"source": self.uri, "path": str(self.path)},
            ) from None
        return scan_zip_bytes(data, uri=self.uri, where=str(self.path))


class TaskLoader(ABC):
    """A plugin capability adding a kind of task source.

    Implementers set ``kind`` (matched against a dict spec's ``type``), decide in
    :meth:`matches` whether a string spec is theirs (e.g. ``s3://`` URLs), and build the
    source in :meth:`create`. Loaders are consulted before the built-in kinds.
    """

    kind: str = ""

    def matches(self, spec: str) -> bool:
        """Whether the string ``spec`` names a source of this kind (default: never)."""
        return False

    @abstractmethod
    def create(self, spec: str | Mapping[str, Any]) -> TaskSource:
        """Build the :class:`TaskSource` for ``spec`` (a string, or a dict whose ``type`` is ``kind``).

        Raises
        ------
        ConfigError
            When the spec is not usable.
        """


def split_git_spec(text: str) -> tuple[str, str | None, str | None]:
    """Split ``git+<url>[@ref][#subdir=<dir>]`` into ``(url, ref, subdir)``.

    An ``@`` in the URL's user part (``ssh://git@host/...``) is not taken for a ref.
    """
    body = text[4:] if text.startswith("git+") else text
    subdir = None
    if "#" in body:
        body, fragment = body.split("#", 1)
        for item in fragment.split("&"):
            key, _, value = item.partition("=")
            if key == "subdir" and value:
                subdir = value
    scheme, sep, rest = body.partition("://")
    if sep:
        slash = rest.find("/")
        head, path = (rest, "") if slash < 0 else (rest[:slash], rest[slash:])
        prefix = f"{scheme}://{head}"
    else:
        colon = body.find(":")  # scp-like user@host:path: the ref is after the path
        prefix, path = (body[: colon + 1], body[colon + 1:]) if colon > 0 else ("", body)
    ref = None
    if "@" in path:
        path, ref = path.rsplit("@", 1)
    return prefix + path, ref or None, subdir


def parse_source(
    spec: str | Mapping[str, Any],
    loaders: Iterable[TaskLoader] = (),
    *,
    http_timeout: float = 30.0,
    git_timeout: float = 120.0,
) -> TaskSource:
    """Build the source a config spec names.

    Parameters
    ----------
    spec
        A string (directory, ``.zip``, ``http(s)://`` URL, ``git+<url>[@ref]``) or a dict
        ``{"type", "url"/"path", "ref", "subdir", "name"}``.
    loaders
        Plugin task loaders, consulted first (by a dict's ``type`` or their ``matches``).
    http_timeout, git_timeout
        Seconds allowed for downloads and for each git command.

    Raises
    ------
    ConfigError
        Naming the spec, when no loader or built-in kind takes it.
    """
    from ..config.registry import check_source_spec
    from .remote import GitSource, HttpSource

    check_source_spec(spec)
    loaders = list(loaders)
    kind = spec.get("type") if isinstance(spec, Mapping) else None
    for loader in loaders:
        if (kind is not None and kind == loader.kind) or (isinstance(spec, str) and loader.matches(spec)):
            try:
                return loader.create(spec)
            except ConfigError:
                raise
            except Exception as exc:  # noqa: BLE001 - a plugin's failure names the spec
                raise ConfigError(f"task source {spec!r}: the '{loader.kind}' loader failed: {one_line(exc)}",
                                  details={"source": repr(spec)}) from exc
    if isinstance(spec, str):
        text, ref, subdir, label = spec.strip(), None, None, None
    else:
        text = str(spec.get("url") or spec.get("path")).strip()
        ref, subdir, label = spec.get("ref"), spec.get("subdir"), spec.get("name")
    if kind is None:
        lowered = text.lower()
        if lowered.startswith("git+"):
            kind = "git"
        elif lowered.startswith(("http://", "https://")):
            kind = "http"
        elif _URL_SCHEME.match(text) and not lowered.startswith("file://"):
            raise ConfigError(f"task source {spec!r}: unknown URL scheme (no loader handles it)",
                              details={"source": repr(spec)})
        else:
            kind = "zip" if lowered.endswith(".zip") else "directory"
    if kind in ("directory", "zip") and text.startswith("file://"):
        text = text[len("file://"):]
    if kind == "directory":
        return DirectorySource(text, label=label)
    if kind == "zip":
        return ZipSource(text, label=label)
    if kind == "http":
        return HttpSource(text, label=label, timeout=http_timeout)
    if kind == "git":
        url, spec_ref, spec_subdir = split_git_spec(text)
        return GitSource(url, ref=ref or spec_ref, subdir=subdir or spec_subdir, label=label, timeout=git_timeout)
    raise ConfigError(f"task source {spec!r}: unknown type {kind!r} (no loader provides it)",
                      details={"source": repr(spec)})
