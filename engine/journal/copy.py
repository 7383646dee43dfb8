"""Copy a journal between stores (SQLite file <-> PostgreSQL table) and prove the copy.

The source is read in pages up to the head it has when the copy starts (a journal being written
is fine to read); each page is appended to the destination byte for byte with
``JournalWriter.append_stored`` (which checks that every record continues the sequence and the
chain) and committed. The destination is then verified from genesis like ``engine verify`` and its
record count and chain digest must equal the source's. Memory is bounded by the page size.

Records are copied as plaintext bytes: an encrypted source is decrypted with its key and the
destination encrypts them with its own (``encrypt``), so a copy can encrypt, re-key or (asked
explicitly with ``decrypt``) decrypt a journal while the chain and digest stay the same.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from pathlib import Path

from engine.journal import pg
from engine.journal.chain import GENESIS, EnvelopeError, unwrap
from engine.journal.store import DEFAULT_PAGE_SIZE, JournalError, JournalReader, JournalWriter, StoredRecord
from engine.journal.target import same_file
from engine.journal.verify import VerifyResult, verify_journal
from engine.redact import shown


class CopyFailed(RuntimeError):
    """The source did not copy as a valid journal (a check failed, not a usage error)."""


@dataclass(frozen=True, slots=True)
class CopyResult:
    records: int  # records copied (the source's head when the copy started)
    digest: bytes  # the source's chain digest at that head
    verified: VerifyResult  # the destination's verification, from genesis

    @property
    def ok(self) -> bool:
        return self.verified.ok and self.verified.records == self.records and self.verified.digest == self.digest


def _addresses(host: str) -> frozenset[str]:
    """The server's addresses (any loopback address is one), so that two spellings of a host compare equal."""
    try:
        found = {str(info[4][0]) for info in socket.getaddrinfo(host, None)}
    except (OSError, UnicodeError):
        found = {host.lower()}
    return frozenset("loopback" if _is_ip(a) and ipaddress.ip_address(a).is_loopback else a for a in found)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def same_journal(src: str | Path, dst: str | Path) -> bool:
    """The same database table (on a server reached under any of its addresses), or the same file."""
    if pg.is_postgres(src) and pg.is_postgres(dst):
        a, b = pg.PgLocation(str(src)), pg.PgLocation(str(dst))
        same_table = (a.port, a.dbname, a.table) == (b.port, b.dbname, b.table)
        return same_table and bool(_addresses(a.host) & _addresses(b.host))
    if pg.is_postgres(src) or pg.is_postgres(dst):
        pg.PgLocation(str(src if pg.is_postgres(src) else dst))  # a bad address is refused either way
        return False
    return same_file(src, dst)


def _check_names(src: str | Path, dst: str | Path) -> None:
    try:
        same = same_journal(src, dst)
    except pg.PgJournalError as exc:
        raise JournalError(str(exc)) from None
    if same:
        raise JournalError(f"the destination {shown(dst)} is the source journal; copy to another file or table")


def _append_page(writer: JournalWriter, page: list[StoredRecord], src: str | Path) -> None:
    try:
        writer.append_stored(page)
    except (JournalError, EnvelopeError) as exc:
        raise CopyFailed(
            f"{shown(src)} cannot be copied: {exc} (engine verify names the damage); "
            f"the destination keeps the {writer.committed_seq} records copied before it"
        ) from None
    writer.flush()


def copy_journal(
    src: str | Path,
    dst: str | Path,
    *,
    replace: bool = False,
    page_size: int = DEFAULT_PAGE_SIZE,
    encrypt: bool = False,
    decrypt: bool = False,
    src_key: str | None = None,
    dst_key: str | None = None,
) -> CopyResult:
    """Copy ``src`` into ``dst`` (which must hold no records unless ``replace``) and verify ``dst``.
    ``encrypt``: the copy is encrypted with ``dst_key``; an encrypted source needs ``encrypt`` or
    ``decrypt`` (a plaintext copy is never made unasked). Keys: None takes ``ENGINE_CIPHER_KEY``.

    Raises JournalError (or JournalLockedError) when the copy is refused or a journal cannot be
    opened, and CopyFailed when a source record does not continue the chain."""
    _check_names(src, dst)
    if encrypt and decrypt:
        raise JournalError("--encrypt and --decrypt exclude each other")
    with JournalReader(src, page_size=page_size, key=src_key) as reader:
        if reader.encrypted and not (encrypt or decrypt):
            raise JournalError(
                f"{shown(src)} is encrypted: pass --encrypt to keep the copy encrypted or "
                "--decrypt to write it in plaintext"
            )
        if decrypt and not reader.encrypted:
            raise JournalError(f"{shown(src)} is not encrypted: --decrypt has nothing to do")
        head = reader.last_seq()
        # the writer refuses a destination that is not a journal of this engine (--replace too), untouched
        with JournalWriter(dst, replace=replace, encrypt=encrypt, key=dst_key) as writer:
            if decrypt and writer.encrypted:
                raise JournalError(f"{shown(dst)} is encrypted: a decrypted copy needs a plaintext destination")
            if writer.last_seq:
                raise JournalError(
                    f"{shown(dst)} already holds {writer.last_seq} records; --replace deletes them first"
                )
            digest, page, last = GENESIS, [], b""
            for record in reader.records(1, head):
                page.append(record)
                last = record.state
                if len(page) == page_size:
                    _append_page(writer, page, src)
                    page = []
            if page:
                _append_page(writer, page, src)
            if writer.last_seq:
                digest = unwrap(last)[0]  # the source's own stored hash of its head (append_stored checked it)
            if writer.last_seq != head:
                raise CopyFailed(f"{shown(src)} ended at record {writer.last_seq}, before its head {head}")
    return CopyResult(head, digest, verify_journal(dst, page_size=page_size, key=dst_key))
