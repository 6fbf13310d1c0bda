"""A key that names no row gets a hint: the keys a person may have meant."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

_TABLES = {"control": "pci_dss_controls", "rule": "aws_config_rules_guidance"}


@contextmanager
def hinting_keys(session: Session, kind: str, key: str) -> Iterator[None]:
    """Turn a :class:`NotFoundError` for ``key`` into one that says what exists instead."""
    from sentinel_db.errors import NotFoundError

    try:
        yield
    except NotFoundError as exc:
        from sentinel_db.repositories.tables import near_keys, repository_for

        table = _TABLES[kind]
        if repository_for(session, table).exists(key):
            raise  # the row exists; what is missing is something else (a vector, say)
        near = near_keys(session, table, key, limit=3)
        listing = f"`sentinel-db data list {kind}s` lists them in key order"
        hint = f"did you mean {', '.join(near)}? {listing}" if near else listing
        raise NotFoundError(f"no {kind} {key!r} in {table}", hint=hint) from exc
