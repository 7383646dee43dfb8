"""Generate docs/events.md, the event catalogue reference, from ``journal_schema``.

Usage (from the repository root)::

    python -m tools.gen_events_doc          # rewrite docs/events.md
    python -m tools.gen_events_doc --check  # exit 1 if docs/events.md is out of date

Everything comes from the code: event types, roles, versions and topics from the
catalogue, docstrings from the classes, field types from their annotations, and the
reason codes with their comments from ``journal_schema/reasons.py``.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import io
import sys
import tokenize
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import msgspec

from journal_schema import events, reasons, units
from journal_schema.catalogue import ALL_TYPES, INPUT_TYPE_SET, TOPICS, schema_fingerprint

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "events.md"
GENERATOR = "tools/gen_events_doc.py"

# Units of the shared scalar types, as the journal format defines them (journal_schema.units).
UNITS: dict[str, str] = {
    "Fixed8": "1e-8 units",
    "Nanos": "ns since epoch UTC",
    "Seq": "journal sequence number, >= 1",
    "Sha256Hex": "64 lowercase hex digits",
}


def _is_code_union(value: Any) -> bool:
    """A union of Literal aliases (e.g. ``IntentReason = SubmittedReason | ErrorCategory``)."""
    return typing.get_origin(value) in (Union, types.UnionType) and all(
        typing.get_origin(a) is Literal for a in typing.get_args(value)
    )


def _named_aliases() -> list[tuple[str, Any]]:
    """Public module-level type aliases (Annotated/Literal/unions of codes) of the schema modules."""
    found: list[tuple[str, Any]] = []
    for module in (units, reasons, events):
        for name, value in vars(module).items():
            if name.startswith("_") or name[0].islower():
                continue
            if typing.get_origin(value) not in (Annotated, Literal) and not _is_code_union(value):
                continue
            if all(name != n for n, _ in found):
                found.append((name, value))
    return found


ALIASES = _named_aliases()
# Every Literal alias of reasons.py is a list of stable codes with a table of its own.
REASON_TYPES = [
    name for name, value in vars(reasons).items() if not name.startswith("_") and typing.get_origin(value) is Literal
]


def _alias_name(annotation: Any) -> str | None:
    for name, value in ALIASES:
        if annotation == value:
            return name
    return None


def _code_list(values: tuple[Any, ...]) -> str:
    return ", ".join(f"`{msgspec.json.encode(v).decode()}`" for v in values)


def _meta_notes(meta: msgspec.Meta) -> str:
    notes = [meta.description] if meta.description else []
    for attr, op in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
        bound = getattr(meta, attr)
        if bound is not None:
            notes.append(f"{op} {bound}")
    if meta.pattern:
        notes.append(f"pattern `{meta.pattern}`")
    return "; ".join(notes)


def describe(annotation: Any) -> tuple[str, str]:
    """(type, units/constraints) of one field annotation, for the field tables."""
    name = _alias_name(annotation)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if name in UNITS:
        base = typing.get_args(annotation)[0].__name__
        return f"{base} ({name})", UNITS[name]
    if name in REASON_TYPES:
        return name, f"reason code, see [{name}](#{name.lower()})"
    if name is not None and _is_code_union(annotation):
        parts = [n for n, v in ALIASES if n in REASON_TYPES and v in args]
        return name, "a code of " + ", ".join(f"[{n}](#{n.lower()})" for n in parts)
    if name is not None and origin is Literal:
        return name, "one of " + _code_list(args)
    if origin is Literal:
        return "literal", "one of " + _code_list(args)
    if origin is Annotated:
        base, meta = args[0], args[1]
        return describe(base)[0], _meta_notes(meta)
    if origin in (Union, types.UnionType) and type(None) in args:
        (inner,) = [a for a in args if a is not type(None)]
        kind, notes = describe(inner)
        return f"{kind} or null", notes
    if origin is list:
        kind, notes = describe(args[0])
        return f"list of {kind}", notes
    if origin is dict:
        value = "any" if args[1] is Any else describe(args[1])[0]
        return f"object ({describe(args[0])[0]} → {value})", ""
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        return annotation.__name__, f"see [{annotation.__name__}](#{annotation.__name__.lower()})"
    if annotation is Any:
        return "any", ""
    return getattr(annotation, "__name__", str(annotation)), ""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _doc(t: type) -> str:
    return inspect.cleandoc(t.__doc__) if t.__doc__ else ""


def _fields(t: type[msgspec.Struct]) -> Iterator[str]:
    hints = typing.get_type_hints(t, include_extras=True)
    yield "| field | type | units / constraints |"
    yield "| --- | --- | --- |"
    for field in t.__struct_fields__:
        kind, notes = describe(hints[field])
        yield f"| `{field}` | {_cell(kind)} | {_cell(notes)} |"


def _nested_structs() -> list[type[msgspec.Struct]]:
    seen: list[type[msgspec.Struct]] = []
    for t in ALL_TYPES:
        for hint in typing.get_type_hints(t).values():
            if isinstance(hint, type) and issubclass(hint, msgspec.Struct) and hint not in seen:
                seen.append(hint)
    return seen


def reason_comments() -> dict[str, list[tuple[str, str]]]:
    """Reason-code aliases of reasons.py: name -> [(code, the comment on its line)]."""
    source = Path(inspect.getfile(reasons)).read_text(encoding="utf-8")
    comments = {
        tok.start[0]: tok.string.lstrip("#").strip()
        for tok in tokenize.generate_tokens(io.StringIO(source).readline)
        if tok.type == tokenize.COMMENT
    }
    out: dict[str, list[tuple[str, str]]] = {}
    for node in ast.parse(source).body:
        if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Subscript)):
            continue
        target = node.targets[0]
        if not (isinstance(target, ast.Name) and target.id in REASON_TYPES):
            continue
        elts = node.value.slice.elts if isinstance(node.value.slice, ast.Tuple) else [node.value.slice]
        out[target.id] = [(str(e.value), comments.get(e.lineno, "")) for e in elts if isinstance(e, ast.Constant)]
    return out


def _header() -> Iterator[str]:
    yield "# Event catalogue"
    yield ""
    yield f"<!-- Generated by {GENERATOR} from journal_schema. Do not edit by hand. -->"
    yield ""
    yield f"Schema fingerprint: `{schema_fingerprint()}`"
    yield ""
    yield "Conventions:"
    yield ""
    yield "- Every record is the canonical JSON of one event (msgspec, fields in the order listed"
    yield '  below, preceded by the tag `"type": "<TypeName>"`), stored under the topic'
    yield "  `<TypeName>.v<VERSION>`."
    yield "- `Fixed8` fields are integers counting 1e-8 units (price in USD, quantity in shares,"
    yield "  money in USD): `100000000` is 1. Nothing stored is a binary float."
    yield "- `Nanos` fields are integer nanoseconds since 1970-01-01T00:00:00Z (UTC). `ts` is event"
    yield "  time taken from the input (bar close, broker report, calendar), never the core's clock."
    yield "- *Input* events are facts from outside the core, journaled before the core sees them;"
    yield "  *derived* events are the core's decisions, re-derived and compared by `engine replay`."
    yield "  Derived events carry `cause_seq`, the sequence number of the input that produced them."
    yield ""


def _summary() -> Iterator[str]:
    yield "| type | role | version | topic |"
    yield "| --- | --- | --- | --- |"
    for t in ALL_TYPES:
        role = "input" if t in INPUT_TYPE_SET else "derived"
        yield f"| [{t.__name__}](#{t.__name__.lower()}) | {role} | {t.VERSION} | `{TOPICS[t]}` |"
    yield ""


def _section(t: type[Any], intro: str | None = None) -> Iterator[str]:
    yield f"### {t.__name__}"
    yield ""
    for text in (intro, _doc(t)):
        if text:
            yield text
            yield ""
    yield from _fields(t)
    yield ""


def _events() -> Iterator[str]:
    for t in ALL_TYPES:
        role = "input" if t in INPUT_TYPE_SET else "derived"
        yield from _section(t, f"Role: {role}. Version: {t.VERSION}. Topic: `{TOPICS[t]}`.")


def _nested() -> Iterator[str]:
    for t in _nested_structs():
        yield from _section(t)


def _reasons() -> Iterator[str]:
    yield "Reason codes are part of the journal format: they are never renamed, only added."
    yield ""
    for name, codes in reason_comments().items():
        yield f"### {name}"
        yield ""
        yield "| code | meaning |"
        yield "| --- | --- |"
        for code, comment in codes:
            yield f"| `{code}` | {_cell(comment)} |"
        yield ""


def render() -> str:
    lines = [
        *_header(),
        "## Event types",
        "",
        *_summary(),
        "## Events",
        "",
        *_events(),
        "## Nested types",
        "",
        *_nested(),
        "## Reason codes",
        "",
        *_reasons(),
    ]
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate docs/events.md from the catalogue.")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is out of date")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT.relative_to(ROOT)} is out of date: run python -m tools.gen_events_doc")
            return 1
        return 0
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
