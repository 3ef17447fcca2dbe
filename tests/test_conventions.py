"""House rules a reviewer would otherwise enforce by hand, checked on the source tree."""

from __future__ import annotations

import ast
from pathlib import Path

from fx2mlx import meta

SRC = Path(__file__).resolve().parents[1] / "src" / "fx2mlx"


def _trees() -> list[tuple[Path, ast.Module]]:
    return [(p, ast.parse(p.read_text(), str(p))) for p in sorted(SRC.rglob("*.py"))]


def _where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(SRC.parent)}:{getattr(node, 'lineno', 0)}"


def test_meta_keys_are_named_only_in_meta_py() -> None:
    keys = {v for k, v in vars(meta).items() if k.isupper() and isinstance(v, str)}
    assert keys and all(k.startswith("fx2mlx.") for k in keys)
    raw = []
    for path, tree in _trees():
        if path.name == "meta.py" and path.parent == SRC:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value in keys:
                raw.append(f"{_where(path, node)}: {node.value!r}")
            if _meta_lookup(node):
                raw.append(f"{_where(path, node)}: a new raw node.meta key")
    assert not raw, "use the constants of fx2mlx.meta:\n" + "\n".join(raw)


def _meta_lookup(node: ast.AST) -> bool:
    """``x.meta["fx2mlx.…"]`` or ``x.meta.get("fx2mlx.…")`` with a literal key."""
    key: ast.AST | None = None
    if isinstance(node, ast.Subscript) and _is_meta(node.value):
        key = node.slice
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
        if node.func.attr in ("get", "setdefault", "pop") and _is_meta(node.func.value):
            key = node.args[0]
    return isinstance(key, ast.Constant) and str(key.value).startswith("fx2mlx.")


def _is_meta(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "meta"
