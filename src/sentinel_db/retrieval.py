"""One call for a retrieval service: the controls that answer a question, with their evidence.

``retrieve(session, question, k)`` ranks controls for the question (see
:mod:`sentinel_db.repositories.search`) and attaches to each the AWS Config rules mapped to it,
with their guidance: the context a RAG prompt or an evidence collector needs, as typed records
that also dump to JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from sentinel_db.records.rows import (
    AwsConfigRule,
    FoundBy,
    MappedRule,
    PciControl,
    SearchHit,
    SearchHits,
    SearchMode,
)
from sentinel_db.records.tables import CONTROLS, RULES
from sentinel_db.repositories import reads
from sentinel_db.repositories.search import (
    CONTROL_SEARCH,
    RULE_SEARCH,
    SearchResult,
    explain_empty,
    ranked_search,
)
from sentinel_db.search.query import parse_query

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from sentinel_db.records.embeddings import Embedder
    from sentinel_db.search.glossary import Glossary


class RetrievedControl(BaseModel):
    """A control that answers the question: its score, a highlighted snippet, its rules."""

    model_config = ConfigDict(frozen=True)

    control: PciControl
    score: float
    snippet: str
    rules: list[MappedRule]
    found_by: FoundBy = "lexical"


class Retrieval(BaseModel):
    """The answer to one question: the best controls, best first, and how many matched."""

    model_config = ConfigDict(frozen=True)

    question: str
    matched: int
    exact: bool
    terms: list[str]
    controls: list[RetrievedControl]
    mode: SearchMode = "lexical"
    mode_note: str | None = None
    words: list[str] = []

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible dict (ids as strings)."""
        return self.model_dump(mode="json")

    def to_json(self) -> str:
        """Compact JSON text."""
        return self.model_dump_json()


def retrieve(
    session: Session,
    question: str,
    k: int = 5,
    *,
    with_guidance: bool = True,
    glossary: Glossary | None = None,
    embedding: Sequence[float] | Embedder | bool | None = None,
    model: str | None = None,
) -> Retrieval:
    """The ``k`` controls that best answer ``question``, each with its mapped rules.

    The lexical and vector rankings are fused by default when the database has an embedding
    provider and stored vectors of its model, or with ``embedding`` (the question's vector, or
    an :class:`~sentinel_db.records.embeddings.Embedder`); ``embedding=False`` asks for lexical
    only. ``mode`` says which answered (``lexical-fallback`` when the provider failed or was
    slow); ``matched`` and ``terms`` describe the lexical side.

    Raises:
        UsageError: ``k`` is out of range.
    """
    # Imported here: the repositories load the ORM, which a lexical answer does not need.
    from sentinel_db.repositories.auto_hybrid import question_vector
    from sentinel_db.repositories.controls import PciControlRepository
    from sentinel_db.repositories.hybrid import hybrid_search
    from sentinel_db.repositories.mappings import PciAwsConfigMappingRepository

    repo = PciControlRepository(session)
    result = repo.search_results(question, k, glossary=glossary)
    plan = question_vector(repo, question, embedding, model)
    hits = result.hits
    if plan.vector is not None:
        hits = hybrid_search(
            repo, question, k, embedding=plan.vector, model=plan.model, glossary=glossary
        )
    ids = [hit.record.control_id for hit in hits]
    rules = PciAwsConfigMappingRepository(session).rules_for_controls(
        ids, with_guidance=with_guidance
    )
    return _answer(question, result, hits, rules, plan.mode, plan.note)


def _answer(
    question: str,
    result: SearchResult[Any],
    hits: Sequence[SearchHit[Any]],
    rules: dict[str, list[MappedRule]],
    mode: SearchMode,
    note: str | None,
) -> Retrieval:
    return Retrieval(
        question=question,
        matched=result.matched,
        exact=result.exact,
        terms=list(result.terms),
        words=list(result.words),
        controls=[
            RetrievedControl(
                control=hit.record,
                score=hit.rank,
                snippet=hit.snippet,
                rules=rules[hit.record.control_id],
                found_by=hit.found_by,
            )
            for hit in hits
        ],
        mode=mode,
        mode_note=note,
    )


