"""Where settings come from: environment variables under ``ENGINE__``, the source of each setting,
redaction, and the effective-config summary ``engine run`` prints at start-up.

``ENGINE__<TABLE>__<KEY>=value`` (``ENGINE__RISK__POLICY__MIN_CONFIDENCE=0.5`` for nested tables)
sets ``table.key``; names are case-insensitive and mapped to the config's lower-case names. The
value is a TOML value (``42``, ``3``, ``'["AAPL","MSFT"]'``, ``true``), or, when it is not valid
TOML, the bare text as a string (``paper``). Everything here is pure: the shell passes the
environment in as a mapping. Variables not starting with ``ENGINE__`` are not configuration.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

import orjson

from engine.redact import env_reference, secret_key, strip_credentials

PREFIX = "ENGINE__"
Key = tuple[str, ...]
REDACTED = "<redacted>"


@dataclass(frozen=True)
class Source:
    """Where a setting was given: ``label`` for the summary, ``phrase`` for conflict messages."""

    kind: Literal["file", "env", "command line"]
    label: str  # "file c.toml", "env ENGINE__RUN__SEED", "command line"
    phrase: str  # "in c.toml", "in env ENGINE__RUN__SEED", "on the command line"


COMMAND_LINE = Source("command line", "command line", "on the command line")


def file_source(path: str) -> Source:
    return Source("file", f"file {path}", f"in {path}")


def env_source(name: str) -> Source:
    return Source("env", f"env {name}", f"in env {name}")


class EnvError(ValueError):
    """An ``ENGINE__`` variable that cannot be a setting; the message is one line."""


def env_settings(env: Mapping[str, str]) -> tuple[dict[Key, Any], dict[Key, Source]]:
    """The settings the ``ENGINE__`` variables of ``env`` give (``key -> value``) and the variable
    of each. Two variables naming one setting (``ENGINE__RUN__SEED`` and ``engine__run__seed``) with
    different values are an error naming both."""
    values: dict[Key, Any] = {}
    sources: dict[Key, Source] = {}
    for name in sorted(env):
        if not name.upper().startswith(PREFIX):
            continue
        parts = tuple(p.lower() for p in name[len(PREFIX) :].split("__"))
        if len(parts) < 2 or not all(parts):
            raise EnvError(
                f"{name}: name a table and a key, e.g. {PREFIX}RUN__SEED or {PREFIX}RISK__POLICY__MIN_CONFIDENCE"
            )
        value = parse_value(env[name])
        if isinstance(value, dict):
            raise EnvError(f"{name}: {'.'.join(parts)} is set to a table; set its keys one by one ({name}__<KEY>)")
        if parts in values and not same_value(values[parts], value):
            raise EnvError(
                f"{'.'.join(parts)} is {shown(parts, values[parts])} {sources[parts].phrase} "
                f"but {shown(parts, value)} {env_source(name).phrase}"
            )
        values.setdefault(parts, value)
        sources.setdefault(parts, env_source(name))
    return values, sources


def parse_value(text: str) -> Any:
    """A TOML value, or the text itself when it is not one (``paper``, ``24/7``, a URL)."""
    try:
        parsed = tomllib.loads(f"v = {text}")
    except tomllib.TOMLDecodeError:
        return text
    return parsed["v"] if list(parsed) == ["v"] else text  # "1\nw = 2" is text, not two settings


def same_value(a: Any, b: Any) -> bool:
    """The same setting value, also across spellings of a number (``3``, ``3.0``, ``"3"``);
    ``true`` is not ``1``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float | str) and isinstance(b, int | float | str) and (a_d := _dec(a)) is not None:
        b_d = _dec(b)
        return b_d is not None and a_d == b_d
    return bool(a == b)


def _dec(v: int | float | str) -> Decimal | None:
    try:
        d = Decimal(str(v))
    except InvalidOperation:
        return None
    return d if d.is_finite() else None


def redact(key: Key, value: Any) -> Any:
    """``value`` with secrets hidden: everything under a secret-looking key (``engine.redact``; an
    ``env:NAME`` reference is shown, it is no secret), and the password of any ``scheme://user:password@host``
    URL (also inside lists and tables)."""
    if secret_key(key) and env_reference(value) is None:
        return REDACTED
    if isinstance(value, str):
        return strip_credentials(value)
    if isinstance(value, list):
        return [redact(key, v) for v in value]
    if isinstance(value, dict):
        return {k: redact((*key, str(k)), v) for k, v in value.items()}
    return value


def shown(key: Key, value: Any) -> str:
    """A value for a one-line message, redacted."""
    return repr(redact(key, value))


def leaves(tree: Mapping[str, Any], prefix: Key = ()) -> dict[Key, Any]:
    """Every non-table value of a nested mapping, by its dotted key (lists are values)."""
    out: dict[Key, Any] = {}
    for k, v in tree.items():
        if isinstance(v, Mapping):
            out.update(leaves(v, (*prefix, str(k))))
        else:
            out[(*prefix, str(k))] = v
    return out


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    return orjson.dumps(value).decode()


def _derived(key: Key, snapshot: Mapping[str, Any]) -> str:
    if key == ("run", "mode"):
        return f"follows broker.kind {snapshot['broker']['kind']}"
    if key[0] == "risk":
        return f"risk.profile {snapshot['risk']['profile']}"
    if key[0] == "strategy":
        return f"default of strategy {snapshot['strategy']['name']}"
    return "derived"


def summary_lines(
    snapshot: Mapping[str, Any], defaults: Mapping[str, Any], digest: str, origins: Mapping[Key, list[Source]]
) -> list[str]:
    """The effective-config summary: the hash, then every setting that differs from its default
    with where it came from, redacted, in key order."""
    lines = [f"config {digest}  (sha256 of the canonical snapshot)"]
    base = leaves(defaults)
    for key, value in sorted(leaves(snapshot).items()):
        if key in base and base[key] == value:
            continue
        given = next((origins[key[:n]] for n in range(len(key), 0, -1) if key[:n] in origins), None)
        where = "; ".join(s.label for s in given) if given else _derived(key, snapshot)
        lines.append(f"  {'.'.join(key)} = {_text(redact(key, value))}   ({where})")
    if len(lines) == 1:
        lines.append("  every setting at its default")
    return lines
