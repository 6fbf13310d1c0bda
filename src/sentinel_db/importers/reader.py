"""Streaming CSV reading: header checks, line numbers, byte counts for progress.

Rows are read one record at a time from a binary stream decoded incrementally, so memory does
not depend on the file's size. Whole-file problems (no header, a missing column, bytes that are
not in the encoding, an unterminated quote, an oversized field) raise :class:`FileProblem`
naming the line.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

_CHUNK = 1 << 20


class FileProblem(Exception):
    """A problem with the whole file; nothing of it may be written."""

    def __init__(self, reason: str, *, line: int | None = None, column: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line
        self.column = column


class _CountingReader(io.RawIOBase):
    """A raw stream that counts (and optionally hashes) the bytes passing through it."""

    def __init__(self, raw: IO[bytes], *, digest: Any = None) -> None:
        self._raw = raw
        self.bytes_read = 0
        self.digest = digest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.bytes_read += n
        if self.digest is not None:
            self.digest.update(data)
        return n


@dataclass
class Header:
    """The columns of a file, matched by name."""

    names: list[str]
    index: dict[str, int]
    extra: list[str] = field(default_factory=list)


def sha256_of(path: Path) -> str:
    """SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _decode_error_line(path: Path, encoding: str) -> int:
    """The 1-based physical line holding the first bytes that do not decode."""
    import codecs

    decoder = codecs.getincrementaldecoder(encoding)("strict")
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                decoder.decode(raw)
            except UnicodeDecodeError:
                return number
    return 1


def visible(text: str) -> str:
    """``text`` with invisible characters written out (``\\ufeff``, ``\\t``, ``\\xa0``)."""
    return "".join(
        ch if ch == " " or ch.isprintable() else ch.encode("unicode_escape").decode("ascii")
        for ch in text
    )


class CsvStream:
    """Reads records of one CSV file with their starting line numbers.

    Use as a context manager; iterate :meth:`records` after :meth:`read_header`.
    """

    def __init__(
        self,
        path: Path,
        *,
        encoding: str | None = None,
        max_field_size: int = 16 * 1024 * 1024,
        hash_bytes: bool = False,
        keep_raw: bool = False,
    ) -> None:
        self.path = path
        self.encoding = encoding or "utf-8-sig"
        self.explicit_encoding = encoding is not None
        self.total_bytes = path.stat().st_size
        self._raw = path.open("rb")
        self._counter = _CountingReader(self._raw, digest=hashlib.sha256() if hash_bytes else None)
        buffered = io.BufferedReader(self._counter, buffer_size=_CHUNK)
        self._text = io.TextIOWrapper(buffered, encoding=self.encoding, errors="strict", newline="")
        # The limit is process-wide in the csv module; files hold long chunks of text.
        csv.field_size_limit(max_field_size)
        self._max_field_size = max_field_size
        self._lines: list[str] = []
        self._reader = csv.reader(self._captured() if keep_raw else self._text, strict=True)
        self.line = 0
        self.raw_record = ""  # with keep_raw: the last record's text as read, line ending kept
        self.raw_header = ""

    def _captured(self) -> Iterator[str]:
        for line in self._text:
            self._lines.append(line)
            yield line

    def write_encoding(self) -> str:
        """The encoding that writes text back to the bytes read (a byte order mark included)."""
        if self.encoding.lower().replace("_", "-") != "utf-8-sig":
            return self.encoding
        with self.path.open("rb") as handle:
            return "utf-8-sig" if handle.read(3) == codecs.BOM_UTF8 else "utf-8"

    def __enter__(self) -> CsvStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the file."""
        self._text.close()
        self._raw.close()

    @property
    def bytes_read(self) -> int:
        """Bytes consumed from the file so far."""
        return self._counter.bytes_read

    @property
    def sha256(self) -> str | None:
        """SHA-256 of the bytes read so far (when hashing was asked for)."""
        return self._counter.digest.hexdigest() if self._counter.digest is not None else None

    def _next(self) -> tuple[int, list[str]] | None:
        start = self.line + 1
        try:
            record = next(self._reader)
        except StopIteration:
            return None
        except UnicodeDecodeError:
            where = "utf-8" if not self.explicit_encoding else self.encoding
            line = _decode_error_line(self.path, self.encoding)
            raise FileProblem(
                f"bytes that are not valid {where}; pass --encoding if the file uses another one",
                line=line,
            ) from None
        except csv.Error as exc:
            message = str(exc)
            if "field larger than field limit" in message:
                raise FileProblem(
                    f"a field is larger than the limit of {self._max_field_size} bytes "
                    "(DB_MAX_FIELD_SIZE)",
                    line=start,
                ) from None
            if "unexpected end of data" in message or "EOF" in message:
                raise FileProblem(
                    "a quoted field starting on this line is never closed", line=start
                ) from None
            raise FileProblem(
                "a quoted field in the record starting on this line is never closed or has text "
                f"after its closing quote (detected at line {self._reader.line_num}: {message})",
                line=start,
            ) from None
        self.line = self._reader.line_num
        self.raw_record = "".join(self._lines)
        self._lines.clear()
        return start, record

    def read_header(self, required: Sequence[str], known: Sequence[str]) -> Header:
        """Read and check the header row.

        Raises:
            FileProblem: empty file, a header delimited by ``;`` or tabs, duplicate or missing columns.
        """
        first = self._next()
        while first is not None and not first[1]:
            first = self._next()
        if first is None:
            raise FileProblem("the file is empty (no header row)", line=1)
        line, raw_names = first
        self.raw_header = self.raw_record
        names = [name.strip() for name in raw_names]
        if len(names) == 1:
            for delimiter, label in ((";", "semicolons"), ("\t", "tabs")):
                if delimiter in names[0] and len(names[0].split(delimiter)) > 1:
                    raise FileProblem(
                        f"the header looks delimited by {label}; sentinel-db reads comma-separated files",
                        line=line,
                    )
        index: dict[str, int] = {}
        for position, name in enumerate(names):
            if name in index:
                raise FileProblem(f"column {name!r} appears twice in the header", line=line)
            index[name] = position
        missing = [name for name in required if name not in index]
        if missing:
            raise FileProblem(
                f"missing required column{'s' if len(missing) > 1 else ''} "
                f"{', '.join(missing)} (expected {','.join(known)};"
                f" the header read is {','.join(visible(name) for name in raw_names)})"
                f"{self._bom_note()}",
                line=line,
            )
        extra = [name for name in names if name not in known]
        return Header(names=names, index=index, extra=extra)

    def _bom_note(self) -> str:
        if self.encoding.lower().replace("_", "-") == "utf-8-sig":
            return ""
        with self.path.open("rb") as handle:
            if handle.read(3) == codecs.BOM_UTF8:
                return (
                    f"; the file starts with a UTF-8 byte order mark, which {self.encoding}"
                    " reads as part of the first column name: remove it, or leave out"
                    " --encoding if the whole file is UTF-8"
                )
        return ""

    def records(self) -> Iterator[tuple[int, list[str]]]:
        """Yield ``(line, fields)`` for each non-blank record after the header."""
        while True:
            item = self._next()
            if item is None:
                return
            if item[1]:
                yield item
