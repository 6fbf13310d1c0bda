"""Alembic environment of the optional pgvector tables (``alembic -n vectors upgrade head``)."""

from alembic import context
from sentinel_db.runtime.engine import engine_for_alembic
from sentinel_db.schema.environments import VECTORS, run_environment

run_environment(context, VECTORS, open_engine=engine_for_alembic)
