"""Encryption of journal records at rest, with the ``eventsourcing`` library's cipher.

A journal is encrypted or not for its whole life, decided when it is made: ``run.encrypt_journal =
true`` (``engine run``, a what-if's ``--config``) or ``engine journal copy --encrypt``. Its
settings table (migration ``journal_settings``) then holds ``cipher`` (the algorithm's name) and
``key_check`` (a known text encrypted with the key), and every record's stored bytes (chain hash and
event payload) are AES-GCM ciphertext made by ``eventsourcing.cryptography.AESCipher`` (a random
96-bit nonce per record, so equal records encrypt differently). The chain hash is of the plaintext,
so an encrypted journal has the same digest as a plaintext one of the same records, and
``engine verify`` / ``engine replay`` work on it like on any other, given the key.

The key is the base64 text of 16, 24 or 32 random bytes (``engine journal new-key``), read from the
environment variable ``ENGINE_CIPHER_KEY`` only: never from a config file or a command line, never
journaled, never printed. There is no plaintext fallback: opening an encrypted journal without the
key, with a malformed key or with another key, and asking to encrypt without a key, are start-up
errors; so is appending to a plaintext journal that holds records while encryption is asked for.
"""

from __future__ import annotations

import binascii
import os
from collections.abc import Mapping

from eventsourcing.cryptography import AESCipher
from eventsourcing.utils import Environment

from engine.journal.errors import Category, JournalError

KEY_ENV = "ENGINE_CIPHER_KEY"
CIPHER_NAME = "AES-GCM (eventsourcing.cryptography.AESCipher)"
SETTING_KEYS = ("cipher", "key_check")  # what settings_for writes: the only keys a journal's settings hold
KEY_CHECK_TEXT = b"engine journal key check v1"
NEW_KEY_BYTES = 32
NEW_KEY_HINT = "make one with `engine journal new-key` and keep it in a secret store"


class CipherError(JournalError):
    """A journal's encryption cannot be used as asked (one line for the user; never holds the key)."""

    category: Category = "CIPHER"


class JournalCipher:
    """AES-GCM of record bytes with one key."""

    def __init__(self, key: str) -> None:
        try:
            self._cipher = AESCipher(Environment(env={AESCipher.CIPHER_KEY: key}))
        except (ValueError, binascii.Error, OSError) as exc:
            raise CipherError(
                f"{KEY_ENV} is not a usable key ({exc}): it must be the base64 text of "
                f"16, 24 or 32 bytes; {NEW_KEY_HINT}"
            ) from None

    def encrypt(self, plaintext: bytes) -> bytes:
        return self._cipher.encrypt(plaintext)

    def decrypt(self, ciphertext: bytes, what: str) -> bytes:
        try:
            return self._cipher.decrypt(ciphertext)
        except ValueError as exc:
            raise CipherError(f"{what} cannot be decrypted ({exc}): damaged, or not made with this key") from None

    def key_check(self) -> bytes:
        return self.encrypt(KEY_CHECK_TEXT)

    def matches(self, key_check: bytes) -> bool:
        try:
            return self._cipher.decrypt(key_check) == KEY_CHECK_TEXT
        except ValueError:
            return False


def new_key() -> str:
    """A fresh random key (shell: ``os.urandom`` through the library)."""
    return AESCipher.create_key(NEW_KEY_BYTES)


def key_from_env(environ: Mapping[str, str] | None = None) -> str | None:
    """``ENGINE_CIPHER_KEY`` of the environment, or None when unset or empty."""
    value = (os.environ if environ is None else environ).get(KEY_ENV, "")
    return value or None


def settings_for(cipher: JournalCipher) -> dict[str, bytes]:
    """The settings rows that make a new journal encrypted with ``cipher``."""
    return {"cipher": CIPHER_NAME.encode(), "key_check": cipher.key_check()}


def open_cipher(
    journal: str, settings: Mapping[str, bytes], key: str | None, *, encrypt: bool, records: int
) -> tuple[JournalCipher | None, dict[str, bytes]]:
    """The cipher of a journal with these settings, and the settings to add (a new encrypted journal).

    ``encrypt``: the opener asks for encryption (a writer making or continuing a journal); readers pass
    False and follow the journal. ``records``: how many records it holds (a plaintext journal that holds
    none may still become encrypted)."""
    name = settings.get("cipher")
    if name is None:
        if not encrypt:
            return None, {}
        if records:
            raise CipherError(
                f"journal {journal} holds {records} unencrypted records and cannot be encrypted in "
                f"place: copy it with `engine journal copy {journal} NEW --encrypt`, or turn "
                "run.encrypt_journal off"
            )
        if key is None:
            raise CipherError(f"run.encrypt_journal is on but {KEY_ENV} is not set: {NEW_KEY_HINT}")
        cipher = JournalCipher(key)
        return cipher, settings_for(cipher)
    if name.decode() != CIPHER_NAME:
        raise CipherError(f"journal {journal} is encrypted with {name.decode()!r}, which this engine does not know")
    if key is None:
        raise CipherError(f"journal {journal} is encrypted: set {KEY_ENV} to its key")
    cipher = JournalCipher(key)
    if not cipher.matches(settings.get("key_check", b"")):
        raise CipherError(f"{KEY_ENV} is not the key journal {journal} is encrypted with")
    return cipher, {}
