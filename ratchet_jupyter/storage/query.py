"""Typed filters, sorting and pages: how callers ask a repository for entities.

A filter names a field, an operator and a value. Fields are checked against the
entity's columns and values are always bound as parameters: no text from a
caller ever becomes SQL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Generic, Sequence, TypeVar

from ..core.errors import StorageError

T = TypeVar("T")

OPERATORS = ("eq", "ne", "lt", "le", "gt", "ge", "in", "contains", "startswith", "is_null")


@dataclass(frozen=True)
class Filter:
    """``field operator value``, e.g. ``Filter("status", "eq", "failed")``."""

    field: str
    op: str = "eq"
    value: Any = None

    def __post_init__(self) -> None:
        if self.op not in OPERATORS:
            raise StorageError(f"unknown filter operator {self.op!r} (known: {', '.join(OPERATORS)})")
        if self.op == "in" and not isinstance(self.value, (list, tuple, set, frozenset)):
            raise StorageError("the 'in' operator needs a list of values")


@dataclass(frozen=True)
class Query:
    """Filters (all must hold), an optional sort field and direction."""

    filters: tuple[Filter, ...] = ()
    sort: str | None = None
    descending: bool = False

    @classmethod
    def where(cls, *filters: Filter, sort: str | None = None, descending: bool = False, **equals: Any) -> "Query":
        """``Query.where(Filter(...), task_name="x")``: keyword arguments are equality filters."""
        extra = tuple(Filter(k, "eq", v) for k, v in equals.items() if v is not None)
        return cls(tuple(filters) + extra, sort, descending)

    def fields(self) -> set[str]:
        names = {f.field for f in self.filters}
        if self.sort:
            names.add(self.sort)
        return names


@dataclass(frozen=True)
class PageRequest:
    """Which page (1-based) of what size."""

    page: int = 1
    size: int = 50

    def __post_init__(self) -> None:
        if self.page < 1 or self.size < 1:
            raise StorageError(f"page and size must be at least 1, got page={self.page} size={self.size}")

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size


@dataclass
class Page(Generic[T]):
    """One page of results with the total count."""

    items: Sequence[T] = field(default_factory=list)
    total: int = 0
    page: int = 1
    size: int = 50

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.size)) if self.size else 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    def info(self) -> dict[str, Any]:
        """Page information for APIs: page, size, total, pages, has_next."""
        return {"page": self.page, "size": self.size, "total": self.total, "pages": self.pages, "has_next": self.has_next}


def matches(row: dict[str, Any], flt: Filter, kind: str = "text") -> bool:
    """Evaluate one filter against a row in Python (the memory backend).

    ``kind`` is the column's kind: text operators on a JSON column see its JSON text.
    """
    value = row.get(flt.field)
    if kind == "json" and flt.op in ("contains", "startswith") and value is not None:
        import json

        value = json.dumps(value, separators=(",", ":"), default=str)
    op, wanted = flt.op, flt.value
    if op == "is_null":
        return (value is None) == bool(wanted if wanted is not None else True)
    if value is None:
        return op == "ne" and wanted is not None
    try:
        if op == "eq":
            return value == wanted
        if op == "ne":
            return value != wanted
        if op == "lt":
            return value < wanted
        if op == "le":
            return value <= wanted
        if op == "gt":
            return value > wanted
        if op == "ge":
            return value >= wanted
        if op == "in":
            return value in wanted
        if op == "contains":
            return str(wanted) in str(value)
        if op == "startswith":
            return str(value).startswith(str(wanted))
    except TypeError:
        return False
    return False
