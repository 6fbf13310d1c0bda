"""Vector commands and output: `data similar`, and the vectors section of `stats`."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sentinel_db.cli.context import get_state
from sentinel_db.cli.keys import hinting_keys
from sentinel_db.cli.render import OutputFormat, info, out, render

if TYPE_CHECKING:
    from sentinel_db.repositories.stats import ModelStats


class SimilarKind(StrEnum):
    """What `similar` starts from."""

    control = "control"
    rule = "rule"


def similar(
    ctx: typer.Context,
    kind: Annotated[SimilarKind, typer.Argument(help="control or rule.", metavar="KIND")],
    key: Annotated[
        str, typer.Argument(help="Control id (e.g. 8.3.6) or rule name.", metavar="KEY")
    ],
    model: Annotated[
        str | None, typer.Option(help="Embedding model (needed when the row has several).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many to show.")] = 10,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = (
        OutputFormat.table
    ),
) -> None:
    """Controls (or rules) whose stored vectors are closest to this one's (cosine similarity)."""
    from sentinel_db.repositories import AwsConfigRuleRepository, PciControlRepository

    db = get_state(ctx).database()
    with db.unit_of_work(read_only=True) as session:
        repo = (
            PciControlRepository(session)
            if kind is SimilarKind.control
            else AwsConfigRuleRepository(session)
        )
        with hinting_keys(session, kind.value, key):
            hits = repo.similar_to(key, limit, model=model)
        rows: list[dict[str, Any]] = [
            {
                "key": getattr(hit.record, repo.key_name),
                "similarity": round(hit.rank, 6),
                "snippet": hit.snippet,
            }
            for hit in hits
        ]
    if fmt is OutputFormat.table and not rows:
        info("no other rows have vectors of that model")
        return
    render(rows, fmt, title=f"{len(rows)} {kind.value}(s) like {key}")


def print_vector_stats(stats: list[ModelStats] | None) -> None:
    """The vectors section of `stats` (nothing when the vectors schema is not installed)."""
    if stats is None:
        return
    if not stats:
        out.print("vectors: none stored", highlight=False)
        return
    for s in stats:
        out.print(
            f"vectors in {s.table}: {s.vectors} of model {s.model} ({s.dimensions} dimensions),"
            f" {s.stale} stale, {s.orphaned} without their row",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


def embed(
    ctx: typer.Context,
    tables: Annotated[
        list[str] | None,
        typer.Argument(help="pci_dss_controls / aws_config_rules_guidance (default: both)."),
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="Model to ask for and store (default: EMBEDDING_MODEL).")
    ] = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Embed every row again, current ones too.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be embedded; ask nothing.")
    ] = False,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = (
        OutputFormat.table
    ),
) -> None:
    """Embed the rows whose vector is missing or stale, with the configured provider."""
    state = get_state(ctx)
    reports = run_embed(state, tables or [], model=model, everything=everything, dry_run=dry_run)
    render_embed_reports(reports, fmt)


def render_embed_reports(reports: list[Any], fmt: OutputFormat) -> None:
    """The report of each table's embedding run; exit 1 when rows failed."""
    rows = [r.to_dict() for r in reports]
    for row in rows:
        row["reasons"] = "; ".join(row["reasons"])
        row["seconds"] = round(row["seconds"], 2)
    render(rows, fmt, title="embeddings")
    if any(r.failed for r in reports):
        raise typer.Exit(1)


def run_embed(
    state: Any, tables: list[str], *, model: str | None, everything: bool, dry_run: bool
) -> list[Any]:
    """``embed_missing`` for each table with the provider of the settings (progress on stderr)."""
    from sentinel_db.errors import ConfigError
    from sentinel_db.importers.embed import embed_missing, resolve_table
    from sentinel_db.records.embeddings import TARGETS
    from sentinel_db.runtime.embedders import embedder_from_settings

    settings = state.settings()
    if model is not None:
        settings = settings.model_copy(update={"embedding_model": model})
    targets = [resolve_table(t).parent for t in tables] or list(TARGETS)
    embedder = None if dry_run else embedder_from_settings(settings)
    name = model or settings.embedding_model
    if not dry_run and embedder is None:
        raise ConfigError(
            "no embedding provider is configured",
            hint="set EMBEDDING_URL and EMBEDDING_MODEL (or EMBEDDING_PROVIDER=sentence-transformers)",
        )
    if name is None:
        raise ConfigError("name the model: --model or EMBEDDING_MODEL")
    db = state.database()

    def show(table: str, done: int, total: int) -> None:
        info(f"{table}: {done}/{total} embedded", quiet=state.quiet)

    reports = []
    for table in targets:
        with db.session() as session:
            reports.append(
                embed_missing(
                    session,
                    embedder if embedder is not None else _Named(name),
                    table,
                    model=name,
                    everything=everything,
                    dry_run=dry_run,
                    progress=show,
                    source=settings.masked_embedding_url,
                )
            )
    return reports


class _Named:
    """A model name standing in for a provider on a dry run (nothing is embedded)."""

    def __init__(self, model: str) -> None:
        self.model = model


def provider_section(state: Any, db: Any) -> dict[str, Any]:
    """The embedding provider part of `auth check`: data, text lines and warnings."""
    from sentinel_db.importers.embed import check_provider

    found = check_provider(db, state.settings())
    if found is None:
        return {"embedding": None, "lines": ["embedding: no provider (lexical search)"]}
    stored = ", ".join(f"{s['table']} {s['dimensions']}" for s in found["stored"]) or "none"
    reach = "reachable" if found["reachable"] else f"NOT reachable ({found['error']})"
    lines = [
        f"embedding: {found['provider']} at {found['url']}, model {found['model']}: {reach}",
        f"embedding: {found['dimensions'] or '?'} dimensions; stored vectors of the model: {stored}",
    ]
    warnings = []
    if not found["reachable"]:
        warnings.append("the embedding provider is not reachable: searches answer lexically")
    if found["matches_stored"] is False:
        warnings.append(
            "the provider's vectors differ in dimension from the stored ones: run `sentinel-db embed --all`"
        )
    return {"embedding": found, "lines": lines, "warnings": warnings}
