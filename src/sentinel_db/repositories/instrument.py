"""Every repository class's public methods, wrapped once when the class is defined.

The wrapper names the statements a method runs (``PciControlRepository.search``) for
:mod:`sentinel_db.runtime.metrics`, and serves the reads below from the unit of work's cache when one is
attached (:mod:`sentinel_db.runtime.cache`). It works by method name and arguments, so a method's own
code knows nothing of either. Only the outermost repository call counts: a method called by
another (``get_by_key`` inside ``update``) runs plainly under its caller's name.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable, Hashable
from types import FunctionType
from typing import Any

from sentinel_db.records.models import Base
from sentinel_db.records.rows import Record
from sentinel_db.runtime.cache import of_session
from sentinel_db.runtime.metrics import current_method
from sentinel_db.runtime.query_vectors import SESSION_KEY as EMBEDDER_KEY

# Reads whose results may be cached; any method named search* too. Writes and generators are not.
CACHED_READS = frozenset(
    {
        "find",
        "get",
        "find_by_key",
        "get_by_key",
        "get_by_control_id",
        "get_by_rule_name",
        "list",
        "count",
        "exists",
        "by_requirement",
        "by_category",
        "metadata_contains",
        "by_names",
        "for_control",
        "rules_for_control",
        "controls_for_rule",
        "coverage",
    }
)
_ORIGINAL = "__sentinel_original__"
_record_of_model: dict[type[Base], type[Record]] = {}


def is_cached_read(name: str) -> bool:
    """True when results of a method called ``name`` may come from the cache."""
    return name in CACHED_READS or name.startswith("search")


def instrument(cls: type[Any]) -> None:
    """Wrap ``cls``'s public methods (inherited ones included) for metrics and the cache."""
    model = getattr(cls, "model", None)
    if model is None:
        return
    _record_of_model[model] = cls.record_type
    own = model.__tablename__
    for name in dir(cls):
        if name.startswith("_"):
            continue
        attr = inspect.getattr_static(cls, name)
        if not isinstance(attr, FunctionType):
            continue  # properties, class attributes, class methods
        func = getattr(attr, _ORIGINAL, attr)
        if inspect.isgeneratorfunction(func):
            continue  # their body runs after the call returns, outside any label
        # The cache adds every other table the read turns out to query (runtime.cache).
        tables = (own,) if is_cached_read(name) else ()
        setattr(cls, name, _wrap(f"{cls.__name__}.{name}", func, tables))


def _wrap(label: str, func: Callable[..., Any], tables: tuple[str, ...]) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        if current_method.get() is not None:
            return func(self, *args, **kwargs)
        token = current_method.set(label)
        try:
            view = of_session(self.session) if tables else None
            key = _key(label, args, kwargs, self.session.info) if view is not None else None
            if view is None or key is None:
                return func(self, *args, **kwargs)
            return view.call(key, tables, lambda: _as_records(func(self, *args, **kwargs)))
        finally:
            current_method.reset(token)

    setattr(wrapper, _ORIGINAL, func)
    return wrapper


def _key(
    label: str, args: tuple[Any, ...], kwargs: dict[str, Any], info: dict[str, Any]
) -> Hashable | None:
    if kwargs.get("embedding") is not None and kwargs.get("embedding") is not False:
        return None  # hybrid search also reads the vectors, which the cache does not track
    searching = label.rpartition(".")[2].startswith("search")
    if searching and kwargs.get("embedding") is None and info.get(EMBEDDER_KEY) is not None:
        return None  # with a provider, the answer also depends on the vectors and the provider
    key = (label, args, tuple(sorted(kwargs.items())))
    try:
        hash(key)
        return key
    except TypeError:  # a dict or list argument (metadata_contains): its JSON text is the key
        try:
            return (label, json.dumps([args, kwargs], sort_keys=True, default=str))
        except (TypeError, ValueError):
            return None


def _as_records(value: Any) -> Any:
    """ORM rows in ``value`` (alone, in a list or a dict's values) as frozen API records."""
    if isinstance(value, Base):
        record_type = _record_of_model.get(type(value))
        return record_type.model_validate(value) if record_type is not None else value
    if isinstance(value, list):
        items = [_as_records(v) for v in value]
        if type(value) is list:
            return items
        same = type(value).__new__(type(value))  # a list subclass keeps its type and attributes
        list.__init__(same, items)
        vars(same).update(vars(value))
        return same
    if isinstance(value, dict):
        return {k: _as_records(v) for k, v in value.items()}
    return value
