"""Sliding blocks: ``F.unfold`` (im2col), ``F.fold`` (col2im) and ``Tensor.unfold``, exact.

MLX has none of them. The image ops work on channels-last images, so inside a conv stack
they need no transpose; their block matrix is stored transposed, ``(N, L, C*k*k)``, the
layout in which blocks come out of (and go back into) a channels-last image.
"""

from __future__ import annotations

import torch
from torch import fx

from ..emit_ctx import EmitCtx, op_args
from ..expr import Expr, call
from ..layout import Decision, Perm, rank_of
from .registry import register_op

aten = torch.ops.aten


def _image(rank: int) -> Perm:
    """(N, C, H, W) stored (N, H, W, C); an unbatched (C, H, W) stored (H, W, C)."""
    lead = tuple(range(rank - 3))
    return (*lead, rank - 2, rank - 1, rank - 3)


def _blocks(rank: int) -> Perm:
    """(N, C*k*k, L) stored (N, L, C*k*k); an unbatched (C*k*k, L) stored (L, C*k*k)."""
    lead = tuple(range(rank - 2))
    return (*lead, rank - 1, rank - 2)


def im2col_layout(node: fx.Node, perms: dict[fx.Node, Perm]) -> Decision:
    src = op_args(node)["self"]
    return Decision({src: _image(rank_of(src) or 0)}, _blocks(rank_of(node) or 0))


def col2im_layout(node: fx.Node, perms: dict[fx.Node, Perm]) -> Decision:
    src = op_args(node)["self"]
    return Decision({src: _blocks(rank_of(src) or 0)}, _image(rank_of(node) or 0))


def _geometry(ctx: EmitCtx) -> dict[str, str]:
    """The helper's keywords, in its order (``kernel`` is torch's ``kernel_size``)."""
    names = {"kernel": "kernel_size", "dilation": "dilation", "padding": "padding", "stride": ""}
    return {key: ctx.x(tuple(ctx.arg(name or key))) for key, name in names.items()}


@register_op(aten.im2col.default, layout=im2col_layout)
def im2col(node: fx.Node, ctx: EmitCtx) -> Expr:
    return call(ctx.helper("im2col"), ctx.a("self"), **_geometry(ctx))


@register_op(aten.col2im.default, layout=col2im_layout)
def col2im(node: fx.Node, ctx: EmitCtx) -> Expr:
    size = ctx.x(tuple(ctx.arg("output_size")))
    return call(ctx.helper("col2im"), ctx.a("self"), size, **_geometry(ctx))


def unfold_layout(node: fx.Node, perms: dict[fx.Node, Perm]) -> Decision:
    """Any layout: the window axis is new and last, in storage as in PyTorch."""
    src = op_args(node)["self"]
    p = perms[src]
    return Decision({src: p}, (*p, len(p)))


@register_op(aten.unfold.default, layout=unfold_layout)
def unfold(node: fx.Node, ctx: EmitCtx) -> Expr:
    src = ctx.arg("self")
    axis = ctx.axis(src, ctx.arg("dimension")) if ctx.rank(src) else 0
    return call(ctx.helper("unfold"), ctx.a("self"), str(axis), ctx.a("size"), ctx.a("step"))
