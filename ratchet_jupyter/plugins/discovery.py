"""Finding plugins: entry points and plugin directories.

Discovery only imports; it never initialises. Each place a plugin may come from
becomes a :class:`Candidate`; a place that fails to import becomes a candidate
carrying its error, so the manager can report it and go on.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
import traceback
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import Any, Iterable

from .protocol import Plugin


@dataclass
class Candidate:
    """One plugin found (or a place where plugins were expected and the import failed)."""

    origin: str
    #: The entry point's name, or the file/package name.
    hint: str
    plugin: Plugin | None = None
    error: str | None = None


def _error_text(exc: BaseException) -> str:
    """``Type: message (file:line)`` of the innermost frame: where it went wrong, on one line."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" ({Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {message}{where}" if message else f"{type(exc).__name__}{where}"


def _instances(obj: Any, origin: str) -> list[Plugin]:
    """Plugins from what an entry point or ``ratchet_plugins`` names: a class, an instance, a factory or a list."""
    if isinstance(obj, Plugin):
        return [obj]
    if isinstance(obj, type) and issubclass(obj, Plugin):
        return [obj()]
    if isinstance(obj, (list, tuple)):
        return [p for item in obj for p in _instances(item, origin)]
    if callable(obj):
        return _instances(obj(), origin)
    raise TypeError(f"{origin} gives {type(obj).__name__}, not a ratchet_jupyter Plugin")


def from_entry_points(groups: Iterable[str], skip: set[str] = frozenset()) -> list[Candidate]:
    """Candidates of the entry-point ``groups`` (entry points named in ``skip`` are not imported)."""
    found: list[Candidate] = []
    for group in groups:
        for ep in sorted(entry_points(group=group), key=lambda e: e.name):
            dist = getattr(ep, "dist", None)
            origin = f"entry point {ep.name} = {ep.value}" + (f" ({dist.name} {dist.version})" if dist else "")
            if ep.name in skip:
                found.append(Candidate(origin, ep.name))
                continue
            try:
                plugins = _instances(ep.load(), origin)
            except Exception as exc:  # noqa: BLE001 - a broken plugin is reported, not fatal
                found.append(Candidate(origin, ep.name, error=_error_text(exc)))
                continue
            found.extend(Candidate(origin, ep.name, plugin=p) for p in plugins)
    return found


def _import_path(path: Path) -> ModuleType:
    """Import a plugin file or package under a private module name derived from its path."""
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]
    module_name = f"_ratchet_plugin_{path.stem}_{digest}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    target = path / "__init__.py" if path.is_dir() else path
    spec = importlib.util.spec_from_file_location(
        module_name, target, submodule_search_locations=[str(path)] if path.is_dir() else None
    )
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {target}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def _defined_plugins(module: ModuleType) -> list[Plugin]:
    declared = getattr(module, "ratchet_plugins", None)
    if declared is not None:
        return _instances(declared, module.__name__)
    classes = [
        obj for _, obj in inspect.getmembers(module, inspect.isclass)
        if issubclass(obj, Plugin) and obj is not Plugin and obj.__module__ == module.__name__
        and not inspect.isabstract(obj)
    ]
    return [cls() for cls in sorted(classes, key=lambda c: c.__name__)]


def from_directories(directories: Iterable[str]) -> list[Candidate]:
    """Candidates of every ``.py`` file and package in ``directories`` (names starting with ``_`` or ``.`` skipped)."""
    found: list[Candidate] = []
    for directory in directories:
        root = Path(directory).expanduser()
        if not root.is_dir():
            found.append(Candidate(str(root), root.name, error=f"NotADirectoryError: plugin directory {root} does not exist"))
            continue
        for path in sorted(root.iterdir()):
            if path.name.startswith(("_", ".")):
                continue
            is_package = path.is_dir() and (path / "__init__.py").is_file()
            if not (is_package or (path.is_file() and path.suffix == ".py")):
                continue
            try:
                plugins = _defined_plugins(_import_path(path))
            except Exception as exc:  # noqa: BLE001 - a broken plugin file is reported, not fatal
                found.append(Candidate(str(path), path.stem, error=_error_text(exc)))
                continue
            if not plugins:
                found.append(Candidate(str(path), path.stem, error="defines no Plugin subclass and no ratchet_plugins"))
            found.extend(Candidate(str(path), path.stem, plugin=p) for p in plugins)
    return found
