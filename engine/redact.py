"""Secrets out of everything the engine shows or keeps: the one place that knows what a secret looks like.

* A key whose name holds one of ``SECRET_WORDS`` (``api_token``, ``client_secret``, ``db_password``) is a
  secret. In a config file, an ``ENGINE__`` variable or a flag its value must be a reference to the
  environment variable that holds it, ``"env:NAME"``; a plain value is refused (``config_problem``). The
  snapshot, and so the journal, records the reference, never the value.
* A URL with a password (``scheme://user:password@host``) is never accepted in the configuration, and
  ``strip_credentials`` replaces the password of any such URL with ``***`` in text that is printed,
  logged, journaled or reported (a ``postgresql://`` journal address on the command line, a broker's
  error message). ``RedactingFilter`` does so for every log record.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

SECRET_WORDS = ("secret", "password", "passwd", "passphrase", "token", "key_id", "api_key", "private_key", "credential")
HIDDEN = "***"
_URL_PASSWORD = re.compile(r"([a-z][a-z0-9+.\-]*://[^\s/:@]*:)([^\s/]*)(@)", re.IGNORECASE)
_ENV_REFERENCE = re.compile(r"env:([A-Za-z_][A-Za-z0-9_]*)")


def secret_key(key: tuple[str, ...]) -> bool:
    """Whether a setting (a dotted key, as a tuple) is a secret by its name."""
    return any(word in part.lower() for part in key for word in SECRET_WORDS)


def strip_credentials(text: str) -> str:
    """``text`` with the password of every ``scheme://user:password@host`` replaced by ``***``."""
    return _URL_PASSWORD.sub(lambda m: m.group(1) + HIDDEN + m.group(3), text)


def shown(address: object) -> str:
    """A journal address (a path, or a ``postgresql://`` URL) fit to print, log or journal."""
    return strip_credentials(str(address))


def has_password(text: str) -> bool:
    return any(m.group(2) and m.group(2) != HIDDEN for m in _URL_PASSWORD.finditer(text))


def env_reference(value: object) -> str | None:
    """The environment variable an ``"env:NAME"`` value names, or None when it is not a reference."""
    if not isinstance(value, str):
        return None
    match = _ENV_REFERENCE.fullmatch(value.strip())
    return match.group(1) if match else None


def unset_references(
    settings: Mapping[tuple[str, ...], object], env: Mapping[str, str]
) -> list[tuple[tuple[str, ...], str]]:
    """``(key, NAME)`` of every ``"env:NAME"`` setting whose variable is not set (or empty), in key order."""
    found = [(key, env_reference(value)) for key, value in sorted(settings.items())]
    return [(key, name) for key, name in found if name is not None and not env.get(name)]


def config_problem(key: tuple[str, ...], value: object) -> str | None:
    """Why a configuration value may not be given as it is (a secret in the clear), with the fix; or None."""
    dotted = ".".join(key)
    if secret_key(key) and not isinstance(value, dict) and env_reference(value) is None:
        name = key[-1].upper()
        return (
            f"{dotted} looks like a secret and is never written in the configuration: put it in an environment "
            f'variable and give its name, {key[-1]} = "env:{name}" (the journal records the name, not the value)'
        )
    values = value if isinstance(value, list) else [value]
    if any(isinstance(v, str) and has_password(v) for v in values):
        return (
            f"{dotted} holds a URL with a password ({strip_credentials(str(value))}): credentials are never "
            "written in the configuration; remove user:password@ (the venue authenticates with "
            "APCA_API_KEY_ID / APCA_API_SECRET_KEY from the environment)"
        )
    return None


class RedactingFilter(logging.Filter):
    """Strips URL passwords from every record that passes (install on a handler)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = strip_credentials(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info:  # the traceback's text, as a formatter writes it (another handler may have already)
            record.exc_text = strip_credentials(record.exc_text or logging.Formatter().formatException(record.exc_info))
        return True


def install_log_redaction() -> None:
    """Put a ``RedactingFilter`` on every handler of the root logger (after ``logging.basicConfig``)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
