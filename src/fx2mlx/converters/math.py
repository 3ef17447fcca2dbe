"""Numeric sequence ops along one axis that MLX spells differently: ``diff``."""

from __future__ import annotations

import torch
from torch import fx

from ..emit_ctx import EmitCtx, op_args
from ..expr import ATOM, Expr, call
from ..layout import elementwise
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
