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

from dataclasses import dataclass

from engine.journal.address import JournalLike, parse
from engine.journal.chain import GENESIS, StoredRecord
from engine.journal.errors import JournalError, RecordError
from engine.journal.read import DEFAULT_PAGE_SIZE, JournalReader
from engine.journal.store import JournalWriter
from engine.journal.verify import VerifyResult, verify_journal


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


def _append_page(writer: JournalWriter, page: list[StoredRecord], src: str) -> None:
    try:
        writer.append_stored(page)
    except RecordError as exc:
        raise CopyFailed(
            f"{src} cannot be copied: {exc}; the destination keeps the {writer.committed_seq} records copied before it"
        ) from None
    writer.flush()


def copy_journal(
    src: JournalLike,
    dst: JournalLike,
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
    source, dest = parse(src), parse(dst)
    if source.same_journal(dest):
        raise JournalError(f"the destination {dest} is the source journal; copy to another file or table")
    if encrypt and decrypt:
        raise JournalError("--encrypt and --decrypt exclude each other")
    with JournalReader(source, page_size=page_size, key=src_key) as reader:
        if reader.encrypted and not (encrypt or decrypt):
            raise JournalError(
                f"{source} is encrypted: pass --encrypt to keep the copy encrypted or "
                "--decrypt to write it in plaintext"
            )
        if decrypt and not reader.encrypted:
            raise JournalError(f"{source} is not encrypted: --decrypt has nothing to do")
        head = reader.last_seq()
        # the writer refuses a destination that is not a journal of this engine (--replace too), untouched
        with JournalWriter(dest, replace=replace, encrypt=encrypt, key=dst_key) as writer:
            if decrypt and writer.encrypted:
                raise JournalError(f"{dest} is encrypted: a decrypted copy needs a plaintext destination")
            if writer.last_seq:
                raise JournalError(f"{dest} already holds {writer.last_seq} records; --replace deletes them first")
            page: list[StoredRecord] = []
            for record in reader.records(1, head):
                page.append(record)
                if len(page) == page_size:
                    _append_page(writer, page, str(source))
                    page = []
            if page:
                _append_page(writer, page, str(source))
            digest = writer.last_hash if writer.last_seq else GENESIS  # the source's head hash (the walk checked it)
            if writer.last_seq != head:
                raise CopyFailed(f"{source} ended at record {writer.last_seq}, before its head {head}")
    return CopyResult(head, digest, verify_journal(dest, page_size=page_size, key=dst_key))
