"""Pass: drop operations that return their input unchanged.

Library code (attention-mask builders above all) is full of ``x[:]``, ``x + 0``,
``x.expand(x.shape)`` and ``True & mask``; PyTorch needs them for its own reasons, the
generated code reads better without them. An op is dropped only when its result has its
input's exact shape and dtype.
"""

from __future__ import annotations

import torch
from torch import fx

from ..capture import Captured
from ..emit_ctx import OPEN_END, op_args

aten = torch.ops.aten
_ADD = {aten.add.Tensor, aten.add.Scalar, aten.sub.Tensor, aten.sub.Scalar}
_MUL = {aten.mul.Tensor, aten.mul.Scalar, aten.div.Tensor, aten.div.Scalar}
_AND = {aten.logical_and.default, aten.bitwise_and.Tensor, aten.__and__.Tensor}


def _val(value: object) -> torch.Tensor | None:
    val = value.meta.get("val") if isinstance(value, fx.Node) else None
    return val if isinstance(val, torch.Tensor) else None


def _same(node: fx.Node, src: object) -> bool:
    a, b = _val(node), _val(src)
    return a is not None and b is not None and a.dtype == b.dtype and a.shape == b.shape


def _full_slice(node: fx.Node) -> bool:
    args = op_args(node)
    start, end, step = args["start"], args["end"], args["step"]
    size = _val(args["self"]).shape[args["dim"]]  # type: ignore[union-attr]
    whole = end is None or (isinstance(end, int) and (end >= OPEN_END or end == size))
    return start in (None, 0) and (step in (None, 1)) and whole


def _true_scalar(value: object) -> bool:
    """A 0-d boolean ``True`` built by ``ones``/``full`` in the graph."""
    if not isinstance(value, fx.Node) or value.target not in (
        aten.ones.default,
        aten.full.default,
        aten.new_ones.default,
    ):
        return False
    val = _val(value)
    fill = value.args[1] if value.target is aten.full.default else True
    return val is not None and val.dim() == 0 and val.dtype == torch.bool and bool(fill)


def _identity_source(node: fx.Node) -> object | None:
    """The input ``node`` merely passes through, or None."""
    target, args = node.target, node.args
    if target is aten.slice.Tensor and _full_slice(node):
        return args[0]
    if target in _ADD and len(args) > 1 and not isinstance(args[1], fx.Node) and args[1] == 0:
        return args[0]
    if target in _MUL and len(args) > 1 and not isinstance(args[1], fx.Node) and args[1] == 1:
        return args[0]
    if target in (aten.expand.default, aten.view.default, aten.reshape.default):
        return args[0]
    if target in _AND:
        if _true_scalar(args[0]):
            return args[1]
        if _true_scalar(args[1]):
            return args[0]
    return None


def simplify_graph(captured: Captured) -> int:
    """Remove pass-through ops; returns how many."""
    removed = 0
    for node in list(captured.graph.nodes):
        if node.op != "call_function" or node.kwargs.get("alpha", 1) != 1:
            continue
        src = _identity_source(node)
        if isinstance(src, fx.Node) and _same(node, src):
            node.replace_all_uses_with(src)
            captured.graph.erase_node(node)
            removed += 1
    for node in reversed(list(captured.graph.nodes)):
        if node.op == "call_function" and not node.users and _true_scalar(node):
            captured.graph.erase_node(node)
    return removed
