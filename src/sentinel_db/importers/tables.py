"""What the importer knows about each table: columns, natural key, load order."""

from __future__ import annotations

from dataclasses import dataclass

from sentinel_db.errors import UsageError
from sentinel_db.records.embeddings import TARGETS
from sentinel_db.records.validation import ROW_MODELS


@dataclass(frozen=True)
class TableSpec:
    """One importable table: its CSV columns, natural key and staging column types."""

    name: str
    key: str
    columns: tuple[str, ...]
    required: tuple[str, ...]
    types: tuple[str, ...]
    order: int
    checks: str

    @property
    def content(self) -> tuple[str, ...]:
        """Columns compared to decide whether a row changed (all but id and the key)."""
        return tuple(c for c in self.columns if c not in ("id", self.key))


TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        TableSpec(
            name="pci_dss_controls",
            key="control_id",
            columns=("id", "control_id", "requirement", "chunk", "metadata"),
            required=("control_id", "chunk", "metadata"),
            types=("uuid", "text", "text", "text", "jsonb"),
            order=0,
            checks="control_id: PCI DSS id shape, <= 20 chars; chunk: not blank; "
            "metadata: JSON object; id: blank or a UUID",
        ),
        TableSpec(
            name="aws_config_rules_guidance",
            key="config_rule",
            columns=("id", "config_rule", "chunk", "metadata"),
            required=("config_rule", "chunk", "metadata"),
            types=("uuid", "text", "text", "jsonb"),
            order=1,
            checks="config_rule: non-empty, <= 100 chars; chunk: not blank; "
            "metadata: JSON object; id: blank or a UUID",
        ),
        TableSpec(
            name="pci_aws_config_rule_mappings",
            key="control_id",
            columns=("id", "control_id", "config_rules"),
            required=("control_id", "config_rules"),
            types=("uuid", "text", "jsonb"),
            order=2,
            checks="control_id: PCI DSS id shape, <= 20 chars; config_rules: JSON array of rule "
            "names or objects with 'rule'/'rule_name' (numeric 'weight' optional); "
            "id: blank or a UUID; controls and rules should exist (warnings; errors with --strict)",
        ),
        *(
            TableSpec(
                name=target.table,
                key=target.key,
                columns=(target.key, "model", "embedding"),
                required=(target.key, "model", "embedding"),
                types=("text", "text", "vector"),
                order=3 + number,
                checks=f"{target.key}: as in {target.parent}, should exist there (warning, "
                "row skipped; error with --strict); model: non-empty, <= 200 chars; embedding: "
                "JSON array of finite numbers, one dimension per model; needs migrate --with vectors",
            )
            for number, target in enumerate(TARGETS.values())
        ),
    )
}
assert set(TABLES) == set(ROW_MODELS)


def table_spec(name: str) -> TableSpec:
    """The spec of table ``name`` (its full name, or ``controls``, ``rules``, ``mappings``).

    Raises:
        UsageError: no such importable table (the message lists the valid ones).
    """
    from sentinel_db.records.tables import ALIASES

    try:
        return TABLES[ALIASES.get(name.strip().lower(), name.strip())]
    except KeyError:
        short = ", ".join(a for a, t in ALIASES.items() if t in TABLES)
        raise UsageError(
            f"unknown table {name!r}; valid tables: {', '.join(TABLES)} (or {short})",
            hint="name one of the tables above",
        ) from None
