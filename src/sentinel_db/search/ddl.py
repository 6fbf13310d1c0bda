"""DDL for ranked search on one table, called by the Alembic revisions that own it.

Revisions are history: they call these functions with the expressions frozen in the revision
file, and the SQL here must keep producing the same objects. A later change to the objects goes
into a new function (and a new revision), never into an edit of these.

For a table ``T`` with a ``search_vector`` column this creates, in schema ``sentinel_db`` (which
the Data API never serves):

* ``T_search_terms(term, df)``: rows whose sums per term are how many rows contain each lexeme;
* ``T_search_totals``: rows whose sums are the number of rows and their total length in lexemes;
* ``T_search_stats()``: a trigger function that keeps both exact from the transition tables of
  every INSERT, UPDATE, DELETE and TRUNCATE, in the writing transaction (so readers see figures
  consistent with the rows they see, and a rolled-back write leaves them as they were).
"""

from __future__ import annotations

from dataclasses import dataclass

from alembic import op
from sentinel_db.schema.access import protect_private_schema, protect_private_table

SCHEMA = "sentinel_db"
FOLD_AT = 64


@dataclass(frozen=True)
class SearchTextSpec:
    """The table whose ``search_vector`` column is (re)built, and its natural key."""

    table: str
    key: str

    @property
    def index(self) -> str:
        """Name of the GIN index on the search column."""
        return f"ix_{self.table}_search_vector"

    @property
    def terms(self) -> str:
        """Qualified name of the document-frequency table."""
        return f"{SCHEMA}.{self.table}_search_terms"

    @property
    def terms_index(self) -> str:
        """Name of the index on the terms table's ``term``."""
        return f"ix_{self.table}_search_terms_term"

    @property
    def totals(self) -> str:
        """Qualified name of the one-row totals table."""
        return f"{SCHEMA}.{self.table}_search_totals"

    @property
    def function(self) -> str:
        """Qualified name of the statistics trigger function."""
        return f"{SCHEMA}.{self.table}_search_stats"


def _replace_column(spec: SearchTextSpec, expression: str) -> None:
    op.execute(f"DROP INDEX IF EXISTS {spec.index}")
    op.execute(f"ALTER TABLE {spec.table} DROP COLUMN IF EXISTS search_vector")
    op.execute(
        f"ALTER TABLE {spec.table} ADD COLUMN search_vector tsvector "
        f"GENERATED ALWAYS AS ({expression}) STORED"
    )
    op.execute(f"CREATE INDEX {spec.index} ON {spec.table} USING gin (search_vector)")


def _apply_delta(spec: SearchTextSpec, rows: str) -> str:
    """PL/pgSQL that adds ``rows`` (``vector, sign`` pairs) to the statistics.

    Each write adds rows of its own (no lock on rows others wrote), then folds the rows of the
    terms it touched that no other transaction is folding (``SKIP LOCKED``): concurrent writers
    never wait for each other here, and the sums stay exact.
    """
    return f"""
    INSERT INTO {spec.totals} (docs, lexemes)
    SELECT sum(sign), sum(sign * length(vector)) FROM ({rows}) r HAVING count(*) > 0;
    IF (SELECT count(*) FROM {spec.totals}) > {FOLD_AT} THEN
        WITH folded AS (
            DELETE FROM {spec.totals} WHERE id IN (
                SELECT id FROM {spec.totals} FOR UPDATE SKIP LOCKED
            ) RETURNING docs, lexemes
        )
        INSERT INTO {spec.totals} (docs, lexemes)
        SELECT sum(docs), sum(lexemes) FROM folded HAVING count(*) > 0;
    END IF;
    WITH added AS (
        INSERT INTO {spec.terms} (term, df)
        SELECT u.lexeme, sum(r.sign)::integer
        FROM ({rows}) r CROSS JOIN LATERAL unnest(r.vector) AS u
        GROUP BY u.lexeme
        HAVING sum(r.sign) <> 0
        RETURNING term
    )
    SELECT array_agg(term) INTO touched FROM added;
    IF touched IS NOT NULL THEN
        WITH folded AS (
            DELETE FROM {spec.terms} WHERE id IN (
                SELECT id FROM {spec.terms} WHERE term = ANY (touched) FOR UPDATE SKIP LOCKED
            ) RETURNING term, df
        )
        INSERT INTO {spec.terms} (term, df)
        SELECT term, sum(df) FROM folded GROUP BY term HAVING sum(df) <> 0;
    END IF;"""


