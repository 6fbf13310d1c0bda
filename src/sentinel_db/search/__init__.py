"""Search text: query parsing and the domain glossary (no database access here)."""

from sentinel_db.search.glossary import Glossary, builtin_glossary, glossary_for
from sentinel_db.search.query import ParsedQuery, parse_query

__all__ = ["Glossary", "ParsedQuery", "builtin_glossary", "glossary_for", "parse_query"]
