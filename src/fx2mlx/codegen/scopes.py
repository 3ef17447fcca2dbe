"""Regroup the flat graph by ``nn_module_stack`` into a tree of module calls.

Each :class:`Scope` is one call of one module. Its direct nodes are the ops its ``forward``
ran itself; its children are the submodule calls it made. A scope that can't be a call of
its own (an ``nn.Sequential``, whose forward is only a chain, or one whose nodes interleave
with the caller's) is inlined into its parent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import fx, nn

from ..capture import Captured
from ..expr import Expr
from ..meta import SCOPE, UNSCOPED
from .sizes import Dims, is_size, size_expr

Frame = tuple[str, str]


@dataclass(eq=False)
class Scope:
    """One module call: its own nodes, its child calls, and its boundary values."""

    frame: Frame
    module: nn.Module
    parent: Scope | None = None
    children: list[Scope] = field(default_factory=list)
    nodes: list[fx.Node] = field(default_factory=list)
    inputs: list[fx.Node] = field(default_factory=list)
    outputs: list[fx.Node] = field(default_factory=list)
    sizes: dict[fx.Node, Expr] = field(default_factory=dict)
    dims: Dims = field(default_factory=dict)  # the dimensions ``sizes`` read

    @property
    def path(self) -> str:
        return self.frame[1]

    def subtree_nodes(self) -> list[fx.Node]:
        out = list(self.nodes)
        for child in self.children:
            out.extend(child.subtree_nodes())
        return out

    def owns(self, key: str) -> bool:
        """Whether state key ``key`` lies under this scope's module."""
        return not self.path or key.startswith(f"{self.path}.")


def _frames_of(node: fx.Node) -> tuple[Frame, ...]:
    frames = tuple(node.meta.get(SCOPE, ()))
    return frames[:-1] if node.op == "call_module" else frames


def build_scopes(captured: Captured) -> Scope:
    """The scope tree of ``captured.graph`` (root = the model's own forward)."""
    root = Scope(("@root", ""), captured.model)
    by_frame: dict[Frame, Scope] = {}
    placement = _place_unscoped(captured.graph)
    for node in captured.graph.nodes:
        if node.op not in ("call_function", "call_module"):
            continue
        scope = root
        for frame in placement.get(node, _frames_of(node)):
            child = by_frame.get(frame)
            if child is None:
                child = Scope(frame, captured.module(frame[1]), parent=scope)
                scope.children.append(child)
                by_frame[frame] = child
            scope = child
        scope.nodes.append(node)
    order = {n: i for i, n in enumerate(captured.graph.nodes)}
    _inline_where_needed(root, order)
    _compute_boundaries(root, order)
    _prune(root)
    _inline_unlike_calls(root, order)
    _compute_boundaries(root, order)  # pruned calls no longer ask their parents for inputs
    return root


def _shape_of_call(scope: Scope, order: dict[fx.Node, int]) -> tuple:
    """What must agree for two calls of one module to share one generated ``__call__``."""
    nodes = sorted(scope.subtree_nodes(), key=order.__getitem__)
    index = {n: i for i, n in enumerate(nodes)}
    ops = tuple(
        (n.target, tuple(index.get(a, -1) if isinstance(a, fx.Node) else repr(a) for a in n.args))
        for n in nodes
    )
    return (len(scope.inputs), len(scope.outputs), ops)


def _inline_unlike_calls(root: Scope, order: dict[fx.Node, int]) -> None:
    """A module called several times in different ways (other arguments, other branches)
    can't be one class with one ``__call__``: inline every one of its calls."""
    calls: dict[str, list[Scope]] = {}
    for scope in walk(root)[1:]:
        calls.setdefault(scope.path, []).append(scope)
    for group in calls.values():
        if len({_shape_of_call(s, order) for s in group}) > 1:
            for scope in group:
                _inline(scope, order)


def walk(scope: Scope) -> list[Scope]:
    """``scope`` and every scope below it, parents before children."""
    out = [scope]
    for child in scope.children:
        out.extend(walk(child))
    return out


def _prune(scope: Scope) -> None:
    """Drop calls that produce nothing but sizes (every scope derives those itself)."""
    scope.children = [c for c in scope.children if c.outputs]
    for child in scope.children:
        _prune(child)


def _place_unscoped(graph: fx.Graph) -> dict[fx.Node, tuple[Frame, ...]]:
    """Nodes without a module stack (size queries) go to the deepest scope all users share."""
    placement: dict[fx.Node, tuple[Frame, ...]] = {}
    for node in reversed(list(graph.nodes)):
        if node.op != "call_function" or not node.meta.get(UNSCOPED):
            continue
        users = [placement.get(u, _frames_of(u)) if u.op != "output" else () for u in node.users]
        common: tuple[Frame, ...] = users[0] if users else ()
        for frames in users[1:]:
            n = 0
            while n < min(len(common), len(frames)) and common[n] == frames[n]:
                n += 1
            common = common[:n]
        placement[node] = common
    return placement


