"""Each class of bad input gets its documented outcome, with line numbers."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import text

from sentinel_db.errors import ImportValidationError, UsageError
from sentinel_db.importers import ImportOptions, import_directory, import_file
from sentinel_db.records.validation import (
    PciAwsConfigMappingRow,
    PciControlRow,
    ValidationError,
    describe_errors,
    rule_names,
)
from sentinel_db.runtime.db import Database

HEADER = "id,control_id,requirement,chunk,metadata"
META = '"{""requirements_id"": ""1""}"'


def _write(tmp_path: Path, body: bytes | str, name: str = "pci_dss_controls.csv") -> Path:
    path = tmp_path / name
    if isinstance(body, str):
        path.write_text(body, encoding="utf-8", newline="")
    else:
        path.write_bytes(body)
    return path


def _rows(db: Database) -> list[tuple[str, str]]:
    with db.engine.connect() as conn:
        return [
            (r[0], r[1])
            for r in conn.execute(text("SELECT control_id, chunk FROM pci_dss_controls ORDER BY 1"))
        ]


def _messages(report: object) -> list[str]:
    return [str(p) for p in report.errors]  # type: ignore[attr-defined]


def test_bom_and_crlf_import_fine(clean_db: Database, tmp_path: Path) -> None:
    body = f"\ufeff{HEADER}\r\n,1.1,R,first,{META}\r\n,1.2,R,second,{META}\r\n"
    report = import_file(clean_db, _write(tmp_path, body), "pci_dss_controls")
    assert (report.status, report.inserted, report.rejected) == ("succeeded", 2, 0)
    assert _rows(clean_db) == [("1.1", "first"), ("1.2", "second")]


def test_multiline_quoted_field_imports_fine_and_lines_stay_right(
    clean_db: Database, tmp_path: Path
) -> None:
    body = f'{HEADER}\n,1.1,R,"line one\nline two\n\n* bullet",{META}\n,X9,R,bad,{META}\n'
    report = import_file(clean_db, _write(tmp_path, body), "pci_dss_controls")
    assert report.inserted == 1
    assert _rows(clean_db) == [("1.1", "line one\nline two\n\n* bullet")]
    assert report.errors[0].line == 6 and report.errors[0].column == "control_id"


def test_missing_column_rejects_the_whole_file(clean_db: Database, tmp_path: Path) -> None:
    report = import_file(
        clean_db, _write(tmp_path, "control_id,chunk\n1.1,a\n"), "pci_dss_controls"
    )
    assert report.status == "failed" and report.exit_code == 4
    assert "missing required column metadata" in (report.error or "")
    assert report.errors[0].line == 1
    assert _rows(clean_db) == []


def test_invalid_json_and_array_for_object_reject_rows_with_lines(
    clean_db: Database, tmp_path: Path
) -> None:
    body = f'{HEADER}\n,1.1,R,ok,{META}\n,1.2,R,bad,"{{""a"": }}"\n,1.3,R,arr,"[1, 2]"\n,1.4,R,nan,"{{""a"": NaN}}"\n'
    report = import_file(clean_db, _write(tmp_path, body), "pci_dss_controls")
    assert (report.status, report.inserted, report.rejected, report.exit_code) == (
        "partial",
        1,
        3,
        4,
    )
    messages = _messages(report)
    assert messages[0].endswith(":3: metadata: invalid JSON (Expecting value at column 7)")
    assert messages[1].endswith(":4: metadata: must be a JSON object, not an array")
    assert messages[2].endswith(":5: metadata: invalid JSON (NaN is not valid JSON)")
    reject_path = Path(report.reject_file or "")
    rows = list(csv.reader(reject_path.open(encoding="utf-8", newline="")))
    assert rows[0] == HEADER.split(",") and rows[2] == ["", "1.3", "R", "arr", "[1, 2]"]
    errors_path = reject_path.with_name(reject_path.name.removesuffix(".csv") + ".errors.csv")
    reasons = list(csv.DictReader(errors_path.open(encoding="utf-8", newline="")))
    assert [(r["line"], r["column"], r["reject_row"]) for r in reasons] == [
        ("3", "metadata", "1"),
        ("4", "metadata", "2"),
        ("5", "metadata", "3"),
    ]


def test_all_or_nothing_aborts_the_file(clean_db: Database, tmp_path: Path) -> None:
    body = f'{HEADER}\n,1.1,R,ok,{META}\n,1.2,R,bad,"[]"\n'
    report = import_file(
        clean_db,
        _write(tmp_path, body),
        "pci_dss_controls",
        options=ImportOptions(all_or_nothing=True),
    )
    assert report.status == "failed" and report.inserted == 0 and report.rejected == 1
    assert _rows(clean_db) == []


def test_duplicate_keys_reject_the_later_row_and_exact_copies_warn(
    clean_db: Database, tmp_path: Path
) -> None:
    body = (
        f"{HEADER}\n,1.1,R,first,{META}\n,1.2,R,x,{META}\n,1.1,R,different,{META}\n"
        f",1.2,R,x,{META}\n"
    )
    report = import_file(clean_db, _write(tmp_path, body), "pci_dss_controls")
    assert report.inserted == 2 and report.rejected == 1 and report.warnings == 1
    assert "differs from line 2" in _messages(report)[0] and report.errors[0].line == 4
    assert report.warning_list[0].line == 5 and "exact duplicate of line 3" in str(
        report.warning_list[0]
    )
    assert _rows(clean_db) == [("1.1", "first"), ("1.2", "x")]


def test_overlong_control_id_is_rejected_not_truncated(clean_db: Database, tmp_path: Path) -> None:
    body = f"{HEADER}\n,{'1.' + '1' * 30},R,x,{META}\n, 1.1\t,R,padded,{META}\n,1.5,R,x,{META}\n,not-a-uuid,R,x,{META}\n"
    body = body.replace(",not-a-uuid,R", "not-a-uuid,1.6,R")
    report = import_file(clean_db, _write(tmp_path, body), "pci_dss_controls")
    assert report.rejected == 2
    assert _messages(report)[0].endswith(":2: control_id: longer than 20 characters")
    assert _messages(report)[1].endswith(":5: id: is not a UUID")
    assert "trimmed" in str(report.warning_list[0]) and report.warning_list[0].line == 3
    assert [r[0] for r in _rows(clean_db)] == ["1.1", "1.5"]


def test_non_utf8_bytes_reject_the_file_naming_the_line(clean_db: Database, tmp_path: Path) -> None:
    body = f"{HEADER}\n,1.1,R,ok,{META}\n".encode() + b',1.2,R,caf\xe9,"{}"\n'
    path = _write(tmp_path, body)
    report = import_file(clean_db, path, "pci_dss_controls")
    assert report.status == "failed" and report.errors[0].line == 3
    assert "not valid utf-8" in (report.error or "") and "--encoding" in (report.error or "")
    assert _rows(clean_db) == []
    latin = import_file(
        clean_db, path, "pci_dss_controls", options=ImportOptions(encoding="latin-1")
    )
    assert latin.inserted == 2 and ("1.2", "café") in _rows(clean_db)


def test_nul_byte_rejects_the_row(clean_db: Database, tmp_path: Path) -> None:
    body = f"{HEADER}\n,1.1,R,a\x00b,{META}\n,1.2,R,ok,{META}\n"
    report = import_file(clean_db, _write(tmp_path, body), "pci_dss_controls")
    assert report.rejected == 1 and _messages(report)[0].endswith(":2: chunk: contains a NUL byte")
    assert _rows(clean_db) == [("1.2", "ok")]


def test_unterminated_quote_rejects_the_file_at_its_line(
    clean_db: Database, tmp_path: Path
) -> None:
    body = f'{HEADER}\n,1.1,R,ok,{META}\n,1.2,R,"never closed,{{}}\n,1.3,R,x,{META}\n'
    report = import_file(clean_db, _write(tmp_path, body), "pci_dss_controls")
    assert report.status == "failed" and report.errors[0].line == 3
    assert "never closed" in (report.error or "")
    assert _rows(clean_db) == []


def test_empty_file_fails_and_header_only_file_imports_nothing(
    clean_db: Database, tmp_path: Path
) -> None:
    empty = import_file(clean_db, _write(tmp_path, ""), "pci_dss_controls")
    assert empty.status == "failed" and "empty" in (empty.error or "")
    header_only = import_file(
        clean_db, _write(tmp_path, HEADER + "\n", "h.csv"), "pci_dss_controls"
    )
    assert (header_only.status, header_only.rows_read, header_only.exit_code) == ("succeeded", 0, 0)


def test_semicolon_header_is_named(clean_db: Database, tmp_path: Path) -> None:
    report = import_file(
        clean_db, _write(tmp_path, "id;control_id;chunk;metadata\n;1.1;a;{}\n"), "pci_dss_controls"
    )
    assert "delimited by semicolons" in (report.error or "")


def test_extra_column_warns_and_short_row_is_rejected(clean_db: Database, tmp_path: Path) -> None:
    body = f"{HEADER},notes\n,1.1,R,a,{META},n\n,1.2,R,b\n"
    report = import_file(clean_db, _write(tmp_path, body), "pci_dss_controls")
    assert report.inserted == 1 and report.rejected == 1
    assert "unknown column ignored" in str(report.warning_list[0])
    assert "expected 6 fields, found 4" in _messages(report)[0]


def test_oversized_field_uses_the_configured_limit(clean_db: Database, tmp_path: Path) -> None:
    big = "x" * 200_000  # over the csv module's 128 KiB default
    ok = import_file(
        clean_db, _write(tmp_path, f"{HEADER}\n,1.1,R,{big},{META}\n"), "pci_dss_controls"
    )
    assert ok.inserted == 1
    limited = import_file(
        clean_db,
        _write(tmp_path, f"{HEADER}\n,1.2,R,{big},{META}\n", "l.csv"),
        "pci_dss_controls",
        options=ImportOptions(max_field_size=100_000),
    )
    assert limited.status == "failed" and "larger than the limit" in (limited.error or "")


def test_mapping_references_warn_and_strict_rejects(clean_db: Database, tmp_path: Path) -> None:
    controls = _write(tmp_path, f"{HEADER}\n,1.1,R,a,{META}\n")
    import_file(clean_db, controls, "pci_dss_controls")
    body = (
        "control_id,config_rules\n"
        '1.1,"[""restricted-ssh""]"\n'
        '9.9,"[{""rule_name"": ""x"", ""weight"": 1}]"\n'
    )
    path = _write(tmp_path, body, "pci_aws_config_rule_mapping.csv")
    loose = import_file(clean_db, path, "pci_aws_config_rule_mappings")
    assert loose.inserted == 2 and loose.warnings == 3 and loose.exit_code == 0
    lines = sorted((w.line, w.column) for w in loose.warning_list)
    assert lines == [(2, "config_rules"), (3, "config_rules"), (3, "control_id")]
    strict = import_file(
        clean_db,
        path,
        "pci_aws_config_rule_mappings",
        options=ImportOptions(strict=True, force=True),
    )
    assert strict.rejected == 2 and strict.exit_code == 4
    # Strict makes an unknown control an error too (a rejected row is not checked further).
    assert sorted((e.line, e.column) for e in strict.errors) == [
        (2, "config_rules"),
        (3, "control_id"),
    ]
    assert strict.warnings == 0


def test_unknown_table_lists_valid_ones(clean_db: Database, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="valid tables: pci_dss_controls"):
        import_file(clean_db, _write(tmp_path, HEADER), "nope")


def test_source_without_recognised_files_names_near_misses(
    clean_db: Database, tmp_path: Path
) -> None:
    _write(tmp_path, HEADER, "pci_dss_controls.txt")
    with pytest.raises(ImportValidationError, match=r"near misses: .*pci_dss_controls\.txt"):
        import_directory(clean_db, tmp_path)


def test_row_models_accept_every_rule_form_and_reject_bad_weights() -> None:
    rules = '["a", {"rule": "b", "weight": 0.5}, {"rule_name": "c", "guidance": "g"}]'
    row = PciAwsConfigMappingRow.model_validate({"control_id": "A3.2.5.1", "config_rules": rules})
    assert rule_names(row.config_rules) == ["a", "b", "c"]
    with pytest.raises(ValidationError) as caught:
        PciAwsConfigMappingRow.model_validate(
            {"control_id": "1", "config_rules": '[{"rule": "a", "weight": "heavy"}]'}
        )
    assert describe_errors(caught.value) == [("config_rules", "entry 1: weight must be a number")]
    for good in ("1", "1.2", "12.3.4", "A1.1.2", "A3.2.5.1"):
        PciControlRow.model_validate({"control_id": good, "chunk": "c", "metadata": "{}"})
    with pytest.raises(ValidationError):
        PciControlRow.model_validate({"control_id": "1.2", "chunk": "  \t", "metadata": "{}"})


def test_no_validate_names_the_line_of_json_the_database_refuses(
    clean_db: Database, tmp_path: Path
) -> None:
    body = (
        f'{HEADER}\n,1.1,R,"two\nlines",{META}\n,1.2,R,short,1,2\n,1.3,R,fine,{META}\n'
        ",1.4,R,broken,{not json\n"
        f",1.5,R,after,{META}\n"
    )
    path = _write(tmp_path, body)
    validated = import_file(clean_db, path, "pci_dss_controls", options=ImportOptions(dry_run=True))
    trusted = import_file(clean_db, path, "pci_dss_controls", options=ImportOptions(validate=False))
    assert trusted.status == "failed" and trusted.exit_code == 4
    # Line 6, as the validated path reports it (line 4 has too many fields, rejected before COPY).
    line_six = [m for m in _messages(trusted) if ":6:" in m]
    assert line_six == [m for m in _messages(validated) if ":6:" in m]
    assert line_six[0].startswith(f"{path}:6: metadata: invalid JSON")
    assert _rows(clean_db) == []  # the whole file was refused
