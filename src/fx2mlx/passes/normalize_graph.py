"""Pass: remove no-ops and rewrite in-place ops to their functional forms.

Runs first, so converters never see ``relu_``, ``dropout`` in eval, ``alias``, ``_assert_*``
or a ``to()`` that changes nothing.
"""

from __future__ import annotations

import operator

import torch
from torch import fx

from ..capture import Captured
from ..emit_ctx import op_args

aten = torch.ops.aten

# Dropouts called with train=False (every nn.Dropout of a model in eval) do nothing; one
# called with train=True is left for its converter's check to report.
DROPOUTS = {
    aten.dropout.default,
    aten.feature_dropout.default,
    aten.alpha_dropout.default,
    aten.feature_alpha_dropout.default,
}
# Ops that return their first argument unchanged at inference time.
_IDENTITY = {
    aten.alias.default,
    aten.detach.default,
    aten.clone.default,
    aten.contiguous.default,
    aten.lift_fresh_copy.default,
    torch.ops.prims.view_of.default,  # prims: from decompositions (nanmean, ...)
    torch.ops.prims.clone.default,
}
_CAST = {
    aten.to.dtype,
    aten._to_copy.default,
    aten.to.dtype_layout,
    aten.to.device,
    aten.type_as.default,
}


def _is_assert(target: object) -> bool:
    name = getattr(target, "__name__", "") or str(target)
    return "_assert" in name or "sym_constrain_range" in name or "_set_grad_enabled" in name


def _same_dtype(node: fx.Node) -> bool:
    src, out = node.args[0], node.meta.get("val")
    src_val = src.meta.get("val") if isinstance(src, fx.Node) else None
    return (
        isinstance(src_val, torch.Tensor)
        and isinstance(out, torch.Tensor)
        and src_val.dtype == out.dtype
    )


def _inert(dropout: fx.Node) -> bool:
    args = op_args(dropout)
    return not args["train"] or args["p"] == 0


def _functional(target: object) -> object | None:
    """``aten.relu_.default`` -> ``aten.relu.default`` (None when there is no such op)."""
    if not isinstance(target, torch._ops.OpOverload):
        return None
    name = target._schema.name.split("::")[-1]
    if not name.endswith("_") or name.startswith("_"):
        return None
    packet = getattr(aten, name[:-1], None)
    overload = target._overloadname
    return getattr(packet, overload, None) if packet is not None else None


def normalize_graph(captured: Captured) -> int:
    """Normalize ``captured.graph`` in place; returns how many nodes were removed or rewritten."""
    graph = captured.graph
    changed = 0
    order = {n: i for i, n in enumerate(graph.nodes)}
    latest: dict[fx.Node, fx.Node] = {}  # a tensor written through a view -> its new value
    for node in list(graph.nodes):
        if node.op != "call_function":
            continue
        if (func := _functional(node.target)) is not None:
            changed += _make_functional(node, func, order, latest)
        target = node.target
        if _is_assert(target):
            graph.erase_node(node) if not node.users else None
            changed += 1
        elif (
            target in _IDENTITY
            or (target in DROPOUTS and _inert(node))
            or (target in _CAST and _same_dtype(node))
        ):
            node.replace_all_uses_with(node.args[0])
            graph.erase_node(node)
            changed += 1
    changed += _eliminate_dead(graph)
    return changed


# A view and the op that writes a value back through it (what torch's functionalization
# emits): ``x[a:b] = v`` is ``x = slice_scatter(x, v, 0, a, b)``.
_SCATTER = {
    aten.slice.Tensor: aten.slice_scatter.default,
    aten.select.int: aten.select_scatter.default,
}


