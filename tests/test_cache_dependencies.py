"""Every cached read is fresh after a commit, from another process, to each table it reads.

Which tables each read queries is written here from reading its SQL, independently of the cache:
a read that joins or counts another table must be invalidated by a write to that table too, and
left cached by a write to a table it does not read.
"""

from __future__ import annotations

import dataclasses
import inspect
import subprocess
import sys
from collections.abc import Callable, Mapping
from types import FunctionType
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from sentinel_db.config import load_settings
from sentinel_db.records import rows
from sentinel_db.records.models import AwsConfigRule, Base, PciAwsConfigMapping, PciControl
from sentinel_db.repositories import (
    AwsConfigRuleRepository,
    PciAwsConfigMappingRepository,
    PciControlRepository,
)
from sentinel_db.repositories.instrument import is_cached_read
from sentinel_db.runtime.db import Database

CONTROLS, RULES, MAPPINGS = (
    PciControl.__tablename__,
    AwsConfigRule.__tablename__,
    PciAwsConfigMapping.__tablename__,
)
REPOSITORIES = (PciControlRepository, AwsConfigRuleRepository, PciAwsConfigMappingRepository)
OWN = {PciControlRepository: CONTROLS, AwsConfigRuleRepository: RULES}
OWN[PciAwsConfigMappingRepository] = MAPPINGS  # type: ignore[index]
RECORD = {
    PciControl: rows.PciControl,
    AwsConfigRule: rows.AwsConfigRule,
    PciAwsConfigMapping: rows.PciAwsConfigMapping,
}

Call = tuple[type[Any], str, tuple[Any, ...], dict[str, Any]]
# The calls, and the tables each one's SQL reads besides its repository's own.
CALLS: list[tuple[Call, frozenset[str]]] = []


def _call(repo: type[Any], method: str, *args: Any, also: tuple[str, ...] = (), **kw: Any) -> None:
    CALLS.append(((repo, method, args, kw), frozenset({OWN[repo], *also})))


for _repo, _key, _new in (
    (PciControlRepository, "1.1", "9.9"),
    (AwsConfigRuleRepository, "r1", "r9"),
    (PciAwsConfigMappingRepository, "1.1", "2.2"),
):
    _call(_repo, "find", "ID")
    _call(_repo, "get", "ID")
    _call(_repo, "find_by_key", _key)
    _call(_repo, "get_by_key", _key)
    _call(_repo, "list", limit=50)
    _call(_repo, "count")
    _call(_repo, "exists", _new)
_call(PciControlRepository, "get_by_control_id", "1.1")
_call(PciControlRepository, "by_requirement", "1")
_call(PciControlRepository, "by_category", "Network")
_call(PciControlRepository, "metadata_contains", {"requirements_id": "1"})
_call(PciControlRepository, "search", "firewall")
_call(PciControlRepository, "search_results", "firewall")
_call(PciControlRepository, "search_by_content", "firewall")
_call(AwsConfigRuleRepository, "get_by_rule_name", "r1")
_call(AwsConfigRuleRepository, "by_names", ["r1", "r9"])
_call(AwsConfigRuleRepository, "for_control", "1.1")
_call(AwsConfigRuleRepository, "search", "bucket")
_call(AwsConfigRuleRepository, "search_results", "bucket")
_call(PciAwsConfigMappingRepository, "rules_for_control", "1.1")
_call(PciAwsConfigMappingRepository, "rules_for_control", "1.1", also=(RULES,), with_guidance=True)
_call(PciAwsConfigMappingRepository, "controls_for_rule", "r1")
_call(PciAwsConfigMappingRepository, "coverage", also=(CONTROLS, RULES))

