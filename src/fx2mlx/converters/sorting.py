"""Sorting along an axis: ``sort``, ``argsort``, ``topk`` (values and int64 indices), on any
layout (the axis is remapped).

MLX's argsort is stable, so ``stable=True`` matches torch exactly, ties included. Without it
torch leaves the order of tied values unspecified (its CPU kernel is not stable), and so is
the choice among tied values in ``topk``: on distinct values the indices are exact, on ties
the generated code picks the earliest index, a result torch also allows.
"""

from __future__ import annotations

import torch
from torch import fx

from ..emit_ctx import EmitCtx
from ..expr import ATOM, Expr, call
from ..layout import keep
from .registry import register_op

aten = torch.ops.aten


def _axis(ctx: EmitCtx) -> str:
    src = ctx.arg("self")
    return str(ctx.axis(src, ctx.arg("dim"))) if ctx.rank(src) else "0"


def _indices(ctx: EmitCtx) -> str:
    """Ascending int64 indices (MLX's argsort gives uint32)."""
    return f"{call('mx.argsort', ctx.a('self'), axis=_axis(ctx)).text}.astype(mx.int64)"


@register_op(aten.sort.default, aten.sort.stable, layout=keep)
def sort(node: fx.Node, ctx: EmitCtx) -> Expr:
    if ctx.rank(ctx.arg("self")) == 0:
        return Expr(f"({ctx.a('self')}, mx.array(0, dtype=mx.int64))")
    if ctx.arg("descending"):
        return call(ctx.helper("sort_descending"), ctx.a("self"), _axis(ctx))
    values = call("mx.sort", ctx.a("self"), axis=_axis(ctx)).text
    return Expr(f"({values}, {_indices(ctx)})")


@register_op(aten.argsort.default, aten.argsort.stable, layout=keep)
def argsort(node: fx.Node, ctx: EmitCtx) -> Expr:
    if ctx.rank(ctx.arg("self")) == 0:
        return Expr("mx.array(0, dtype=mx.int64)")
    if ctx.arg("descending"):
        return call(ctx.helper("argsort_descending"), ctx.a("self"), _axis(ctx))
    return Expr(_indices(ctx), ATOM)


@register_op(aten.topk.default, layout=keep)
def topk(node: fx.Node, ctx: EmitCtx) -> Expr:
    if not ctx.arg("sorted"):
        ctx.comment("sorted=False: torch leaves the order unspecified; this one is sorted")
    src = ctx.arg("self")
    x = ctx.a("self") if ctx.rank(src) else f"{ctx.x(src, ATOM)}.reshape(1)"
    largest = [] if ctx.arg("largest") else ["largest=False"]
    text = call(ctx.helper("topk"), x, ctx.a("k"), _axis(ctx), *largest).text
    return Expr(text if ctx.rank(src) else f"tuple(v.reshape(()) for v in {text})")
