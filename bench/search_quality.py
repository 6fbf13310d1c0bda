"""Search relevance on a judged question set (a benchmark, not a test).

Loads each data set into a throwaway database through the importer, asks every question of
``bench/search_questions.json`` and prints hit@1, hit@5 and MRR@10 for controls and for rules, for
three rankers on the same rows:

* ``sentinel-db``: the repositories' ``search`` (what services get);
* ``previous``: the search before relevance ranking: every word must match
  (``websearch_to_tsquery``), ordered by ``ts_rank`` over control id, requirement and text;
* ``plain BM25``: textbook BM25 (k1 = 1.5, b = 0.75) over the same English lexemes of the whole
  row text, any word matching, no field weights, glossary or filler words.

A question counts as hit@k when any of its judged answers is among the first k results; MRR@10
averages 1/rank of the first right answer (0 when none is in the top 10).

With ``--embedding-url URL`` (an OpenAI-compatible ``/v1`` base) it adds ``vectors`` (alone) and
``hybrid`` beside ``lexical`` (see ``quality_vectors.py``), asks the everyday-words set
(``search_questions_everyday.json``, on the 3.2.1 data) too, and prints the questions at odd
positions of each file apart: fusion was tuned on the even ones, so those tables are the
held-out figures. Vectors are cached on disk (``embedding_cache.py``).

    .venv/bin/python bench/search_quality.py               # the sample and, if found, 3.2.1
    SENTINEL_TEST_SHARED_DATA=/path/to/pci-dss-3.2.1 .venv/bin/python bench/search_quality.py
    .venv/bin/python bench/search_quality.py --embedding-url http://127.0.0.1:8765/v1
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from sentinel_db.config import load_settings
from sentinel_db.importers import ImportOptions, import_directory
from sentinel_db.repositories import AwsConfigRuleRepository, PciControlRepository
from sentinel_db.runtime.db import Database, dispose_engines
from sentinel_db.schema import migrations

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
QUESTIONS = ROOT / "bench" / "search_questions.json"
SAMPLE = ROOT / "src" / "sentinel_db" / "sample_data"
EVERYDAY = ROOT / "bench" / "search_questions_everyday.json"
RANKERS = ("sentinel-db", "lexical", "vectors", "hybrid", "previous", "plain BM25")
Results = dict[tuple[str, str], list[tuple[int, int, float, int]]]

Ranker = Callable[[Session, str, str], list[str]]

_TEXT = {
    "controls": (
        "pci_dss_controls",
        "control_id",
        "control_id || ' ' || coalesce(requirement, '') || ' ' || chunk",
    ),
    "rules": (
        "aws_config_rules_guidance",
        "config_rule",
        "replace(config_rule, '-', ' ') || ' ' || chunk",
    ),
}


def _sentinel(session: Session, table: str, question: str) -> list[str]:
    if table == "controls":
        return [h.record.control_id for h in PciControlRepository(session).search(question, 10)]
    return [h.record.config_rule for h in AwsConfigRuleRepository(session).search(question, 10)]


def _previous(session: Session, table: str, question: str) -> list[str]:
    name, key, body = _TEXT[table]
    rows = session.execute(
        text(
            f"SELECT {key} FROM {name}, websearch_to_tsquery('english', :q) q "
            f"WHERE to_tsvector('english', {body}) @@ q "
            f"ORDER BY ts_rank(to_tsvector('english', {body}), q) DESC, {key} LIMIT 10"
        ),
        {"q": question},
    )
    return [r[0] for r in rows]


class _Bm25:
    """Textbook BM25 over the lexemes PostgreSQL's English configuration makes of each row."""

    def __init__(self, session: Session, table: str, k1: float = 1.5, b: float = 0.75) -> None:
        name, key, body = _TEXT[table]
        docs: dict[str, Counter[str]] = defaultdict(Counter)
        rows = session.execute(
            text(
                f"SELECT {key}, u.lexeme, coalesce(array_length(u.positions, 1), 1) "
                f"FROM {name}, unnest(to_tsvector('english', {body})) u"
            )
        )
        for doc, lexeme, count in rows:
            docs[doc][lexeme] += count
        self.docs = docs
        self.lengths = {d: sum(c.values()) for d, c in docs.items()}
        self.average = sum(self.lengths.values()) / max(1, len(docs))
        df: Counter[str] = Counter()
        for counts in docs.values():
            df.update(counts.keys())
        n = len(docs)
        self.idf = {t: math.log((n - f + 0.5) / (f + 0.5) + 1) for t, f in df.items()}
        self.k1, self.b, self.session = k1, b, session

    def rank(self, question: str) -> list[str]:
        terms = [
            r[0]
            for r in self.session.execute(
                text("SELECT lexeme FROM unnest(to_tsvector('english', :q))"), {"q": question}
            )
        ]
        scores: dict[str, float] = {}
        for doc, counts in self.docs.items():
            norm = self.k1 * (1 - self.b + self.b * self.lengths[doc] / self.average)
            score = sum(
                self.idf[t] * counts[t] * (self.k1 + 1) / (counts[t] + norm)
                for t in terms
                if counts.get(t)
            )
            if score > 0:
                scores[doc] = score
        return sorted(scores, key=lambda d: (-scores[d], d))[:10]


