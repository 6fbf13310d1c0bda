"""Hybrid search by default when a provider is configured, and a lexical answer when it fails."""

from __future__ import annotations

import logging

import pytest

from sentinel_db.importers.embed import embed_missing
from sentinel_db.repositories import PciControlRepository
from sentinel_db.retrieval import retrieve
from sentinel_db.runtime.cache import RepositoryCache
from sentinel_db.runtime.db import Database
from sentinel_db.runtime.embedders import OpenAIEmbedder
from sentinel_db.runtime.query_vectors import QueryEmbedder, question_cache
from tests.embedding_server import embedding_server
from tests.vectors.helpers import seed_text


def test_search_fuses_by_default_and_answers_lexically_once_the_provider_stops(
    vector_db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    question_cache.clear()
    with vector_db.unit_of_work() as session:
        seed_text(session)
    with embedding_server() as (url, _script):
        provider = OpenAIEmbedder(url, "test-model", retries=0, timeout=5)
        with vector_db.session() as session:
            embed_missing(session, provider, "pci_dss_controls")
        db = Database(vector_db.engine, embedder=QueryEmbedder.wrap(provider, budget=2))
        with db.unit_of_work(read_only=True) as session:
            repo = PciControlRepository(session)
            hybrid = repo.search_by_content("multi-factor authentication")
            lexical = repo.search_by_content("multi-factor authentication", embedding=False)
            answer = retrieve(session, "multi-factor authentication", 3)
    assert hybrid.mode == "hybrid" and answer.mode == "hybrid"
    assert {h.found_by for h in hybrid} >= {"vector"}, "rows no word matched come from vectors"
    assert lexical.mode == "lexical" and {h.found_by for h in lexical} == {"lexical"}
    assert lexical[0].record.control_id == "8.4"

    before = db.metrics().embedding_fallbacks
    caplog.set_level(logging.WARNING, logger="sentinel_db.search")
    with db.unit_of_work(read_only=True) as session:  # the provider is gone now
        repo = PciControlRepository(session)
        cached = repo.search_by_content("multi-factor authentication")
        first = repo.search_by_content("audit logs of user activity")
        second = repo.search_by_content("password length")
        answer = retrieve(session, "password length", 3)
    assert cached.mode == "hybrid", "a question asked before is answered from the cache"
    assert (first.mode, second.mode, answer.mode) == ("lexical-fallback",) * 3
    assert first[0].record.control_id == "10.2" and second[0].record.control_id == "8.3"
    assert "cannot connect" in str(first.note) and "***" not in str(first.note)
    assert db.metrics().embedding_fallbacks == before + 3
    warnings = [r for r in caplog.records if r.name == "sentinel_db.search"]
    assert len(warnings) == 1 and "searching lexically" in warnings[0].getMessage()


def test_without_a_provider_or_stored_vectors_search_is_lexical(vector_db: Database) -> None:
    with vector_db.unit_of_work() as session:
        seed_text(session)
    with embedding_server() as (url, script):
        provider = OpenAIEmbedder(url, "test-model")
        db = Database(vector_db.engine, embedder=QueryEmbedder.wrap(provider))
        with db.unit_of_work(read_only=True) as session:
            found = PciControlRepository(session).search("password length")
    assert found.mode == "lexical" and found.note == "no stored vectors of model test-model"
    assert script.requests == [], "no question is embedded when nothing could use its vector"
    with vector_db.unit_of_work(read_only=True) as session:
        plain = PciControlRepository(session).search("password length")
    assert (plain.mode, plain.note) == ("lexical", None)


def test_with_a_provider_searches_bypass_the_cache_so_new_vectors_count_at_once(
    vector_db: Database,
) -> None:
    question_cache.clear()
    with vector_db.unit_of_work() as session:
        seed_text(session)
    with embedding_server() as (url, _script):
        provider = OpenAIEmbedder(url, "test-model", retries=0, timeout=5)
        db = Database(
            vector_db.engine,
            cache=RepositoryCache(max_entries=100, max_bytes=10_000_000),
            embedder=QueryEmbedder.wrap(provider, budget=2),
        )
        with db.unit_of_work(read_only=True) as session:
            before = PciControlRepository(session).search("multi-factor authentication")
        with vector_db.session() as session:  # vectors arrive; no reference table changes
            embed_missing(session, provider, "pci_dss_controls")
        with db.unit_of_work(read_only=True) as session:
            after = PciControlRepository(session).search("multi-factor authentication")
            lexical = PciControlRepository(session).search("password length", embedding=False)
            again = PciControlRepository(session).search("password length", embedding=False)
    assert before.mode == "lexical" and after.mode == "hybrid"
    assert lexical.mode == again.mode == "lexical"
    assert db.cache is not None and db.cache.figures().hits >= 1, "lexical-only is still cached"
