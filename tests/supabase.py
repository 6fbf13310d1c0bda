"""A database set up the way Supabase sets one up: its API roles and its default privileges."""

from __future__ import annotations

import psycopg
from sqlalchemy.engine import URL

API_ROLES = ("anon", "authenticated", "service_role")

# Roles are cluster-wide and other test runs may use them: create if missing, never drop.
CREATE_ROLES = """
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
    CREATE ROLE anon NOLOGIN NOINHERIT;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
    CREATE ROLE authenticated NOLOGIN NOINHERIT;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
    CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS;
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
  NULL;  -- another test run created them at the same moment
END $$
"""
# What Supabase does in every project's database: the API roles may use `public`, and every
# table, sequence and function created there is granted to them in full.
DEFAULT_PRIVILEGES = (
    "GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role",
    "ALTER DEFAULT PRIVILEGES IN SCHEMA public"
    " GRANT ALL ON TABLES TO anon, authenticated, service_role",
    "ALTER DEFAULT PRIVILEGES IN SCHEMA public"
    " GRANT ALL ON SEQUENCES TO anon, authenticated, service_role",
    "ALTER DEFAULT PRIVILEGES IN SCHEMA public"
    " GRANT ALL ON FUNCTIONS TO anon, authenticated, service_role",
)


def conninfo(url: URL) -> str:
    """A libpq connection string for ``url`` (password included)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def create_roles(server: URL) -> None:
    """Supabase's API roles on the server (kept: other runs may share them)."""
    with psycopg.connect(conninfo(server), autocommit=True) as conn:
        conn.execute(CREATE_ROLES)


def make_supabase_like(server: URL, database: URL) -> None:
    """Roles on the server, and Supabase's grants and default privileges in ``database``."""
    create_roles(server)
    with psycopg.connect(conninfo(database), autocommit=True) as conn:
        for statement in DEFAULT_PRIVILEGES:
            conn.execute(statement)
