"""Vector commands and output: `data similar`, and the vectors section of `stats`."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sentinel_db.cli.context import get_state
from sentinel_db.cli.keys import hinting_keys
from sentinel_db.cli.render import OutputFormat, info, out, render

if TYPE_CHECKING:
    from sentinel_db.repositories.vectors import ModelStats


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
