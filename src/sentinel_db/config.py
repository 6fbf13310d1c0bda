"""Settings read from the environment and a ``.env`` file."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from sentinel_db.errors import ConfigError
from sentinel_db.redact import remember_secret

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

ENV_FILE_VARIABLE = "SENTINEL_DB_ENV_FILE"
POOLER_PORT = 6543
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", ""}
_POSTGRES_SCHEMES = {"postgres", "postgresql", "postgresql+psycopg", "postgresql+psycopg2"}

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
EmbeddingProvider = Literal["openai", "sentence-transformers"]


@dataclass(frozen=True)
class DatabaseTarget:
    """Where a PostgreSQL URL points, read without SQLAlchemy (for checks and direct connections)."""

    host: str | None
    port: int | None
    database: str | None
    username: str | None
    password: str | None
    query: Mapping[str, str] = field(default_factory=dict)


def database_target(raw: str, *, variable: str = "DATABASE_URL") -> DatabaseTarget:
    """Check a PostgreSQL URL and say where it points.

    Raises:
        ConfigError: the URL is malformed or not a PostgreSQL URL (the message never holds it).
    """
    text = raw.strip()
    scheme, sep, _ = text.partition("://")
    try:
        if not sep or not scheme:
            raise ValueError
        parts = urlsplit(text)
        host_port = parts.netloc.rpartition("@")[2]
        port_text = host_port.rpartition("]")[2].rpartition(":")[2] if ":" in host_port else ""
        if port_text and not port_text.isdigit():
            raise ValueError
    except ValueError:
        # Not chained: a parser's own message may quote the whole URL, password included.
        raise ConfigError(f"{variable} is not a valid database URL") from None
    if scheme not in _POSTGRES_SCHEMES:
        raise ConfigError(
            f"{variable} must be a PostgreSQL URL (postgresql://...), not '{scheme}://'"
        )
    port = int(port_text) if port_text else None
    if port is not None and not 0 < port < 65536:
        raise ConfigError(f"{variable} has an invalid port {port}")
    password = unquote(parts.password) if parts.password is not None else None
    remember_secret(password)
    return DatabaseTarget(
        host=parts.hostname,
        port=port,
        database=unquote(parts.path.lstrip("/")) or None,
        username=unquote(parts.username) if parts.username is not None else None,
        password=password,
        query=dict(parse_qsl(parts.query)),
    )


def parse_database_url(raw: str, *, variable: str = "DATABASE_URL") -> URL:
    """Parse and normalise a PostgreSQL URL to the psycopg 3 driver.

    Raises:
        ConfigError: the URL is malformed or not a PostgreSQL URL (the message never holds it).
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    database_target(raw, variable=variable)
    try:
        url = make_url(raw.strip())
    except (ArgumentError, ValueError):
        raise ConfigError(f"{variable} is not a valid database URL") from None
    remember_secret(url.password if isinstance(url.password, str) else None)
    if not url.database and "host" not in url.query:
        url = url.set(database="postgres")
    return url.set(drivername="postgresql+psycopg")


class _Located(Protocol):
    """A URL's host, port and query: SQLAlchemy's ``URL`` or a :class:`DatabaseTarget`."""

    @property
    def host(self) -> str | None: ...

    @property
    def port(self) -> int | None: ...

    @property
    def query(self) -> Mapping[str, Any]: ...


def is_pooler_url(url: _Located) -> bool:
    """True for a transaction-pooler URL: ``pgbouncer=true`` or Supabase's port 6543."""
    flag = str(url.query.get("pgbouncer", "")).lower()
    return flag in {"true", "1", "yes", "on"} or url.port == POOLER_PORT


def is_local_url(url: _Located) -> bool:
    """True when the URL points at this machine (TCP loopback or a Unix socket)."""
    host = url.host or ""
    return host in _LOCAL_HOSTS or host.startswith("/") or "host" in url.query


def mask_url(url: URL | str | None) -> str:
    """The URL with its password replaced by ``***`` (safe to print)."""
    if url is None:
        return "(not set)"
    if isinstance(url, str):
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            url = make_url(url)
        except (ArgumentError, ValueError):
            return "(unparseable URL)"
    masked = url.set(drivername="postgresql")
    query = {
        k: ("***" if k.lower() in {"password", "sslpassword"} else v) for k, v in url.query.items()
    }
    return masked.set(query=query).render_as_string(hide_password=True)


