"""``F.pad`` / ``aten.pad`` and its mode-specific forms as ``mx.pad`` (or a circular helper)."""

from __future__ import annotations

import torch
from torch import fx

from ..emit_ctx import EmitCtx, op_args
from ..expr import Expr, call
from ..layout import keep
from .registry import register_op

aten = torch.ops.aten

MX_PAD_MODES = {
    "constant": "constant",
    "zeros": "constant",
    "reflect": "reflect",
    "replicate": "edge",
}
"""torch padding mode (``F.pad``'s, or a conv's ``padding_mode``) -> ``mx.pad`` mode. Both
"reflect"s exclude the edge value, "edge" repeats it; "circular" has no ``mx.pad`` mode (the
``circular_pad`` helper does it)."""

_MODE_OPS = {
    aten.reflection_pad1d.default: "reflect",
    aten.reflection_pad2d.default: "reflect",
    aten.reflection_pad3d.default: "reflect",
    aten.replication_pad1d.default: "replicate",
    aten.replication_pad2d.default: "replicate",
    aten.replication_pad3d.default: "replicate",
    aten._pad_circular.default: "circular",
}


def _mode(node: fx.Node) -> str:
    if node.target in _MODE_OPS:
        return _MODE_OPS[node.target]
    return op_args(node).get("mode", "constant")


def _widths_arg(node: fx.Node) -> list[int]:
    """torch's flat (last_lo, last_hi, prev_lo, ...); the reflection/replication ops call it
    ``padding``, the others ``pad``."""
    args = op_args(node)
    return list(args["pad"] if "pad" in args else args["padding"])


def check_pad(node: fx.Node) -> str | None:
    if any(not isinstance(p, int) or p < 0 for p in _widths_arg(node)):
        return "padding by a negative or dynamic amount"
    mode = _mode(node)
    if mode not in MX_PAD_MODES and mode != "circular":
        return f"padding mode {mode!r}"
    return None


def _widths(ctx: EmitCtx, src: fx.Node, pad: list[int]) -> list[tuple[int, int]]:
    """torch's flat (last_lo, last_hi, prev_lo, ...) as per-stored-axis (lo, hi) pairs."""
    r = ctx.rank(src)
    widths = [(0, 0)] * r
    for i in range(len(pad) // 2):
        widths[ctx.axis(src, r - 1 - i)] = (pad[2 * i], pad[2 * i + 1])
    return widths


@register_op(
    aten.pad.default, aten.constant_pad_nd.default, *_MODE_OPS, layout=keep, check=check_pad
)
def pad(node: fx.Node, ctx: EmitCtx) -> Expr:
    widths = _widths(ctx, ctx.arg("self"), _widths_arg(node))
    mode = _mode(node)
    if mode == "circular":
        return call(ctx.helper("circular_pad"), ctx.a("self"), ctx.x(widths))
    kwargs: dict[str, str] = {}
    if mode != "constant":
        kwargs["mode"] = repr(MX_PAD_MODES[mode])
    value = ctx.arg("value", None)
    if mode == "constant" and value:
        kwargs["constant_values"] = ctx.x(value)
    return call("mx.pad", ctx.a("self"), ctx.x(widths), **kwargs)  # sizes may be symbolic
