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


# -- converter files (docs/contributing-converters.md) -------------------------------------

CONVERTERS = SRC / "converters"
_REGISTER = ("register_op", "register_layer")
_RULES = {"canonical", "keep", "elementwise", "to_channels_last", "last_axis"}  # fx2mlx.layout


def _converter_files() -> list[tuple[Path, ast.Module]]:
    return [(p, t) for p, t in _trees() if p.parent == CONVERTERS and p.name != "__init__.py"]


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    return node.attr if isinstance(node, ast.Attribute) else ""


def _functions(tree: ast.Module) -> list[ast.FunctionDef]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]


def test_converters_register_by_decorator_only() -> None:
    bad = []
    for path, tree in _converter_files():
        decorators = {id(d) for f in _functions(tree) for d in f.decorator_list}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _name(node.func) in _REGISTER:
                if id(node) not in decorators:
                    bad.append(_where(path, node))
        bad += [_where(path, n) for n in tree.body if isinstance(n, (ast.For, ast.While))]
    assert not bad, "register with a decorator (stack it for several classes):\n" + "\n".join(bad)


def _registrations(tree: ast.Module) -> list[tuple[ast.FunctionDef, ast.Call]]:
    return [
        (f, d)
        for f in _functions(tree)
        for d in f.decorator_list
        if isinstance(d, ast.Call) and _name(d.func) in _REGISTER
    ]


def test_registered_functions_are_named_by_role() -> None:
    bad = []
    for path, tree in _converter_files():
        for fn, deco in _registrations(tree):
            where = f"{_where(path, fn)} {fn.name}"
            if fn.name.startswith("_"):
                bad.append(f"{where}: registered functions are public")
            if _name(deco.func) == "register_layer" and not fn.name.startswith("build_"):
                bad.append(f"{where}: a layer builder is named build_<layer>")
            for kw in deco.keywords:
                value = _name(kw.value)
                if kw.arg == "check" and not value.startswith("check_"):
                    bad.append(f"{where}: check {value!r} is not named check_<op>")
                if kw.arg == "layout" and value not in _RULES and not value.endswith("_layout"):
                    bad.append(f"{where}: layout rule {value!r} is not named <what>_layout")
    assert not bad, "\n".join(bad)


def test_arguments_are_read_by_schema_name() -> None:
    """``ctx.arg("stride")`` / ``op_args(node)["stride"]``, never ``node.args[4]``."""
    bad = []
    for path, tree in _converter_files():
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ("args", "kwargs"):
                if _name(node.value) != "ctx":
                    bad.append(f"{_where(path, node)}: .{node.attr}")
            if isinstance(node, ast.Call) and _name(node.func) in ("a", "arg") and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and not isinstance(first.value, str):
                    bad.append(f"{_where(path, node)}: argument {first.value!r} by position")
    assert not bad, "\n".join(bad)


def test_generated_helpers_are_defined_only_in_helpers_py() -> None:
    bad = []
    for path, tree in _converter_files():
        if path.name.startswith("helpers"):  # helpers.py, and helpers_<family>.py it registers
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id == "HELPERS":
                bad.append(_where(path, node))
            if path.name.startswith("helpers_"):
                continue  # a family's generated sources, registered in helpers.py's HELPERS
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if "\ndef " in node.value or "\nclass " in node.value:
                    bad.append(f"{_where(path, node)}: generated source outside helpers.py")
    assert not bad, "\n".join(bad)


def test_small_helpers_are_defined_once() -> None:
    """A private helper defined in two converter files belongs in a shared one."""
    seen: dict[str, str] = {}
    bad = []
    for path, tree in _converter_files():
        for fn in tree.body:
            if isinstance(fn, ast.FunctionDef) and fn.name.startswith("_"):
                if fn.name in seen:
                    bad.append(f"{fn.name}: {seen[fn.name]} and {_where(path, fn)}")
                seen[fn.name] = _where(path, fn)
    assert not bad, "\n".join(bad)


def test_converter_files_are_small_and_annotated() -> None:
    bad = []
    for path, tree in _converter_files():
        lines = len(path.read_text().splitlines())
        if lines > 300:
            bad.append(f"{path.name}: {lines} lines (split the family)")
        for fn in _functions(tree):
            where = f"{_where(path, fn)} {fn.name}"
            if fn.end_lineno - fn.lineno + 1 > 30:  # type: ignore[operator]
                bad.append(f"{where}: longer than 30 lines")
            params = fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs
            if fn.returns is None or any(a.annotation is None for a in params):
                bad.append(f"{where}: not fully annotated")
    assert not bad, "\n".join(bad)
