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
    for node in list(graph.nodes):
        if node.op != "call_function":
            continue
        if (func := _functional(node.target)) is not None:
            _make_functional(node, func, order)
            changed += 1
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


def _make_functional(node: fx.Node, func: object, order: dict[fx.Node, int]) -> None:
    """``y = x.op_()`` becomes ``y = op(x)``, and every later reader of ``x`` reads ``y``:
    that is what the mutation meant (``embedding_renorm_`` is never read but still counts)."""
    node.target = func
    mutated = node.args[0] if node.args else None
    if not isinstance(mutated, fx.Node):
        return
    for user in list(mutated.users):
        if user is not node and order.get(user, -1) > order[node]:
            user.replace_input_with(mutated, node)


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
