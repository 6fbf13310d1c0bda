"""Deeply immutable copies of query results, so a cached value cannot be changed by its readers.

Records are frozen pydantic models already; their JSON fields (``metadata``, ``config_rules``)
are plain dicts and lists, which these functions replace with read-only subclasses. The
subclasses still are ``dict`` and ``list``: JSON encoding, pydantic dumps and ``==`` work as
before, and copying one (``copy.deepcopy``, ``model_copy(deep=True)``) gives a mutable original.
"""

from __future__ import annotations

import copy
import sys
from typing import Any, NoReturn

from pydantic import BaseModel


def _refuse(*args: Any, **kwargs: Any) -> NoReturn:
    raise TypeError("cached values are read-only; copy them to change them")


class FrozenDict(dict[Any, Any]):
    """A ``dict`` that refuses changes."""

    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __copy__(self) -> dict[Any, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[Any, Any]:
        return {copy.deepcopy(k, memo): copy.deepcopy(v, memo) for k, v in self.items()}

    def __reduce__(self) -> tuple[Any, ...]:
        return (dict, (dict(self),))


class FrozenList(list[Any]):
    """A ``list`` that refuses changes; ``source`` keeps a list subclass's type and attributes."""

    source: tuple[type[list[Any]], dict[str, Any]] | None = None

    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = clear = extend = insert = pop = remove = reverse = sort = _refuse

    def __copy__(self) -> list[Any]:
        return self.thaw()

    def thaw(self) -> list[Any]:
        """A new, changeable list of the same items (of the original type, when it had one)."""
        if self.source is None:
            return list(self)
        kind, attributes = self.source
        copy_ = kind.__new__(kind)
        list.__init__(copy_, self)
        vars(copy_).update(attributes)
        return copy_

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        return [copy.deepcopy(v, memo) for v in self]

    def __reduce__(self) -> tuple[Any, ...]:
        return (list, (list(self),))


_SCALARS = (str, int, float, bool, bytes, type(None))


class Unfreezable(Exception):
    """A value of a type this module cannot make immutable (so it must not be cached)."""


def freeze(value: Any) -> Any:
    """``value`` with every dict and list inside it read-only; frozen models are fixed in place.

    Only freshly built values may be passed: models are changed in place.

    Raises:
        Unfreezable: ``value`` holds something mutable of another kind.
    """
    if isinstance(value, _SCALARS) or type(value).__module__ in ("uuid", "datetime", "decimal"):
        return value
    if isinstance(value, FrozenDict | FrozenList):
        return value
    if isinstance(value, dict):
        return FrozenDict({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        items = [freeze(v) for v in value]
        if isinstance(value, tuple):
            return tuple(items)
        frozen = FrozenList(items)
        if type(value) is not list:
            # A list subclass (search hits, with their ``mode`` and ``note``) comes back as one.
            frozen.source = (type(value), {k: freeze(v) for k, v in vars(value).items()})
        return frozen
    if isinstance(value, BaseModel) and value.model_config.get("frozen"):
        for name in type(value).model_fields:
            # The model is frozen against callers; this is the one place that finishes it.
            object.__setattr__(value, name, freeze(getattr(value, name)))
        return value
    raise Unfreezable(type(value).__name__)


def size_of(value: Any) -> int:
    """Approximate bytes ``value`` occupies (for the cache's byte bound)."""
    if isinstance(value, str | bytes):
        return sys.getsizeof(value)
    if isinstance(value, dict):
        return sys.getsizeof(value) + sum(size_of(k) + size_of(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return sys.getsizeof(value) + sum(size_of(v) for v in value)
    if isinstance(value, BaseModel):
        return sys.getsizeof(value) + sum(size_of(v) for v in value.__dict__.values()) + 64
    return sys.getsizeof(value)
