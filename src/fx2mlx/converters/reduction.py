"""Reductions (mean, sum, amax, var, argmax, ...) and scans (cumsum, cumprod, cummax, ...) on
any layout: axes are remapped."""

from __future__ import annotations

import torch
from torch import fx

from ..emit_ctx import EmitCtx, dtype_expr, op_args
from ..expr import ATOM, LOWEST, Expr, binary, call
from ..layout import Decision, Perm, keep
from .registry import register_op

aten = torch.ops.aten


def _dims(node: fx.Node) -> list[int]:
    """The reduced PyTorch dims (all of them when the op reduces everything)."""
    args = op_args(node)
    r = args["self"].meta["val"].dim()
    dims = args.get("dim")  # mean(x) and sum(x) have none
    if dims is None or (isinstance(dims, (list, tuple)) and len(dims) == 0):
        return list(range(r))
    if isinstance(dims, int):
        dims = [dims]
    return sorted({d % max(r, 1) for d in dims})


def _keepdim(node: fx.Node) -> bool:
    return bool(op_args(node).get("keepdim", False))


def reduce_layout(node: fx.Node, perms: dict[fx.Node, Perm]) -> Decision:
    """Reduce on the stored layout; dropped axes leave the remaining order unchanged."""
    src = op_args(node)["self"]
    p = perms[src]
    if _keepdim(node):
        return Decision({src: p}, p)
    gone = _dims(node)
    out = tuple(a - sum(g < a for g in gone) for a in p if a not in gone)
    return Decision({src: p}, out)


def _axis_kwargs(node: fx.Node, ctx: EmitCtx) -> dict[str, str]:
    src = ctx.arg("self")
    r = ctx.rank(src)
    if r == 0:  # torch reduces a 0-d tensor over "dim 0" or -1; MLX reduces it without axis
        return {}
    dims = _dims(node)
    out: dict[str, str] = {}
    if len(dims) != r:
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
    aten.prod.default: "mx.prod",
    aten.any.dim: "mx.any",
    aten.any.dims: "mx.any",
    aten.any.default: "mx.any",
    aten.all.dim: "mx.all",
    aten.all.dims: "mx.all",
    aten.all.default: "mx.all",
    aten.logsumexp.default: "mx.logsumexp",
    aten.argmax.default: "mx.argmax",
    aten.argmin.default: "mx.argmin",
}


@register_op(*_REDUCE, layout=reduce_layout)
def reduce(node: fx.Node, ctx: EmitCtx) -> Expr:
    text = call(_REDUCE[node.target], ctx.a("self"), **_axis_kwargs(node, ctx))
    # MLX's argmax/argmin return uint32 and its sums and products of small integers int32;
    # torch returns int64 for all of them
    widened = node.target in _WIDENED and ctx.dtype() != ctx.dtype(ctx.arg("self"))
    if node.target in _INDEX or widened:
        return Expr(f"{text.text}.astype({dtype_expr(ctx.dtype())})")
    return text


_INDEX = {aten.argmax.default, aten.argmin.default}
_WIDENED = {aten.sum.dim_IntList, aten.sum.default, aten.prod.dim_int, aten.prod.default}


_VARS = {
    aten.var.correction: "mx.var",
    aten.var.dim: "mx.var",
    aten.var.default: "mx.var",
    aten.std.correction: "mx.std",
    aten.std.dim: "mx.std",
    aten.std.default: "mx.std",
}


def check_var(node: fx.Node) -> str | None:
    correction = op_args(node).get("correction")
    if correction is not None and correction != int(correction):
        return "a fractional correction (MLX's ddof is an integer)"
    return None


@register_op(*_VARS, layout=reduce_layout, check=check_var)
def var(node: fx.Node, ctx: EmitCtx) -> Expr:
    fn = _VARS[node.target]
    correction = ctx.arg("correction", None)  # the .dim and plain forms say `unbiased`
    if "unbiased" in ctx.args:
        correction = 1 if ctx.arg("unbiased") else 0
    ddof = 1 if correction is None else correction
    kwargs = _axis_kwargs(node, ctx)
    if ddof:
        kwargs["ddof"] = ctx.x(int(ddof))
    return call(fn, ctx.a("self"), **kwargs)


@register_op(aten.max.dim, aten.min.dim, layout=reduce_layout)
def max_dim(node: fx.Node, ctx: EmitCtx) -> Expr:
    """torch.max(x, dim) returns (values, indices)."""
    fn = "max" if node.target is aten.max.dim else "min"
    kwargs = _axis_kwargs(node, ctx)
    args = ", ".join(f"{k}={v}" for k, v in kwargs.items())
    x = ctx.a("self")
    # MLX's indices are uint32, torch's int64
    return Expr(f"(mx.{fn}({x}, {args}), mx.arg{fn}({x}, {args}).astype(mx.int64))")


_SCANS = {
    aten.cumsum.default: "mx.cumsum",
    aten.cumprod.default: "mx.cumprod",
    aten.logcumsumexp.default: "mx.logcumsumexp",
}


@register_op(*_SCANS, layout=keep)
def scan(node: fx.Node, ctx: EmitCtx) -> Expr:
    src, out = ctx.arg("self"), ctx.dtype()
    # torch scans integers in int64 (or in the dtype asked for), and accumulates half
    # precision in float32, rounding each output once
    inner = torch.float32 if out in (torch.float16, torch.bfloat16) else out
    casts = [out] if out != ctx.dtype(src) else []  # torch converts the input first
    casts += [inner] if inner != out else []
    x = ctx.a("self", ATOM if casts else LOWEST)
    for dtype in casts:
        x = f"{x}.astype({dtype_expr(dtype)})"
    if ctx.rank(src) > 0:
        x = call(_SCANS[node.target], x, axis=str(ctx.axis(src, ctx.arg("dim")))).text
    return Expr(x if inner == out else f"{x}.astype({dtype_expr(out)})")


@register_op(aten.cummax.default, aten.cummin.default, layout=keep)
def cummax(node: fx.Node, ctx: EmitCtx) -> Expr:
    """Running max/min and where it was last reached (values, indices)."""
    src = ctx.arg("self")
    fn = ctx.helper("cummax" if node.target is aten.cummax.default else "cummin")
    return call(fn, ctx.a("self"), str(ctx.axis(src, ctx.arg("dim")) if ctx.rank(src) else 0))


@register_op(aten.linalg_vector_norm.default, layout=reduce_layout)
def vector_norm(node: fx.Node, ctx: EmitCtx) -> Expr:
    """``torch.linalg.vector_norm`` (and ``Tensor.norm``): MLX's own norm is the 2-norm only."""
    order = ctx.arg("ord")
    kwargs = ", ".join(f"{k}={v}" for k, v in _axis_kwargs(node, ctx).items())
    kwargs = f", {kwargs}" if kwargs else ""
    x = ctx.a("self")
    if order == float("inf"):
        return Expr(f"mx.max(mx.abs({x}){kwargs})")
    if order == -float("inf"):
        return Expr(f"mx.min(mx.abs({x}){kwargs})")
    if order == 0:  # the number of non-zero elements
        return Expr(f"mx.sum({x} != 0{kwargs}).astype({dtype_expr(ctx.dtype())})")
    if order == 1:
        return Expr(f"mx.sum(mx.abs({x}){kwargs})")
    if order == 2:
        return Expr(f"mx.sqrt(mx.sum(mx.square({x}){kwargs}))")
    powered = binary("**", call("mx.abs", x), order)
    return binary("**", Expr(f"mx.sum({powered.text}{kwargs})"), 1 / order)
