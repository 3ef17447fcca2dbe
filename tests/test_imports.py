"""The package's import graph has no cycles, and the converter contract sits at the bottom.

Every ``import`` in ``src/fx2mlx`` counts, at module level or inside a function (a lazy import
only hides a cycle until someone calls the function). Importing ``a.b.c`` also runs the
``__init__`` of ``a.b`` (unless the importer lives inside it), so that edge counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "fx2mlx"

CONTRACT = {"fx2mlx.meta", "fx2mlx.layout", "fx2mlx.expr", "fx2mlx.emit_ctx"}
"""What a converter needs: node.meta keys, layout rules, expressions, the emit context."""


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _package_of(module: str, path: Path) -> str:
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def _ancestors(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _imported(module: str, path: Path, known: set[str]) -> set[str]:
    """The package modules ``module`` imports anywhere in its file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = _package_of(module, path).split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            # `from pkg import name` imports the submodule pkg.name when there is one, else
            # it reads name from pkg itself
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in known else base)
    targets: set[str] = set()
    for name in found:
        if name not in known:
            continue
        targets.add(name)
        # importing a.b.c runs a/__init__ and a/b/__init__ first, unless we are inside them
        targets |= {p for p in _ancestors(name) if p not in _ancestors(module) and p in known}
    targets.discard(module)
    return targets


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports."""
    modules = _modules()
    known = set(modules)
    return {m: _imported(m, p, known) for m, p in modules.items()}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (as a path) per strongly connected component of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan; the graph has ~100 nodes, recursion is fine
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
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
                components.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [_cycle_in(graph, set(c)) for c in components]


def _cycle_in(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A concrete cycle through the component's first module, for the error message."""
    start = min(component)
    paths = {start: [start]}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph[v] & component):
            if w == start:
                return paths[v] + [start]
            if w not in paths:
                paths[w] = paths[v] + [w]
                queue.append(w)
    raise AssertionError(f"no cycle through {start}")


def test_no_import_cycles() -> None:
    cycles = find_cycles(import_graph())
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_the_cycle_finder_finds_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert find_cycles(graph) == [["a", "b", "c", "a"]]


def test_relative_and_package_imports_resolve() -> None:
    graph = import_graph()
    # `from .. import converters` style and `from ..converters.registry import X` both reach
    # the converters package, whose __init__ imports every converter module
    assert "fx2mlx.converters.registry" in graph["fx2mlx.passes.collapse_layers"]
    assert "fx2mlx.converters" in graph["fx2mlx.passes.collapse_layers"]
    assert "fx2mlx.converters.conv" in graph["fx2mlx.converters"]


def test_the_converter_contract_is_a_leaf() -> None:
    graph = import_graph()
    for module in sorted(CONTRACT):
        assert graph[module] <= CONTRACT, f"{module} imports {sorted(graph[module] - CONTRACT)}"


def test_capture_imports_only_what_lies_below_it() -> None:
    """Frontends know nothing of converters: the pipeline hands them the leaf predicate."""
    graph = import_graph()
    below = {"fx2mlx.errors", "fx2mlx.meta"}
    for module, imports in sorted(graph.items()):
        if module.startswith("fx2mlx.capture"):
            above = {i for i in imports if not i.startswith("fx2mlx.capture")} - below
            assert not above, f"{module} imports {sorted(above)}"
