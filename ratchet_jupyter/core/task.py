"""The task model: a Ratchet task loaded from a directory or zip, or built in Python."""

from __future__ import annotations

import hashlib
import io
import json
import re
import uuid as uuid_mod
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

from .errors import TaskError
from .testcase import TestCase

if TYPE_CHECKING:  # pragma: no cover
    from .execution import Execution

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}

#: Set by the package on import: returns the runtime that ``Task.run`` and friends use.
#: (The core does not import the runtime; the dependency points the other way.)
default_runner: Callable[[], Any] | None = None


def parse_size(value: Any, *, where: str = "memory_limit") -> int | None:
    """Parse ``"64MB"``, ``"512k"``, ``"1GiB"`` or a number of bytes into bytes."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise TaskError(f"{where}: expected a size such as '64MB', got {value!r}")
    if isinstance(value, (int, float)):
        return int(value)
    match = _SIZE_RE.match(str(value))
    if not match:
        raise TaskError(f"{where}: expected a size such as '64MB', got {value!r}")
    unit = (match.group(2) or "").lower().rstrip("b").rstrip("i")
    return int(float(match.group(1)) * _UNITS[unit])


def _read_json(data: bytes, where: str) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise TaskError(f"{where}: not UTF-8 ({exc})", operation="load") from None
    except json.JSONDecodeError as exc:
        raise TaskError(
            f"{where}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
            operation="load",
            details={"file": where, "line": exc.lineno, "column": exc.colno},
        ) from None


@dataclass(eq=False)
class Task:
    """A Ratchet task: a JavaScript function with JSON Schemas for its input and output.

    Parameters
    ----------
    name
        The task's label (``metadata.json``'s ``label`` or ``name``).
    code
        The content of ``main.js``: JavaScript whose completion value is the task function.
    input_schema, output_schema
        JSON Schemas; ``None`` accepts anything.
    version
        A version string (default ``"1.0.0"``).
    description
        Free text.
    uuid
        Stable identifier; generated from the name when not given.
    tests
        Test cases (``tests/*.json``).
    metadata
        The remaining metadata fields (``tags``, ``timeout``, ``memory_limit``, ``author``...).
    source
        Where the task was loaded from, if anywhere.
    """

    name: str
    code: str
    input_schema: Any = None
    output_schema: Any = None
    version: str = "1.0.0"
    description: str = ""
    uuid: str | None = None
    tests: list[TestCase] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    source: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise TaskError("a task needs a non-empty name (metadata 'label' or 'name')", operation="load")
        if not isinstance(self.code, str) or not self.code.strip():
            raise TaskError(f"task '{self.name}' has no code (main.js is empty)", operation="load", task=self.name)
        if self.uuid is None:
            self.uuid = str(uuid_mod.uuid5(uuid_mod.NAMESPACE_URL, f"ratchet-task:{self.name}"))
        self.version = str(self.version)
        self._timeout = self._parse_timeout(self.metadata.get("timeout"))
        self._memory = parse_size(self.metadata.get("memory_limit"), where=f"task '{self.name}' memory_limit")
        self._hash: str | None = None
        self._code_hash: str | None = None
        self._validators: dict[tuple[str, bool], Callable[[Any], None]] = {}

    def _parse_timeout(self, value: Any) -> float | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise TaskError(
                f"task '{self.name}': metadata timeout must be a positive number of seconds, got {value!r}",
                operation="load",
                task=self.name,
            )
        return float(value)

    # -- identity -------------------------------------------------------------------
    @property
    def timeout(self) -> float | None:
        """Time limit in seconds from the task's metadata (overrides the config), or None."""
        return self._timeout

    @property
    def memory_limit(self) -> int | None:
        """Heap limit in bytes from the task's metadata (overrides the config), or None."""
        return self._memory

    @property
    def content_hash(self) -> str:
        """SHA-256 of the code, schemas, name and version: equal tasks hash equal."""
        if self._hash is None:
            blob = json.dumps(
                [self.name, self.version, self.code, self.input_schema, self.output_schema],
                sort_keys=True,
                separators=(",", ":"),
            )
            self._hash = hashlib.sha256(blob.encode()).hexdigest()
        return self._hash

    @property
    def js_predicates(self) -> tuple[str | None, str | None]:
        """JS sources checking input and output inside V8 during batches (None: Python checks)."""
        found = self._validators.get(("js", False))
        if found is None:
            from .schema_js import compile_js_predicate

            found = (compile_js_predicate(self.input_schema), compile_js_predicate(self.output_schema))
            self._validators[("js", False)] = found  # type: ignore[assignment]
        return found  # type: ignore[return-value]

    @property
    def code_hash(self) -> str:
        """Key under which workers cache the compiled function (and its schema predicates)."""
        if self._code_hash is None:
            blob = "\0".join([self.name, self.code, *(p or "" for p in self.js_predicates)])
            self._code_hash = hashlib.sha256(blob.encode()).hexdigest()[:32]
        return self._code_hash

    @property
    def tags(self) -> list[str]:
        return list(self.metadata.get("tags") or [])

    def validator(self, which: str, strict: bool = False) -> Callable[[Any], None]:
        """The compiled validator of the ``"input"`` or ``"output"`` schema (cached)."""
        key = (which, strict)
        found = self._validators.get(key)
        if found is None:
            from .schema import compile_validator

            schema = self.input_schema if which == "input" else self.output_schema
            found = compile_validator(schema, strict=strict, where=f"{which} schema of task '{self.name}'")
            self._validators[key] = found
        return found

    def metadata_json(self) -> dict[str, Any]:
        """The ``metadata.json`` content for this task."""
        data = {"uuid": self.uuid, "version": self.version, "label": self.name, "description": self.description}
        data.update({k: v for k, v in self.metadata.items() if k not in data and k != "name"})
        return data

    # -- running (delegates to the runtime) -----------------------------------------
    def _runtime(self) -> Any:
        if default_runner is None:  # pragma: no cover - set by ratchet_jupyter/__init__
            raise TaskError("no runtime is available; import ratchet_jupyter first")
        return default_runner()

    def run(self, input: Any = None, **options: Any) -> "Execution":
        """Run the task once; return the :class:`Execution` (it never raises for task failures)."""
        return self._runtime().run(self, input, **options)

    def __call__(self, input: Any = None, **options: Any) -> Any:
        """Run the task and return its output; raise the :class:`RatchetError` on failure."""
        return self.run(input, **options).result()

    def map(self, inputs: Iterable[Any], **options: Any) -> list["Execution"]:
        """Run the task over many inputs in chunks across the worker pool, keeping order."""
        return self._runtime().map(self, inputs, **options)

    def test(self, **options: Any) -> Any:
        """Run the task's test cases; return a :class:`~ratchet_jupyter.core.testcase.TestReport`."""
        return self._runtime().test(self, **options)

    def validate(self, **options: Any) -> "Task":
        """Check metadata, JS syntax and schemas; raise the first problem, return self if fine."""
        self._runtime().check(self, **options)
        return self

    def __repr__(self) -> str:
        return f"Task(name={self.name!r}, version={self.version!r}, hash={self.content_hash[:12]})"

    # -- persistence ------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write the task as a Ratchet task directory (with its tests); return the path."""
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        (path / "metadata.json").write_text(json.dumps(self.metadata_json(), indent=2) + "\n")
        (path / "main.js").write_text(self.code if self.code.endswith("\n") else self.code + "\n")
        for which, schema in (("input", self.input_schema), ("output", self.output_schema)):
            if schema is not None:
                (path / f"{which}.schema.json").write_text(json.dumps(schema, indent=2) + "\n")
        if self.tests:
            (path / "tests").mkdir(exist_ok=True)
            for index, case in enumerate(self.tests, 1):
                name = case.file_name or f"test-{index:03d}.json"
                (path / "tests" / name).write_text(json.dumps(case.to_json(), indent=2) + "\n")
        return path

    # -- loading -------------------------------------------------------------------------
    @classmethod
    def from_files(cls, files: Mapping[str, bytes], source: str) -> "Task":
        """Build a task from a mapping of relative POSIX paths to bytes (a directory or zip)."""
        if "metadata.json" not in files:
            raise TaskError(f"{source}: no metadata.json (is this a Ratchet task directory?)", operation="load")
        meta = _read_json(files["metadata.json"], f"{source}/metadata.json")
        if not isinstance(meta, dict):
            raise TaskError(f"{source}/metadata.json: expected a JSON object", operation="load")
        name = meta.get("label") or meta.get("name")
        if not isinstance(name, str) or not name.strip():
            raise TaskError(f"{source}/metadata.json: needs a 'label' (or 'name') string", operation="load")
        if "main.js" not in files:
            raise TaskError(f"{source}: no main.js", operation="load", task=name)
        try:
            code = files["main.js"].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise TaskError(f"{source}/main.js: not UTF-8 ({exc})", operation="load", task=name) from None
        schemas = {}
        for which in ("input", "output"):
            fname = f"{which}.schema.json"
            schemas[which] = _read_json(files[fname], f"{source}/{fname}") if fname in files else None
        tests = []
        for rel in sorted(p for p in files if p.startswith("tests/") and p.endswith(".json") and p.count("/") == 1):
            data = _read_json(files[rel], f"{source}/{rel}")
            tests.append(TestCase.from_json(data, file_name=rel.split("/", 1)[1], where=f"{source}/{rel}"))
        extra = {k: v for k, v in meta.items() if k not in ("uuid", "version", "label", "description")}
        return cls(
            name=name.strip(),
            code=code,
            input_schema=schemas["input"],
            output_schema=schemas["output"],
            version=str(meta.get("version", "1.0.0")),
            description=str(meta.get("description") or ""),
            uuid=meta.get("uuid"),
            tests=tests,
            metadata=extra,
            source=source,
        )


def _directory_files(path: Path) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for name in ("metadata.json", "main.js", "input.schema.json", "output.schema.json"):
        if (path / name).is_file():
            files[name] = (path / name).read_bytes()
    tests = path / "tests"
    if tests.is_dir():
        for item in sorted(tests.glob("*.json")):
            files[f"tests/{item.name}"] = item.read_bytes()
    return files


def _zip_files(data: bytes, source: str) -> dict[str, bytes]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise TaskError(f"{source}: not a zip file ({exc})", operation="load") from None
    names = [n for n in archive.namelist() if not n.endswith("/") and "__MACOSX" not in n]
    metas = [n for n in names if PurePosixPath(n).name == "metadata.json"]
    if not metas:
        raise TaskError(f"{source}: the zip holds no metadata.json", operation="load")
    root = str(PurePosixPath(min(metas, key=len)).parent)
    prefix = "" if root == "." else root + "/"
    return {n[len(prefix):]: archive.read(n) for n in names if n.startswith(prefix)}


def load_task(path: str | Path) -> Task:
    """Load a Ratchet task from a directory or a ``.zip`` of one.

    Raises
    ------
    TaskError
        Naming the file and what is wrong with it.
    """
    p = Path(path)
    if p.is_dir():
        return Task.from_files(_directory_files(p), str(p))
    if p.is_file():
        return Task.from_files(_zip_files(p.read_bytes(), str(p)), str(p))
    raise TaskError(f"{p}: no such task directory or zip file", operation="load")