def _make_functional(
    node: fx.Node, func: object, order: dict[fx.Node, int], latest: dict[fx.Node, fx.Node]
) -> int:
    """``y = x.op_()`` becomes ``y = op(x)``, and every later reader of ``x`` reads ``y``:
    that is what the mutation meant (``embedding_renorm_`` is never read but still counts).
    When ``x`` is a slice of another tensor that is read later, the new value is written back
    into it. A write through any other view that is read later stays in place, so it is
    reported as unsupported instead of silently lost. Returns 1 if rewritten, else 0."""
    mutated = node.args[0] if node.args else None
    if not isinstance(mutated, fx.Node):
        node.target = func
        return 1
    chain = _view_chain(mutated)
    base = chain[-1].args[0] if chain else None
    if chain and _read_later([base, latest.get(base, base), *chain[1:]], node, order):
        if not all(v.target in _SCATTER for v in chain):
            return 0
        _write_back(node, func, chain, order, latest)
        return 1
    node.target = func
    _redirect(mutated, node, node, order)
    return 1


def _is_view(node: fx.Node) -> bool:
    """Whether ``node`` aliases its first input (a view op, or an item of a view op's list)."""
    if node.op != "call_function":
        return False
    if node.target is operator.getitem:
        src = node.args[0]
        return isinstance(src, fx.Node) and _is_view(src)
    if not isinstance(node.target, torch._ops.OpOverload):
        return False
    returns = node.target._schema.returns
    alias = returns[0].alias_info if returns else None
    return alias is not None and not alias.is_write


def _view_chain(node: fx.Node) -> list[fx.Node]:
    """The views ``node`` is taken through, innermost first ([] when it is no view)."""
    chain = []
    while isinstance(node, fx.Node) and _is_view(node):
        chain.append(node)
        node = node.args[0]
    return chain


def _read_later(nodes: list[fx.Node], after: fx.Node, order: dict[fx.Node, int]) -> bool:
    return any(order.get(u, -1) > order[after] for n in nodes for u in n.users)


def _redirect(old: fx.Node, new: fx.Node, at: fx.Node, order: dict[fx.Node, int]) -> None:
    """Readers of ``old`` that come after ``at`` read ``new``."""
    for user in list(old.users):
        if user is not at and order.get(user, -1) > order[at]:
            user.replace_input_with(old, new)


def _write_back(
    node: fx.Node,
    func: object,
    chain: list[fx.Node],
    order: dict[fx.Node, int],
    latest: dict[fx.Node, fx.Node],
) -> None:
    """``base[i][j].op_()`` becomes ``v = op(base[i][j])``, then the scatters that put ``v``
    back level by level; later readers of the base and of each view read the new values."""
    graph, base = node.graph, chain[-1].args[0]
    current = latest.get(base, base)  # the base's value after earlier writes into it
    views = _current_views(chain, current, node)
    node.target, node.args = func, (views[0], *node.args[1:])
    value, parents = node, [*views[1:], current]
    news = [node]
    for view, parent in zip(chain, parents):
        with graph.inserting_after(value):
            args = (parent, value, *view.args[1:])
            value = graph.call_function(_SCATTER[view.target], args, dict(view.kwargs))
        value.meta.update({**node.meta, "val": parent.meta.get("val")})
        news.append(value)
    for old, new in zip([*chain, current], news):
        _redirect(old, new, node, order)
    latest[base] = value


def _current_views(chain: list[fx.Node], current: fx.Node, before: fx.Node) -> list[fx.Node]:
    """The views of ``chain`` taken again from the base's current value (the base was written
    through a view already: the old views hold stale values); ``chain`` itself otherwise."""
    if current is chain[-1].args[0]:
        return chain
    graph, views, parent = before.graph, [], current
    with graph.inserting_before(before):
        for view in reversed(chain):
            parent = graph.call_function(view.target, (parent, *view.args[1:]), view.kwargs)
            parent.meta.update(view.meta)
            views.insert(0, parent)
    return views


def _eliminate_dead(graph: fx.Graph) -> int:
    removed = 0
    for node in reversed(list(graph.nodes)):
        if node.op in ("placeholder", "output") or node.users:
            continue
        if node.op == "call_function" and node.target is not operator.getitem:
            if isinstance(node.target, torch._ops.OpOverload) and node.target._schema.is_mutable:
                continue
        graph.erase_node(node)
        removed += 1
    return removed
