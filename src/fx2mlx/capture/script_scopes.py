"""Module scopes for the ops a TorchScript forward runs, in the trace frontend.

Forward hooks don't fire inside the TorchScript interpreter, so the ops a ScriptModule's
submodules run would all land in one flat scope. TorchScript knows better: once a method's
graph is inlined, every node carries the module instances it was called through
(``Node.getModuleHierarchy()``, e.g. ``_model(VADRNNJIT).encoder(Sequential).0(Block)``).
Here each outermost ScriptModule's forward is replaced, for the recording only, by a copy of
its inlined graph with a marker op (``fx2mlx::script_scope``) before each node whose module
differs from the one before it; the marker's kernel, called by the interpreter in program
order, sets the ``nn_module_stack`` make_fx copies onto the nodes it records next.

Which module each node ran in is ``script_paths``'s answer. A block starts with a marker of
its owner's module, so each pass of a loop body calls its submodules anew. Limit: two calls
of one module with no op of another module between them share a frame.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn
from torch.fx import traceback as fx_traceback

from .script_paths import Chain, node_chains

__all__ = ["drop_markers", "script_scopes"]

Frame = dict[str, tuple[str, str]]

# nodes that dispatch no op: no marker needed before them
_QUIET = {
    "prim::Constant",
    "prim::GetAttr",
    "prim::ListConstruct",
    "prim::TupleConstruct",
    "prim::ListUnpack",
    "prim::TupleUnpack",
}
_ACTIVE: list[_Call] = []
_LIBRARY: list[torch.library.Library] = []


def _marker(frame: int) -> None:
    if _ACTIVE:
        _ACTIVE[-1].enter(frame)


def _define_marker() -> None:
    """``fx2mlx::script_scope(int)``, whose kernel is :func:`_marker` (defined once)."""
    if not _LIBRARY:
        lib = torch.library.Library("fx2mlx", "FRAGMENT")
        # conservative: a side effect, so TorchScript neither folds it nor moves it
        lib.define("script_scope(int frame) -> ()", alias_analysis="CONSERVATIVE")
        lib.impl("script_scope", _marker, "CompositeExplicitAutograd")
        _LIBRARY.append(lib)


def _mark(
    graph: torch._C.Graph,
    block: torch._C.Block,
    order: Iterator[Chain],
    table: list[Chain],
    start: Chain | None,
) -> None:
    """A marker before each node whose module differs from the one before it (``order``:
    each node's chain, see ``script_paths``; ``table``: the chains the markers number); a
    block starts with its owner's chain (each pass of a loop body: new calls)."""
    current: Chain | None = None
    for node in list(block.nodes()):
        chain = next(order)
        if start is not None:
            _insert(graph, node, _number(table, start))
            current, start = start, None
        if node.kind() not in _QUIET and chain != current:
            _insert(graph, node, _number(table, chain))
            current = chain
        for sub in node.blocks():
            _mark(graph, sub, order, table, chain)
        if list(node.blocks()):
            current = None  # whichever branch ran last left its own scope


def _number(table: list[Chain], chain: Chain) -> int:
    if chain not in table:
        table.append(chain)
    return table.index(chain)


def _insert(graph: torch._C.Graph, before: torch._C.Node, index: int) -> None:
    const = graph.insertConstant(index)
    const.node().moveBefore(before)
    graph.create("fx2mlx::script_scope", [const], 0).insertBefore(before)


def _scoped_forward(script: torch.jit.ScriptModule) -> tuple[Any, list[Chain]]:
    """``script``'s forward as a function of (module, *args) with markers, and the chain
    each marker number stands for."""
    _define_marker()
    graph = script._c._get_method("forward").graph.copy()
    torch._C._jit_pass_inline(graph)
    modules = [path for path, _ in script.named_modules() if path]
    table: list[Chain] = []
    _mark(graph, graph.block(), iter(node_chains(graph, modules)), table, None)
    return torch._C._create_function_from_graph("fx2mlx_scoped_forward", graph), table


def drop_markers(gm: torch.fx.GraphModule) -> None:
    """make_fx records the markers too: they go once the scopes are set."""
    for node in list(gm.graph.nodes):
        if node.op == "call_function" and node.target == _marker_op():
            gm.graph.erase_node(node)
    gm.recompile()


def _marker_op() -> Any:
    _define_marker()
    return torch.ops.fx2mlx.script_scope.default


class _Call:
    """One call of a scoped forward: each marker sets the frames of the ops that follow."""

    def __init__(
        self, chains: list[Chain], prefix: str, key: Callable[[str], str], names: dict[str, str]
    ) -> None:
        self.chains, self.prefix, self.key, self.names = chains, prefix, key, names
        self.base: Frame = dict(fx_traceback.current_meta.get("nn_module_stack") or {})
        if prefix:  # hooks skip ScriptModules: one nested in Python code opens its own frame
            self.base[key(prefix)] = (prefix, names[prefix])
        self.open: list[tuple[str, str]] = []  # (path, frame key) of each open level

    def enter(self, index: int) -> None:
        paths = [f"{self.prefix}.{p}".lstrip(".") for p in self.chains[index]]
        keep = 0
        while keep < min(len(paths), len(self.open)) and self.open[keep][0] == paths[keep]:
            keep += 1
        self.open = self.open[:keep] + [(p, self.key(p)) for p in paths[keep:]]
        frame = {**self.base, **{k: (p, self.names[p]) for p, k in self.open}}
        fx_traceback.current_meta["nn_module_stack"] = frame


def _arguments(schema: torch._C.FunctionSchema, args: tuple, kwargs: dict[str, Any]) -> list:
    """``forward``'s arguments in schema order (TorchScript functions take them so)."""
    values = list(args)
    for arg in schema.arguments[1 + len(args) :]:
        if arg.name in kwargs:
            values.append(kwargs[arg.name])
        elif arg.has_default_value():
            values.append(arg.default_value)
        else:
            raise TypeError(f"forward() missing argument {arg.name!r}")
    return values


def _scoped(
    script: torch.jit.ScriptModule, prefix: str, key: Callable[[str], str], names: dict[str, str]
) -> Callable[..., Any]:
    function, chains = _scoped_forward(script)
    schema = script._c._get_method("forward").schema

    def forward(*args: Any, **kwargs: Any) -> Any:
        call = _Call(chains, prefix, key, names)
        _ACTIVE.append(call)
        try:  # unoptimized: the graph as written (a first, profiling run mishandles constants)
            with torch.jit.optimized_execution(False):
                return function(script._c, *_arguments(schema, args, kwargs))
        finally:
            _ACTIVE.pop()
            fx_traceback.current_meta["nn_module_stack"] = call.base

    return forward


def _outermost(root: nn.Module) -> list[tuple[str, torch.jit.ScriptModule]]:
    """The ScriptModules of ``root``'s tree no other ScriptModule holds, with their paths."""
    found: list[tuple[str, torch.jit.ScriptModule]] = []
    for path, module in root.named_modules():
        inside = any(not p or path.startswith(f"{p}.") for p, _ in found)
        if isinstance(module, torch.jit.ScriptModule) and not inside:
            found.append((path, module))
    return found


def _name(module: nn.Module) -> str:
    name = getattr(module, "original_name", None)
    return f"torchscript.{name}" if name else f"{type(module).__module__}.{type(module).__name__}"


@contextlib.contextmanager
def script_scopes(root: nn.Module, key: Callable[[str], str]) -> Iterator[None]:
    """While active, each outermost ScriptModule under ``root`` runs a scoped copy of its
    forward; ``key(path)`` names a new call of the module at ``path`` (``path@1``)."""
    names = {path: _name(module) for path, module in root.named_modules()}
    saved = [(s, s.__dict__.get("forward")) for _, s in _outermost(root)]
    for path, script in _outermost(root):
        script.__dict__["forward"] = _scoped(script, path, key, names)
    try:
        yield
    finally:
        for script, forward in saved:
            if forward is None:
                script.__dict__.pop("forward", None)
            else:
                script.__dict__["forward"] = forward
