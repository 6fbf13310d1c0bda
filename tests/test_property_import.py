"""Property-based tests of the importer against hostile files and arbitrary valid data.

Bounded for CI by default (derandomized, no example database); set
``SENTINEL_HYPOTHESIS_PROFILE=heavy`` for many more, randomly seeded examples.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, Phase, event, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from sentinel_db.db import Database
from sentinel_db.errors import ExitCode
from sentinel_db.export import COLUMNS, FILE_STEMS, export_tables
from sentinel_db.importers import FileReport, ImportOptions, import_directory, import_file
from sentinel_db.models import ALL_TABLES, sql_name
from sentinel_db.schemas import CONTROL_ID_PATTERN, loads_strict
from tests.cli_helpers import run_cli

HEAVY = os.environ.get("SENTINEL_HYPOTHESIS_PROFILE", "").lower() == "heavy"
CONTROLS = "pci_dss_controls"
RULES = "aws_config_rules_guidance"
MAPPINGS = "pci_aws_config_rule_mappings"
KEYS = {CONTROLS: "control_id", RULES: "config_rule", MAPPINGS: "control_id"}
JSON_COLUMNS = {"metadata", "config_rules"}
MAX_FIELD = 16 * 1024 * 1024

F = TypeVar("F", bound=Callable[..., Any])


def bounded(examples: int) -> Callable[[F], F]:
    """Hypothesis settings: ``examples`` in CI (reproducible), twenty times more when heavy."""
    return settings(
        max_examples=examples * 20 if HEAVY else examples,
        derandomize=not HEAVY,
        database=None,
        deadline=None,
        # Shrinking a database-backed failure can take minutes; CI reports the raw example.
        phases=tuple(Phase) if HEAVY else (Phase.explicit, Phase.reuse, Phase.generate),
        # The fixtures used are reset inside every example (tables truncated, fresh folders).
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
    )


# --- strategies -------------------------------------------------------------------------------

# Any Unicode text PostgreSQL can store: no NUL, no lone surrogates (not encodable as UTF-8).
safe_chars = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
safe_text = st.text(safe_chars, max_size=30)
alnum = st.characters(whitelist_categories=("L", "Nd"))


@st.composite
def contentful(draw: st.DrawFn) -> str:
    """Any text with at least one letter or digit in it (so never blank)."""
    return draw(safe_text) + draw(alnum) + draw(safe_text)


control_ids = st.from_regex(CONTROL_ID_PATTERN, fullmatch=True).filter(lambda s: len(s) <= 20)
rule_names = contentful().filter(lambda s: len(s) <= 100 and s.strip(" \t") == s)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | safe_text
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(safe_text, inner, max_size=3),
    max_leaves=10,
)
json_objects = st.dictionaries(safe_text, json_values, max_size=4)


def mapping_entries(rules: list[str]) -> st.SearchStrategy[Any]:
    """``config_rules`` entries: a rule name, or an object naming it (plus other keys)."""
    name = st.sampled_from(rules)
    extras = st.fixed_dictionaries(
        {}, optional={"guidance": safe_text, "weight": st.integers(-5, 5) | st.floats(0, 1)}
    )
    as_object = st.builds(
        lambda key, rule, more: {key: rule, **more},
        st.sampled_from(["rule", "rule_name"]),
        name,
        extras,
    )
    return name | as_object


@st.composite
def record_sets(draw: st.DrawFn) -> dict[str, list[dict[str, Any]]]:
    """Valid controls, rules and mappings with unique keys (and ids, when they have ids)."""
    with_ids = draw(st.booleans())

    def ids(n: int) -> list[str]:
        if not with_ids:
            return [""] * n
        return [str(u) for u in draw(st.lists(st.uuids(), min_size=n, max_size=n, unique=True))]

    keys = draw(st.lists(control_ids, max_size=5, unique=True))
    rules = draw(st.lists(rule_names, max_size=4, unique=True))
    mapped = draw(st.lists(st.sampled_from(keys), unique=True)) if keys else []
    controls = [
        {
            "id": row_id,
            "control_id": key,
            "requirement": draw(st.none() | contentful()),
            "chunk": draw(contentful()),
            "metadata": draw(json_objects),
        }
        for row_id, key in zip(ids(len(keys)), keys, strict=True)
    ]
    guidance = [
        {
            "id": row_id,
            "config_rule": name,
            "chunk": draw(contentful()),
            "metadata": draw(json_objects),
        }
        for row_id, name in zip(ids(len(rules)), rules, strict=True)
    ]
    mappings = [
        {
            "id": row_id,
            "control_id": key,
            "config_rules": draw(st.lists(mapping_entries(rules), max_size=3)) if rules else [],
        }
        for row_id, key in zip(ids(len(mapped)), mapped, strict=True)
    ]
    return {CONTROLS: controls, RULES: guidance, MAPPINGS: mappings}


# --- helpers ----------------------------------------------------------------------------------


def same_json(a: Any, b: Any) -> bool:
    """Equal as JSON documents (numbers by value, as jsonb stores them)."""

    def canon(value: Any) -> Any:
        return json.loads(json.dumps(value), parse_float=Decimal, parse_int=Decimal)

    return bool(canon(a) == canon(b))


def truncate(db: Database) -> None:
    with db.engine.begin() as conn:
        conn.execute(text("TRUNCATE " + ", ".join(sql_name(t) for t in ALL_TABLES)))


def db_rows(db: Database, table: str) -> list[dict[str, Any]]:
    with db.engine.connect() as conn:
        columns = ", ".join(f'"{c}"' for c in COLUMNS[table])
        return [dict(r._mapping) for r in conn.execute(text(f"SELECT {columns} FROM {table}"))]


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def cell(value: Any, column: str) -> str:
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False) if column in JSON_COLUMNS else str(value)


def assert_same_records(table: str, written: list[dict[str, Any]], exported: Path) -> None:
    """The exported file holds exactly the written records (ids too, when they were given)."""
    key = KEYS[table]
    got = {row[key]: row for row in read_csv(exported)}
    assert set(got) == {row[key] for row in written}
    for row in written:
        out = got[row[key]]
        if row["id"]:
            assert out["id"] == row["id"]
        for column in COLUMNS[table]:
            if column in ("id", key):
                continue
            if column in JSON_COLUMNS:
                assert same_json(json.loads(out[column]), row[column]), column
            else:
                assert out[column] == (row[column] or ""), column


@pytest.fixture
def folder(tmp_path_factory: pytest.TempPathFactory) -> Callable[[], Path]:
    """A fresh folder for each example."""
    return lambda: tmp_path_factory.mktemp("example")


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


def write_csv(
    path: Path, header: list[str], rows: list[list[str]], *, encoding: str = "utf-8", **fmt: Any
) -> Path:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, **fmt)
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding, errors="replace"))
    return path


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
