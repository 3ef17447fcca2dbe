"""Numeric ops that MLX spells differently: ``diff`` (along one axis) and ``round`` to a number
of decimals."""

from __future__ import annotations

import torch
from torch import fx

from ..emit_ctx import EmitCtx, dtype_expr, op_args
from ..expr import ATOM, Expr, binary, call, operand
from ..layout import elementwise, keep
from .registry import register_op

aten = torch.ops.aten


def check_diff(node: fx.Node) -> str | None:
    val = op_args(node)["self"].meta.get("val")
    if isinstance(val, torch.Tensor) and val.dtype is torch.bool:
        return "torch.diff on a bool tensor (torch takes a logical xor there)"
    return None


@register_op(aten.diff.default, layout=elementwise, check=check_diff)
def diff(node: fx.Node, ctx: EmitCtx) -> Expr:
    """torch.diff(x, n, dim, prepend, append): MLX's diff has no prepend/append; concatenate."""
    x = ctx.arg("self")
    if ctx.arg("n") == 0:  # torch returns the input as it is, without prepend or append
        return Expr(ctx.x(x, ATOM))
    axis = ctx.axis(x, ctx.arg("dim"))
    parts = [p for p in (ctx.arg("prepend"), x, ctx.arg("append")) if p is not None]
    data = (
        ctx.x(x)
        if len(parts) == 1
        else call("mx.concatenate", ctx.x(list(parts)), axis=str(axis)).text
    )
    n = ctx.arg("n")
    kwargs = {"axis": str(axis)} if n == 1 else {"n": ctx.x(n), "axis": str(axis)}
    return call("mx.diff", data, **kwargs)


_HALF_TYPES = (torch.float16, torch.bfloat16)


def check_round_decimals(node: fx.Node) -> str | None:
    if abs(op_args(node)["decimals"]) > 308:
        return "torch.round with |decimals| > 308 (10**decimals overflows a double)"
    return None


@register_op(aten.round.decimals, layout=keep, check=check_round_decimals)
def round_decimals(node: fx.Node, ctx: EmitCtx) -> Expr:
    """torch.round(x, decimals=d) as ATen computes it (in float32 for the half types, half to
    even): round(x * 10**d) / 10**d, or round(x / 10**-d) * 10**-d for a negative d. MLX's
    own ``decimals`` multiplies by the reciprocal, which rounds differently."""
    decimals = ctx.arg("decimals")
    x: fx.Node | Expr = ctx.arg("self")
    half = ctx.dtype() in _HALF_TYPES
    if half:
        x = Expr(f"{ctx.a('self', ATOM)}.astype(mx.float32)")
    scale = float(10 ** abs(decimals))
    if decimals == 0:
        out = call("mx.round", x)
    elif decimals > 0:
        out = binary("/", call("mx.round", binary("*", x, scale)), scale)
    else:
        out = binary("*", call("mx.round", binary("/", x, scale)), scale)
    if half:
        return Expr(f"{operand(out, ATOM)}.astype({dtype_expr(ctx.dtype())})")
    return out
