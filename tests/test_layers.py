"""The layer table of docs/architecture.md, enforced on every import of every product module.

The table (between the ``layers`` markers in docs/architecture.md) lists each layer with its number,
the module prefixes it holds and the third-party packages it may import ("any", or a list). A module
belongs to the layer of its longest matching prefix. The test walks the AST of every module of
``journal_schema``, ``engine``, ``projections`` and ``replay`` and fails when:

- a module imports a product module of a higher layer (every import counts: at the top, inside a
  function, under ``TYPE_CHECKING``);
- a module of a layer with a package list imports a third-party package not on it (the standard
  library is always allowed);
- imports form a circle (two or more modules that reach each other).
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("journal_schema", "engine", "projections", "replay")
DOC = ROOT / "docs" / "architecture.md"
ROW = re.compile(r"^\|\s*(\d+)\s+([^|]+?)\s*\|([^|]+)\|([^|]+)\|\s*$")


@dataclass(frozen=True)
class Layer:
    rank: int
    name: str
    prefixes: tuple[str, ...]
    packages: frozenset[str] | None  # None: any third-party package


def read_table(text: str) -> list[Layer]:
    """The layers of the table between ``<!-- layers -->`` and ``<!-- /layers -->``."""
    block = text.split("<!-- layers -->", 1)[1].split("<!-- /layers -->", 1)[0]
    layers = []
    for line in block.splitlines():
        m = ROW.match(line.strip())
        if m is None:
            continue
        prefixes = tuple(re.findall(r"`([\w.]+)`", m.group(3)))
        allowed = m.group(4).strip()
        packages = None if allowed == "any" else frozenset(re.findall(r"`([\w.]+)`", allowed))
        layers.append(Layer(int(m.group(1)), m.group(2).strip(), prefixes, packages))
    return layers


def modules(root: Path) -> dict[str, Path]:
    found = {}
    for pkg in PACKAGES:
        for p in sorted((root / pkg).rglob("*.py")):
            parts = list(p.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = p
    return found


@dataclass(frozen=True)
class Import:
    source: str
    line: int
    name: str  # as written, made absolute


def imports(module: str, path: Path) -> Iterator[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                prefix = ".".join([*base, *([node.module] if node.module else [])])
            else:
                prefix = node.module or ""
            for alias in node.names:
                yield Import(module, node.lineno, f"{prefix}.{alias.name}")


def layer_of(module: str, layers: list[Layer]) -> Layer:
    best: tuple[int, Layer] | None = None
    for layer in layers:
        for prefix in layer.prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), layer)
    assert best is not None, f"{module} is in no layer of the table"
    return best[1]


def product_target(name: str, known: dict[str, Path]) -> str | None:
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def graph(root: Path) -> tuple[dict[str, Path], dict[str, list[tuple[str, Import]]], list[Import]]:
    """The product modules, their product imports and their third-party imports."""
    known = modules(root)
    edges: dict[str, list[tuple[str, Import]]] = {m: [] for m in known}
    third: list[Import] = []
    for module, path in known.items():
        for imp in imports(module, path):
            top = imp.name.split(".")[0]
            if top in PACKAGES:
                target = product_target(imp.name, known)
                if target is not None and target != module:
                    edges[module].append((target, imp))
            elif top not in sys.stdlib_module_names and top != "__future__":
                third.append(imp)
    return known, edges, third


def violations(root: Path, layers: list[Layer]) -> list[str]:
    known, edges, third = graph(root)
    out = []
    for module, targets in edges.items():
        mine = layer_of(module, layers)
        for target, imp in targets:
            theirs = layer_of(target, layers)
            if theirs.rank > mine.rank:
                out.append(f"{module}:{imp.line} ({mine.name}) imports {target} ({theirs.name}), a higher layer")
    for imp in third:
        mine = layer_of(imp.source, layers)
        top = imp.name.split(".")[0]
        if mine.packages is not None and top not in mine.packages:
            out.append(f"{imp.source}:{imp.line} ({mine.name}) imports {top}, not allowed in its layer")
    out += [f"import circle: {' -> '.join(c)}" for c in circles({m: [t for t, _ in ts] for m, ts in edges.items()})]
    return out


def circles(edges: dict[str, list[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return sorted(found)


LAYERS = read_table(DOC.read_text(encoding="utf-8"))


def test_the_table_is_in_the_architecture_doc() -> None:
    assert [layer.rank for layer in LAYERS] == sorted((layer.rank for layer in LAYERS), reverse=True)
    assert {layer.rank for layer in LAYERS} == set(range(len(LAYERS)))
    assert {p.split(".")[0] for layer in LAYERS for p in layer.prefixes} == set(PACKAGES)


def test_every_product_import_follows_the_table() -> None:
    assert violations(ROOT, LAYERS) == []


def _plant(root: Path, files: dict[str, str]) -> None:
    for pkg in PACKAGES:
        (root / pkg).mkdir(parents=True, exist_ok=True)
        (root / pkg / "__init__.py").touch()
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        for parent in p.relative_to(root).parents:
            if str(parent) != ".":
                (root / parent / "__init__.py").touch()
        p.write_text(text)


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {"engine/core/step.py": "from engine.config import bps_to_centi\n", "engine/config.py": ""},
            "engine.core.step:1 (core fold) imports engine.config (shell), a higher layer",
        ),
        (
            {"engine/core/step.py": "def f():\n    from engine.config import x\n", "engine/config.py": ""},
            "engine.core.step:2 (core fold) imports engine.config (shell), a higher layer",
        ),
        (
            {"engine/core/sma.py": "import pydantic\n"},
            "engine.core.sma:1 (core models) imports pydantic, not allowed in its layer",
        ),
        (
            {"projections/fold.py": "from engine.cli import main\n", "engine/cli/__init__.py": ""},
            "projections.fold:1 (derived) imports engine.cli (application), a higher layer",
        ),
        (
            {"engine/a.py": "from engine import b\n", "engine/b.py": "from engine.a import x\n"},
            "import circle: engine.a -> engine.b",
        ),
        (
            {"engine/core/risk/x.py": "from ..decide import decide\n", "engine/core/decide.py": ""},
            "engine.core.risk.x:1 (core models) imports engine.core.decide (core fold), a higher layer",
        ),
    ],
)
def test_a_planted_violation_is_found(tmp_path: Path, files: dict[str, str], expected: str) -> None:
    _plant(tmp_path, files)
    assert expected in violations(tmp_path, LAYERS)


def test_allowed_imports_pass(tmp_path: Path) -> None:
    _plant(
        tmp_path,
        {
            "engine/core/step.py": "import math\nimport numpy\nfrom journal_schema.units import x\n",
            "engine/cli/run.py": "from projections import fold\nfrom replay import diff\nimport polars\n",
            "projections/fold.py": "from engine.shell import Engine\n",
            "engine/shell.py": "from engine.core.step import step\n",
            "replay/diff.py": "",
        },
    )
    assert violations(tmp_path, LAYERS) == []
