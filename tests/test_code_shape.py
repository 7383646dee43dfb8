"""The shape of the code: modules under the cap in formatted lines, and no formatting escapes.

``make test`` runs ``ruff format --check .`` before the suite, so a module's line count here is its
formatted length; a marker that stops the formatter (``# fmt: skip``, ``# fmt: off``) would let a
module meet the cap by packing lines, so none may appear anywhere in the tree. A module that grows
over the cap is split by responsibility (docs/architecture.md, "Layout").
"""

from __future__ import annotations

import re
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("journal_schema", "engine", "projections", "replay", "tools")
CAP = 400  # formatted lines per product module
MARKER = re.compile(r"#\s*fmt:\s*(skip|off|on)\b|#\s*yapf:\s*disable")


def _modules(*packages: str) -> list[Path]:
    return sorted(p for pkg in packages for p in (ROOT / pkg).rglob("*.py"))


def _shown(p: Path) -> str:
    return str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else p.name


def over_cap(paths: list[Path], cap: int = CAP) -> list[str]:
    out = []
    for p in paths:
        n = len(p.read_text(encoding="utf-8").splitlines())
        if n > cap:
            out.append(f"{_shown(p)}: {n} lines")
    return out


def markers(paths: list[Path]) -> list[str]:
    """Lines holding a formatter escape as a comment (a string that mentions one is not a marker)."""
    found = []
    for p in paths:
        with p.open("rb") as f:
            for tok in tokenize.tokenize(f.readline):
                if tok.type == tokenize.COMMENT and MARKER.search(tok.string):
                    found.append(f"{_shown(p)}:{tok.start[0]}: {tok.string}")
    return found


def test_every_product_module_is_under_the_cap() -> None:
    assert over_cap(_modules(*PACKAGES)) == []


def test_no_module_escapes_the_formatter() -> None:
    assert markers(_modules(*PACKAGES, "tests")) == []


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("x = 1  # fmt: skip\n", True),
        ("# fmt: off\n", True),
        ("x = 1  # fmt:skip\n", True),
        ("x = 1  # a format note\n", False),
        ('x = "# fmt: skip"\n', False),
    ],
)
def test_a_planted_marker_is_found(tmp_path: Path, text: str, found: bool) -> None:
    p = tmp_path / "planted.py"
    p.write_text(text)
    assert bool(markers([p])) is found


def test_a_planted_long_module_is_over_the_cap(tmp_path: Path) -> None:
    p = tmp_path / "planted.py"
    p.write_text("x = 1\n" * (CAP + 1))
    assert over_cap([p]) == [f"planted.py: {CAP + 1} lines"]
    p.write_text("x = 1\n" * CAP)
    assert over_cap([p]) == []