class Settings(BaseSettings):
    """sentinel-db settings; every field maps to the environment variable in its alias."""

    model_config = SettingsConfigDict(
        env_file=None,
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        populate_by_name=True,
        hide_input_in_errors=True,
    )

    database_url: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "SUPABASE_DB_URL")
    )
    database_read_url: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_READ_URL")
    )
    db_batch_size: Annotated[int, Field(gt=0, le=1_000_000)] = Field(
        default=1000, validation_alias=AliasChoices("DB_BATCH_SIZE")
    )
    db_timeout: Annotated[float, Field(gt=0)] = Field(
        default=30.0, validation_alias=AliasChoices("DB_TIMEOUT")
    )
    db_retry_count: Annotated[int, Field(ge=0, le=20)] = Field(
        default=3, validation_alias=AliasChoices("DB_RETRY_COUNT")
    )
    db_pool_size: Annotated[int, Field(ge=1)] = Field(
        default=10, validation_alias=AliasChoices("DB_POOL_SIZE")
    )
    db_max_overflow: Annotated[int, Field(ge=0)] = Field(
        default=20, validation_alias=AliasChoices("DB_MAX_OVERFLOW")
    )
    db_max_field_size: Annotated[int, Field(gt=0)] = Field(
        default=16 * 1024 * 1024, validation_alias=AliasChoices("DB_MAX_FIELD_SIZE")
    )
    db_cache: bool = Field(default=False, validation_alias=AliasChoices("DB_CACHE"))
    db_cache_max_entries: Annotated[int, Field(ge=1)] = Field(
        default=10_000, validation_alias=AliasChoices("DB_CACHE_MAX_ENTRIES")
    )
    db_cache_max_bytes: Annotated[int, Field(ge=1024)] = Field(
        default=64 * 1024 * 1024, validation_alias=AliasChoices("DB_CACHE_MAX_BYTES")
    )
    log_level: LogLevel = Field(default="INFO", validation_alias=AliasChoices("LOG_LEVEL"))
    enable_sql_logging: bool = Field(
        default=False, validation_alias=AliasChoices("ENABLE_SQL_LOGGING")
    )
    rls_anon_read: bool = Field(default=False, validation_alias=AliasChoices("RLS_ANON_READ"))
    search_glossary_file: Path | None = Field(
        default=None, validation_alias=AliasChoices("SEARCH_GLOSSARY_FILE")
    )
    embedded_dir: Path | None = Field(
        default=None, validation_alias=AliasChoices("SENTINEL_DB_EMBEDDED_DIR")
    )
    supabase_url: str | None = Field(default=None, validation_alias=AliasChoices("SUPABASE_URL"))
    supabase_service_role_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("SUPABASE_SERVICE_ROLE_KEY")
    )
    supabase_anon_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("SUPABASE_ANON_KEY")
    )
    embedding_provider: EmbeddingProvider = Field(
        default="openai", validation_alias=AliasChoices("EMBEDDING_PROVIDER")
    )
    embedding_url: str | None = Field(default=None, validation_alias=AliasChoices("EMBEDDING_URL"))
    embedding_model: str | None = Field(
        default=None, validation_alias=AliasChoices("EMBEDDING_MODEL")
    )
    embedding_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("EMBEDDING_API_KEY")
    )
    embedding_dimensions: Annotated[int, Field(ge=1, le=16000)] | None = Field(
        default=None, validation_alias=AliasChoices("EMBEDDING_DIMENSIONS")
    )
    embedding_batch_size: Annotated[int, Field(ge=1, le=2048)] = Field(
        default=64, validation_alias=AliasChoices("EMBEDDING_BATCH_SIZE")
    )
    embedding_timeout: Annotated[float, Field(gt=0)] = Field(
        default=30.0, validation_alias=AliasChoices("EMBEDDING_TIMEOUT")
    )
    embedding_query_budget: Annotated[float, Field(gt=0)] = Field(
        default=2.0, validation_alias=AliasChoices("EMBEDDING_QUERY_BUDGET")
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator(
        "embedding_url",
        "embedding_model",
        "embedding_api_key",
        "embedding_dimensions",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip() if isinstance(value, str) else value

    @field_validator("embedding_provider", mode="before")
    @classmethod
    def _lower_provider(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("embedding_url")
    @classmethod
    def _check_embedding_url(cls, value: str | None) -> str | None:
        if value is not None and not value.lower().startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL (an OpenAI-compatible /v1 base)")
        return value

    @field_validator("database_url", "database_read_url", mode="before")
    @classmethod
    def _blank_url_is_unset(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("database_url", "database_read_url")
    @classmethod
    def _check_url(cls, value: SecretStr | None, info: object) -> SecretStr | None:
        if value is None:
            return None
        name = getattr(info, "field_name", "database_url").upper()
        try:
            database_target(value.get_secret_value(), variable=name)
        except ConfigError as exc:
            # pydantic wraps ValueError; the message names the variable and never the value.
            raise ValueError(exc.message) from None
        return value

    @property
    def url(self) -> URL | None:
        """The primary database URL, normalised; ``None`` selects the embedded server."""
        if self.database_url is None:
            return None
        return parse_database_url(self.database_url.get_secret_value())

    @property
    def read_url(self) -> URL | None:
        """The read-replica URL, if one is configured."""
        if self.database_read_url is None:
            return None
        return parse_database_url(
            self.database_read_url.get_secret_value(), variable="DATABASE_READ_URL"
        )

    @property
    def masked_url(self) -> str:
        """The primary URL safe for display."""
        return mask_url(self.url) if self.database_url else "(embedded PostgreSQL)"

    def secrets(self) -> list[str]:
        """Every secret value in these settings (for scrubbing output).

        Each ``SecretStr`` field counts, whatever its name (a URL by its password, the rest of
        it being fit to show): a new secret setting is covered without being listed here.
        """
        found: list[str] = []
        for name in type(self).model_fields:
            value = getattr(self, name)
            if not isinstance(value, SecretStr) or not value.get_secret_value():
                continue
            raw = value.get_secret_value()
            try:
                target: DatabaseTarget | None = database_target(raw)
            except ConfigError:
                target = None
            if target is None:
                found.append(raw)
            elif target.password:
                found.append(target.password)
        # EMBEDDING_URL is shown masked, not secret as a whole; a password inside it is.
        embedding_password = urlsplit(self.embedding_url or "").password
        if embedding_password:
            found.append(embedding_password)
        return found

    @model_validator(mode="after")
    def _remember_secrets(self) -> Settings:
        # From now on every library log record and error message masks these values.
        for secret in self.secrets():
            remember_secret(secret)
        return self

    @property
    def masked_embedding_url(self) -> str:
        """``EMBEDDING_URL`` safe for display (credentials and query values hidden)."""
        return mask_http_url(self.embedding_url)


def mask_http_url(url: str | None) -> str:
    """An HTTP URL with any user, password and query values replaced by ``***``."""
    if not url:
        return "(not set)"
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(unparseable URL)"
    auth = "***@" if parts.username or parts.password else ""
    query = "&".join(
        f"{pair.split('=', 1)[0]}=***" if "=" in pair else pair
        for pair in parts.query.split("&")
        if pair
    )
    return urlunsplit((parts.scheme, f"{auth}{host}{port}", parts.path, query, ""))


_FIELD_BY_ALIAS = {
    alias.lower(): name
    for name, field in Settings.model_fields.items()
    if isinstance(field.validation_alias, AliasChoices)
    for alias in field.validation_alias.choices
    if isinstance(alias, str)
}


def _variable_for(loc: tuple[int | str, ...]) -> str:
    if not loc:
        return "settings"
    first = str(loc[0])
    field = Settings.model_fields.get(first) or Settings.model_fields.get(
        _FIELD_BY_ALIAS.get(first.lower(), "")
    )
    if field is not None and isinstance(field.validation_alias, AliasChoices):
        return str(field.validation_alias.choices[0])
    return first.upper()


def default_env_file() -> Path | None:
    """The ``.env`` file to read: ``$SENTINEL_DB_ENV_FILE``, else ``./.env`` when it exists."""
    explicit = os.environ.get(ENV_FILE_VARIABLE)
    if explicit:
        return Path(explicit)
    local = Path(".env")
    return local if local.is_file() else None


def load_settings(env_file: Path | str | None = None, **overrides: object) -> Settings:
    """Build settings from the environment, an optional ``.env`` file and explicit overrides.

    Raises:
        ConfigError: a value is invalid; the message names the variable, never the value.
    """
    path = Path(env_file) if env_file is not None else default_env_file()
    if path is not None and not path.is_file():
        raise ConfigError(f"settings file {path} does not exist")
    try:
        return Settings(_env_file=path, **overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"{_variable_for(err['loc'])}: {err['msg']}" for err in exc.errors(include_input=False)
        )
        raise ConfigError(f"invalid settings: {problems}") from None


@lru_cache(maxsize=8)
def get_settings(env_file: str | None = None) -> Settings:
    """Cached settings for the process (call ``get_settings.cache_clear()`` after changing env)."""
    return load_settings(env_file)
