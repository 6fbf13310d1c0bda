"""The schema and its guards: Alembic glue, table rollback, row-level security and grants,
data-version triggers, and the lints that check a live database against the access model.
"""
