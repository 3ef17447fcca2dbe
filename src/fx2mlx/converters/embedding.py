"""``nn.Embedding`` as an MLX layer; functional ``embedding`` as a row lookup."""

from __future__ import annotations

import torch
from torch import fx, nn

from ..codegen.ctx import EmitCtx
from ..codegen.expr import ATOM, Expr
from ..passes.assign_layout import canonical
from .registry import Ctor, register_layer, register_op

aten = torch.ops.aten


@register_layer(nn.Embedding, "nn.Embedding", layout=canonical)
def build_embedding(emb: nn.Embedding) -> Ctor | None:
    if emb.max_norm is not None:
        return None  # max_norm renormalizes rows in place at lookup time
    return Ctor("nn.Embedding", [("num_embeddings", emb.num_embeddings),
                                 ("dims", emb.embedding_dim)])


@register_op(aten.embedding.default)
def embedding(node: fx.Node, ctx: EmitCtx) -> Expr:
    return Expr(f"{ctx.a(0, ATOM)}[{ctx.a(1)}]")
