"""Tensor creation: arange, zeros/ones/full (and *_like, new_*), tril/triu, scalar_tensor."""

from __future__ import annotations

import torch
from torch import fx

from ..emit_ctx import EmitCtx, dtype_expr
from ..expr import ATOM, Expr, call
from .registry import register_op

aten = torch.ops.aten


def _shape(ctx: EmitCtx, sizes: object) -> str:
    items = [ctx.x(s) for s in sizes]  # type: ignore[union-attr]
    return f"({', '.join(items)}{',' if len(items) == 1 else ''})"


def _dtype_kw(ctx: EmitCtx) -> dict[str, str]:
    return {"dtype": dtype_expr(ctx.dtype())}


@register_op(aten.arange.default, aten.arange.start, aten.arange.start_step)
def arange(node: fx.Node, ctx: EmitCtx) -> Expr:
    if node.target is aten.arange.default:
        args = [ctx.a(0)]
    else:
        args = [ctx.a(0), ctx.a(1)]
        if node.target is aten.arange.start_step and ctx.arg("step", 1) != 1:
            args.append(ctx.a("step"))
    return call("mx.arange", *args, **_dtype_kw(ctx))


_FILL = {
    aten.zeros.default: "mx.zeros",
    aten.ones.default: "mx.ones",
    aten.empty.memory_format: "mx.zeros",
    aten.new_zeros.default: "mx.zeros",
    aten.new_ones.default: "mx.ones",
    aten.new_empty.default: "mx.zeros",
}


@register_op(*_FILL)
def fill(node: fx.Node, ctx: EmitCtx) -> Expr:
    sizes = (
        ctx.arg(1)
        if node.target in (aten.new_zeros.default, aten.new_ones.default, aten.new_empty.default)
        else ctx.arg(0)
    )
    return call(_FILL[node.target], _shape(ctx, sizes), **_dtype_kw(ctx))


@register_op(aten.full.default, aten.new_full.default)
def full(node: fx.Node, ctx: EmitCtx) -> Expr:
    if node.target is aten.full.default:
        sizes, value = ctx.arg(0), ctx.arg(1)
    else:
        sizes, value = ctx.arg(1), ctx.arg(2)
    return call("mx.full", _shape(ctx, sizes), ctx.x(value), **_dtype_kw(ctx))


_LIKE = {aten.zeros_like.default: "mx.zeros_like", aten.ones_like.default: "mx.ones_like"}


@register_op(*_LIKE)
def like(node: fx.Node, ctx: EmitCtx) -> Expr:
    text = call(_LIKE[node.target], ctx.a(0))
    if ctx.dtype() != ctx.dtype(ctx.arg(0)):
        return Expr(f"{text.text}.astype({dtype_expr(ctx.dtype())})")
    return text


@register_op(aten.full_like.default)
def full_like(node: fx.Node, ctx: EmitCtx) -> Expr:
    return call("mx.full", f"{ctx.a(0, ATOM)}.shape", ctx.a(1), **_dtype_kw(ctx))


@register_op(aten.scalar_tensor.default)
def scalar_tensor(node: fx.Node, ctx: EmitCtx) -> Expr:
    return call("mx.array", ctx.a(0), **_dtype_kw(ctx))


@register_op(aten.tril.default, aten.triu.default)
def tri(node: fx.Node, ctx: EmitCtx) -> Expr:
    fn = "mx.tril" if node.target is aten.tril.default else "mx.triu"
    k = ctx.arg("diagonal", 0)
    return call(fn, ctx.a(0), *([ctx.x(k)] if k else []))
