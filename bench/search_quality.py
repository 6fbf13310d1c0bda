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

    .venv/bin/python bench/search_quality.py               # the sample and, if found, 3.2.1
    SENTINEL_TEST_SHARED_DATA=/path/to/pci-dss-3.2.1 .venv/bin/python bench/search_quality.py
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
RANKERS = ("sentinel-db", "previous", "plain BM25")

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
def _loaded(server: str, folder: Path) -> Iterator[Database]:
    name = f"sentinel_quality_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = make_url(server).set(database=name, drivername="postgresql+psycopg")
        db = Database.from_url(url, load_settings(None))
        migrations.upgrade(db.engine)
        report = import_directory(db, folder, options=ImportOptions())
        if report.exit_code != 0:
            raise SystemExit(f"importing {folder} failed: {report.to_dict()['total']}")
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
    db: Database, questions: list[dict[str, Any]], verbose: bool
) -> dict[tuple[str, str], list[tuple[int, int, float, int]]]:
    results: dict[tuple[str, str], list[tuple[int, int, float, int]]] = defaultdict(list)
    with db.unit_of_work(read_only=True) as session:
        bm25 = {t: _Bm25(session, t) for t in ("controls", "rules")}
        rankers: dict[str, Ranker] = {
            "sentinel-db": _sentinel,
            "previous": _previous,
            "plain BM25": lambda _s, t, q: bm25[t].rank(q),
        }
        for item in questions:
            for ranker, rank in rankers.items():
                ranked = rank(session, item["table"], item["question"])
                h1, h5, rr = _score(ranked, item["answers"])
                results[(ranker, item["table"])].append((h1, h5, rr, int(not ranked)))
                if verbose and ranker == "sentinel-db" and not h1:
                    print(
                        f"  {'near' if h5 else 'miss'}: {item['question']!r} wants {item['answers']}, got {ranked[:5]}",
                        file=sys.stderr,
                    )
    return results


def _print(results: dict[tuple[str, str], list[tuple[int, int, float, int]]]) -> None:
    print(
        f"| {'table':8} | {'ranker':11} | {'questions':>9} | {'hit@1':>5} | {'hit@5':>5} "
        f"| {'MRR@10':>6} | {'no result':>9} |"
    )
    print(f"|{'-' * 10}|{'-' * 13}|{'-' * 11}:|{'-' * 7}:|{'-' * 7}:|{'-' * 8}:|{'-' * 11}:|")
    for table in ("controls", "rules"):
        for ranker in RANKERS:
            rows = results.get((ranker, table), [])
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
    args = parser.parse_args(argv)
    questions = json.loads(args.questions.read_text(encoding="utf-8"))
    folders = {"sample": SAMPLE}
    if args.shared_data:
        folders["pci-dss-3.2.1"] = args.shared_data
    else:
        print("3.2.1 data not given (--shared-data): sample only", file=sys.stderr)
    combined: dict[tuple[str, str], list[tuple[int, int, float, int]]] = defaultdict(list)
    for dataset, folder in folders.items():
        asked = [q for q in questions if q["dataset"] == dataset]
        with _loaded(args.server, folder) as db:
            results = _evaluate(db, asked, args.verbose)
        print(f"\n{dataset} ({len(asked)} questions)\n")
        _print(results)
        for key, rows in results.items():
            combined[key].extend(rows)
    if len(folders) > 1:
        print("\nall data sets\n")
        _print(combined)
    return 0


if __name__ == "__main__":
    sys.exit(main())
