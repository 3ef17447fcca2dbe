"""Tensor creation: arange, zeros/ones/full (and *_like, new_*), tril/triu, scalar_tensor."""

from __future__ import annotations

import torch
from torch import fx

from ..emit_ctx import EmitCtx, dtype_expr
from ..expr import ATOM, Expr, call
from .registry import register_op

aten = torch.ops.aten


def _shape(ctx: EmitCtx, sizes: list[object]) -> str:
    items = [ctx.x(s) for s in sizes]
    return f"({', '.join(items)}{',' if len(items) == 1 else ''})"


def _dtype_kw(ctx: EmitCtx) -> dict[str, str]:
    return {"dtype": dtype_expr(ctx.dtype())}


@register_op(aten.arange.default, aten.arange.start, aten.arange.start_step)
def arange(node: fx.Node, ctx: EmitCtx) -> Expr:
    args = [ctx.a("end")] if node.target is aten.arange.default else [ctx.a("start"), ctx.a("end")]
    if ctx.arg("step", 1) != 1:  # only arange.start_step has a step
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
    return call(_FILL[node.target], _shape(ctx, ctx.arg("size")), **_dtype_kw(ctx))


@register_op(aten.full.default, aten.new_full.default)
def full(node: fx.Node, ctx: EmitCtx) -> Expr:
    return call("mx.full", _shape(ctx, ctx.arg("size")), ctx.a("fill_value"), **_dtype_kw(ctx))


_LIKE = {aten.zeros_like.default: "mx.zeros_like", aten.ones_like.default: "mx.ones_like"}


@register_op(*_LIKE)
def like(node: fx.Node, ctx: EmitCtx) -> Expr:
    text = call(_LIKE[node.target], ctx.a("self"))
    if ctx.dtype() != ctx.dtype(ctx.arg("self")):
        return Expr(f"{text.text}.astype({dtype_expr(ctx.dtype())})")
    return text


@register_op(aten.full_like.default)
def full_like(node: fx.Node, ctx: EmitCtx) -> Expr:
    return call("mx.full", f"{ctx.a('self', ATOM)}.shape", ctx.a("fill_value"), **_dtype_kw(ctx))


@register_op(aten.scalar_tensor.default)
def scalar_tensor(node: fx.Node, ctx: EmitCtx) -> Expr:
    return call("mx.array", ctx.a("s"), **_dtype_kw(ctx))


@register_op(aten.tril.default, aten.triu.default)
def tri(node: fx.Node, ctx: EmitCtx) -> Expr:
    fn = "mx.tril" if node.target is aten.tril.default else "mx.triu"
    k = ctx.arg("diagonal")
    return call(fn, ctx.a("self"), *([ctx.x(k)] if k else []))


@register_op(aten.fill.Scalar, aten.zero.default)
def fill_scalar(node: fx.Node, ctx: EmitCtx) -> Expr:
    """``x.fill_(v)``, ``x.zero_()``: a new array of x's shape (normalize_graph writes it back
    where x was a view)."""
    value = "0" if node.target is aten.zero.default else ctx.a("value")
    return call("mx.full", f"{ctx.a('self', ATOM)}.shape", value, **_dtype_kw(ctx))


@register_op(aten.fill.Tensor, aten.copy.default)
def fill_tensor(node: fx.Node, ctx: EmitCtx) -> Expr:
    """``x.fill_(t)``, ``x.copy_(src)``: ``t`` broadcast to x's shape, in x's dtype."""
    value = ctx.arg("value") if node.target is aten.fill.Tensor else ctx.arg("src")
    text = call("mx.broadcast_to", ctx.x(value), f"{ctx.a('self', ATOM)}.shape").text
    if ctx.dtype(value) != ctx.dtype():
        text = f"{text}.astype({dtype_expr(ctx.dtype())})"
    return Expr(text)
