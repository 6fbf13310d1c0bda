"""The domain glossary: acronyms and everyday words mapped to the standard's own terms.

A glossary is a list of groups of equivalent expressions (``["mfa", "multi-factor
authentication", "2fa"]``). When a query names any entry of a group (all of the entry's words,
stemmed, in any order), the other entries are searched too, as phrases, at a lower weight than
the words typed (see :mod:`sentinel_db.repositories.search_terms`). An entry with a stop word
(``log in``) is named by, and matches, only those words in that order: it never shrinks to
``log``. It is applied to the query, so it
works on any PostgreSQL (Supabase included) without dictionary files on the server.

The glossary shipped in this package (``glossary.json``) can be extended with a file of the same
shape named by ``SEARCH_GLOSSARY_FILE``; its groups are added to the shipped ones.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from sentinel_db.errors import ConfigError


@dataclass(frozen=True)
class Glossary:
    """Groups of equivalent expressions, ready to expand queries."""

    groups: tuple[tuple[str, ...], ...]

    @classmethod
    def from_groups(cls, groups: Iterable[Sequence[str]]) -> Glossary:
        """A glossary of ``groups`` (blank entries and groups of one are dropped)."""
        kept = []
        for group in groups:
            entries = tuple(dict.fromkeys(e.strip() for e in group if e.strip()))
            if len(entries) > 1:
                kept.append(entries)
        return cls(groups=tuple(kept))

    def __add__(self, other: Glossary) -> Glossary:
        return Glossary(groups=self.groups + other.groups)


def _groups_of(data: Any, source: str) -> list[list[str]]:
    groups = data.get("groups") if isinstance(data, dict) else data
    if not isinstance(groups, list) or not all(
        isinstance(g, list) and all(isinstance(e, str) for e in g) for g in groups
    ):
        raise ConfigError(
            f"{source}: a glossary is a JSON list of groups (lists of strings), "
            'or an object with such a list under "groups"'
        )
    return groups


def load_glossary_file(path: Path) -> Glossary:
    """The glossary in the JSON file ``path``.

    Raises:
        ConfigError: the file cannot be read or is not a glossary (the message names it).
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read the search glossary {path}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path}:{exc.lineno}:{exc.colno}: the search glossary is not valid JSON: {exc.msg}"
        ) from exc
    return Glossary.from_groups(_groups_of(data, str(path)))


@lru_cache(maxsize=1)
def builtin_glossary() -> Glossary:
    """The glossary shipped with sentinel-db."""
    text = resources.files("sentinel_db.search").joinpath("glossary.json").read_text("utf-8")
    return Glossary.from_groups(_groups_of(json.loads(text), "glossary.json"))


@lru_cache(maxsize=8)
def glossary_for(extra_file: Path | None) -> Glossary:
    """The shipped glossary, extended by ``extra_file`` when one is named."""
    base = builtin_glossary()
    return base if extra_file is None else base + load_glossary_file(extra_file)


def default_glossary() -> Glossary:
    """The shipped glossary plus ``SEARCH_GLOSSARY_FILE`` from the settings, when set.

    Raises:
        ConfigError: the settings or the named file are invalid.
    """
    from sentinel_db.config import get_settings

    return glossary_for(get_settings().search_glossary_file)
