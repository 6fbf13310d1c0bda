"""Generic repository behaviour, exercised through the controls table with the bundled sample."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.orm import Session

from sentinel_db import PciControl, PciControlRepository
from sentinel_db.errors import DataValidationError, DuplicateError, NotFoundError, UsageError
from sentinel_db.records.rows import validate_record
from tests.data_helpers import CONTROLS_CSV, load_sample, read_csv, sample_count, sample_file


@pytest.fixture
def controls(session: Session) -> PciControlRepository:
    load_sample(session)
    return PciControlRepository(session)


TOTAL = sample_count(CONTROLS_CSV)


def _new(control_id: str = "99.9") -> dict[str, object]:
    return {
        "control_id": control_id,
        "requirement": "Test",
        "chunk": "A test control",
        "metadata": {},
    }


def test_get_by_id_and_by_key_return_the_same_row(controls: PciControlRepository) -> None:
    row = controls.get_by_key("8.2.6")
    assert controls.get(row.id) is row
    assert controls.get_by_control_id("8.2.6") is row
    assert controls.find_by_key("nope") is None
    assert controls.find(uuid.uuid4()) is None


def test_missing_rows_raise_not_found(controls: PciControlRepository) -> None:
    with pytest.raises(NotFoundError, match="no row with id"):
        controls.get(uuid.uuid4())
    with pytest.raises(NotFoundError, match=r"'0\.0'"):
        controls.get_by_key("0.0")
    with pytest.raises(NotFoundError):
        controls.delete("0.0")


def test_count_and_exists(controls: PciControlRepository) -> None:
    assert controls.count() == TOTAL
    assert controls.exists("1.2.1")
    assert not controls.exists("0.0")


def test_list_pages_with_limit_and_offset_in_key_order(controls: PciControlRepository) -> None:
    first = controls.list(limit=5)
    second = controls.list(limit=5, offset=5)
    keys = [r.control_id for r in first + second]
    assert keys == sorted(keys) and len(set(keys)) == 10
    with pytest.raises(UsageError):
        controls.list(limit=-1)


def test_keyset_pages_cover_every_row_once(
    controls: PciControlRepository,
) -> None:
    seen: list[str] = []
    after = None
    while page := controls.page_after(after, limit=50):
        seen += [r.control_id for r in page]
        after = page[-1].control_id
    assert seen == sorted(r["control_id"] for r in read_csv(sample_file(CONTROLS_CSV)))


def test_iter_all_streams_every_row_and_detaches_them(
    controls: PciControlRepository, session: Session
) -> None:
    rows = list(controls.iter_all(batch_size=40))
    assert len(rows) == TOTAL and len({r.control_id for r in rows}) == TOTAL
    assert not any(r in session for r in rows)


def test_iter_rows_gives_column_dicts_without_generated_columns(
    controls: PciControlRepository,
) -> None:
    rows = list(controls.iter_rows(batch_size=100))
    assert len(rows) == TOTAL
    assert set(rows[0]) == {"id", "control_id", "requirement", "chunk", "metadata"}


def test_add_validates_and_rejects_duplicates(controls: PciControlRepository) -> None:
    row = controls.add(_new())
    assert row.id is not None and controls.exists("99.9")
    with pytest.raises(DataValidationError, match="chunk"):
        controls.add({"control_id": "99.8"})
    with pytest.raises(DuplicateError, match="control_id"):
        controls.add(_new())


def test_update_changes_fields_and_validates(controls: PciControlRepository) -> None:
    row = controls.update("1.2.1", chunk="changed", metadata={"requirements_id": "1"})
    assert row.chunk == "changed" and row.metadata_ == {"requirements_id": "1"}
    with pytest.raises(DataValidationError):
        controls.update("1.2.1", control_id="x" * 30)
    with pytest.raises(NotFoundError):
        controls.update("0.0", chunk="x")


def test_delete_removes_the_row(controls: PciControlRepository) -> None:
    controls.delete("1.2.1")
    assert not controls.exists("1.2.1") and controls.count() == TOTAL - 1


def test_upsert_many_inserts_updates_and_skips_unchanged_rows(
    controls: PciControlRepository,
) -> None:
    rows = read_csv(sample_file(CONTROLS_CSV))
    assert controls.upsert_many(rows) == 0  # already loaded, nothing changed
    original_id = controls.get_by_key("1.2.1").id
    changed = {**rows[0], "id": None, "chunk": "new text"}
    assert controls.upsert_many([changed, _new("99.1")]) == 2
    controls.session.expire_all()
    kept = controls.get_by_key("1.2.1")
    assert kept.chunk == "new text" and kept.id == original_id
    assert controls.count() == TOTAL + 1


def test_upsert_many_rejects_a_bad_row_with_a_clear_error(controls: PciControlRepository) -> None:
    with pytest.raises(DataValidationError, match="control_id"):
        controls.upsert_many([_new(""), _new("99.2")])


def test_delete_all_empties_the_table(controls: PciControlRepository) -> None:
    assert controls.delete_all() == TOTAL
    assert controls.count() == 0


def test_records_round_trip_through_dict_and_json(controls: PciControlRepository) -> None:
    record = PciControl.model_validate(controls.get_by_key("3.5.1"))
    data = record.to_dict()
    assert data["metadata"]["requirements_id"] == "3" and isinstance(data["id"], str)
    assert PciControl.model_validate_json(record.to_json()) == record
    assert validate_record(PciControl, data) == record
    assert controls.to_record(controls.get_by_key("3.5.1")) == record


def test_upsert_many_refuses_a_key_repeated_in_one_batch(controls: PciControlRepository) -> None:
    with pytest.raises(DuplicateError, match=r"99\.3"):
        controls.upsert_many([_new("99.3"), _new("99.3")])