def _inline(scope: Scope, order: dict[fx.Node, int]) -> None:
    parent = scope.parent
    assert parent is not None
    i = parent.children.index(scope)
    for child in scope.children:
        child.parent = parent
    parent.children[i : i + 1] = scope.children
    parent.nodes = sorted(parent.nodes + scope.nodes, key=order.__getitem__)


def _inline_where_needed(scope: Scope, order: dict[fx.Node, int]) -> None:
    for child in list(scope.children):
        _inline_where_needed(child, order)
    for child in list(scope.children):
        if _transparent(child) or not _convex(child, order):
            _inline(child, order)


TINY = 2  # ops: a stateless module this small is a function call, not a class


def _transparent(scope: Scope) -> bool:
    """Containers, stateless torch.nn modules (ReLU, Flatten...) and tiny stateless modules
    (an activation wrapper) read better inlined."""
    module = scope.module
    if isinstance(module, nn.Sequential):
        return True
    stateless = not any(True for _ in module.parameters()) and not any(
        True for _ in module.buffers()
    )
    if not stateless:
        return False
    builtin = type(module).__module__.startswith("torch.nn.")
    ops = [n for n in scope.subtree_nodes() if not is_size(n)]
    return builtin or (not scope.children and len(ops) <= TINY)


def _convex(scope: Scope, order: dict[fx.Node, int]) -> bool:
    """No path leaves the scope and comes back: otherwise it can't be one call."""
    inside = set(scope.subtree_nodes())
    if not inside:
        return True
    first = min(order[n] for n in inside)
    last = max(order[n] for n in inside)
    nodes = list(order)  # ``order`` was built in graph order
    tainted: set[fx.Node] = set()
    for node in nodes[first : last + 1]:  # only nodes in the span can feed back in
        args = node.all_input_nodes
        if node in inside:
            if any(a in tainted for a in args):
                return False
        elif any(a in inside or a in tainted for a in args):
            tainted.add(node)
    return True


def _compute_boundaries(scope: Scope, order: dict[fx.Node, int]) -> None:
    """Inputs, outputs and locally derived sizes; children first."""
    for child in scope.children:
        _compute_boundaries(child, order)
    scope.sizes, scope.dims = {}, {}
    inside = set(scope.subtree_nodes())
    direct = set(scope.nodes)
    sizes_here = [n for n in scope.nodes if is_size(n)]
    needed = _needed(scope, [n for n in scope.nodes if not is_size(n)], order)
    tensors = [a for a in _external(scope, needed, direct, inside) if not is_size(a)]
    for node in dict.fromkeys([a for a in needed if is_size(a)] + sizes_here):
        found = size_expr(node, tensors)
        if found is not None:
            scope.sizes[node] = found[0]
            scope.dims.update(found[1])
    unresolved = [n for n in sizes_here if n not in scope.sizes]
    needed += [a for n in unresolved for a in n.all_input_nodes if a not in needed]
    inputs = _external(scope, needed, direct, inside)
    if scope.parent is None:  # the model's own signature: every input, in order, used or not
        placeholders = [n for n in order if n.op == "placeholder"]
        inputs = placeholders + [a for a in inputs if a not in placeholders]
    scope.inputs = [a for a in inputs if a not in scope.sizes]
    scope.outputs = sorted(
        (n for n in inside if not is_size(n) and any(u not in inside for u in n.users)),
        key=order.__getitem__,
    )


def _needed(scope: Scope, nodes: list[fx.Node], order: dict[fx.Node, int]) -> list[fx.Node]:
    """Values the scope's own nodes and its child calls read, in order of first read."""
    first: dict[fx.Node, int] = {}
    for node in nodes:
        for a in node.all_input_nodes:
            first[a] = min(first.get(a, order[node]), order[node])
    for child in scope.children:
        inside = child.subtree_nodes()
        for a in child.inputs:
            use = min((order[u] for u in a.users if u in inside), default=order[inside[0]])
            first[a] = min(first.get(a, use), use)
    return sorted(first, key=lambda a: (first[a], order.get(a, -1)))


def _external(
    scope: Scope, needed: list[fx.Node], direct: set[fx.Node], inside: set[fx.Node]
) -> list[fx.Node]:
    """Values a scope must receive: sizes are never passed out of a child, so they count."""
    return [
        a
        for a in needed
        if a not in direct
        and (a not in inside or is_size(a))
        and not (a.op == "get_attr" and _resolvable(scope, str(a.target)))
    ]


def _resolvable(scope: Scope, key: str) -> bool:
    return scope.owns(key)
