"""Relevance-ranked search: tokenisation, glossary, ranking, web syntax, hostile input, statistics."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from sentinel_db import AwsConfigRuleRepository, PciControlRepository, retrieve
from sentinel_db.errors import ConfigError
from sentinel_db.records.models import SEARCH_STATISTICS
from sentinel_db.repositories import PciAwsConfigMappingRepository
from sentinel_db.search.glossary import Glossary, load_glossary_file

CONTROLS = [
    (
        "8.2.3",
        "Identify users",
        "Passwords/passphrases must contain both numeric and alphabetic characters.",
    ),
    (
        "8.3.1",
        "Identify users",
        "Multi-factor authentication is required for all remote network access.",
    ),
    (
        "8.3.6",
        "Identify users",
        "Require a minimum length of at least twelve characters for user secrets.",
    ),
    ("10.7", "Track and monitor access", "Retain audit trail history for at least one year."),
    (
        "11.4",
        "Test security",
        "Use IDS/IPS techniques to detect and prevent intrusions into the network.",
    ),
    ("3.2", "Protect stored data", "Do not store CHD/SAD after authorization, even if encrypted."),
    ("1.1", "Install firewalls", "Firewall and router configuration standards are reviewed."),
    (
        "12.6",
        "Maintain a policy",
        "Implement a formal security awareness program for all personnel.",
    ),
    (
        "12.1",
        "Maintain a policy",
        "Publish a security policy; review the security policy annually.",
    ),
]
RULES = [
    (
        "s3-bucket-public-read-prohibited",
        "Checks that your S3 buckets do not allow public read access.",
        ["1.1"],
    ),
    ("iam-user-mfa-enabled", "Checks whether IAM users have MFA enabled.", ["8.3.1"]),
    (
        "restricted-ssh",
        "Checks whether security groups allow unrestricted incoming SSH traffic.",
        ["1.1"],
    ),
]


def _control(control_id: str, requirement: str, chunk: str) -> dict[str, Any]:
    return {
        "control_id": control_id,
        "requirement": requirement,
        "chunk": chunk,
        "metadata": {"requirements_id": control_id.split(".")[0], "control_category": "test"},
    }


@pytest.fixture
def corpus(session: Session) -> Session:
    PciControlRepository(session).upsert_many([_control(*row) for row in CONTROLS])
    AwsConfigRuleRepository(session).upsert_many(
        [
            {"config_rule": name, "chunk": chunk, "metadata": {"control_ids": ids}}
            for name, chunk, ids in RULES
        ]
    )
    PciAwsConfigMappingRepository(session).upsert_many(
        [{"control_id": "8.3.1", "config_rules": [{"rule": "iam-user-mfa-enabled"}]}]
    )
    return session


def _ids(session: Session, query: str, limit: int = 10, **kwargs: Any) -> list[str]:
    return [
        h.record.control_id for h in PciControlRepository(session).search(query, limit, **kwargs)
    ]


def test_a_question_finds_rows_matching_any_of_its_words(corpus: Session) -> None:
    assert _ids(corpus, "how long should we retain audit logs?")[0] == "10.7"
    # 8.3.6 holds two of the words (minimum, length), 8.2.3 one (passwords).
    assert _ids(corpus, "what is the minimum length for passwords") == ["8.3.6", "8.2.3"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [("password", "8.2.3"), ("passphrases", "8.2.3"), ("IPS", "11.4"), ("SAD", "3.2")],
)
def test_slashed_words_are_indexed_one_by_one(corpus: Session, query: str, expected: str) -> None:
    assert expected in _ids(corpus, query)


def test_hyphenated_rule_names_match_their_words_and_a_named_rule_comes_first(
    corpus: Session,
) -> None:
    rules = AwsConfigRuleRepository(corpus)
    assert next(h.record.config_rule for h in rules.search("public read bucket")) == (
        "s3-bucket-public-read-prohibited"
    )
    named = rules.search("restricted-ssh or any bucket rule")
    assert named[0].record.config_rule == "restricted-ssh"


def test_rule_search_finds_rules_mapped_to_a_named_control(corpus: Session) -> None:
    hits = AwsConfigRuleRepository(corpus).search("which rules evidence 8.3.1")
    assert hits[0].record.config_rule == "iam-user-mfa-enabled"


def test_a_parent_control_id_finds_the_rules_mapped_below_it(corpus: Session) -> None:
    rules = AwsConfigRuleRepository(corpus).search("which rules evidence 8.3", 5)

    assert [hit.record.config_rule for hit in rules] == ["iam-user-mfa-enabled"]
    assert sorted(_ids(corpus, "controls under 8.3")[:2]) == ["8.3.1", "8.3.6"]


def test_a_control_id_in_the_query_puts_that_control_first(corpus: Session) -> None:
    assert _ids(corpus, "firewall 12.1")[0] == "12.1"
    assert _ids(corpus, "what does a3.9.9 say about firewalls")[0] == "1.1"  # no such control


def test_glossary_expands_acronyms_and_spelled_out_terms_both_ways(corpus: Session) -> None:
    assert _ids(corpus, "MFA")[0] == "8.3.1"
    assert (
        AwsConfigRuleRepository(corpus).search("multi-factor authentication")[0].record.config_rule
    ) == "iam-user-mfa-enabled"
    assert _ids(corpus, "yearly policy review")[0] == "12.1"
    assert _ids(corpus, "training for employees")[0] == "12.6"
    assert _ids(corpus, "MFA", glossary=Glossary.from_groups([])) == []


def test_rarer_and_more_query_terms_rank_higher(corpus: Session) -> None:
    repo = PciControlRepository(corpus)
    assert _ids(corpus, "security awareness")[:2] == ["12.6", "12.1"]  # both words beat one twice
    assert _ids(corpus, "security firewall")[0] == "1.1"  # the rare word beats the common one
    hits = repo.search("security policy awareness", 10)
    assert all(a.rank >= b.rank for a, b in itertools.pairwise(hits))


def test_ranking_is_deterministic_with_ties_broken_by_key(corpus: Session) -> None:
    first = _ids(corpus, "maintain policy users access")
    assert all(_ids(corpus, "maintain policy users access") == first for _ in range(3))
    twins = [_control(i, "Physical", "Badge every visitor.") for i in ("9.4.2", "9.4.10", "9.4.1")]
    PciControlRepository(corpus).upsert_many(twins)
    assert _ids(corpus, "visitor badges") == ["9.4.1", "9.4.10", "9.4.2"]


def test_web_syntax_phrases_must_occur_and_minus_words_must_not(corpus: Session) -> None:
    assert _ids(corpus, '"security policy"') == ["12.1"]
    assert "12.1" not in _ids(corpus, "security -policy")
    assert set(_ids(corpus, "firewall or IDS")) >= {"1.1", "11.4"}


def test_counts_are_honest_and_an_empty_result_explains_itself(corpus: Session) -> None:
    repo = PciControlRepository(corpus)
    result = repo.search_results("security", 1)
    matching = corpus.execute(
        text(
            "SELECT count(*) FROM pci_dss_controls WHERE search_vector @@ to_tsquery('english', 'security')"
        )
    ).scalar_one()
    assert (result.matched, len(result.hits), result.exact) == (matching, 1, True)
    empty = repo.search_results("zebra quokka", 5)
    assert (
        empty.hits == []
        and empty.explain_empty("control") == "no control matches any of: zebra, quokka"
    )
    assert "no searchable words" in repo.search_results("how do we", 5).explain_empty("control")


def test_the_ceiling_is_what_a_row_holding_every_query_word_could_score(corpus: Session) -> None:
    bare = Glossary.from_groups([])
    repo = PciControlRepository(corpus)
    docs, df = corpus.execute(
        text(
            "SELECT count(*), count(*) FILTER (WHERE search_vector @@ to_tsquery('english',"
            " 'firewall')) FROM pci_dss_controls"
        )
    ).one()
    result = repo.search_results("firewall", 5, glossary=bare)
    # One word: BM25's numerator for it, idf times (k1 + 1); each row's part stays below it.
    idf = math.log(1 + (docs - df + 0.5) / (df + 0.5))
    assert result.ceiling == pytest.approx(idf * (1.2 + 1))
    assert 0 < result.hits[0].rank < result.ceiling
    two = repo.search_results("firewall zebra", 5, glossary=bare)
    assert two.ceiling == pytest.approx(result.ceiling)  # a word no row holds adds nothing
    assert repo.search_results("zebra quokka", 5).ceiling == 0.0


def test_an_empty_result_names_the_words_as_typed_never_their_stems(corpus: Session) -> None:
    result = PciControlRepository(corpus).search_results("Galloping zebras, environments?", 5)

    assert result.terms == ("gallop", "zebra", "environ")
    assert result.explain_empty("control") == (
        "no control matches any of: Galloping, zebras, environments"
    )
    answer = retrieve(corpus, "galloping zebras", 5)
    assert answer.controls == [] and answer.words == ["galloping", "zebras"]


@pytest.mark.parametrize(
    ("query", "controls", "rules"),
    [
        ("'\"\\", [], []),
        ("a & b | !c <-> d:* (e", [], []),
        ("x" * 10_000, [], []),
        ("pass\x00word", [], []),
        ("password\x00", ["8.2.3"], []),
        ("🙂 password 🔐", ["8.2.3"], []),
        ("the and of to", [], []),
        ('"unclosed phrase', [], []),
        ('"password', ["8.2.3"], []),
        ("- -- ---", [], []),
        ("8.3.6.1.2.3.4 A99.99 0.0.0.0/0", [], []),
        ("ssh' OR 1=1; --", [], ["restricted-ssh"]),
        ("password:* & !(ssh) <-> ''", ["8.2.3"], ["restricted-ssh"]),
    ],
)
def test_hostile_query_text_gives_the_plain_words_results_and_never_a_database_error(
    corpus: Session, query: str, controls: list[str], rules: list[str]
) -> None:
    assert _ids(corpus, query, 5) == controls
    found = AwsConfigRuleRepository(corpus).search(query, 5)
    assert [h.record.config_rule for h in found] == rules
    result = PciControlRepository(corpus).search_results(query, 5)
    if not controls:
        # Nothing matched: the result says why instead of failing.
        assert result.matched == 0 and result.explain_empty("control").startswith("no ")


def _recount(session: Session, table: str) -> tuple[dict[str, int], tuple[int, int]]:
    terms, totals = SEARCH_STATISTICS[table]
    kept = dict(
        session.execute(
            text(f"SELECT term, sum(df) FROM {terms.fullname} GROUP BY 1 HAVING sum(df) <> 0")
        ).all()
    )
    exact = dict(
        session.execute(
            text(f"SELECT u.lexeme, count(*) FROM {table}, unnest(search_vector) u GROUP BY 1")
        ).all()
    )
    assert kept == exact
    row = session.execute(
        text(f"SELECT coalesce(sum(docs), 0), coalesce(sum(lexemes), 0) FROM {totals.fullname}")
    ).one()
    fresh = session.execute(
        text(f"SELECT count(*), coalesce(sum(length(search_vector)), 0) FROM {table}")
    ).one()
    assert tuple(row) == tuple(fresh)
    return kept, tuple(row)


def test_term_statistics_stay_exact_through_every_kind_of_write(corpus: Session) -> None:
    repo = PciControlRepository(corpus)
    _recount(corpus, "pci_dss_controls")
    repo.update("10.7", chunk="Keep audit logs for a year, three months online.")
    _recount(corpus, "pci_dss_controls")
    repo.delete("11.4")
    _recount(corpus, "pci_dss_controls")
    savepoint = corpus.begin_nested()
    repo.upsert_many([_control("9.9", "Physical", "Protect point of interaction devices.")])
    savepoint.rollback()
    kept, totals = _recount(corpus, "pci_dss_controls")
    assert "interact" not in kept and totals[0] == len(CONTROLS) - 1
    for i in range(70):  # enough writes to fold the totals rows at least once
        repo.upsert_many([_control(f"7.{i}", "Restrict access", f"Access rule {i}.")])
    _recount(corpus, "pci_dss_controls")
    _, totals_table = SEARCH_STATISTICS["pci_dss_controls"]
    folded = corpus.execute(text(f"SELECT count(*) FROM {totals_table.fullname}")).scalar_one()
    assert folded < 70
    corpus.execute(text("TRUNCATE pci_dss_controls"))
    assert _recount(corpus, "pci_dss_controls") == ({}, (0, 0))
    _recount(corpus, "aws_config_rules_guidance")


def test_retrieve_returns_controls_with_their_rules_and_guidance(corpus: Session) -> None:
    answer = retrieve(corpus, "do remote logins need two-factor?", 3)
    assert answer.controls[0].control.control_id == "8.3.1"
    rules = answer.controls[0].rules
    assert [r.rule for r in rules] == ["iam-user-mfa-enabled"]
    assert rules[0].guidance is not None and "MFA" in rules[0].guidance.chunk
    parsed = json.loads(answer.to_json())
    assert parsed["controls"][0]["rules"][0]["guidance"]["config_rule"] == "iam-user-mfa-enabled"
    assert "«" in parsed["controls"][0]["snippet"]


def test_a_glossary_file_extends_the_shipped_one(tmp_path: Path, corpus: Session) -> None:
    path = tmp_path / "glossary.json"
    path.write_text(json.dumps({"groups": [["zebra crossing", "firewall"]]}), encoding="utf-8")
    glossary = load_glossary_file(path)
    assert _ids(corpus, "zebra crossing", glossary=glossary)[0] == "1.1"
    path.write_text("[[1, 2]]", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"glossary\.json"):
        load_glossary_file(path)
    path.write_text("{", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"glossary\.json:1:2"):
        load_glossary_file(path)


def test_concurrent_writers_of_shared_words_neither_wait_nor_skew_the_statistics(
    clean_db: Any,
) -> None:
    with clean_db.unit_of_work() as first:
        PciControlRepository(first).upsert_many([_control("1.1", "Shared", "firewall rules")])
        with clean_db.unit_of_work() as second:
            second.execute(text("SET LOCAL lock_timeout = '2s'"))
            PciControlRepository(second).upsert_many([_control("1.2", "Shared", "firewall zones")])
    with clean_db.unit_of_work() as session:
        kept, totals = _recount(session, "pci_dss_controls")
    assert kept["firewal"] == 2 and totals[0] == 2


def test_a_database_at_0007_with_rows_upgrades_in_place_to_ranked_search(
    fresh_database: Any,
) -> None:
    from sentinel_db.config import load_settings
    from sentinel_db.runtime.db import Database
    from sentinel_db.schema import migrations

    db = Database.from_url(fresh_database, load_settings(None))
    migrations.upgrade(db.engine, "0007")
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO pci_dss_controls (control_id, requirement, chunk, metadata) VALUES"
                " ('8.2.3', 'Identify users', 'Passwords/passphrases must be strong.', '{}')"
            )
        )
    migrations.upgrade(db.engine)
    with db.unit_of_work(read_only=True) as session:
        assert _ids(session, "passphrase") == ["8.2.3"]
        kept, totals = _recount(session, "pci_dss_controls")
    assert kept["passphras"] == 1 and totals[0] == 1
    migrations.downgrade(db.engine, "0007")
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM pci_dss_controls")).scalar_one() == 1


def test_a_broken_glossary_file_stops_data_search_with_its_name_line_and_column(
    cli_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from sentinel_db.config import get_settings
    from tests.cli_helpers import run_cli

    broken = tmp_path / "extra-glossary.json"
    broken.write_text('{"groups": [["mfa", "2fa"]\n', encoding="utf-8")
    monkeypatch.setenv("SEARCH_GLOSSARY_FILE", str(broken))
    get_settings.cache_clear()
    try:
        result = run_cli(capsys, "data", "search", "firewall")
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert "extra-glossary.json:2:1" in result.stderr and "Traceback" not in result.output


def test_the_glossary_file_of_a_config_file_reaches_data_search(
    clean_db: Any, cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sentinel_db.importers import import_directory
    from tests.cli_helpers import run_cli
    from tests.conftest import EXAMPLES

    assert import_directory(clean_db, EXAMPLES).exit_code == 0
    extra = tmp_path / "extra-glossary.json"
    extra.write_text('[["zorblax", "multi-factor authentication"]]', encoding="utf-8")
    config = tmp_path / "search.env"
    config.write_text(f"SEARCH_GLOSSARY_FILE={extra}\n", encoding="utf-8")

    def keys(*args: str) -> list[str]:
        result = run_cli(capsys, *args, "data", "search", "zorblax", "--format", "json")
        assert result.exit_code == 0, result.output
        return [hit["key"] for s in json.loads(result.stdout)["results"] for hit in s["hits"]]

    assert keys() == []
    assert "8.4.2" in keys("--config", str(config))


def test_search_tables_takes_a_glossary_of_the_callers(corpus: Session) -> None:
    from sentinel_db.retrieval import search_tables

    glossary = Glossary.from_groups([["zorblax", "multi-factor authentication"]])
    for lexical in (False, True):
        sections = search_tables(corpus, "zorblax", lexical=lexical, glossary=glossary)
        found = {hit["key"] for section in sections for hit in section["hits"]}
        plain = search_tables(corpus, "zorblax", lexical=lexical)
        assert found and not any(section["hits"] for section in plain)
