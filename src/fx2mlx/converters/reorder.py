"""Ops that reorder elements along axes: ``flip`` and ``roll`` (axes remapped to the layout)."""

from __future__ import annotations

import torch
from torch import fx

from ..emit_ctx import EmitCtx, op_args
from ..expr import ATOM, Expr, call
from ..layout import Decision, Perm, canonical, keep
from .registry import register_op

aten = torch.ops.aten


@register_op(aten.flip.default, layout=keep)
def flip(node: fx.Node, ctx: EmitCtx) -> Expr:
    # MLX has no flip; a negative-step slice reverses an axis.
    src = ctx.arg("self")
    if not ctx.arg("dims") or ctx.rank(src) == 0:  # nothing to reverse
        return Expr(ctx.x(src, ATOM))
    axes = set(ctx.axes(src, list(ctx.arg("dims"))))
    last = max(axes)
    items = ["::-1" if a in axes else ":" for a in range(last + 1)]
    return Expr(f"{ctx.x(src, ATOM)}[{', '.join(items)}]")


def roll_layout(node: fx.Node, perms: dict[fx.Node, Perm]) -> Decision:
    """Rolling the flattened tensor depends on element order: that needs torch's layout."""
    return keep(node, perms) if op_args(node)["dims"] else canonical(node, perms)


@register_op(aten.roll.default, layout=roll_layout)
def roll(node: fx.Node, ctx: EmitCtx) -> Expr:
    src, shifts, dims = ctx.arg("self"), list(ctx.arg("shifts")), list(ctx.arg("dims"))
    if not dims:
        # torch rolls the flattened tensor, then restores the shape
        flat = f"mx.roll({ctx.x(src, ATOM)}.flatten(), {ctx.x(shifts[0])})"
        return Expr(f"{flat}.reshape({ctx.x(src, ATOM)}.shape)")
    axes = ctx.axes(src, dims)
    shift = shifts[0] if len(shifts) == 1 else tuple(shifts)
    axis = axes[0] if len(axes) == 1 else tuple(axes)
    # a shift may be a symbolic size (fftshift rolls by shape // 2)
    return call("mx.roll", ctx.a("self"), ctx.x(shift), axis=repr(axis))
