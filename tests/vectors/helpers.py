"""Deterministic vectors and small CSV files for the vector tests."""

from __future__ import annotations

import csv
import json
import math
import random
from collections.abc import Iterable, Sequence
from pathlib import Path

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from sentinel_db.repositories import AwsConfigRuleRepository, PciControlRepository

CONTROLS = {
    "1.1": "Install and maintain network security controls such as firewalls",
    "1.2": "Network security controls are configured and maintained",
    "3.4": "Primary account numbers are rendered unreadable wherever stored",
    "8.3": "Strong authentication with passwords of sufficient length",
    "8.4": "Multi-factor authentication secures access to the cardholder data environment",
    "10.2": "Audit logs record user activity and security events",
}
RULES = {
    "restricted-ssh": "Security groups do not allow unrestricted incoming SSH traffic",
    "iam-password-policy": "The IAM password policy requires a minimum password length",
}


def vector(seed: int, dims: int) -> list[float]:
    """A unit vector drawn from a seeded generator: the same seed gives the same vector."""
    rng = random.Random(seed)
    values = [rng.gauss(0.0, 1.0) for _ in range(dims)]
    norm = math.sqrt(sum(v * v for v in values))
    return [v / norm for v in values]


def blend(a: Sequence[float], b: Sequence[float], weight: float) -> list[float]:
    """``a`` moved ``weight`` of the way towards ``b`` (a vector between them)."""
    return [x * (1 - weight) + y * weight for x, y in zip(a, b, strict=True)]


def seed_text(session: Session) -> None:
    """The small set of controls and rules above, in the session's transaction."""
    PciControlRepository(session).upsert_many(
        [
            {
                "control_id": k,
                "requirement": f"Requirement {k.split('.')[0]}",
                "chunk": v,
                "metadata": {},
            }
            for k, v in CONTROLS.items()
        ]
    )
    AwsConfigRuleRepository(session).upsert_many(
        [{"config_rule": k, "chunk": v, "metadata": {}} for k, v in RULES.items()]
    )


def write_controls(path: Path, texts: dict[str, str]) -> Path:
    """A ``pci_dss_controls.csv`` with ``texts`` as chunks."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["control_id", "requirement", "chunk", "metadata"])
        for key, chunk in texts.items():
            out.writerow([key, f"Requirement {key.split('.')[0]}", chunk, "{}"])
    return path


def write_embeddings(
    path: Path, key: str, rows: Iterable[tuple[str, str, Sequence[float] | str]]
) -> Path:
    """An embeddings CSV (``key,model,embedding``); a str embedding is written as given."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow([key, "model", "embedding"])
        for name, model, values in rows:
            out.writerow([name, model, values if isinstance(values, str) else json.dumps(values)])
    return path


def store_raw_vector(conn: Connection) -> None:
    """One small vector for control 1.1, written straight into its table (no model needed)."""
    conn.execute(
        text(
            "INSERT INTO pci_dss_controls_embeddings"
            " (control_id, model, dimensions, embedding, content_sha256)"
            " VALUES ('1.1', 'm', 3, '[1,2,3]', 'x')"
        )
    )
