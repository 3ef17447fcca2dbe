"""Convolutions: ``nn.Conv1d/2d`` as MLX layers, functional ``conv1d/2d`` as ``mx.conv*``."""

from __future__ import annotations

import torch
from torch import fx, nn

from ..emit_ctx import EmitCtx
from ..expr import ADD, ATOM, Expr
from ..layout import to_channels_last
from .registry import Ctor, register_layer, register_op
from .spatial import batched_input, spatial_dims, spatial_layout, unbatch

aten = torch.ops.aten
_PAD_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "edge"}


def _one(value: tuple[int, ...]) -> int | tuple[int, ...]:
    """``(3, 3)`` -> ``3``: MLX takes an int for equal sizes, which reads better."""
    return value[0] if len(set(value)) == 1 else tuple(value)


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


def build_conv(conv: nn.Module) -> Ctor | None:
    if conv.padding_mode not in _PAD_MODES:
        return None
    pads = _pads(conv)
    symmetric = all(lo == hi for lo, hi in pads)
    explicit = conv.padding_mode != "zeros" or not symmetric
    padding = 0 if explicit else _one(tuple(lo for lo, _ in pads))
    kwargs: list[tuple[str, object]] = [
        ("stride", _one(conv.stride)),
        ("padding", padding),
        ("dilation", _one(conv.dilation)),
        ("groups", conv.groups),
        ("bias", conv.bias is not None),
    ]
    defaults = {"stride": 1, "padding": 0, "dilation": 1, "groups": 1, "bias": True}
    args = [
        ("in_channels", conv.in_channels),
        ("out_channels", conv.out_channels),
        ("kernel_size", _one(conv.kernel_size)),
    ]
    pre = _pre_pad(pads, _PAD_MODES[conv.padding_mode]) if explicit and any(map(any, pads)) else ""
    # MLX layers need a batch axis: unbatched (C, *spatial) calls go op by op
    ranks = (len(conv.kernel_size) + 2,)
    return Ctor(f"nn.{type(conv).__name__}", args, kwargs, defaults, pre=pre, input_ranks=ranks)


register_layer(nn.Conv1d, "nn.Conv1d", layout=to_channels_last, weight_fix={"weight": "conv"})(
    build_conv
)
register_layer(nn.Conv2d, "nn.Conv2d", layout=to_channels_last, weight_fix={"weight": "conv"})(
    build_conv
)


def _int_list(value: object, n: int) -> list[int]:
    if isinstance(value, int):
        return [value] * n
    values = list(value)  # type: ignore[arg-type]
    return values * n if len(values) == 1 else values


def _check_conv(node: fx.Node) -> str | None:
    padding = node.args[4] if len(node.args) > 4 else node.kwargs.get("padding", 0)
    if isinstance(padding, str) and padding not in ("valid", "same"):
        return f"functional convolution with padding={padding!r}"
    return None


def _functional_pads(ctx: EmitCtx, n: int) -> list[tuple[int, int]]:
    """Per-spatial-axis (lo, hi); 'same' puts the odd extra cell on the right, as torch does."""
    padding = ctx.arg("padding", 0)
    if padding == "valid":
        return [(0, 0)] * n
    if padding == "same":
        kernel = ctx.shape(ctx.arg(1))[2:]
        dilation = _int_list(ctx.arg("dilation", 1), n)
        totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return [(t // 2, t - t // 2) for t in totals]
    return [(p, p) for p in _int_list(padding, n)]


@register_op(
    aten.conv1d.default,
    aten.conv2d.default,
    aten.conv1d.padding,
    aten.conv2d.padding,
    layout=spatial_layout,
    check=_check_conv,
)
def conv(node: fx.Node, ctx: EmitCtx) -> Expr:
    """``F.conv2d(x, w, b, ...)`` with a weight that is not a layer's: move axes at run time."""
    n = spatial_dims(node)
    weight, bias = ctx.arg(1), ctx.arg("bias", None)
    pads = _functional_pads(ctx, n)
    x = batched_input(node, ctx)
    if any(lo != hi for lo, hi in pads):
        # MLX's conv pads symmetrically: pad the input explicitly instead
        x, padding = f"mx.pad({x}, {[(0, 0), *pads, (0, 0)]!r})", [0] * n
    else:
        padding = [lo for lo, _ in pads]
    axes = (0, *range(2, n + 2), 1)
    w = f"{ctx.x(weight, ATOM)}.transpose{axes!r}"
    args = [x, w]
    for name, value in (
        ("stride", ctx.arg("stride", 1)),
        ("padding", padding),
        ("dilation", ctx.arg("dilation", 1)),
    ):
        vals = _int_list(value, n)
        if any(v != (0 if name == "padding" else 1) for v in vals):
            args.append(f"{name}={ctx.x(_one(tuple(vals)))}")
    if ctx.arg("groups", 1) != 1:
        args.append(f"groups={ctx.x(ctx.arg('groups', 1))}")
    text = f"mx.conv{n}d({', '.join(args)})"
    if bias is None:
        return unbatch(node, ctx, Expr(text))
    return unbatch(node, ctx, Expr(f"{text} + {ctx.x(bias, ADD + 1)}", ADD))
