"""Where the task registry finds tasks: directories, zips, HTTP and git sources."""

from __future__ import annotations

import os
from typing import Any

from traitlets import Bool, Float, Int, List, TraitError, Unicode, validate
from traitlets.config import Configurable

from ..core.errors import ConfigError
from .paths import ratchet_data_dir

#: Source kinds built into the registry (plugins may add more through task loaders).
BUILTIN_SOURCE_KINDS = ("directory", "zip", "http", "git")
_TEXT_KEYS = ("type", "url", "path", "ref", "subdir", "name")


class SourceSpecError(ConfigError, TraitError):
    """A task source spec is malformed.

    It is a :class:`ConfigError` for callers and a ``TraitError`` for traitlets, so
    that a bad assignment (``%config RegistryConfig.sources = [...]``) is rolled back.
    """


def default_sources_cache() -> str:
    """``<jupyter data dir>/ratchet/sources``."""
    return os.path.join(ratchet_data_dir(), "sources")


def check_source_spec(spec: Any) -> None:
    """Raise :class:`SourceSpecError` naming ``spec`` if it is not a well-formed source spec.

    Only the shape is checked here; whether a plugin provides an unknown ``type``
    (or matches an unusual string) is decided when the registry builds its sources.
    """
    if isinstance(spec, str):
        if not spec.strip():
            raise SourceSpecError("task source: an empty string is not a source", details={"source": spec})
        if spec.startswith("git+") and len(spec.strip()) <= 4:
            raise SourceSpecError(f"task source {spec!r}: 'git+' needs a repository URL", details={"source": spec})
        return
    if not isinstance(spec, dict):
        raise SourceSpecError(
            f"task source {spec!r}: expected a string or a dict with 'type' and 'url'/'path'",
            details={"source": repr(spec)},
        )
    for key in _TEXT_KEYS:
        if key in spec and spec[key] is not None and not isinstance(spec[key], str):
            raise SourceSpecError(f"task source {spec!r}: '{key}' must be a string", details={"source": repr(spec)})
    kind = spec.get("type")
    if (kind is None or kind in BUILTIN_SOURCE_KINDS) and not (spec.get("url") or spec.get("path")):
        raise SourceSpecError(f"task source {spec!r}: needs a 'url' or 'path'", details={"source": repr(spec)})


class RegistryConfig(Configurable):
    """The task registry: the sources it loads tasks from, their cache and file watching."""

    # The elements are checked by ``_check_sources`` (not an element trait), so that
    # every malformed spec is a ConfigError naming it.
    sources = List(
        help="""Where to load tasks from, in priority order (the first source wins a conflict).
        Strings: a directory path (every sub-directory holding a metadata.json is a task,
        nested collections included), a '.zip' path, an 'http(s)://' URL of a task zip or of a
        JSON index ({"tasks": [{"url": ...} | {inline task}]}), or 'git+<url>[@ref]' such as
        'git+https://github.com/org/tasks.git@main' or 'git+file:///srv/tasks@v2'.
        Dicts: {"type": "directory"|"zip"|"http"|"git"|<plugin kind>, "url" or "path": ...,
        "ref": ..., "subdir": ..., "name": an optional label}.""",
    ).tag(config=True)

    cache_dir = Unicode(
        "",
        help="""Directory for downloaded zips and git checkouts. Empty: <jupyter data
        dir>/ratchet/sources.""",
    ).tag(config=True)

    watch = Bool(
        True, help="Watch directory sources and reload a task as soon as one of its files changes."
    ).tag(config=True)

    watch_debounce_ms = Int(
        100, help="Longest time, in milliseconds, to group file changes before reloading the tasks they touch."
    ).tag(config=True)

    http_timeout = Float(30.0, help="Seconds before downloading an HTTP source (or a task zip it lists) fails.").tag(
        config=True
    )

    git_timeout = Float(120.0, help="Seconds before a git clone, fetch or checkout of a git source fails.").tag(
        config=True
    )

    check_on_load = Bool(
        True,
        help="""Check every loaded task (JavaScript syntax, that it evaluates to a function, its
        schemas) and skip the broken ones, reporting them as problems.""",
    ).tag(config=True)

    @validate("sources")
    def _check_sources(self, proposal: dict[str, Any]) -> list[Any]:
        for spec in proposal["value"]:
            check_source_spec(spec)
        return proposal["value"]

    @validate("watch_debounce_ms")
    def _check_debounce(self, proposal: dict[str, Any]) -> int:
        if proposal["value"] < 1:
            raise SourceSpecError(f"RegistryConfig.watch_debounce_ms must be at least 1, got {proposal['value']}")
        return proposal["value"]

    def resolved_cache_dir(self) -> str:
        """The cache directory to use (``cache_dir`` or the default under the Jupyter data dir)."""
        return os.path.expanduser(self.cache_dir) if self.cache_dir else default_sources_cache()
