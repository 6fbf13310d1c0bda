"""Recognising importable files by name and finding them under a source folder."""

from __future__ import annotations

import difflib
import re
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
# x.rejects.csv, x.rejects-2.csv (a later run's, beside a file someone may have fixed), and
# their reasons, x.rejects.errors.csv and x.rejects-2.errors.csv.
_REJECTS = re.compile(r"^(?P<source>.+)\.rejects(?:-\d+)?(?P<errors>\.errors)?\.csv$")


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
    match = _REJECTS.match(path.name.lower())
    if match is None or match["errors"]:
        return None
    return FILE_NAMES.get(match["source"])


def _reject_kind(path: Path) -> str | None:
    """What a file beside the data is, if it is a reject file or its list of reasons."""
    match = _REJECTS.match(path.name.lower())
    if match is None:
        return None
    if match["errors"]:
        return "why rows were rejected (a list of reasons to read, not rows to import)"
    return "a reject file (import it by name once fixed)"


def _near_miss(path: Path) -> str | None:
    name = path.name.lower()
    if _REJECTS.match(name):
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
        kind = _reject_kind(path)
        if kind is not None and path == source and kind.startswith("why"):
            rows = path.with_name(path.name[: -len(".errors.csv")] + ".csv")
            raise UsageError(
                f"{path} lists why rows were rejected; it holds no rows to import",
                hint=f"fix the rows in {rows} and import that file by name",
            )
        if kind is not None:
            found.skipped.append((path, kind))
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
