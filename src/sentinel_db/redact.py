"""The one place that keeps secrets out of what the library says: logs, error messages, reprs.

:func:`redact` masks a URL's password (``scheme://user:***@host``), the value of ``password=``
and ``api_key=``-like pairs (connection strings, query strings), and every secret value this
process has been told about. Settings tell it about each secret they hold (every ``SecretStr``
field, and the password of every URL), and engines about the password of their URL, so a new
secret setting is covered without being named here. Every library logger is made by
:func:`library_logger`, whose filter redacts each record before any handler sees it.
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import quote, quote_plus

MASK = "***"
# Shorter values are too likely to be ordinary text; their URLs are still masked by pattern.
MIN_SECRET_LENGTH = 4

_URL_PASSWORD = re.compile(r"(?P<head>\b[a-z][a-z0-9+.-]*://[^:/?#@\s]*:)[^@\s]*(?=@)", re.I)
_PAIR = re.compile(
    r"(?P<head>\b(?:ssl)?(?:password|passwd|api[_-]?key)\s*[=:]\s*)"
    r"(?:'[^']*'|\"[^\"]*\"|[^\s&;,'\")]+)",
    re.I,
)
_known: set[str] = set()
_known_lock = threading.Lock()


def remember_secret(value: str | None) -> None:
    """Mask ``value`` (and its URL-encoded forms) wherever it appears from now on."""
    if not value or len(value) < MIN_SECRET_LENGTH:
        return
    with _known_lock:
        _known.update({value, quote(value, safe=""), quote_plus(value)})


def redact(text: str) -> str:
    """``text`` with URL passwords, secret-looking pairs and every known secret masked."""
    text = _URL_PASSWORD.sub(lambda m: m.group("head") + MASK, text)
    text = _PAIR.sub(lambda m: m.group("head") + MASK, text)
    with _known_lock:
        known = sorted(_known, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class RedactingFilter(logging.Filter):
    """Redacts a record's message, exception text and stack before any handler formats it."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite ``record`` in place (never drops it)."""
        message = record.getMessage()
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_FILTER = RedactingFilter()


def library_logger(name: str) -> logging.Logger:
    """The logger ``name``, its records redacted at the source (whatever handlers are set)."""
    logger = logging.getLogger(name)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    return logger