def _create_statistics(spec: SearchTextSpec) -> None:
    protect_private_schema(SCHEMA)
    op.execute(
        f"CREATE TABLE {spec.terms} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
        "term text NOT NULL, df integer NOT NULL)"
    )
    op.execute(f"CREATE INDEX {spec.terms_index} ON {spec.terms} (term)")
    op.execute(
        f"CREATE TABLE {spec.totals} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
        "docs bigint NOT NULL, lexemes bigint NOT NULL)"
    )
    for table in (spec.terms, spec.totals):
        protect_private_table(table)
    op.execute(
        f"INSERT INTO {spec.terms} (term, df) SELECT u.lexeme, count(*) "
        f"FROM {spec.table} CROSS JOIN LATERAL unnest(search_vector) AS u GROUP BY u.lexeme"
    )
    op.execute(
        f"INSERT INTO {spec.totals} (docs, lexemes) "
        f"SELECT count(*), coalesce(sum(length(search_vector)), 0) FROM {spec.table}"
    )
    inserted = "SELECT search_vector AS vector, 1 AS sign FROM new_rows"
    deleted = "SELECT search_vector AS vector, -1 AS sign FROM old_rows"
    # Rows whose text did not change cancel out, so an UPDATE of metadata costs little.
    updated = f"{inserted} UNION ALL {deleted}"
    # SECURITY INVOKER: only the tables' owner writes them (API roles hold no write privilege).
    op.execute(
        f"""CREATE FUNCTION {spec.function}() RETURNS trigger
LANGUAGE plpgsql SECURITY INVOKER SET search_path = '' AS $fn$
DECLARE
    touched text[];
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM {spec.terms};
        DELETE FROM {spec.totals};
    ELSIF TG_OP = 'INSERT' THEN{_apply_delta(spec, inserted)}
    ELSIF TG_OP = 'DELETE' THEN{_apply_delta(spec, deleted)}
    ELSE{_apply_delta(spec, updated)}
    END IF;
    RETURN NULL;
END
$fn$"""
    )
    name = f"{spec.table}_search_stats"
    for event, referencing in (
        ("INSERT", "REFERENCING NEW TABLE AS new_rows"),
        ("UPDATE", "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"),
        ("DELETE", "REFERENCING OLD TABLE AS old_rows"),
        ("TRUNCATE", ""),
    ):
        op.execute(
            f"CREATE TRIGGER {name}_{event.lower()} AFTER {event} ON {spec.table} {referencing} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {spec.function}()"
        )


def create_search_text(spec: SearchTextSpec, expression: str) -> None:
    """Rebuild the search column from ``expression`` and add exact term statistics."""
    _replace_column(spec, expression)
    _create_statistics(spec)


def drop_search_text(spec: SearchTextSpec, previous: str) -> None:
    """Undo :func:`create_search_text`: statistics gone, the column built from ``previous``."""
    name = f"{spec.table}_search_stats"
    for event in ("insert", "update", "delete", "truncate"):
        op.execute(f"DROP TRIGGER IF EXISTS {name}_{event} ON {spec.table}")
    op.execute(f"DROP FUNCTION IF EXISTS {spec.function}()")
    op.execute(f"DROP TABLE IF EXISTS {spec.terms}")
    op.execute(f"DROP TABLE IF EXISTS {spec.totals}")
    _replace_column(spec, previous)
