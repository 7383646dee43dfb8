"""Hypothesis strategies derived from the catalogue's msgspec type info (no hand copies)."""

from __future__ import annotations

import string
from typing import Any

import msgspec
from hypothesis import strategies as st

_HEX = "0123456789abcdef"


def for_type(t: Any) -> st.SearchStrategy[Any]:
    return _from_info(msgspec.inspect.type_info(t))


def _from_info(info: msgspec.inspect.Type) -> st.SearchStrategy[Any]:
    mi = msgspec.inspect
    if isinstance(info, mi.Metadata):
        return _from_info(info.type)
    if isinstance(info, mi.StructType):
        fields = {f.name: _from_info(f.type) for f in info.fields}
        return st.fixed_dictionaries(fields).map(lambda kw: info.cls(**kw))
    if isinstance(info, mi.IntType):
        lo = info.ge if info.ge is not None else -(2**63)
        hi = info.le if info.le is not None else 2**63 - 1
        return st.integers(min_value=lo, max_value=hi)
    if isinstance(info, mi.StrType):
        if info.pattern == "^[0-9a-f]{64}$":
            return st.text(_HEX, min_size=64, max_size=64)
        if info.pattern is not None and "\\d{4}" in info.pattern:
            return st.dates().map(lambda d: d.isoformat()).filter(lambda s: len(s) == 10)
        if info.pattern is not None:
            return st.from_regex(info.pattern, fullmatch=True)
        return st.text(string.printable + "éß€\u2603", max_size=20)
    if isinstance(info, mi.LiteralType):
        return st.sampled_from(info.values)
    if isinstance(info, mi.BoolType):
        return st.booleans()
    if isinstance(info, mi.NoneType):
        return st.none()
    if isinstance(info, mi.UnionType):
        return st.one_of([_from_info(t) for t in info.types])
    if isinstance(info, mi.ListType):
        return st.lists(_from_info(info.item_type), max_size=4)
    if isinstance(info, mi.DictType):
        return st.dictionaries(_from_info(info.key_type), _from_info(info.value_type), max_size=4)
    if isinstance(info, mi.AnyType):
        json_leaf = st.one_of(st.integers(-(2**63), 2**63 - 1), st.text(max_size=8), st.booleans(), st.none())
        return st.recursive(
            json_leaf,
            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
            max_leaves=8,
        )
    raise NotImplementedError(f"no strategy for {info!r}")
