"""Property-based tests: any valid record set round-trips through import and export.

Bounded for CI by default (derandomized, no example database); set
``SENTINEL_HYPOTHESIS_PROFILE=heavy`` for many more, randomly seeded examples.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from sentinel_db.importers import ImportOptions, import_directory, import_file
from sentinel_db.importers.export import COLUMNS, FILE_STEMS, export_tables
from sentinel_db.runtime.db import Database
from tests.property_helpers import (
    CONTROLS,
    assert_same_records,
    bounded,
    cell,
    record_sets,
    truncate,
    write_csv,
)

# --- round trip -------------------------------------------------------------------------------


@bounded(12)
@given(records=record_sets(), order=st.randoms(use_true_random=False), bom=st.booleans())
def test_any_valid_record_set_round_trips_through_import_and_export(
    clean_db: Database, folder: Callable[[], Path], records: Any, order: Any, bom: bool
) -> None:
    truncate(clean_db)
    source, out = folder(), folder()
    ending = order.choice(["\r\n", "\n"])
    # With "\n" endings Python 3.11's writer leaves a lone "\r" unquoted: quote everything then.
    quoting = csv.QUOTE_MINIMAL if ending == "\r\n" else csv.QUOTE_ALL
    for table, rows in records.items():
        header = [c for c in COLUMNS[table] if c != "id" or any(r["id"] for r in rows)]
        order.shuffle(header)
        write_csv(
            source / f"{FILE_STEMS[table]}.csv",
            header,
            [[cell(row[c], c) for c in header] for row in rows],
            encoding="utf-8-sig" if bom else "utf-8",
            lineterminator=ending,
            quoting=quoting,
        )
    report = import_directory(clean_db, source, options=ImportOptions(batch_size=3))
    assert report.exit_code == 0, [f.error or f.errors for f in report.files]
    assert report.total("rejected") == 0
    export_tables(clean_db, tuple(records), out)
    for table, rows in records.items():
        assert_same_records(table, rows, out / f"{FILE_STEMS[table]}.csv")
    # The export is itself a valid import that changes nothing.
    again = import_directory(clean_db, out, options=ImportOptions(force=True))
    assert again.exit_code == 0
    assert again.total("inserted") == again.total("updated") == 0


def test_values_with_a_lone_carriage_return_survive_export(
    clean_db: Database, tmp_path: Path
) -> None:
    written = [
        {"id": "", "control_id": "1.1", "requirement": "a\rb", "chunk": "c\rd", "metadata": {}}
    ]
    source = write_csv(
        tmp_path / "pci_dss_controls.csv",
        ["control_id", "requirement", "chunk", "metadata"],
        [["1.1", "a\rb", "c\rd", "{}"]],
    )
    assert import_file(clean_db, source, CONTROLS).status == "succeeded"
    export_tables(clean_db, (CONTROLS,), tmp_path / "out")
    assert_same_records(CONTROLS, written, tmp_path / "out" / "pci_dss_controls.csv")
