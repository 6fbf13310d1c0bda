"""The judged search question set stays consistent with the data it is judged against (no database)."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = REPO_ROOT / "bench" / "search_questions.json"
SAMPLE = REPO_ROOT / "src" / "sentinel_db" / "sample_data"
# (table, file inside the data set, id column) for each layout.
SAMPLE_FILES = {
    "controls": (SAMPLE / "pci_dss_v4" / "database_import" / "pci_dss_controls.csv", "control_id"),
    "rules": (SAMPLE / "aws_config_guidance" / "aws_config_rules_guidance.csv", "config_rule"),
}
SHARED_FILES = {
    "controls": ("pci_dss_controls.csv", "control_id"),
    "rules": ("aws_config_rules_guidance.csv", "config_rule"),
}


def _ids(path: Path, column: str) -> set[str]:
    with path.open(encoding="utf-8", newline="") as handle:
        return {row[column] for row in csv.DictReader(handle)}


def _questions(dataset: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(QUESTIONS.read_text(encoding="utf-8"))
    return [item for item in items if item["dataset"] == dataset]


def _unknown_answers(questions: list[dict[str, Any]], known: dict[str, set[str]]) -> list[str]:
    return [
        f"{item['question']!r}: {answer}"
        for item in questions
        for answer in item["answers"]
        if answer not in known[item["table"]]
    ]


def test_every_question_is_well_formed_and_the_set_has_the_promised_size() -> None:
    items = json.loads(QUESTIONS.read_text(encoding="utf-8"))
    for item in items:
        assert set(item) <= {"dataset", "table", "question", "answers", "note"}, item
        assert item["dataset"] in {"pci-dss-3.2.1", "sample"}, item
        assert item["table"] in {"controls", "rules"}, item
        assert item["question"].strip(), item
        assert item["answers"] and len(set(item["answers"])) == len(item["answers"]), item
    sizes = Counter((item["dataset"], item["table"]) for item in items)
    assert sizes["pci-dss-3.2.1", "controls"] >= 60
    assert sizes["sample", "controls"] >= 12
    assert sizes["pci-dss-3.2.1", "rules"] + sizes["sample", "rules"] >= 25
    assert len({(i["dataset"], i["table"], i["question"].lower()) for i in items}) == len(items)


def test_every_sample_answer_exists_in_the_bundled_sample() -> None:
    known = {table: _ids(path, column) for table, (path, column) in SAMPLE_FILES.items()}
    assert _unknown_answers(_questions("sample"), known) == []


def test_every_pci_dss_321_answer_exists_in_the_shared_data(shared_data: Path) -> None:
    known = {
        table: _ids(shared_data / name, column) for table, (name, column) in SHARED_FILES.items()
    }
    assert _unknown_answers(_questions("pci-dss-3.2.1"), known) == []
