"""For the tests that keep registries honest: where code spells a list of registered names."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def literal_collections(paths: Iterable[Path], names: set[str]) -> list[str]:
    """Where a file spells two or more of ``names`` in one tuple, list, set or dict (``file:line [names]``)."""
    found = []
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
                elements = node.elts
            elif isinstance(node, ast.Dict):
                elements = [k for k in node.keys if k is not None]
            else:
                continue
            hits = {e.value for e in elements if isinstance(e, ast.Constant) and e.value in names}
            if len(hits) >= 2:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {sorted(hits)}")
    return found
