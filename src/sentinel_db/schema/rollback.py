"""Planning and running a rollback: by table (its branch only) or of the whole schema.

Nothing here knows revision ids: a table's branch is found through the revision that declares
``creates_tables``, and its branch label (ARCHITECTURE.md, "The revision history"). The optional
``vectors`` history is rolled back on its own with ``--to vectors@base`` (or ``vectors@REV``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from alembic.script import Script
from alembic.script.revision import RevisionError
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, text

from sentinel_db.errors import MigrationError, UsageError
from sentinel_db.records.embeddings import VECTORS_BRANCH
from sentinel_db.records.models import ALL_TABLES
from sentinel_db.schema import migrations
from sentinel_db.schema.environments import VECTORS


@dataclass
class RollbackPlan:
    """What a rollback would undo: the Alembic target, each revision, and the rows lost."""

    target: str
    revisions: list[migrations.RevisionInfo]
    rows_lost: dict[str, int]
    # For a rollback by table: (branch-qualified target, revision creating the table) each.
    branches: list[tuple[str, str]] = field(default_factory=list)

    @property
    def by_table(self) -> bool:
        """True when only the named tables' branches are rolled back."""
        return bool(self.branches)


def _creator(table: str) -> Script:
    scripts = migrations.make_script_directory()
    for script in scripts.walk_revisions():
        if table in tuple(getattr(script.module, "creates_tables", ())):
            return script
    raise MigrationError(f"no revision creates {table}")


def _descendants(script: Script) -> set[str]:
    scripts = migrations.make_script_directory()
    found, todo = set(), [script.revision]
    while todo:
        rev = todo.pop()
        if rev not in found:
            found.add(rev)
            script_ = scripts.get_revision(rev)
            todo.extend(script_.nextrev if script_ is not None else ())
    return found


def _branch_target(script: Script) -> str:
    """``label@rev`` that downgrades only ``script``'s branch to just below ``script``."""
    own = set(script.branch_labels or ())
    labels = sorted(own & set(getattr(script.module, "creates_tables", ()))) or sorted(own)
    if not labels:
        raise MigrationError(f"revision {script.revision} is on no labelled branch")
    down = script.down_revision
    if isinstance(down, tuple):
        raise MigrationError(f"revision {script.revision} creates a table in a merge")
    return f"{labels[0]}@{down or 'base'}"


def plan_rollback(
    engine: Engine, *, tables: Sequence[str] = (), to: str | None = None
) -> RollbackPlan:
    """Work out the downgrade for ``tables`` or ``to`` and what it would remove.

    Raises:
        UsageError: an unknown table or revision, or neither/both of ``tables`` and ``to``.
    """
    if bool(tables) == (to is not None):
        raise UsageError("give either table names or --to REV")
    if to is not None and to.startswith(f"{VECTORS_BRANCH}@"):
        return _plan_vectors(engine, to)
    state = migrations.status(engine)
    heads = state.heads
    applied = migrations.ancestors(heads)
    branches: list[tuple[str, str]] = []
    if tables:
        unknown = [t for t in tables if t not in ALL_TABLES]
        if unknown:
            raise UsageError(
                f"unknown table {', '.join(unknown)}; sentinel-db's tables are: "
                + ", ".join(ALL_TABLES)
            )
        creators = [_creator(name) for name in dict.fromkeys(tables)]
        remove = set().union(*(_descendants(c) for c in creators)) & applied
        branches = [(_branch_target(c), c.revision) for c in creators]
        target = ", ".join(t for t, _ in branches)
    else:
        assert to is not None
        try:
            keep = set() if to == "base" else migrations.ancestors((to,))
        except (CommandError, RevisionError) as exc:  # an unknown revision
            raise UsageError(f"cannot roll back to {to}: {exc}") from exc
        remove = applied - keep
        target = to
    undone = [r for r in migrations.all_revisions() if r.revision in remove]
    if to == "base" and state.vectors is not None:  # base removes the vectors history too
        vectors = migrations.ancestors((state.vectors,), VECTORS)
        undone = [r for r in migrations.all_revisions(VECTORS) if r.revision in vectors] + undone
    return RollbackPlan(
        target=target, revisions=undone, rows_lost=_rows_lost(engine, undone), branches=branches
    )


def _plan_vectors(engine: Engine, to: str) -> RollbackPlan:
    """Undo the ``vectors`` branch down to ``to`` (``vectors@base`` removes it)."""
    vectors = migrations.status(engine).vectors
    if vectors is None:
        return RollbackPlan(target=to, revisions=[], rows_lost={})
    rev = to.partition("@")[2]
    if rev != "base" and rev not in migrations.optional_revisions():
        raise UsageError(f"{rev} is not a revision of the {VECTORS_BRANCH} history")
    keep = set() if rev == "base" else migrations.ancestors((rev,), VECTORS)
    remove = migrations.ancestors((vectors,), VECTORS) - keep
    undone = [r for r in migrations.all_revisions(VECTORS) if r.revision in remove]
    return RollbackPlan(target=to, revisions=undone, rows_lost=_rows_lost(engine, undone))


def _rows_lost(engine: Engine, undone: list[migrations.RevisionInfo]) -> dict[str, int]:
    names = {t for rev in undone for t in rev.creates_tables}
    lost: dict[str, int] = {}
    with migrations.connect(engine, "count rows") as conn:
        where = migrations.locate_tables(conn)
        for name in sorted(names):
            qualified = where.get(name) if name in where else _locate(conn, name)
            if qualified is not None:
                # ``qualified`` comes from to_regclass, i.e. the catalog, never from user input.
                lost[name] = int(
                    conn.execute(text(f"SELECT count(*) FROM {qualified}")).scalar_one()
                )
    return lost


def _locate(conn: Connection, name: str) -> str | None:
    """The SQL name of a table outside the models (an optional branch's), or ``None``."""
    found = conn.execute(text("SELECT to_regclass(:name)::text"), {"name": name}).scalar()
    return None if found is None else str(found)


def run_rollback(engine: Engine, plan: RollbackPlan) -> migrations.Status:
    """Carry out ``plan`` in one transaction under the migration lock."""
    if plan.target.startswith(f"{VECTORS_BRANCH}@"):
        if not plan.revisions:
            return migrations.status(engine)
        return migrations.downgrade_vectors(engine, plan.target.partition("@")[2])
    if plan.by_table:
        return migrations.downgrade_branches(engine, plan.branches)
    return migrations.downgrade(engine, plan.target)
