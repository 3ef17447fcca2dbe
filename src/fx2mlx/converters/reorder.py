"""Ops that reorder elements: ``flip`` and ``roll`` (axes remapped to the layout), and
``pixel_shuffle``/``pixel_unshuffle`` (on PyTorch's layout or on channels-last images)."""

from __future__ import annotations

import torch
from torch import fx

from ..emit_ctx import EmitCtx, op_args
from ..expr import ATOM, Expr, call
from ..layout import Decision, Perm, canonical, channels_last, identity, keep
from .registry import register_op

aten = torch.ops.aten


@register_op(aten.flip.default, layout=keep)
def flip(node: fx.Node, ctx: EmitCtx) -> Expr:
    # MLX has no flip; a negative-step slice reverses an axis.
    src = ctx.arg("self")
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
        flat = f"mx.roll({ctx.x(src, ATOM)}.flatten(), {shifts[0]!r})"
        return Expr(f"{flat}.reshape({ctx.x(src, ATOM)}.shape)")
    axes = ctx.axes(src, dims)
    shift = shifts[0] if len(shifts) == 1 else tuple(shifts)
    axis = axes[0] if len(axes) == 1 else tuple(axes)
    return call("mx.roll", ctx.a("self"), repr(shift), axis=repr(axis))


def pixel_shuffle_layout(node: fx.Node, perms: dict[fx.Node, Perm]) -> Decision:
    """A channels-last image stays channels-last (inside a conv stack); anything else is
    shuffled in PyTorch's layout."""
    src = op_args(node)["self"]
    p = perms[src]
    if len(p) == 4 and p == channels_last(4):
        return Decision({src: p}, p)
    return Decision({src: identity(len(p))}, identity(len(p)))


@register_op(aten.pixel_shuffle.default, aten.pixel_unshuffle.default, layout=pixel_shuffle_layout)
def pixel_shuffle(node: fx.Node, ctx: EmitCtx) -> Expr:
    shuffle = node.target is aten.pixel_shuffle.default
    fn = ctx.helper("pixel_shuffle" if shuffle else "pixel_unshuffle")
    factor = ctx.a("upscale_factor" if shuffle else "downscale_factor")
    src = ctx.arg("self")
    if ctx.perm(src) == identity(ctx.rank(src)):
        return call(fn, ctx.a("self"), factor)
    return call(fn, ctx.a("self"), factor, channels_last="True")
