"""Property-based tests of the importer against hostile files: valid rows land exactly, the
rest are refused with file and line, and the CLI never shows a traceback.

Bounded for CI by default; set ``SENTINEL_HYPOTHESIS_PROFILE=heavy`` for many more examples.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, example, given
from hypothesis import strategies as st

from sentinel_db.errors import ExitCode
from sentinel_db.importers import FileReport, ImportOptions, import_file
from sentinel_db.importers.export import COLUMNS, FILE_STEMS
from sentinel_db.records.validation import CONTROL_ID_PATTERN, loads_strict
from sentinel_db.runtime.db import Database
from tests.cli_helpers import run_cli
from tests.property_helpers import (
    CONTROLS,
    MAX_FIELD,
    bounded,
    contentful,
    control_ids,
    db_rows,
    json_objects,
    json_values,
    read_csv,
    safe_text,
    same_json,
    truncate,
)


@pytest.fixture(name="folder")
def _fresh_folders(tmp_path_factory: pytest.TempPathFactory) -> Callable[[], Path]:
    """A fresh folder for each example (the tests below write one file per example)."""
    return lambda: tmp_path_factory.mktemp("hostile")


# --- hostile files ----------------------------------------------------------------------------

FIELD_VALUES: dict[str, st.SearchStrategy[str]] = {
    "id": st.sampled_from(["", " ", "not-a-uuid", "6a1f0e64-3c1d-4c4b-9b1e-3f3a5f0a9b10"])
    | st.uuids().map(str),
    "control_id": control_ids
    | control_ids
    | control_ids
    | st.sampled_from(["", " 1.1", "1.2\t", "X.1", "1" * 21, "1.2", "1.2"])
    | safe_text,
    "requirement": safe_text | contentful(),
    "chunk": contentful()
    | contentful()
    | st.sampled_from(["", "   ", "\n\r", "a\x00b", "x" * 200_000, 'say "hi", twice'])
    | safe_text,
    "metadata": json_objects.map(json.dumps)
    | json_objects.map(lambda v: json.dumps(v, ensure_ascii=False))
    | json_values.map(lambda v: json.dumps(v, ensure_ascii=False))
    | st.sampled_from(
        ["", "{", "NaN", '{"a": NaN}', '{"a": "\\u0000"}', '{"a": "\\ud800"}', '{"a":1,}', "[]"]
    )
    | safe_text,
}
HEADER_NAMES = (*COLUMNS[CONTROLS], "extra", "Chunk", " metadata ", "")


@st.composite
def hostile_files(draw: st.DrawFn) -> bytes:
    """CSV-ish bytes: odd headers, nasty fields, other delimiters and encodings, raw damage."""
    header = draw(
        st.permutations(COLUMNS[CONTROLS])
        | st.permutations(COLUMNS[CONTROLS])
        | st.permutations(COLUMNS[CONTROLS])
        | st.permutations(("control_id", "chunk", "metadata"))
        | st.lists(st.sampled_from(HEADER_NAMES), max_size=7)
    )
    header = list(header)
    values = [FIELD_VALUES.get(name.strip(), safe_text) for name in header]
    rows = draw(st.lists(st.tuples(*values).map(list), max_size=6)) if header else []
    if rows and draw(st.booleans()):
        # Ragged rows: one field short or one too many.
        victim = draw(st.integers(0, len(rows) - 1))
        rows[victim] = rows[victim][:-1] if draw(st.booleans()) else [*rows[victim], "spare"]
    buffer = io.StringIO(newline="")
    csv.writer(
        buffer,
        delimiter=draw(st.sampled_from([",", ",", ",", ",", ",", ",", ";", "\t", "|"])),
        quoting=draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL])),
        lineterminator=draw(st.sampled_from(["\r\n", "\n"])),
    ).writerows([header, *rows])
    encoding = draw(st.sampled_from(["utf-8"] * 5 + ["utf-8-sig", "latin-1", "utf-16", "cp1252"]))
    data = buffer.getvalue().encode(encoding, errors="replace")
    damage = draw(st.sampled_from(["none"] * 6 + ["bytes", "quote", "truncate", "noise"]))
    if damage == "noise":
        return draw(st.binary(max_size=300))
    if damage != "none" and data:
        at = draw(st.integers(0, len(data)))
        if damage == "bytes":
            data = data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
        elif damage == "quote":
            data = data[:at] + b'"' + data[at:]
        else:
            data = data[:at]
    return data


def truth(data: bytes) -> tuple[bool, list[list[str]] | None]:
    """What a correct reader sees: (is UTF-8, records by the stdlib's strict CSV parser)."""
    try:
        decoded = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return False, None
    csv.field_size_limit(MAX_FIELD)
    try:
        return True, list(csv.reader(io.StringIO(decoded, newline=""), strict=True))
    except csv.Error:
        return True, None


def certainly_valid(row: dict[str, str]) -> bool:
    """A conservative judgement that a control row must be accepted."""
    if any("\x00" in value for value in row.values()) or row.get("id", "").strip():
        return False
    cid = row["control_id"]
    if len(cid) > 20 or not re.fullmatch(CONTROL_ID_PATTERN, cid):
        return False
    if not any(ch.isalnum() for ch in row["chunk"]) or "\\u" in row["metadata"]:
        return False
    try:
        return isinstance(loads_strict(row["metadata"]), dict)
    except ValueError:
        return False


def landed_matches(landed: dict[str, Any], record: dict[str, str]) -> bool:
    """A stored row is exactly what the file's record said (after the documented trimming)."""
    if landed["control_id"] != record.get("control_id", "").strip(" \t"):
        return False
    if landed["chunk"] != record.get("chunk"):
        return False
    requirement = record.get("requirement", "")
    if landed["requirement"] is None:
        if requirement.strip():
            return False
    elif landed["requirement"] != requirement:
        return False
    try:
        return same_json(landed["metadata"], loads_strict(record.get("metadata", "")))
    except ValueError:
        return False


def check_outcome(db: Database, path: Path, data: bytes, dry: FileReport, real: FileReport) -> None:
    """The promises for any input file, given the dry run and the real run of it."""
    is_utf8, records = truth(data)
    stored = db_rows(db, CONTROLS)
    event(f"{real.status}, {len(stored)} row(s) landed" if stored else real.status)
    assert (dry.status == "failed") == (real.status == "failed")
    assert (dry.inserted, dry.rejected) == (real.inserted, real.rejected)
    assert all(p.line is not None for p in real.errors), real.errors
    if not is_utf8:
        assert real.status == "failed"
    if real.status == "failed":
        assert stored == [], "a refused file writes nothing"
        assert real.exit_code == ExitCode.REJECTED, real.error
        assert str(path) in (real.error or "")
        return
    assert real.status in ("succeeded", "partial")
    assert len(stored) == real.inserted
    if records is None or not records:
        return
    names = [name.strip() for name in records[0]]
    data_rows = [dict(zip(names, r, strict=False)) for r in records[1:] if r]
    for landed in stored:
        assert any(landed_matches(landed, r) for r in data_rows), landed
    if len(set(names)) != len(names):
        return
    keys = Counter(r.get("control_id", "").strip(" \t") for r in data_rows)
    for record, raw in zip(data_rows, [r for r in records[1:] if r], strict=True):
        if len(raw) == len(names) and certainly_valid(record) and keys[record["control_id"]] == 1:
            assert any(row["control_id"] == record["control_id"] for row in stored), record


@bounded(30)
@given(data=hostile_files())
@example(data=b'control_id,chunk,metadata\r\n1.1,x,"{""a"": ""\\ud800""}"\r\n1.2,y,{}\r\n')
@example(data=b"control_id,chunk,metadata\n1.1,a\x00b,{}\n1.2,ok,{}\n")
@example(data=b'control_id,chunk,metadata\n1.1,x,"{""a"": 1e400}"\n1.2,y,{}\n')
@example(data=b'control_id,chunk,metadata\n1.1,x,"{""a"": 1e200000}"\n1.2,y,{}\n')
@example(data=b'control_id,chunk,metadata\n1.1,"abc,{}\n1.2,ok,{}\n')
@example(data="control_id,chunk,metadata\n1.1,caf\u00e9,{}\n".encode("latin-1"))
@example(data=b"control_id;chunk;metadata\n1.1;x;{}\n")
@example(data=b"control_id,chunk,metadata\n1.1," + b"x" * 200_000 + b",{}\n")
@example(data=b"\xef\xbb\xbfid,control_id,chunk,metadata\r\n,1.1,x,{}\r\nnope,1.2,y,{}\r\n")
def test_hostile_file_lands_its_valid_rows_exactly_or_is_refused_with_file_and_line(
    clean_db: Database, folder: Callable[[], Path], data: bytes
) -> None:
    truncate(clean_db)
    path = folder() / "controls.csv"
    path.write_bytes(data)
    dry = import_file(clean_db, path, CONTROLS, options=ImportOptions(dry_run=True))
    assert db_rows(clean_db, CONTROLS) == [], "a dry run writes nothing"
    assert dry.status in ("dry-run", "failed")
    real = import_file(clean_db, path, CONTROLS, options=ImportOptions(batch_size=2))
    check_outcome(clean_db, path, data, dry, real)


@bounded(10)
@given(data=hostile_files(), dry_run=st.booleans())
def test_cli_import_of_a_hostile_file_never_shows_a_traceback(
    cli_env: dict[str, str],
    clean_db: Database,
    folder: Callable[[], Path],
    capsys: pytest.CaptureFixture[str],
    data: bytes,
    dry_run: bool,
) -> None:
    truncate(clean_db)
    where = folder()
    path = where / "controls.csv"
    path.write_bytes(data)
    args = ["import-data", "csv", str(path), CONTROLS, "--no-progress"]
    result = run_cli(capsys, *args, *(["--dry-run"] if dry_run else []))
    assert "Traceback" not in result.output
    assert result.exit_code in (ExitCode.OK, ExitCode.REJECTED), result.output
    if result.exit_code:
        assert re.search(re.escape(path.name) + r":\d+", result.output), result.output
    if dry_run:
        assert db_rows(clean_db, CONTROLS) == []
        return
    exported = run_cli(capsys, "data", "export", CONTROLS, "--out", str(where / "out"))
    assert exported.exit_code == 0, exported.output
    _, records = truth(data)
    out_rows = read_csv(where / "out" / f"{FILE_STEMS[CONTROLS]}.csv")
    assert len(out_rows) == len(db_rows(clean_db, CONTROLS))
    if records:
        names = [name.strip() for name in records[0]]
        data_rows = [dict(zip(names, r, strict=False)) for r in records[1:] if r]
        for row in out_rows:
            landed = {**row, "requirement": row["requirement"] or None}
            landed["metadata"] = json.loads(row["metadata"])
            assert any(landed_matches(landed, r) for r in data_rows), row