@contextmanager
def _loaded(server: str, folder: Path, cache: Any = None) -> Iterator[Database]:
    name = f"sentinel_quality_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = make_url(server).set(database=name, drivername="postgresql+psycopg")
        db = Database.from_url(url, load_settings(None))
        migrations.upgrade(db.engine, with_vectors=cache is not None)
        report = import_directory(db, folder, options=ImportOptions())
        if report.exit_code != 0:
            raise SystemExit(f"importing {folder} failed: {report.to_dict()['total']}")
        if cache is not None:
            from quality_vectors import store_vectors

            store_vectors(db, cache)
        yield db
    finally:
        dispose_engines()
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _score(ranked: list[str], answers: list[str]) -> tuple[int, int, float]:
    first = next((i for i, key in enumerate(ranked) if key in answers), None)
    if first is None:
        return 0, 0, 0.0
    return int(first == 0), int(first < 5), 1.0 / (first + 1)


def _evaluate(
    db: Database, questions: list[dict[str, Any]], verbose: bool, cache: Any = None
) -> Results:
    results: Results = defaultdict(list)
    with db.unit_of_work(read_only=True) as session:
        bm25 = {t: _Bm25(session, t) for t in ("controls", "rules")}
        rankers: dict[str, Ranker] = {"sentinel-db": _sentinel}
        if cache is not None:
            from quality_vectors import rankers as vector_rankers

            rankers = vector_rankers(cache, questions)
        rankers.update({"previous": _previous, "plain BM25": lambda _s, t, q: bm25[t].rank(q)})
        for item in questions:
            for ranker, rank in rankers.items():
                ranked = rank(session, item["table"], item["question"])
                h1, h5, rr = _score(ranked, item["answers"])
                row = (h1, h5, rr, int(not ranked))
                results[(ranker, item["table"])].append(row)
                results[(ranker, f"{item['table']}/{item['half']}")].append(row)
                if verbose and ranker in ("sentinel-db", "hybrid") and not h1:
                    print(
                        f"  {'near' if h5 else 'miss'}: {item['question']!r} wants {item['answers']}, got {ranked[:5]}",
                        file=sys.stderr,
                    )
    return results


