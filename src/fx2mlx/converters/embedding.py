"""``nn.Embedding`` as an MLX layer; functional ``embedding`` as a row lookup."""

from __future__ import annotations

import torch
from torch import fx, nn

from ..emit_ctx import EmitCtx
from ..expr import ATOM, Expr, call
from ..layout import canonical
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
    return Expr(f"{ctx.a('weight', ATOM)}[{ctx.a('indices')}]")


@register_op(aten.embedding_renorm.default)
def embedding_renorm(node: fx.Node, ctx: EmitCtx) -> Expr:
    """The functional form of ``embedding_renorm_`` (normalize_graph made later reads use it)."""
    fn = ctx.helper("embedding_renorm")
    return call(fn, *(ctx.a(name) for name in ("self", "indices", "max_norm", "norm_type")))
