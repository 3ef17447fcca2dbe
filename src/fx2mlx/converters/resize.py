"""Interpolation (``F.interpolate``, ``nn.Upsample``): MLX's ``nn.Upsample`` where it samples the
same grid as PyTorch, exact gather-based helpers (helpers_resize.py) everywhere else.

``mode="area"`` is not here: PyTorch computes it as adaptive average pooling, which the pooling
converters handle.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import fx, nn

from ..emit_ctx import EmitCtx
from ..expr import Expr, call
from ..layout import first_input, to_channels_last
from .registry import Ctor, register_layer, register_op

aten = torch.ops.aten

_MLX_MODES = {
    "nearest": "nearest",
    "nearest-exact": "nearest",  # the same pixels as nearest at an integer scale
    "linear": "linear",
    "bilinear": "linear",
    "trilinear": "linear",
    "bicubic": "cubic",  # MLX's cubic uses PyTorch's a = -0.75
}


@register_layer(nn.Upsample, "nn.Upsample", layout=to_channels_last, always=True)
def build_upsample(up: nn.Upsample) -> Ctor | None:
    mode = _MLX_MODES.get(up.mode)
    if mode is None or up.scale_factor is None:
        return None  # area is adaptive pooling; MLX's layer takes a scale, not a size
    scales = up.scale_factor if isinstance(up.scale_factor, tuple) else (up.scale_factor,)
    integer = all(float(s).is_integer() and s >= 1 for s in scales)
    # MLX's grid is PyTorch's at an integer scale; with align_corners at any scale
    if not (integer or (up.align_corners and mode != "nearest")):
        return None
    values = tuple(int(s) if float(s).is_integer() else float(s) for s in scales)
    kwargs = [("scale_factor", values[0] if len(values) == 1 else values)]
    kwargs += [("mode", mode), ("align_corners", bool(up.align_corners))]
    defaults = {"mode": "nearest", "align_corners": False}
    ranks = (len(values) + 2,) if len(values) > 1 else ()
    comment = "nearest-exact is nearest at an integer scale" if up.mode == "nearest-exact" else ""
    return Ctor("nn.Upsample", [], kwargs, defaults, comment, input_ranks=ranks)


NEAREST = (
    aten.upsample_nearest1d.vec,
    aten.upsample_nearest2d.vec,
    aten.upsample_nearest3d.vec,
    aten.upsample_nearest1d.default,
    aten.upsample_nearest2d.default,
    aten.upsample_nearest3d.default,
)
NEAREST_EXACT = (
    aten._upsample_nearest_exact1d.vec,
    aten._upsample_nearest_exact2d.vec,
    aten._upsample_nearest_exact3d.vec,
    aten._upsample_nearest_exact1d.default,
    aten._upsample_nearest_exact2d.default,
    aten._upsample_nearest_exact3d.default,
)
LINEAR = (
    aten.upsample_linear1d.vec,
    aten.upsample_bilinear2d.vec,
    aten.upsample_trilinear3d.vec,
    aten.upsample_linear1d.default,
    aten.upsample_bilinear2d.default,
    aten.upsample_trilinear3d.default,
)
CUBIC = (aten.upsample_bicubic2d.vec, aten.upsample_bicubic2d.default)
ANTIALIASED = (
    aten._upsample_bilinear2d_aa.vec,
    aten._upsample_bicubic2d_aa.vec,
    aten._upsample_bilinear2d_aa.default,
    aten._upsample_bicubic2d_aa.default,
)


def _scales(args: dict[str, Any]) -> list[float | None] | None:
    """Per-axis scale factors: ``scale_factors`` of the ``.vec`` overloads, ``scales_h``... of
    the others; None when the call gives only an output size."""
    if "scale_factors" in args:
        return args["scale_factors"]
    scales = [v for k, v in args.items() if k.startswith("scales")]
    return scales if any(s is not None for s in scales) else None


def _size_and_scales(ctx: EmitCtx) -> dict[str, str]:
    """The helpers' ``size=`` and ``scales=``: as the call gives them (a scale also decides
    where ATen samples, so it is kept even next to a size)."""
    out: dict[str, str] = {}
    size = ctx.arg("output_size")
    if size is not None:
        out["size"] = ctx.x(tuple(size))
    scales = _scales(ctx.args)
    if scales is not None:
        out["scales"] = ctx.x(tuple(scales))
    return out


def _why_not_the_layer(ctx: EmitCtx, align_corners: bool = False) -> str:
    """The one-line comment on a lowering: why this call is not MLX's nn.Upsample."""
    scales = _scales(ctx.args)
    if scales is None:
        return "an output size: MLX's nn.Upsample takes a scale factor only"
    integer = all(s is not None and float(s).is_integer() and s >= 1 for s in scales)
    if not integer and not align_corners:
        return "a fractional scale: MLX's nn.Upsample samples other input positions"
    return "interpolate as a function: MLX has nn.Upsample only as a layer"


def _interpolate(node: fx.Node, ctx: EmitCtx, helper: str, why: str = "", **flags: bool) -> Expr:
    """``helper(x, size=..., scales=..., flag=True...)`` with the comment saying why."""
    kwargs = _size_and_scales(ctx)
    kwargs.update({k: "True" for k, on in flags.items() if on})
    ctx.comment(why or _why_not_the_layer(ctx, flags.get("align_corners", False)))
    return call(ctx.helper(helper), ctx.x(first_input(node)), **kwargs)


@register_op(*NEAREST, *NEAREST_EXACT, layout=to_channels_last)
def upsample_nearest(node: fx.Node, ctx: EmitCtx) -> Expr:
    return _interpolate(node, ctx, "interpolate_nearest", exact=node.target in NEAREST_EXACT)


@register_op(*LINEAR, layout=to_channels_last)
def upsample_linear(node: fx.Node, ctx: EmitCtx) -> Expr:
    return _interpolate(node, ctx, "interpolate_linear", align_corners=ctx.arg("align_corners"))


@register_op(*CUBIC, layout=to_channels_last)
def upsample_cubic(node: fx.Node, ctx: EmitCtx) -> Expr:
    return _interpolate(node, ctx, "interpolate_cubic", align_corners=ctx.arg("align_corners"))


def check_upsample_antialiased(node: fx.Node) -> str | None:
    before = first_input(node).meta["val"].shape
    after = node.meta["val"].shape
    if after[-1] == 1 and after[-2] != before[-2]:
        return (
            "antialiased interpolation to a width of 1 while the height changes (PyTorch's CPU"
            " kernel computes it wrongly, so there is no reference to match)"
        )
    return None


@register_op(*ANTIALIASED, layout=to_channels_last, check=check_upsample_antialiased)
def upsample_antialiased(node: fx.Node, ctx: EmitCtx) -> Expr:
    why = "antialiased: MLX's nn.Upsample (a layer) matches it only at integer downscales"
    cubic = "bicubic" in str(node.target)
    align_corners = ctx.arg("align_corners")
    return _interpolate(
        node, ctx, "interpolate_antialiased", why, cubic=cubic, align_corners=align_corners
    )
