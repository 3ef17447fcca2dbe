"""Pass: drop an all-true factor of an attention mask.

A mask builder may ``&`` the real mask with a term that is true everywhere
(``arange(L)[:, None] >= 0``, a causal check on a bidirectional model): it only broadcasts
the mask to (batch, 1, query, key). Attention broadcasts its mask itself, so where the
result feeds attention masks only (directly, or as the condition of the ``where`` that makes
an additive mask of it), the other operand is used directly. The term must depend
on input sizes only and be all true at the example's sizes and at several others.

A whole mask that is all true (a model called without padding builds one from sizes alone)
masks nothing: attention then takes no mask, and the generated code builds none.
"""

from __future__ import annotations

import torch
from torch import fx

from ..capture import Captured
from ..emit_ctx import op_args
from .size_only import erase_unused, holds_at_every_size

aten = torch.ops.aten
_AND = {aten.logical_and.default, aten.bitwise_and.Tensor, aten.__and__.Tensor}
SDPA = aten.scaled_dot_product_attention.default
_WHERE = {aten.where.self, aten.where.ScalarOther, aten.where.ScalarSelf, aten.where.Scalar}


def true_masks(captured: Captured) -> int:
    """Drop each all-true factor of a mask only attention reads; returns how many."""
    done = 0
    for node in list(captured.graph.nodes):
        if node.op != "call_function" or node.target not in _AND or not _masks_only(node):
            continue
        for a, b in (node.args[:2], node.args[1::-1]):
            if isinstance(a, fx.Node) and isinstance(b, fx.Node) and _all_true(captured, a):
                node.replace_all_uses_with(b)
                captured.graph.erase_node(node)
                erase_unused(captured, a)
                done += 1
                break
    proven: dict[fx.Node, bool] = {}  # one mask usually feeds every layer's attention
    for node in list(captured.graph.nodes):
        if node.op == "call_function" and node.target is SDPA:
            done += _unmask(captured, node, proven)
    return done


def _unmask(captured: Captured, node: fx.Node, proven: dict[fx.Node, bool]) -> int:
    """Drop the attention mask of ``node`` if it is all true at every size."""
    mask = op_args(node).get("attn_mask")
    if not isinstance(mask, fx.Node):
        return 0
    if mask not in proven:
        proven[mask] = _all_true(captured, mask)
    if not proven[mask]:
        return 0
    if len(node.args) > 3:
        node.args = (*node.args[:3], None, *node.args[4:])
    else:
        node.kwargs = {k: v for k, v in node.kwargs.items() if k != "attn_mask"}
    erase_unused(captured, mask)
    return 1


def _masks_only(node: fx.Node) -> bool:
    """Every use of ``node`` is as an attention mask, or as the condition of a ``where``
    that makes an additive mask only attention reads (``where(m, 0, min)``)."""
    return bool(node.users) and all(
        (u.target is SDPA and op_args(u).get("attn_mask") is node and node not in u.args[:3])
        or (u.target in _WHERE and u.args[0] is node and node not in u.args[1:] and _masks_only(u))
        for u in node.users
    )


def _all_true(captured: Captured, node: fx.Node) -> bool:
    def check(t: object) -> bool:
        return isinstance(t, torch.Tensor) and t.dtype == torch.bool and bool(t.all())

    return holds_at_every_size(captured, node, check)
