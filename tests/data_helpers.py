"""Loading the shared sample CSVs straight through the repositories (no importer involved)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from sentinel_db.repositories import (
    AwsConfigRuleRepository,
    PciAwsConfigMappingRepository,
    PciControlRepository,
)

CONTROLS_CSV = "pci_dss_controls.csv"
RULES_CSV = "aws_config_rules_guidance.csv"
MAPPINGS_CSV = "pci_aws_config_rule_mapping.csv"


def read_csv(path: Path) -> list[dict[str, Any]]:
    """Rows of a sample CSV with the JSON columns decoded."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        for name in ("metadata", "config_rules"):
            if name in row:
                row[name] = json.loads(row[name])
    return rows


def load_shared(session: Session, folder: Path) -> None:
    """Upsert the three sample files into the session's transaction."""
    PciControlRepository(session).upsert_many(read_csv(folder / CONTROLS_CSV))
    AwsConfigRuleRepository(session).upsert_many(read_csv(folder / RULES_CSV))
    PciAwsConfigMappingRepository(session).upsert_many(read_csv(folder / MAPPINGS_CSV))


SAMPLE_DIR = Path(__file__).resolve().parents[1] / "src" / "sentinel_db" / "sample_data"


def sample_file(name: str) -> Path:
    """The bundled sample's file ``name`` (``pci_dss_controls.csv``, ...)."""
    return next(SAMPLE_DIR.rglob(name))


def load_sample(session: Session) -> None:
    """Upsert the bundled sample's three files into the session's transaction."""
    PciControlRepository(session).upsert_many(read_csv(sample_file(CONTROLS_CSV)))
    AwsConfigRuleRepository(session).upsert_many(read_csv(sample_file(RULES_CSV)))
    PciAwsConfigMappingRepository(session).upsert_many(read_csv(sample_file(MAPPINGS_CSV)))


def sample_count(name: str) -> int:
    """How many rows the bundled sample's file ``name`` holds."""
    return len(read_csv(sample_file(name)))
