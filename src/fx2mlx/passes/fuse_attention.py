"""Pass: attention written out becomes ``scaled_dot_product_attention``.

Hugging Face's "eager" attention and timm's write attention as ``softmax(q @ k^T * scale +
mask) @ v``. That is MLX's ``mx.fast.scaled_dot_product_attention`` (one fused kernel, no
(L, L) score tensor kept) when the math is the same: the chain between the two matmuls is read
for the scale (``* s``, ``/ s``) and an additive mask, and the rewrite is kept only if the
written-out subgraph and the fused op agree on random inputs (``fusion_proof``). Later passes
(causal masks, grouped k/v) then apply to it as to any sdpa.
"""

from __future__ import annotations

import torch
from torch import fx

from ..capture import Captured
from ..meta import UNGUARDED
from .fusion_proof import region, replace, rewrite_each, same_function

aten = torch.ops.aten
SDPA = aten.scaled_dot_product_attention.default
_MATMULS = {aten.matmul.default}
_SOFTMAX = {aten.softmax.int, aten._softmax.default}
_SWAPS = {aten.transpose.int}


def fuse_attention(captured: Captured) -> int:
    """Rewrite each written-out attention that provably equals sdpa; returns how many."""
    return rewrite_each(captured, _MATMULS, _fuse)


def _fuse(captured: Captured, out: fx.Node) -> bool:
    probs, v = out.args[:2]
    if not _is_softmax(probs) or not isinstance(v, fx.Node):
        return False
    scores, scale, mask = _scores(probs.args[0])
    if scores is None or scores.target not in _MATMULS or len(scores.args) != 2:
        return False
    q, kt = scores.args
    k = kt.args[0] if _swaps_last_two(kt) else None
    if not isinstance(q, fx.Node) or k is None or not _ranks_fit(q, k, v):
        return False
    inputs = [q, k, v] + ([mask] if mask is not None else [])
    if region(inputs, out) is None:
        return False

    def fused(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *m: torch.Tensor) -> object:
        return SDPA(q, k, v, attn_mask=m[0] if m else None, scale=scale)

    if not same_function(captured, inputs, out, fused):
        return False
    node = replace(captured, out, SDPA, (q, k, v), {"attn_mask": mask, "scale": scale})
    # written-out softmax gives NaN on a fully masked row (no zeroing), and so does MLX's
    node.meta[UNGUARDED] = True
    return True


def _is_softmax(node: object) -> bool:
    if not isinstance(node, fx.Node) or node.target not in _SOFTMAX:
        return False
    rank = node.meta["val"].dim()
    return node.args[1] in (-1, rank - 1)


def _scores(node: fx.Node) -> tuple[fx.Node | None, float, fx.Node | None]:
    """Walk from the softmax's input back to the scores matmul: (matmul, scale, mask)."""
    scale, mask = 1.0, None
    while isinstance(node, fx.Node) and node.target not in _MATMULS:
        a, b = (list(node.args) + [None, None])[:2]
        if node.kwargs or not isinstance(a, (fx.Node, int, float)):
            return None, scale, None
        if node.target is aten.mul.Tensor and _number(b):
            scale, node = scale * b, a
        elif node.target is aten.mul.Tensor and _number(a):
            scale, node = scale * a, b
        elif node.target is aten.div.Tensor and _number(b):
            scale, node = scale / b, a
        elif node.target is aten.add.Tensor and mask is None and isinstance(b, fx.Node):
            node, mask = _mask_split(a, b)
        else:
            return None, scale, None
    return node, float(scale), mask


def _mask_split(a: fx.Node, b: fx.Node) -> tuple[fx.Node, fx.Node]:
    """(scores side, mask side) of an addition: the mask is the side without a matmul."""
    return (b, a) if _reaches_matmul(b) and not _reaches_matmul(a) else (a, b)


def _reaches_matmul(node: object, depth: int = 4) -> bool:
    if not isinstance(node, fx.Node) or depth == 0:
        return False
    return node.target in _MATMULS or any(_reaches_matmul(n, depth - 1) for n in node.args)


def _number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and x != 0


def _swaps_last_two(node: object) -> bool:
    if not isinstance(node, fx.Node) or node.target not in _SWAPS:
        return False
    rank = node.meta["val"].dim()
    dims = {d % rank for d in node.args[1:3]}
    return dims == {rank - 2, rank - 1}


def _ranks_fit(q: fx.Node, k: object, v: fx.Node) -> bool:
    """Same-rank (batch, [heads,] length, dim) query, key and value, as MLX takes them."""
    vals = [n.meta.get("val") if isinstance(n, fx.Node) else None for n in (q, k, v)]
    if not all(isinstance(t, torch.Tensor) for t in vals):
        return False
    return len({t.dim() for t in vals}) == 1 and vals[0].dim() in (3, 4)
