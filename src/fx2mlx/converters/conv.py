"""Convolutions: ``nn.Conv1d/2d/3d`` as MLX layers, functional ``conv1d/2d/3d`` as ``mx.conv*``.

Transposed convolutions are in ``conv_transpose.py``.
"""

from __future__ import annotations

import torch
from torch import fx, nn

from ..emit_ctx import EmitCtx, op_args
from ..expr import ATOM, Expr
from ..layout import to_channels_last
from .padding import MX_PAD_MODES
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


def _same_padding(conv: nn.Module) -> list[tuple[int, int]]:
    pads = []
    for k, d in zip(conv.kernel_size, conv.dilation):
        total = d * (k - 1)
        pads.append((total // 2, total - total // 2))
    return pads


def _pads(conv: nn.Module) -> list[tuple[int, int]]:
    if conv.padding == "same":
        return _same_padding(conv)
    if conv.padding == "valid":
        return [(0, 0)] * len(conv.kernel_size)
    return [(p, p) for p in conv.padding]


def _pre_pad(pads: list[tuple[int, int]], mode: str) -> str:
    widths = [(0, 0), *pads, (0, 0)]
    mode_arg = "" if mode == "constant" else f", mode={mode!r}"
    return f"mx.pad({{x}}, {widths!r}{mode_arg})"


@register_layer(nn.Conv1d, "nn.Conv1d", layout=to_channels_last, weight_fix={"weight": "conv"})
@register_layer(nn.Conv2d, "nn.Conv2d", layout=to_channels_last, weight_fix={"weight": "conv"})
@register_layer(nn.Conv3d, "nn.Conv3d", layout=to_channels_last, weight_fix={"weight": "conv"})
def build_conv(conv: nn.Module) -> Ctor | None:
    if conv.padding_mode not in MX_PAD_MODES:
        return None  # circular: the module's ops (a circular pad, then conv) convert one by one
    if conv.groups != 1 and len(conv.kernel_size) == 3:
        return None  # MLX's conv3d has no groups: the functional form convolves group by group
    pads = _pads(conv)
    symmetric = all(lo == hi for lo, hi in pads)
    explicit = conv.padding_mode != "zeros" or not symmetric
    padding = 0 if explicit else int_or_tuple([lo for lo, _ in pads])
    kwargs: list[tuple[str, object]] = [
        ("stride", int_or_tuple(conv.stride)),
        ("padding", padding),
        ("dilation", int_or_tuple(conv.dilation)),
        ("groups", conv.groups),
        ("bias", conv.bias is not None),
    ]
    defaults = {"stride": 1, "padding": 0, "dilation": 1, "groups": 1, "bias": True}
    args = [
        ("in_channels", conv.in_channels),
        ("out_channels", conv.out_channels),
        ("kernel_size", int_or_tuple(conv.kernel_size)),
    ]
    mode = MX_PAD_MODES[conv.padding_mode]
    pre = _pre_pad(pads, mode) if explicit and any(map(any, pads)) else ""
    # MLX layers need a batch axis: unbatched (C, *spatial) calls go op by op
    ranks = (len(conv.kernel_size) + 2,)
    # by rank, not class name: a subclass (EfficientNetDepthwiseConv2d) is no MLX layer
    layer = f"nn.Conv{len(conv.kernel_size)}d"
    return Ctor(layer, args, kwargs, defaults, pre=pre, input_ranks=ranks)


def check_conv(node: fx.Node) -> str | None:
    padding = op_args(node)["padding"]
    if isinstance(padding, str) and padding not in ("valid", "same"):
        return f"functional convolution with padding={padding!r}"
    return None


def _functional_pads(ctx: EmitCtx, n: int) -> list[tuple[int, int]]:
    """Per-spatial-axis (lo, hi); 'same' puts the odd extra cell on the right, as torch does."""
    padding = ctx.arg("padding")
    if padding == "valid":
        return [(0, 0)] * n
    if padding == "same":
        kernel = ctx.shape(ctx.arg("weight"))[2:]
        dilation = per_axis(ctx.arg("dilation"), n)
        totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return [(t // 2, t - t // 2) for t in totals]
    return [(p, p) for p in per_axis(padding, n)]


@register_op(
    aten.conv1d.default,
    aten.conv2d.default,
    aten.conv3d.default,
    aten.conv1d.padding,
    aten.conv2d.padding,
    aten.conv3d.padding,
    layout=spatial_layout,
    check=check_conv,
)
def conv(node: fx.Node, ctx: EmitCtx) -> Expr:
    """``F.conv2d(x, w, b, ...)`` with a weight that is not a layer's: move axes at run time."""
    n = spatial_dims(node)
    pads = _functional_pads(ctx, n)
    x = batched_input(node, ctx)
    if any(lo != hi for lo, hi in pads):
        # MLX's conv pads symmetrically: pad the input explicitly instead
        x, padding = f"mx.pad({x}, {[(0, 0), *pads, (0, 0)]!r})", [0] * n
    else:
        padding = [lo for lo, _ in pads]
    axes = (0, *range(2, n + 2), 1)
    w = f"{ctx.a('weight', ATOM)}.transpose{axes!r}"
    sizes = size_keywords(
        ctx, n, stride=ctx.arg("stride"), padding=padding, dilation=ctx.arg("dilation")
    )
    return unbatch(node, with_bias(ctx, conv_call(ctx, f"mx.conv{n}d", n, [x, w], sizes)))