_SEED = {
    CONTROLS: [
        {
            "control_id": "1.1",
            "requirement": "Requirement 1",
            "chunk": "Install a firewall at each connection.",
            "metadata": {"requirements_id": "1", "control_category": "Network"},
        },
        {
            "control_id": "2.2",
            "requirement": "Requirement 2",
            "chunk": "Harden every system component.",
            "metadata": {"requirements_id": "2", "control_category": "Config"},
        },
    ],
    RULES: [
        {
            "config_rule": "r1",
            "chunk": "Checks that each bucket blocks public access.",
            "metadata": {"control_ids": ["1.1"]},
        }
    ],
    MAPPINGS: [{"control_id": "1.1", "config_rules": [{"rule": "r1"}, {"rule": "r9"}]}],
}
# One committed transaction per table that changes the answer of every read of that table:
# a changed row (1.1 / r1) and a new one (9.9 / r9 / 2.2).
_WRITES = {
    CONTROLS: [
        {**_SEED[CONTROLS][0], "chunk": "Install a firewall and review its firewall rules."},
        {
            "control_id": "9.9",
            "requirement": "Requirement 1",
            "chunk": "Review firewall logs.",
            "metadata": {"requirements_id": "1", "control_category": "Network"},
        },
    ],
    RULES: [
        {**_SEED[RULES][0], "chunk": "Checks that each bucket and bucket policy blocks access."},
        {
            "config_rule": "r9",
            "chunk": "Checks bucket logging.",
            "metadata": {"control_ids": ["1.1"]},
        },
    ],
    MAPPINGS: [
        {"control_id": "1.1", "config_rules": [{"rule": "r9"}, {"rule": "r1"}]},
        {"control_id": "2.2", "config_rules": [{"rule": "r1"}]},
    ],
}
_WRITE_SCRIPT = """
import json, sys
from sentinel_db.config import load_settings
from sentinel_db.repositories.tables import repository_for
from sentinel_db.runtime.db import Database
db = Database.from_url(sys.argv[1], load_settings(None))
with db.unit_of_work() as session:
    repository_for(session, sys.argv[2]).upsert_many(json.loads(sys.argv[3]))
"""


def _cached_methods(repo: type[Any]) -> set[str]:
    """The methods the instrumentation serves from the cache (same rule as instrument())."""
    found = set()
    for name in dir(repo):
        attr = inspect.getattr_static(repo, name)
        if name.startswith("_") or not isinstance(attr, FunctionType):
            continue
        original = getattr(attr, "__sentinel_original__", attr)
        if is_cached_read(name) and not inspect.isgeneratorfunction(original):
            found.add(name)
    return found


def test_the_calls_cover_every_cached_method_of_every_repository() -> None:
    for repo in REPOSITORIES:
        assert {m for (r, m, _, _), _ in CALLS if r is repo} == _cached_methods(repo), repo


def _plain(value: Any) -> Any:
    """``value`` as plain data, whether it came from the cache (records) or not (ORM rows)."""
    if isinstance(value, Base):
        return _plain(RECORD[type(value)].model_validate(value))
    if isinstance(value, BaseModel):
        return _plain(value.model_dump())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain({f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _answers(db: Database, ids: dict[type[Any], Any]) -> tuple[list[Any], list[bool]]:
    """Each call's answer, and whether the cache served it."""
    found, served = [], []
    with db.unit_of_work(read_only=True) as session:
        for (repo, method, args, kw), _ in CALLS:
            bound: Callable[..., Any] = getattr(repo(session), method)
            real = tuple(ids[repo] if a == "ID" else a for a in args)
            hits = db.cache.figures().hits if db.cache is not None else 0
            found.append(_plain(bound(*real, **kw)))
            served.append(db.cache is not None and db.cache.figures().hits > hits)
    return found, served


def _ids(session: Session) -> dict[type[Any], Any]:
    return {
        repo: repo(session).get_by_key("r1" if repo is AwsConfigRuleRepository else "1.1").id
        for repo in REPOSITORIES
    }


@pytest.mark.parametrize("table", [CONTROLS, RULES, MAPPINGS])
def test_each_cached_read_sees_a_commit_to_each_table_it_reads_from_another_process(
    clean_db: Database, app_url: URL, table: str
) -> None:
    import json

    with clean_db.unit_of_work() as session:
        for name in (CONTROLS, RULES, MAPPINGS):
            repo = next(r for r in REPOSITORIES if OWN[r] == name)
            repo(session).upsert_many(_SEED[name])
        ids = _ids(session)
    cached = Database.from_url(app_url, load_settings(None), cache=True)
    assert cached.cache is not None
    before, _ = _answers(cached, ids)
    again, warm = _answers(cached, ids)
    assert again == before
    # search_results returns a SearchResult, which the cache cannot freeze: never stored.
    assert [not w for w in warm].count(True) == 2

    url = app_url.set(drivername="postgresql").render_as_string(hide_password=False)
    payload = json.dumps(_WRITES[table])
    subprocess.run([sys.executable, "-c", _WRITE_SCRIPT, url, table, payload], check=True)

    after, served = _answers(cached, ids)
    truth, _ = _answers(clean_db, ids)
    for (call, reads), was, now, true, hit, cacheable in zip(
        CALLS, before, after, truth, served, warm, strict=True
    ):
        assert now == true, f"{call[:2]} is stale after a commit to {table}"
        # The write changes what each reader of the table answers, so staleness would show.
        assert (now != was) == (table in reads), f"{call[:2]} after a commit to {table}"
        # Reads of other tables stay cached: an entry depends on the tables read, not all.
        assert hit == (cacheable and table not in reads), f"{call[:2]} after {table}"
