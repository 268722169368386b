"""Reading configuration the way Jupyter users expect.

Sources, lowest priority first: ``ratchet_config.{py,json}`` in each directory
of the Jupyter config path, then in the working directory, then
``--Class.trait=value`` arguments.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from traitlets.config import Config
from traitlets.config.loader import ConfigFileNotFound, JSONFileConfigLoader, PyFileConfigLoader

from ..core.errors import ConfigError

CONFIG_NAME = "ratchet_config"


def config_dirs(cwd: str | os.PathLike | None = None) -> list[Path]:
    """Directories searched for ``ratchet_config.*``, lowest priority first."""
    dirs: list[Path] = []
    try:
        from jupyter_core.paths import jupyter_config_path

        dirs.extend(Path(p) for p in reversed(jupyter_config_path()))
    except ImportError:  # jupyter_core is optional for the core install
        pass
    dirs.append(Path(cwd or os.getcwd()))
    seen, unique = set(), []
    for d in dirs:
        key = str(d.resolve()) if d.exists() else str(d)
        if key not in seen:
            seen.add(key)
            unique.append(d)
    return unique


def load_config_files(dirs: Sequence[Path] | None = None) -> Config:
    """Merge every ``ratchet_config.json`` / ``.py`` found in ``dirs``."""
    merged = Config()
    for directory in dirs if dirs is not None else config_dirs():
        for loader_cls, suffix in ((JSONFileConfigLoader, ".json"), (PyFileConfigLoader, ".py")):
            path = directory / f"{CONFIG_NAME}{suffix}"
            if not path.is_file():
                continue
            try:
                merged.merge(loader_cls(path.name, path=str(directory)).load_config())
            except ConfigFileNotFound:
                continue
            except Exception as exc:  # noqa: BLE001 - a broken config file must name itself
                raise ConfigError(f"{path}: cannot read config: {exc}", operation="load config") from None
    return merged


def parse_config_args(args: Sequence[str]) -> Config:
    """Turn ``--Class.trait=value`` arguments into a Config (values parsed as Python literals)."""
    import ast

    cfg = Config()
    for arg in args:
        if not arg.startswith("--") or "=" not in arg or "." not in arg.split("=", 1)[0]:
            raise ConfigError(f"unrecognised argument {arg!r} (config options look like --Class.trait=value)")
        key, raw = arg[2:].split("=", 1)
        cls_name, _, trait = key.rpartition(".")
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            value = raw
        cfg[cls_name][trait] = value
    return cfg


def load_config(args: Sequence[str] = (), cwd: str | os.PathLike | None = None) -> Config:
    """Config files merged with command-line ``--Class.trait=value`` arguments."""
    cfg = load_config_files(config_dirs(cwd))
    cfg.merge(parse_config_args(args))
    return cfg


def check_config_names(cfg: Config, classes: Sequence[type], where: str = "configuration") -> None:
    """ConfigError for a section that is not one of ``classes``, or a trait a known class lacks.

    A typo (``--ExecutionConfg.max_duration=1``) must not pass silently: the message names it
    and the closest known name.
    """
    import difflib

    known = {cls.__name__: cls for cls in classes}
    for section, values in cfg.items():
        if not isinstance(values, Config):
            continue
        cls = known.get(section)
        if cls is None:
            close = difflib.get_close_matches(section, list(known), n=1)
            hint = f"; did you mean {close[0]}?" if close else f" (known: {', '.join(sorted(known))})"
            raise ConfigError(f"{where}: unknown configuration class {section!r}{hint}", operation="load config")
        traits = set(cls.class_trait_names(config=True))
        for trait in values:
            if trait not in traits:
                close = difflib.get_close_matches(trait, sorted(traits), n=1)
                hint = f"; did you mean {section}.{close[0]}?" if close else " (see ratchet --help-config)"
                raise ConfigError(f"{where}: {section} has no option {trait!r}{hint}", operation="load config")