def search_tables(
    session: Session,
    query: str,
    *,
    controls: bool = True,
    rules: bool = True,
    limit: int = 10,
    lexical: bool = False,
    glossary: Glossary | None = None,
) -> list[dict[str, Any]]:
    """Search controls (with their mapped rules) and rules; one JSON-ready section per table.

    Each section has ``table``, ``matched`` (rows matching any query term), ``shown``, ``exact``,
    ``terms`` (the query's searchable words, as stems), ``message`` (why nothing matched, when
    nothing did, in the words as typed) and ``hits`` (``key``, ``score``, ``snippet``,
    ``record``, and for controls ``rules``: each mapped rule with its guidance record or null,
    and ``found_by``), ``mode`` and ``mode_note`` (hybrid by default when configured;
    ``lexical=True`` for lexical only). ``glossary`` replaces the one from the settings.

    Raises:
        UsageError: ``limit`` is out of range.
    """
    if lexical:
        return lexical_sections(
            session, query, controls=controls, rules=rules, limit=limit, glossary=glossary
        )
    from sentinel_db.repositories.rules import AwsConfigRuleRepository

    sections: list[dict[str, Any]] = []
    if controls:
        sections.append(_control_section(retrieve(session, query, limit, glossary=glossary)))
    if rules:
        rule_repo = AwsConfigRuleRepository(session)
        rule_result = rule_repo.search_results(query, limit, glossary=glossary)
        hits = rule_repo.search(query, limit, glossary=glossary)
        sections.append(_rule_section(rule_result, hits))
    return sections


def lexical_sections(
    session: Any,
    query: str,
    *,
    controls: bool = True,
    rules: bool = True,
    limit: int = 10,
    glossary: Glossary | None = None,
) -> list[dict[str, Any]]:
    """:func:`search_tables` ranked lexically, on a SQLAlchemy session or a direct one.

    Raises:
        UsageError: ``limit`` is out of range.
    """
    parsed = parse_query(query)
    sections: list[dict[str, Any]] = []
    if controls:
        result = ranked_search(
            session,
            source=CONTROL_SEARCH,
            record_type=PciControl,
            text=query,
            limit=limit,
            named=parsed.control_ids,
            glossary=glossary,
        )
        ids = [hit.record.control_id for hit in result.hits]
        mapped = reads.rules_for_controls(session, ids, with_guidance=True)
        sections.append(
            _control_section(_answer(query, result, result.hits, mapped, "lexical", None))
        )
    if rules:
        rule_result = ranked_search(
            session,
            source=RULE_SEARCH,
            record_type=AwsConfigRule,
            text=query,
            limit=limit,
            named=parsed.rule_names,
            glossary=glossary,
        )
        sections.append(_rule_section(rule_result, SearchHits.of(rule_result.hits, "lexical")))
    return sections


def _control_section(found: Retrieval) -> dict[str, Any]:
    return {
        "table": CONTROLS,
        "matched": found.matched,
        "shown": len(found.controls),
        "exact": found.exact,
        "terms": found.terms,
        "message": None if found.controls else explain_empty("control", found.words),
        "mode": found.mode,
        "mode_note": found.mode_note,
        "hits": [
            {
                "key": hit.control.control_id,
                "score": round(hit.score, 6),
                "found_by": hit.found_by,
                "snippet": hit.snippet,
                "record": hit.control.to_dict(),
                "rules": [r.model_dump(mode="json") for r in hit.rules],
            }
            for hit in found.controls
        ],
    }


def _rule_section(result: SearchResult[Any], hits: SearchHits[Any]) -> dict[str, Any]:
    return {
        "table": RULES,
        "matched": result.matched,
        "shown": len(hits),
        "exact": result.exact,
        "terms": list(result.terms),
        "message": None if hits else result.explain_empty("rule"),
        "mode": hits.mode,
        "mode_note": hits.note,
        "hits": [
            {
                "key": hit.record.config_rule,
                "score": round(hit.rank, 6),
                "found_by": hit.found_by,
                "snippet": hit.snippet,
                "record": hit.record.to_dict(),
            }
            for hit in hits
        ],
    }
