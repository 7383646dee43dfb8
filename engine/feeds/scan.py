"""Bounds on a bar file before it is parsed, and the engine's own words for a file the parser refuses.

``check_bounds`` streams the file once, 1 MiB at a time (a ``.csv.gz`` is decompressed as it streams, so
a small archive that expands without end is stopped at the limit): its text may not exceed
``max_file_bytes`` (parsing takes about eight times the text's size in memory) and no line may exceed
``max_line_bytes`` (a bar row is some 60 bytes; one line of hundreds of MiB took gigabytes to parse and
journaled its text). Memory stays at one chunk whatever the file holds.

``diagnose`` reads a CSV line by line with Python's ``csv`` module to say, in one line naming the line
number, why the parser refused it: text that is not UTF-8, a NUL byte, a row with more or fewer fields
than the header, a quote that is never closed. It runs only after the fast parser has failed.
"""

from __future__ import annotations

import csv
import gzip
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

CHUNK = 1 << 20
NEWLINE = 10
DEFAULT_MAX_LINE_BYTES = 4096
DEFAULT_MAX_FILE_BYTES = 1 << 30
MAX_LINE_LIMIT = 16 << 20  # the largest bars.max_line_bytes the config allows


class BoundsError(ValueError):
    """The file is beyond a limit; the message is one line naming the line and the limit."""


@dataclass(frozen=True)
class Limits:
    """The ``[bars]`` table of the config."""

    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES


DEFAULT_LIMITS = Limits()


def _open(path: Path) -> BinaryIO:
    return gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")  # type: ignore[return-value]


def _chunks(path: Path) -> Iterator[bytes]:
    try:
        with _open(path) as f:
            while chunk := f.read(CHUNK):
                yield chunk
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise BoundsError(f"{path}: not a readable gzip file ({exc})") from None


UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def check_bounds(path: Path, limits: Limits) -> None:
    """Raise ``BoundsError`` when the file's text is larger than ``limits.max_file_bytes`` or one of its
    lines (newline included) is longer than ``limits.max_line_bytes``, or when it is UTF-16 text."""
    total = 0
    line = 1  # the line the current chunk starts in
    run = 0  # bytes of that line seen in earlier chunks
    for chunk in _chunks(path):
        if total == 0 and chunk.startswith(UTF16_BOMS):
            raise BoundsError(f"{path} is UTF-16 text: save the file as UTF-8")
        total += len(chunk)
        if total > limits.max_file_bytes:
            raise BoundsError(
                f"{path}: more than {limits.max_file_bytes} bytes of text (bars.max_file_bytes; parsing takes "
                "about 8 times the text's size in memory): split the file, or raise the limit"
            )
        ends = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == NEWLINE)
        if len(ends) == 0:
            run += len(chunk)
        else:
            lengths = np.diff(ends, prepend=-1)  # each line's bytes, its newline included
            lengths[0] += run
            longest = int(np.argmax(lengths))
            run = len(chunk) - int(ends[-1]) - 1
            if int(lengths[longest]) > limits.max_line_bytes:
                _too_long(path, line + longest, int(lengths[longest]), limits.max_line_bytes, exact=True)
            line += len(ends)
        if run > limits.max_line_bytes:
            _too_long(path, line, run, limits.max_line_bytes, exact=False)


def _too_long(path: Path, line: int, length: int, limit: int, *, exact: bool) -> None:
    where = "the header" if line == 1 else f"line {line} (data row {line - 1})"
    size = f"{length} bytes" if exact else f"more than {limit} bytes"
    hint = " (lines must end in LF or CR LF)" if line == 1 else ""
    raise BoundsError(
        f"{path}: {where} is {size}, longer than bars.max_line_bytes ({limit}): not a bar file{hint}, or raise the "
        "limit"
    )


def check_cells(path: Path, longest: int, row: int, limits: Limits) -> None:
    """The same line bound for a file without lines (Parquet): its longest row's text."""
    if longest > limits.max_line_bytes:
        raise BoundsError(
            f"{path}: data row {row} holds {longest} bytes of text, more than bars.max_line_bytes "
            f"({limits.max_line_bytes}): not a bar file, or raise the limit"
        )


def diagnose(path: Path) -> str | None:
    """Why a CSV bar file does not parse, as one line naming the line; None when nothing is found."""
    fields: int | None = None
    csv.field_size_limit(max(csv.field_size_limit(), MAX_LINE_LIMIT))  # the line bound already holds every field
    lines = _decoded_lines(path)
    reader = csv.reader(lines, strict=True)
    try:
        for row in reader:
            if fields is None:
                fields = len(row)
            elif len(row) != fields and row:
                return (
                    f"{path}: line {reader.line_num} has {len(row)} fields, the header has {fields}: every row "
                    "needs one value per column"
                )
    except _NotText as exc:
        return f"{path}: line {exc.line} is not UTF-8 text ({exc.reason}): save the file as UTF-8"
    except csv.Error as exc:
        if "NUL" in str(exc) or "null" in str(exc).lower():
            return f"{path}: line {reader.line_num + 1} holds a NUL byte: not a text file"
        return f"{path}: line {reader.line_num}: a quoted field is not closed or has text after its quote ({exc})"
    return None


class _NotText(ValueError):
    def __init__(self, line: int, reason: str) -> None:
        super().__init__(line, reason)
        self.line = line
        self.reason = reason


def _decoded_lines(path: Path) -> Iterator[str]:
    with _open(path) as f:
        for n, raw in enumerate(f, 1):
            try:
                text = raw.decode("utf-8-sig" if n == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise _NotText(n, f"byte 0x{raw[exc.start]:02x} at column {exc.start + 1}") from None
            yield text
