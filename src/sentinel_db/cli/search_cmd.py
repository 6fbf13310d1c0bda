"""`data search`: ranked search of the controls and the rules, shown for people or programs."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from sentinel_db.cli.context import get_state
from sentinel_db.cli.render import (
    OutputFormat,
    info,
    print_json,
    print_table,
    render,
    warn,
)


class SearchTable(StrEnum):
    """Tables `search` looks in."""

    controls = "controls"
    rules = "rules"
    all = "all"


def search(
    ctx: typer.Context,
    query: Annotated[
        str,
        typer.Argument(
            help='A question or keywords; "a phrase" must occur, -word must not'
            " (a QUESTION may start with -).",
            metavar="QUESTION",
            show_default=False,
        ),
    ],
    table: Annotated[SearchTable, typer.Option(help="Where to search.")] = SearchTable.all,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Results per table.")] = 10,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = (
        OutputFormat.table
    ),
    lexical: Annotated[
        bool, typer.Option("--lexical", help="Lexical ranking only, even with a provider.")
    ] = False,
) -> None:
    """Rank controls and rules by relevance to a question; controls come with their rules."""
    from sentinel_db.retrieval import lexical_sections, search_tables
    from sentinel_db.runtime.query_vectors import QueryEmbedder
    from sentinel_db.search.glossary import glossary_for

    state = get_state(ctx)
    # From this command line's settings (`--config` included), not the process environment's.
    glossary = glossary_for(state.settings().search_glossary_file)
    controls = table in (SearchTable.controls, SearchTable.all)
    rules = table in (SearchTable.rules, SearchTable.all)
    if lexical or QueryEmbedder.from_settings(state.settings()) is None:
        # No question vector to fuse: the lexical answer needs no pooled session (and no ORM).
        with state.session() as session:
            sections = lexical_sections(
                session, query, controls=controls, rules=rules, limit=limit, glossary=glossary
            )
    else:
        with state.database().unit_of_work(read_only=True) as session:
            sections = search_tables(
                session, query, controls=controls, rules=rules, limit=limit, glossary=glossary
            )
    if fmt is OutputFormat.json:
        print_json({"query": query, "results": sections})
        return
    if fmt is OutputFormat.csv:
        render([row for section in sections for row in _flat_hits(section)], fmt)
    else:
        for section in sections:
            if section["hits"]:
                _print_section(section)
    _explain_empty(sections)


def _explain_empty(sections: list[dict[str, Any]]) -> None:
    """Why tables found nothing, on stderr: one line per distinct reason, naming the tables."""
    reasons: dict[str, list[str]] = {}
    for section in sections:
        if not section["hits"]:
            reasons.setdefault(section["message"], []).append(section["table"])
    for message, tables in reasons.items():
        named = any(f"no {noun} matches" in message for noun in ("control", "rule"))
        info(message if named else f"{' and '.join(tables)}: {message}")


_CONTROLS_TABLE = "pci_dss_controls"


def _flat_hits(section: dict[str, Any]) -> list[dict[str, Any]]:
    kind = "control" if section["table"] == _CONTROLS_TABLE else "rule"
    return [
        {
            "kind": kind,
            "key": hit["key"],
            "score": hit["score"],
            "found_by": hit["found_by"],
            "snippet": hit["snippet"],
        }
        for hit in section["hits"]
    ]


def _print_section(section: dict[str, Any]) -> None:
    from sentinel_db.repositories.search import HIGHLIGHT_START, HIGHLIGHT_STOP

    noun = "control" if section["table"] == _CONTROLS_TABLE else "rule"
    shown = len(section["hits"])
    note = "" if section["exact"] else " (best of the rows gathered through the rarest terms)"
    if section["mode"] == "lexical-fallback":
        warn(f"lexical answer: {section['mode_note']}")
    note += ", hybrid" if section["mode"] == "hybrid" else ""
    rows = [
        {
            "key": hit["key"],
            "score": f"{hit['score']:.3f}",
            "found by": hit["found_by"],
            "snippet": hit["snippet"],
            **(
                {"rules": ", ".join(r["rule"] for r in hit["rules"]) or "-"}
                if noun == "control"
                else {}
            ),
        }
        for hit in section["hits"]
    ]
    print_table(
        rows,
        ["key", "score", "found by", "snippet", *(["rules"] if noun == "control" else [])],
        title=f"{noun}s: {section['matched']} matched, {shown} shown{note}",
        width=None,
        stack=["rules"],
        marks=(HIGHLIGHT_START, HIGHLIGHT_STOP),
    )