def _print(results: Results, suffix: str = "") -> None:
    print(
        f"| {'table':8} | {'ranker':11} | {'questions':>9} | {'hit@1':>5} | {'hit@5':>5} "
        f"| {'MRR@10':>6} | {'no result':>9} |"
    )
    print(f"|{'-' * 10}|{'-' * 13}|{'-' * 11}:|{'-' * 7}:|{'-' * 7}:|{'-' * 8}:|{'-' * 11}:|")
    for table in ("controls", "rules"):
        for ranker in RANKERS:
            rows = results.get((ranker, table + suffix), [])
            if not rows:
                continue
            n = len(rows)
            h1, h5, mrr, empty = (sum(r[i] for r in rows) for i in range(4))
            print(
                f"| {table:8} | {ranker:11} | {n:9d} | {h1 / n:5.3f} | {h5 / n:5.3f} "
                f"| {mrr / n:6.3f} | {int(empty):9d} |"
            )


def main(argv: list[str] | None = None) -> int:
    """Load each data set, ask the questions, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default=os.environ.get("SENTINEL_BENCH_SERVER", DEFAULT_SERVER))
    parser.add_argument("--questions", type=Path, default=QUESTIONS)
    parser.add_argument(
        "--shared-data",
        type=Path,
        default=os.environ.get("SENTINEL_TEST_SHARED_DATA"),
        help="the pci-dss-3.2.1 folder (default: $SENTINEL_TEST_SHARED_DATA)",
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="list the misses")
    parser.add_argument(
        "--embedding-url", help="an OpenAI-compatible /v1 base: adds vector rankers"
    )
    parser.add_argument("--embedding-model", default="all-MiniLM-L6-v2")
    parser.add_argument("--everyday", type=Path, default=EVERYDAY)
    args = parser.parse_args(argv)
    questions = _numbered(args.questions, None)
    folders = {"sample": SAMPLE}
    if args.shared_data:
        folders["pci-dss-3.2.1"] = args.shared_data
    else:
        print("3.2.1 data not given (--shared-data): sample only", file=sys.stderr)
    cache = None
    if args.embedding_url:
        from embedding_cache import EmbeddingCache

        cache = EmbeddingCache(args.embedding_url, args.embedding_model)
        if args.shared_data:
            questions += _numbered(args.everyday, "everyday")
    with _server(args.server, cache is not None) as server:
        _run_all(server, folders, questions, args.verbose, cache)
    return 0


def _numbered(path: Path, label: str | None) -> list[dict[str, Any]]:
    """The questions of ``path``; even positions are the tuning half, odd ones the held-out half."""
    items = json.loads(path.read_text(encoding="utf-8"))
    for position, item in enumerate(items):
        item["half"] = "tuned" if position % 2 == 0 else "held-out"
        item["set"] = label or item["dataset"]
    return list(items)


@contextmanager
def _server(default: str, vectors: bool) -> Iterator[str]:
    if not vectors:
        yield default
        return
    from quality_vectors import vector_server

    with vector_server() as url:
        yield url


def _run_all(
    server: str,
    folders: dict[str, Path],
    questions: list[dict[str, Any]],
    verbose: bool,
    cache: Any,
) -> None:
    combined: Results = defaultdict(list)
    for dataset, folder in folders.items():
        asked = [q for q in questions if q["dataset"] == dataset]
        with _loaded(server, folder, cache) as db:
            for label in dict.fromkeys(q["set"] for q in asked):
                subset = [q for q in asked if q["set"] == label]
                results = _evaluate(db, subset, verbose, cache)
                print(f"\n{label} ({len(subset)} questions)\n")
                _print(results)
                if cache is not None:
                    print(
                        f"\n{label}, held-out half (odd positions; fusion tuned on the even ones)\n"
                    )
                    _print(results, "/held-out")
                if label == "everyday":
                    continue
                for key, rows in results.items():
                    combined[key].extend(rows)
    if len(folders) > 1:
        print("\nall data sets (judged set)\n")
        _print(combined)
        if cache is not None:
            print("\nall data sets, held-out half\n")
            _print(combined, "/held-out")


if __name__ == "__main__":
    sys.exit(main())
