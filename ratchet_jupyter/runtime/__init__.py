"""The V8 runtime: engine, worker pool, backends and the :class:`Runtime` front door."""

from .runtime import BatchInterrupted, Runtime, current_default_runtime, set_default_runtime

__all__ = ["BatchInterrupted", "Runtime", "current_default_runtime", "set_default_runtime"]
