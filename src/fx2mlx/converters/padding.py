"""``F.pad`` / ``aten.pad`` and its mode-specific forms as ``mx.pad`` (or a circular helper)."""

from __future__ import annotations

import torch
from torch import fx

from ..emit_ctx import EmitCtx
from ..expr import Expr, call
from ..layout import keep
from .registry import register_op

aten = torch.ops.aten

# torch mode -> mx.pad mode; both "reflect"s exclude the edge value, "edge" repeats it.
_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge"}
_MODE_OPS = {
    aten.reflection_pad1d.default: "reflect",
    aten.reflection_pad2d.default: "reflect",
    aten.replication_pad1d.default: "replicate",
    aten.replication_pad2d.default: "replicate",
    aten._pad_circular.default: "circular",
}


def _mode(node: fx.Node) -> str:
    if node.target in _MODE_OPS:
        return _MODE_OPS[node.target]
    if node.target is aten.pad.default:
        return node.kwargs.get("mode", node.args[2] if len(node.args) > 2 else "constant")
    return "constant"


def _check_pad(node: fx.Node) -> str | None:
    if any(not isinstance(p, int) or p < 0 for p in node.args[1]):
        return "padding by a negative or dynamic amount"
    mode = _mode(node)
    if mode not in _MODES and mode != "circular":
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
    aten.pad.default, aten.constant_pad_nd.default, *_MODE_OPS, layout=keep, check=_check_pad
)
def pad(node: fx.Node, ctx: EmitCtx) -> Expr:
    src = ctx.arg(0)
    widths = _widths(ctx, src, list(ctx.arg(1)))
    mode = _mode(node)
    if mode == "circular":
        return call(ctx.helper("circular_pad"), ctx.a(0), repr(widths))
    kwargs: dict[str, str] = {}
    if mode != "constant":
        kwargs["mode"] = repr(_MODES[mode])
    value = ctx.arg("value", None)
    if mode == "constant" and value:
        kwargs["constant_values"] = ctx.x(value)
    return call("mx.pad", ctx.a(0), repr(widths), **kwargs)
