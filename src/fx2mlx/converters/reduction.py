"""Reductions (mean, sum, amax, var, argmax, ...) on any layout: axes are remapped."""

from __future__ import annotations

import torch
from torch import fx

from ..codegen.ctx import EmitCtx
from ..codegen.expr import Expr, call
from ..passes.assign_layout import Decision, Perm, keep
from .registry import register_op

aten = torch.ops.aten


def _dims(node: fx.Node) -> list[int]:
    """The reduced PyTorch dims (all of them when the op reduces everything)."""
    r = node.args[0].meta["val"].dim()
    dims = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim")
    if dims is None or (isinstance(dims, (list, tuple)) and len(dims) == 0):
        return list(range(r))
    if isinstance(dims, int):
        dims = [dims]
    return sorted({d % max(r, 1) for d in dims})


def _keepdim(node: fx.Node) -> bool:
    schema = node.target._schema
    names = [a.name for a in schema.arguments]
    if "keepdim" not in names:
        return False
    i = names.index("keepdim")
    return bool(node.args[i] if i < len(node.args) else node.kwargs.get("keepdim", False))


def reduce_layout(node: fx.Node, perms: dict[fx.Node, Perm]) -> Decision:
    """Reduce on the stored layout; dropped axes leave the remaining order unchanged."""
    src = node.args[0]
    p = perms[src]
    if _keepdim(node):
        return Decision({src: p}, p)
    gone = _dims(node)
    out = tuple(a - sum(g < a for g in gone) for a in p if a not in gone)
    return Decision({src: p}, out)


def _axis_kwargs(node: fx.Node, ctx: EmitCtx) -> dict[str, str]:
    src = ctx.arg(0)
    r = ctx.rank(src)
    dims = _dims(node)
    out: dict[str, str] = {}
    if len(dims) != r or r == 0:
        axes = sorted(ctx.axis(src, d) for d in dims)
        out["axis"] = str(axes[0]) if len(axes) == 1 else ctx.x(tuple(axes))
    if _keepdim(node):
        out["keepdims"] = "True"
    return out


_REDUCE = {
    aten.mean.dim: "mx.mean",
    aten.mean.default: "mx.mean",
    aten.sum.dim_IntList: "mx.sum",
    aten.sum.default: "mx.sum",
    aten.amax.default: "mx.max",
    aten.amin.default: "mx.min",
    aten.prod.dim_int: "mx.prod",
    aten.any.dim: "mx.any",
    aten.all.dim: "mx.all",
    aten.logsumexp.default: "mx.logsumexp",
    aten.argmax.default: "mx.argmax",
    aten.argmin.default: "mx.argmin",
}


@register_op(*_REDUCE, layout=reduce_layout)
def reduce(node: fx.Node, ctx: EmitCtx) -> Expr:
    text = call(_REDUCE[node.target], ctx.a(0), **_axis_kwargs(node, ctx))
    if node.target in (aten.sum.dim_IntList, aten.sum.default) and ctx.dtype() != ctx.dtype(ctx.arg(0)):
        return Expr(f"{text.text}.astype({_dtype(ctx)})")
    return text


def _dtype(ctx: EmitCtx) -> str:
    from ..codegen.ctx import dtype_expr

    return dtype_expr(ctx.dtype())


@register_op(aten.var.correction, aten.std.correction, layout=reduce_layout)
def var(node: fx.Node, ctx: EmitCtx) -> Expr:
    fn = "mx.var" if node.target is aten.var.correction else "mx.std"
    correction = ctx.arg("correction", None)
    ddof = 1 if correction is None else correction
    kwargs = _axis_kwargs(node, ctx)
    if ddof:
        kwargs["ddof"] = ctx.x(int(ddof))
    return call(fn, ctx.a(0), **kwargs)


@register_op(aten.max.dim, aten.min.dim, layout=reduce_layout)
def max_dim(node: fx.Node, ctx: EmitCtx) -> Expr:
    """torch.max(x, dim) returns (values, indices)."""
    fn = "max" if node.target is aten.max.dim else "min"
    kwargs = _axis_kwargs(node, ctx)
    args = ", ".join(f"{k}={v}" for k, v in kwargs.items())
    x = ctx.a(0)
    return Expr(f"(mx.{fn}({x}, {args}), mx.arg{fn}({x}, {args}))")


@register_op(aten.cumsum.default, layout=keep)
def cumsum(node: fx.Node, ctx: EmitCtx) -> Expr:
    return call("mx.cumsum", ctx.a(0), axis=str(ctx.axis(ctx.arg(0), ctx.arg(1))))
