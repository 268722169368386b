"""Remote task sources: an HTTP(S) zip or JSON index, and a git repository."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Iterator

from ..core.errors import RatchetError, RegistryError
from ..core.task import Task, load_task
from ..core.testcase import TestCase
from .sources import DirectorySource, LoadedTask, SourceProblem, SourceScan, TaskSource, one_line, scan_zip_bytes

_ZIP_TYPES = {"application/zip", "application/x-zip-compressed", "application/x-zip"}


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def download(url: str, *, timeout: float, source: str) -> tuple[bytes, str]:
    """GET ``url``; return its body and content type.

    Raises
    ------
    RegistryError
        Naming the URL and the HTTP status (``details['status']``) or the network error.
    """
    request = urllib.request.Request(
        url, headers={"User-Agent": "ratchet-jupyter", "Accept": "application/zip, application/json;q=0.9, */*;q=0.5"}
    )
    details: dict[str, Any] = {"source": source, "path": url}
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - configured source URL
            return response.read(), response.headers.get_content_type()
    except urllib.error.HTTPError as exc:
        exc.close()
        raise RegistryError(f"{url}: HTTP {exc.code} {exc.reason}", details=dict(details, status=exc.code)) from None
    except urllib.error.URLError as exc:
        raise RegistryError(f"{url}: cannot download ({exc.reason})", details=details) from None
    except (OSError, ValueError) as exc:  # timeouts, resets, malformed URLs
        raise RegistryError(f"{url}: cannot download ({one_line(exc)})", details=details) from None


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.part")
    partial.write_bytes(data)
    os.replace(partial, path)


def inline_task(entry: dict[str, Any], *, source: str, where: str) -> Task:
    """A task written inline in a JSON index (``name``, ``code``, schemas, ``version``, ``tests``...)."""
    tests = entry.get("tests") or []
    if not isinstance(tests, list):
        raise RegistryError(f"{where}: 'tests' must be a list", details={"source": source, "path": where})
    metadata = entry.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise RegistryError(f"{where}: 'metadata' must be an object", details={"source": source, "path": where})
    return Task(
        name=entry.get("name") or entry.get("label"),
        code=entry.get("code"),
        input_schema=entry.get("input_schema"),
        output_schema=entry.get("output_schema"),
        version=str(entry.get("version", "1.0.0")),
        description=str(entry.get("description") or ""),
        uuid=entry.get("uuid"),
        tests=[
            TestCase.from_json(case, file_name=f"test-{i:03d}.json", where=f"{where} test {i}")
            for i, case in enumerate(tests, 1)
        ],
        metadata=dict(metadata),
        source=source,
    )


class HttpSource(TaskSource):
    """An ``http(s)://`` URL of a task zip, or of a JSON index of tasks.

    The index is ``{"tasks": [...]}`` (or the bare list), each entry either ``{"url": ...}``
    (a task zip, relative to the index's URL) or an inline task (``name``, ``code``,
    ``input_schema``, ``output_schema``, ``version``, ``description``, ``tests``). The
    content type decides, or else the first byte. Downloads are kept in the cache.

    Parameters
    ----------
    url
        The URL.
    label
        A name for people; the URL by default.
    timeout
        Seconds allowed for each download.
    """

    kind = "http"

    def __init__(self, url: str, *, label: str | None = None, timeout: float = 30.0) -> None:
        self.url = url
        self.uri = url
        self.label = label or url
        self.timeout = timeout

    def scan(self, cache_dir: Path) -> SourceScan:
        data, content_type = download(self.url, timeout=self.timeout, source=self.uri)
        head = data.lstrip()[:1]
        if content_type in _ZIP_TYPES or data[:2] == b"PK":
            return self._scan_zip(self.url, data, cache_dir)
        if content_type.endswith("json") or head in (b"{", b"["):
            return self._scan_index(data, cache_dir)
        raise RegistryError(
            f"{self.url}: neither a task zip nor a JSON task index (content type {content_type})",
            details={"source": self.uri, "path": self.url},
        )

    def _scan_zip(self, url: str, data: bytes, cache_dir: Path) -> SourceScan:
        _write_atomic(Path(cache_dir) / "http" / f"{_digest(url)}.zip", data)
        return scan_zip_bytes(data, uri=self.uri, where=url)

    def _scan_index(self, data: bytes, cache_dir: Path) -> SourceScan:
        details = {"source": self.uri, "path": self.url}
        try:
            index = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RegistryError(f"{self.url}: invalid JSON task index ({one_line(exc)})", details=details) from None
        entries = index.get("tasks") if isinstance(index, dict) else index
        if not isinstance(entries, list):
            raise RegistryError(f"{self.url}: a task index needs a 'tasks' list", details=details)
        scan = SourceScan()
        for number, entry in enumerate(entries, 1):
            if isinstance(entry, dict) and isinstance(entry.get("url"), str) and "code" not in entry:
                task_url = urllib.parse.urljoin(self.url, entry["url"])
                try:
                    body, _ = download(task_url, timeout=self.timeout, source=self.uri)
                    found = self._scan_zip(task_url, body, cache_dir)
                except RegistryError as exc:
                    scan.problems.append(SourceProblem(self.uri, task_url, one_line(exc)))
                    continue
                scan.tasks.extend(found.tasks)
                scan.problems.extend(found.problems)
                continue
            name = entry.get("name") or entry.get("label") if isinstance(entry, dict) else None
            where = f"{self.url}#{name or f'tasks[{number - 1}]'}"
            try:
                if not isinstance(entry, dict):
                    raise RegistryError(f"{where}: an index entry must be an object with 'url' or a task")
                scan.tasks.append(LoadedTask(inline_task(entry, source=self.uri, where=where), where))
            except RatchetError as exc:
                scan.problems.append(SourceProblem(self.uri, where, one_line(exc)))
        return scan


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (kernels and the server may share a checkout)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no cross-process lock
        yield
        return
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class GitSource(TaskSource):
    """A git repository (any URL git understands), at a branch, tag or commit, optionally a sub-directory.

    The repository is cloned into ``<cache>/git/<sha1 of url>``; later scans fetch and
    check out ``ref`` again (a branch follows its remote head), then the checkout is
    scanned like a directory source.

    Parameters
    ----------
    url
        The repository URL (``https://...``, ``ssh://...``, ``file:///...``).
    ref
        A branch, tag or commit; None follows the remote's default branch.
    subdir
        The folder of the repository holding the tasks.
    label
        A name for people (the repository's name and ref by default).
    timeout
        Seconds allowed for each git command.
    """

    kind = "git"

    def __init__(
        self,
        url: str,
        *,
        ref: str | None = None,
        subdir: str | None = None,
        label: str | None = None,
        timeout: float = 120.0,
    ) -> None:
        self.url, self.ref, self.timeout = url, ref, timeout
        self.subdir = subdir.strip("/") if subdir else None
        self.uri = f"git+{url}" + (f"@{ref}" if ref else "") + (f"#subdir={self.subdir}" if self.subdir else "")
        name = url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git") or url
        self.label = label or name + (f"@{ref}" if ref else "")
        #: The commit checked out by the last scan.
        self.commit: str | None = None

    def checkout_dir(self, cache_dir: Path) -> Path:
        """Where this repository is cloned."""
        return Path(cache_dir) / "git" / _digest(self.url)

    def scan(self, cache_dir: Path) -> SourceScan:
        repo = self.checkout_dir(cache_dir)
        repo.parent.mkdir(parents=True, exist_ok=True)
        with _file_lock(repo.with_name(repo.name + ".lock")):
            self._update(repo)
            root = repo / self.subdir if self.subdir else repo
            if not root.resolve().is_relative_to(repo.resolve()) or not root.is_dir():
                raise RegistryError(
                    f"{self.label}: no folder {self.subdir!r} at {self.ref or 'the default branch'}",
                    details={"source": self.uri, "path": str(root)},
                )
            return DirectorySource(root, uri=self.uri, label=self.label).scan(cache_dir)

    def load_one(self, path: str | Path) -> Task:
        return self._stamp(load_task(path))

    def _update(self, repo: Path) -> None:
        if (repo / ".git").is_dir():
            self._git("fetch", "--quiet", "--prune", "--tags", "--force", "origin", cwd=repo)
            if self.ref is None:  # follow a change of the remote's default branch
                self._git("remote", "set-head", "origin", "--auto", cwd=repo)
        else:
            shutil.rmtree(repo, ignore_errors=True)
            try:
                self._git("clone", "--quiet", "--no-checkout", self.url, str(repo), cwd=repo.parent)
            except RegistryError:
                shutil.rmtree(repo, ignore_errors=True)
                raise
        commit = self._resolve(repo)
        self._git("checkout", "--quiet", "--force", "--detach", commit, cwd=repo)
        self._git("clean", "-ffdxq", cwd=repo)
        self.commit = commit

    def _resolve(self, repo: Path) -> str:
        if self.ref is None:
            candidates = ["refs/remotes/origin/HEAD"]
        else:
            candidates = [f"refs/remotes/origin/{self.ref}", f"refs/tags/{self.ref}", self.ref]
        for name in candidates:
            found = self._git("rev-parse", "--verify", "--quiet", f"{name}^{{commit}}", cwd=repo, check=False)
            if found:
                return found
        what = f"no branch, tag or commit named {self.ref!r}" if self.ref else "no default branch (empty repository?)"
        raise RegistryError(f"{self.label}: {what}", details={"source": self.uri, "path": self.url})

    def _git(self, *args: str, cwd: Path, check: bool = True) -> str:
        env = dict(os.environ, GIT_TERMINAL_PROMPT="0", LC_ALL="C")
        env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
        details = {"source": self.uri, "path": self.url}
        try:
            done = subprocess.run(
                ["git", *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                capture_output=True, text=True, timeout=self.timeout,
            )
        except FileNotFoundError:
            raise RegistryError(f"{self.label}: the git command is not installed", details=details) from None
        except subprocess.TimeoutExpired:
            raise RegistryError(
                f"{self.label}: git {args[0]} timed out after {self.timeout:g} s", details=details
            ) from None
        if done.returncode != 0:
            if not check:
                return ""
            lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
            # git ends some errors with advice ("...and the repository exists."): prefer its last fatal line
            fatal = [line for line in lines if line.startswith(("fatal:", "error:"))]
            reason = (fatal or lines or [f"exit status {done.returncode}"])[-1]
            raise RegistryError(f"{self.label}: git {args[0]} failed: {reason}", details=dict(details, stderr=reason))
        return done.stdout.strip()
