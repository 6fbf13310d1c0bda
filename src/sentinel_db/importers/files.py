"""Recognising importable files by name and finding them under a source folder."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

from sentinel_db.errors import ImportValidationError, UsageError
from sentinel_db.importers.tables import TABLES

FILE_NAMES: dict[str, str] = {
    "pci_dss_controls.csv": "pci_dss_controls",
    "aws_config_rules_guidance.csv": "aws_config_rules_guidance",
    "pci_aws_config_rule_mapping.csv": "pci_aws_config_rule_mappings",
    "pci_aws_config_rule_mappings.csv": "pci_aws_config_rule_mappings",
    "pci_dss_controls_embeddings.csv": "pci_dss_controls_embeddings",
    "aws_config_rules_guidance_embeddings.csv": "aws_config_rules_guidance_embeddings",
}
REJECT_SUFFIX = ".rejects.csv"
REJECT_ERRORS_SUFFIX = ".rejects.errors.csv"


@dataclass
class Discovery:
    """What a source holds: recognised files in load order, and everything else."""

    source: Path
    files: list[tuple[Path, str]] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    near_misses: list[tuple[Path, str]] = field(default_factory=list)


def table_for(path: Path) -> str | None:
    """The table a file name is recognised as, or None."""
    return FILE_NAMES.get(path.name.lower())


def _reject_file_table(path: Path) -> str | None:
    """The table of a reject file (``pci_dss_controls.csv.rejects.csv``), or None."""
    name = path.name.lower()
    return (
        FILE_NAMES.get(name.removesuffix(REJECT_SUFFIX)) if name.endswith(REJECT_SUFFIX) else None
    )


def _near_miss(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith((REJECT_SUFFIX, REJECT_ERRORS_SUFFIX)):
        return None
    stem = path.stem.lower()
    for known in FILE_NAMES:
        known_stem = known.removesuffix(".csv")
        if stem == known_stem or difflib.SequenceMatcher(None, name, known).ratio() >= 0.85:
            return known
    return None


def discover(source: Path) -> Discovery:
    """Find recognised files under ``source`` (searched recursively), in load order.

    Raises:
        UsageError: ``source`` does not exist.
    """
    if not source.exists():
        raise UsageError(f"{source} does not exist", hint="pass a folder or a CSV file to import")
    found = Discovery(source=source)
    candidates = (
        [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
    )
    for path in candidates:
        if any(part.startswith(".") for part in path.relative_to(source).parts):
            continue
        table = table_for(path)
        if table is None and path == source:
            # A reject file named on its own is imported again once fixed; found in a folder,
            # it is left alone so that a rerun does not pick up rows that are still broken.
            table = _reject_file_table(path)
        if table is not None:
            found.files.append((path, table))
            continue
        if path.name.lower().endswith((REJECT_SUFFIX, REJECT_ERRORS_SUFFIX)):
            found.skipped.append((path, "a reject file (import it by name once fixed)"))
            continue
        close = _near_miss(path)
        if close is not None:
            found.near_misses.append((path, close))
            found.skipped.append((path, f"not a recognised name (did you mean {close}?)"))
        else:
            found.skipped.append((path, "not a recognised file name"))
    found.files.sort(key=lambda item: (TABLES[item[1]].order, str(item[0])))
    return found


def require_files(found: Discovery) -> None:
    """Raise when a source holds no recognised file, naming near misses.

    Raises:
        ImportValidationError: nothing to import.
    """
    if found.files:
        return
    message = f"no importable file under {found.source} (looked for {', '.join(FILE_NAMES)})"
    if found.near_misses:
        names = ", ".join(f"{path} (-> {close})" for path, close in found.near_misses[:10])
        message += f"; near misses: {names}"
    raise ImportValidationError(message, hint="rename the files to the recognised names")
