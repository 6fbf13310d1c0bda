"""A key that names no row gets a hint: the keys a person may have meant."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_TABLES = {"control": "pci_dss_controls", "rule": "aws_config_rules_guidance"}


@contextmanager
def hinting_keys(session: Any, kind: str, key: str) -> Iterator[None]:
    """Turn a :class:`NotFoundError` for ``key`` into one that says what exists instead."""
    from sentinel_db.errors import NotFoundError

    try:
        yield
    except NotFoundError as exc:
        from sentinel_db.repositories.reads import key_exists, near_keys

        table = _TABLES[kind]
        if key_exists(session, table, key):
            raise  # the row exists; what is missing is something else (a vector, say)
        near = near_keys(session, table, key, limit=3)
        listing = f"`sentinel-db data list {kind}s` lists them in key order"
        hint = f"did you mean {', '.join(near)}? {listing}" if near else listing
        raise NotFoundError(f"no {kind} {key!r} in {table}", hint=hint) from exc
