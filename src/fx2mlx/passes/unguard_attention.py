"""Pass: attention masks that mask nothing go; attention that can't see an empty row loses its
guard.

A BERT called without padding still builds a (batch, 1, L, L) mask that is all true (or an
additive one that is all zero) and hands it to attention in every layer; the generated code
would also wrap each attention in ``mx.where(mx.any(mask, -1), out, 0)`` to give torch's zeros
for a query that may attend to no key. Where the mask depends on input sizes only
(``size_only``), it is evaluated at the example's sizes and at several others:
- masking nothing at every size, it is dropped (attention without a mask is the same);
- leaving every query at least one key at every size, the attention needs no zeroing
  (``meta.UNGUARDED``).
A mask computed from an input's values (a padding mask) is never touched.
"""

from __future__ import annotations

import math

import torch
from torch import fx

from ..capture import Captured
from ..capture.graph import size_expr
from ..emit_ctx import op_args
from ..meta import UNGUARDED
from .size_only import erase_unused, holds_at_every_size, val

aten = torch.ops.aten
SDPA = aten.scaled_dot_product_attention.default


def unguard_attention(captured: Captured) -> int:
    """Drop masks that mask nothing, unguard attention no query of which is fully masked;
    returns how many attention calls changed."""
    done = 0
    for node in list(captured.graph.nodes):
        if node.op != "call_function" or node.target is not SDPA:
            continue
        mask = op_args(node).get("attn_mask")
        if not isinstance(mask, fx.Node):
            continue
        if _inside_scores(node, mask) and holds_at_every_size(captured, mask, _masks_nothing):
            _drop(node)
            erase_unused(captured, mask)
            done += 1
        elif not node.meta.get(UNGUARDED) and holds_at_every_size(captured, mask, _no_empty_row):
            node.meta[UNGUARDED] = True
            done += 1
    return done


def _drop(node: fx.Node) -> None:
    if "attn_mask" in node.kwargs:
        node.update_kwarg("attn_mask", None)
    else:  # positional: sdpa's fourth argument
        node.args = (*node.args[:3], None, *node.args[4:])


def _inside_scores(node: fx.Node, mask: fx.Node) -> bool:
    """The mask broadcasts to the scores' shape without widening it (else it shapes the
    output, and dropping it would change that)."""
    args = op_args(node)
    q, k, m = (val(args["query"]), val(args["key"]), val(mask))
    scores = [*q.shape[:-1], k.shape[-2]]
    if m.dim() > len(scores):
        return False
    aligned = zip(reversed(list(m.shape)), reversed(scores))
    return all(size_expr(a) == 1 or size_expr(a) == size_expr(b) for a, b in aligned)


def _allowed(mask: object) -> torch.Tensor | None:
    """Where ``mask`` lets a query see a key (bool: True; additive: not -inf), or None."""
    if not isinstance(mask, torch.Tensor) or mask.dim() == 0:
        return None
    if mask.dtype == torch.bool:
        return mask
    return mask != -math.inf if mask.is_floating_point() else None


def _masks_nothing(mask: object) -> bool:
    if not isinstance(mask, torch.Tensor):
        return False
    if mask.dtype == torch.bool:
        return bool(mask.all())
    return mask.is_floating_point() and bool((mask == 0).all())


def _no_empty_row(mask: object) -> bool:
    allowed = _allowed(mask)
    return allowed is not None and bool(allowed.any(-1).all())
