"""``nn.Embedding`` as an MLX layer; functional ``embedding`` as a row lookup."""

from __future__ import annotations

import torch
from torch import fx, nn

from ..emit_ctx import EmitCtx
from ..expr import ATOM, Expr, call
from ..layout import canonical
from .helpers import HELPERS
from .registry import Ctor, register_layer, register_op

aten = torch.ops.aten


@register_layer(nn.Embedding, "nn.Embedding", layout=canonical)
def build_embedding(emb: nn.Embedding) -> Ctor | None:
    if emb.max_norm is not None:
        return None  # max_norm renormalizes rows in place at lookup time
    return Ctor(
        "nn.Embedding", [("num_embeddings", emb.num_embeddings), ("dims", emb.embedding_dim)]
    )


@register_op(aten.embedding.default)
def embedding(node: fx.Node, ctx: EmitCtx) -> Expr:
    return Expr(f"{ctx.a(0, ATOM)}[{ctx.a(1)}]")


RENORM = '''
def embedding_renorm(weight, indices, max_norm, norm_type=2.0):
    """PyTorch's max_norm lookup: rows that are looked up and longer than max_norm shrink."""
    norms = mx.sum(mx.abs(weight) ** norm_type, axis=-1, keepdims=True) ** (1.0 / norm_type)
    used = mx.zeros((weight.shape[0], 1)).at[indices.reshape(-1)].add(1.0) > 0
    scale = mx.where(used & (norms > max_norm), max_norm / (norms + 1e-7), 1.0)
    return weight * scale
'''

HELPERS["embedding_renorm"] = (RENORM, [], [])


@register_op(aten.embedding_renorm.default)
def embedding_renorm(node: fx.Node, ctx: EmitCtx) -> Expr:
    """The functional form of ``embedding_renorm_`` (normalize_graph made later reads use it)."""
    fn = ctx.helper("embedding_renorm")
    return call(fn, ctx.a(0), ctx.a(1), ctx.a(2), ctx.a(3))
