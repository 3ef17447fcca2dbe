"""Transposed convolutions: ``nn.ConvTranspose1d/2d/3d`` as MLX layers where they match,
functional ``conv_transpose1d/2d/3d`` as ``mx.conv_transpose*`` with the weight moved at run time.

MLX computes PyTorch's transposed convolution exactly (stride, output_padding, dilation) as
long as the padding is at most the kernel's span ``dilation * (kernel - 1)``; beyond that the
op pads by the span and crops the rest. MLX's layers have no groups: grouped ones go op by op.
"""

from __future__ import annotations

import torch
from torch import fx, nn
from torch.nn.utils import parametrize

from ..emit_ctx import EmitCtx, op_args
from ..expr import ATOM, Expr
from ..layout import to_channels_last
from .registry import Ctor, register_layer, register_op
from .spatial import (
    batched_input,
    conv_call,
    int_or_tuple,
    per_axis,
    size_keywords,
    spatial_dims,
    spatial_layout,
    unbatch,
    with_bias,
)

aten = torch.ops.aten


def _span_padding(kernel: tuple, dilation: tuple, padding: tuple) -> list[int]:
    """Per axis, the padding MLX can take: at most the kernel's span ``d * (k - 1)``."""
    return [min(p, d * (k - 1)) for k, d, p in zip(kernel, dilation, padding)]


_WEIGHT = {"weight": "conv_transpose"}


@register_layer(
    nn.ConvTranspose1d, "nn.ConvTranspose1d", layout=to_channels_last, weight_fix=_WEIGHT
)
@register_layer(
    nn.ConvTranspose2d, "nn.ConvTranspose2d", layout=to_channels_last, weight_fix=_WEIGHT
)
@register_layer(
    nn.ConvTranspose3d, "nn.ConvTranspose3d", layout=to_channels_last, weight_fix=_WEIGHT
)
def build_conv_transpose(conv: nn.Module) -> Ctor | None:
    if conv.groups != 1:
        return None  # MLX's ConvTranspose layers have no groups: the op form takes them
    kernel, dilation, padding = conv.kernel_size, conv.dilation, conv.padding
    if _span_padding(kernel, dilation, padding) != list(padding):
        return None  # padding past the kernel's span: the op form crops it
    kwargs: list[tuple[str, object]] = [
        ("stride", int_or_tuple(conv.stride)),
        ("padding", int_or_tuple(padding)),
        ("dilation", int_or_tuple(dilation)),
        ("output_padding", int_or_tuple(conv.output_padding)),
        ("bias", conv.bias is not None),
    ]
    defaults = {"stride": 1, "padding": 0, "dilation": 1, "output_padding": 0, "bias": True}
    args = [
        ("in_channels", conv.in_channels),
        ("out_channels", conv.out_channels),
        ("kernel_size", int_or_tuple(kernel)),
    ]
    return Ctor(
        # a weight-normed layer's class is torch's ParametrizedConvTranspose1d: the original's name
        f"nn.{parametrize.type_before_parametrizations(conv).__name__}",
        args,
        kwargs,
        defaults,
        # MLX layers need a batch axis: unbatched (C, *spatial) calls go op by op
        input_ranks=(len(kernel) + 2,),
        # forward(x, output_size=...) picks its own output_padding: then op by op
        traced=(("output_padding", list(conv.output_padding)),),
    )


def check_conv_transpose(node: fx.Node) -> str | None:
    args = op_args(node)
    shape = args["weight"].meta["val"].shape
    # the kernel's size sets the padding MLX can take; regrouping needs the output channels
    needed = shape[2:] if args["groups"] == 1 else shape[1:]
    if not all(isinstance(s, int) for s in needed):
        return "transposed convolution whose weight has a dynamic kernel or output channels"
    return None


def _mlx_weight(ctx: EmitCtx, n: int) -> str:
    """PyTorch's weight ``(in, out / groups, *kernel)`` as MLX's ``(out, *kernel, in / groups)``,
    each group's block of outputs in turn (source text)."""
    w = ctx.a("weight", ATOM)
    groups = ctx.arg("groups")
    if groups == 1:
        return f"{w}.transpose{(1, *range(2, n + 2), 0)!r}"
    ctx.comment("grouped weight (in, out/groups, *k) as MLX's (out, *k, in/groups)")
    cin, cout, *kernel = ctx.shape(ctx.arg("weight"))
    per_group = cin // groups if isinstance(cin, int) else -1  # a dynamic count: inferred
    split = (groups, per_group, cout, *kernel)
    axes = (0, 2, *range(3, n + 3), 1)
    merged = (groups * cout, *kernel, per_group)
    return f"{w}.reshape{split!r}.transpose{axes!r}.reshape{merged!r}"


def _crop(ctx: EmitCtx, conv: Expr, crops: list[int]) -> Expr:
    """Cut ``crop`` cells from both ends of each spatial axis."""
    if not any(crops):
        return conv
    ctx.comment("MLX pads at most dilation * (kernel - 1): crop the rest")
    index = ", ".join(f"{c}:-{c}" if c else ":" for c in crops)
    text = conv.text if conv.prec >= ATOM else f"({conv.text})"
    return Expr(f"{text}[:, {index}]")


@register_op(
    aten.conv_transpose1d.default,
    aten.conv_transpose2d.input,
    aten.conv_transpose3d.input,
    layout=spatial_layout,
    check=check_conv_transpose,
)
def conv_transpose(node: fx.Node, ctx: EmitCtx) -> Expr:
    """``F.conv_transpose2d(x, w, b, ...)`` with a weight that is not a layer's (or grouped)."""
    n = spatial_dims(node)
    kernel = tuple(ctx.shape(ctx.arg("weight"))[2:])
    dilation = per_axis(ctx.arg("dilation"), n)
    padding = per_axis(ctx.arg("padding"), n)
    inner = _span_padding(kernel, dilation, padding)
    sizes = size_keywords(
        ctx,
        n,
        stride=ctx.arg("stride"),
        padding=inner,
        dilation=dilation,
        output_padding=ctx.arg("output_padding"),
    )
    args = [batched_input(node, ctx), _mlx_weight(ctx, n)]
    out = conv_call(ctx, f"mx.conv_transpose{n}d", n, args, sizes)
    out = _crop(ctx, out, [p - q for p, q in zip(padding, inner)])
    return unbatch(node, with_bias(ctx, out))
