"""The service registry: the one place where shared services are registered and found by type."""

from __future__ import annotations

import threading
from typing import Any, Callable, TypeVar

from .errors import ServiceNotFoundError

T = TypeVar("T")


class ServiceRegistry:
    """Singletons and factories registered by type, resolved by type.

    A factory is called once, on first :meth:`resolve`, with the registry itself
    (so it can resolve what it depends on); its result is kept. Resolving a type
    also finds a registered subclass of it, so ``resolve(StorageBackend)`` finds a
    ``DuckDBBackend`` registered under its own class.
    """

    def __init__(self) -> None:
        self._instances: dict[type, Any] = {}
        self._factories: dict[type, Callable[["ServiceRegistry"], Any]] = {}
        self._lock = threading.RLock()

    def register(self, kind: type[T], instance: T) -> T:
        """Register ``instance`` as the ``kind`` service (replacing any earlier one)."""
        if not isinstance(instance, kind):
            raise TypeError(f"{instance!r} is not a {kind.__qualname__}")
        with self._lock:
            self._factories.pop(kind, None)
            self._instances[kind] = instance
        return instance

    def register_factory(self, kind: type[T], factory: Callable[["ServiceRegistry"], T]) -> None:
        """Build the ``kind`` service with ``factory(registry)`` when it is first resolved."""
        with self._lock:
            self._instances.pop(kind, None)
            self._factories[kind] = factory

    def _find(self, kind: type) -> type | None:
        if kind in self._instances or kind in self._factories:
            return kind
        for known in (*self._instances, *self._factories):
            if isinstance(known, type) and issubclass(known, kind):
                return known
        return None

    def resolve(self, kind: type[T]) -> T:
        """The ``kind`` service; :class:`ServiceNotFoundError` naming the type if nothing provides it."""
        with self._lock:
            key = self._find(kind)
            if key is None:
                known = ", ".join(sorted(k.__qualname__ for k in (*self._instances, *self._factories))) or "nothing"
                raise ServiceNotFoundError(
                    f"no service registered for {kind.__module__}.{kind.__qualname__} (registered: {known})",
                    operation="resolve service", details={"type": f"{kind.__module__}.{kind.__qualname__}"},
                )
            if key not in self._instances:
                instance = self._factories[key](self)
                if not isinstance(instance, key):
                    raise TypeError(f"the factory of {key.__qualname__} returned {type(instance).__qualname__}")
                self._instances[key] = instance
                del self._factories[key]
            return self._instances[key]

    def get(self, kind: type[T], default: Any = None) -> T | Any:
        """Like :meth:`resolve`, but ``default`` when nothing provides ``kind`` (factories still run)."""
        try:
            return self.resolve(kind)
        except ServiceNotFoundError:
            return default

    def __contains__(self, kind: type) -> bool:
        with self._lock:
            return self._find(kind) is not None

    def built(self) -> list[Any]:
        """The instances built or registered so far, in registration order."""
        with self._lock:
            return list(self._instances.values())
