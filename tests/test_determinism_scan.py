"""The banned-primitive scan: product code may not reach for the things that make a replay differ.

Walks the AST of every module of ``journal_schema``, ``engine``, ``projections`` and ``replay`` and
fails on:

- builtin ``hash(...)`` (salted per process);
- the global random source (``random.random()``, ``from random import choice``, ``np.random.rand``,
  an unseeded ``random.Random()`` or ``np.random.default_rng()``); a seeded ``random.Random(seed)``
  or ``np.random.Generator(PCG64(seed))`` is fine;
- wall clocks (``datetime.now``, ``datetime.utcnow``, ``date.today``, ``time.time``,
  ``time.monotonic``, ``time.perf_counter`` and their ``_ns`` forms);
- ``uuid.uuid1`` / ``uuid.uuid4``;
- in the pure core (``engine/core``) only: builtin ``sum(...)`` not marked as summing integers
  (``# ints``); float sums there use ``math.fsum``, whose result does not depend on the Python version.

A clock or a random id is allowed in the shell on a statement marked ``# shell: <why>``; in the
core, nothing is allowed, marked or not. The rules are documented in docs/architecture.md.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("journal_schema", "engine", "projections", "replay")
SHELL_MARK = "# shell:"
INT_SUM_MARK = "# ints"

CLOCKS = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("time", "time"),
    ("time", "time_ns"),
    ("time", "monotonic"),
    ("time", "monotonic_ns"),
    ("time", "perf_counter"),
    ("time", "perf_counter_ns"),
}
RANDOM_IDS = {("uuid", "uuid1"), ("uuid", "uuid4")}
SEEDED_CONSTRUCTORS = {"Random", "Generator", "PCG64", "SeedSequence", "default_rng"}


def _chain(node: ast.expr) -> list[str]:
    """``np.random.rand`` -> ["np", "random", "rand"]; [] for anything that is not a dotted name."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return [node.id, *reversed(parts)]
    return []


def _banned_reference(node: ast.AST) -> str | None:
    """What ``node`` reaches for, when it is banned; ``None`` otherwise."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "hash":
        return "builtin hash()"
    if isinstance(node, ast.ImportFrom) and node.module in {"random", "uuid", "time"}:
        names = {a.name for a in node.names}
        bad = sorted(
            n
            for n in names
            if (node.module == "random" and n not in {"Random"})
            or (node.module, n) in RANDOM_IDS
            or (node.module, n) in CLOCKS
        )
        return f"from {node.module} import {', '.join(bad)}" if bad else None
    if isinstance(node, ast.Attribute):
        chain = _chain(node)
        if len(chain) >= 2 and (chain[-2], chain[-1]) in CLOCKS | RANDOM_IDS:
            return ".".join(chain)
        if chain[:1] == ["random"] and len(chain) == 2 and chain[1] not in {"Random"}:
            return f"the global random source ({'.'.join(chain)})"
        if len(chain) == 3 and chain[1] == "random" and chain[2] not in SEEDED_CONSTRUCTORS:
            return f"the global random source ({'.'.join(chain)})"
    if isinstance(node, ast.Call) and not node.args and not node.keywords:
        chain = _chain(node.func)
        if chain and chain[-1] in {"Random", "default_rng"} and "random" in chain:
            return f"an unseeded {'.'.join(chain)}()"
    return None


def _statement_lines(tree: ast.Module) -> dict[int, range]:
    """Each line -> the lines of the innermost simple statement holding it (where its marker may be)."""
    spans: dict[int, range] = {}
    for stmt in ast.walk(tree):
        if isinstance(stmt, ast.stmt) and not hasattr(stmt, "body"):
            end = stmt.end_lineno or stmt.lineno
            for line in range(stmt.lineno, end + 1):
                spans[line] = range(stmt.lineno, end + 1)
    return spans


def _marked(lines: list[str], span: range, mark: str) -> bool:
    return any(mark in lines[i - 1] for i in span)


def violations(path: Path, root: Path = ROOT) -> Iterator[str]:
    """The banned primitives of the module at ``path`` (under the repository ``root``)."""
    text = path.read_text()
    lines = text.splitlines()
    tree = ast.parse(text, str(path))
    spans = _statement_lines(tree)
    in_core = root / "engine" / "core" in path.parents
    rel = path.relative_to(root)
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        span = spans.get(line, range(line, line + 1))
        what = _banned_reference(node)
        if what and (in_core or not _marked(lines, span, SHELL_MARK)):
            where = "the pure core" if in_core else f"a statement not marked '{SHELL_MARK} <why>'"
            yield f"{rel}:{line}: {what} in {where}"
        is_sum = isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "sum"
        if in_core and is_sum and not _marked(lines, span, INT_SUM_MARK):
            yield f"{rel}:{line}: builtin sum() in the core: math.fsum for floats, or mark ints '{INT_SUM_MARK}'"


def product_modules() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def test_product_code_uses_no_banned_primitive() -> None:
    found = sorted({v for path in product_modules() for v in violations(path)})
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    ("where", "source"),
    [
        ("engine/core/x.py", "import time\nt = time.monotonic()  # shell: not allowed in the core\n"),
        ("engine/core/x.py", "total = sum(x * x for x in xs)\n"),
        ("engine/live/x.py", "from datetime import datetime\nnow = datetime.now()\n"),
        ("engine/live/x.py", "import uuid\nkey = uuid.uuid4().hex\n"),
        ("engine/live/x.py", "key = hash(('a', 1))\n"),
        ("projections/x.py", "import random\nx = random.random()\n"),
        ("projections/x.py", "from random import choice\n"),
        ("replay/x.py", "import numpy as np\nx = np.random.rand(3)\n"),
        ("replay/x.py", "import random\nrng = random.Random()\n"),
        ("engine/live/x.py", "def f(clock=time.perf_counter):\n    return clock()\n"),
    ],
)
def test_each_banned_primitive_is_found(tmp_path: Path, where: str, source: str) -> None:
    """A planted violation of each kind fails the scan."""
    assert _planted(tmp_path, where, source), source


@pytest.mark.parametrize(
    ("where", "source"),
    [
        ("engine/live/x.py", "import time\nt = time.monotonic()  # shell: a deadline for a wait\n"),
        ("engine/live/x.py", "import random\nrng = random.Random('seed:1')\n"),
        ("engine/core/x.py", "import math\ntotal = math.fsum(x * x for x in xs)\n"),
        ("engine/core/x.py", "n = sum(len(b) for b in books)  # ints\n"),
        ("replay/x.py", "import numpy as np\nrng = np.random.Generator(np.random.PCG64(7))\n"),
        ("engine/live/x.py", "import hashlib\nkey = hashlib.sha256(b'x').hexdigest()\n"),
    ],
)
def test_what_is_allowed_passes(tmp_path: Path, where: str, source: str) -> None:
    assert not _planted(tmp_path, where, source), source


def _planted(root: Path, where: str, source: str) -> list[str]:
    """The scan's findings in ``source`` planted at ``where`` under ``root``."""
    path = root / where
    path.parent.mkdir(parents=True)
    path.write_text(source)
    return list(violations(path, root))
