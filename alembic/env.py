"""Alembic environment of the core history: sentinel-db's settings, models and migration lock."""

from alembic import context
from sentinel_db.runtime.engine import engine_for_alembic
from sentinel_db.schema.environments import CORE, run_environment

run_environment(context, CORE, open_engine=engine_for_alembic)
