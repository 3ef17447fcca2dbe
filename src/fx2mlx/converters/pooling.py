"""Pooling: MLX pool layers where they match PyTorch exactly, exact helpers otherwise.

Adaptive pooling is in ``adaptive_pool.py``.
"""

from __future__ import annotations

import torch
from torch import fx, nn

from ..emit_ctx import EmitCtx
from ..expr import Expr, call
from ..layout import to_channels_last
from .registry import Ctor, register_layer, register_op
from .spatial import (
    batched_input,
    indices_used,
    int_or_tuple,
    per_axis,
    spatial_dims,
    spatial_layout,
    unbatch,
)

aten = torch.ops.aten


_DIMS = {
    nn.MaxPool1d: 1,
    nn.MaxPool2d: 2,
    nn.MaxPool3d: 3,
    nn.AvgPool1d: 1,
    nn.AvgPool2d: 2,
    nn.AvgPool3d: 3,
}


def _pool_dims(pool: nn.Module) -> int:
    return next(n for cls, n in _DIMS.items() if isinstance(pool, cls))


# MLX has pooling layers but no functional pooling: use the layer wherever it matches torch.
@register_layer(nn.MaxPool1d, "nn.MaxPool1d", layout=to_channels_last, always=True)
@register_layer(nn.MaxPool2d, "nn.MaxPool2d", layout=to_channels_last, always=True)
@register_layer(nn.MaxPool3d, "nn.MaxPool3d", layout=to_channels_last, always=True)
def build_max_pool(pool: nn.Module) -> Ctor | None:
    n = _pool_dims(pool)
    kernel = per_axis(pool.kernel_size, n)
    stride = per_axis(pool.stride or pool.kernel_size, n)
    padding = per_axis(pool.padding, n)
    if pool.ceil_mode or pool.return_indices or per_axis(pool.dilation, n) != (1,) * n:
        return None
    return _pool_ctor(f"nn.MaxPool{n}d", kernel, stride, padding)


@register_layer(nn.AvgPool1d, "nn.AvgPool1d", layout=to_channels_last, always=True)
@register_layer(nn.AvgPool2d, "nn.AvgPool2d", layout=to_channels_last, always=True)
@register_layer(nn.AvgPool3d, "nn.AvgPool3d", layout=to_channels_last, always=True)
def build_avg_pool(pool: nn.Module) -> Ctor | None:
    n = _pool_dims(pool)
    kernel = per_axis(pool.kernel_size, n)
    stride = per_axis(pool.stride or pool.kernel_size, n)
    padding = per_axis(pool.padding, n)
    if pool.ceil_mode or getattr(pool, "divisor_override", None):
        return None
    if any(padding) and not pool.count_include_pad:
        return None
    return _pool_ctor(f"nn.AvgPool{n}d", kernel, stride, padding)


def _pool_ctor(fn: str, kernel: tuple, stride: tuple, padding: tuple) -> Ctor:
    # MLX's stride defaults to the kernel size, like PyTorch's
    kwargs = [("stride", int_or_tuple(stride)), ("padding", int_or_tuple(padding))]
    defaults = {"stride": int_or_tuple(kernel), "padding": 0}
    # MLX layers need a batch axis: unbatched (C, *spatial) calls go op by op
    ranks = (len(kernel) + 2,)
    return Ctor(fn, [("kernel_size", int_or_tuple(kernel))], kwargs, defaults, input_ranks=ranks)


def _pool_args(ctx: EmitCtx, n: int) -> list[str]:
    """The input, then kernel, stride and padding as per-axis tuples (the helpers' order)."""
    kernel = per_axis(ctx.arg("kernel_size"), n)
    stride = ctx.arg("stride")  # [] when left out: the kernel size
    stride = per_axis(stride, n) if stride else kernel
    padding = per_axis(ctx.arg("padding"), n)
    return [batched_input(ctx.node, ctx), repr(kernel), repr(stride), repr(padding)]


@register_op(
    aten.max_pool1d.default, aten.max_pool2d.default, aten.max_pool3d.default, layout=spatial_layout
)
def max_pool(node: fx.Node, ctx: EmitCtx) -> Expr:
    n = spatial_dims(node)
    args = _pool_args(ctx, n)
    dilation = per_axis(ctx.arg("dilation"), n)
    if dilation != (1,) * n:
        args.append(f"dilation={dilation!r}")
    if ctx.arg("ceil_mode"):
        args.append("ceil_mode=True")
    return unbatch(node, call(ctx.helper("max_pool"), *args))


@register_op(
    aten.max_pool2d_with_indices.default,
    aten.max_pool1d_with_indices.default,
    aten.max_pool3d_with_indices.default,
    layout=spatial_layout,
)
def max_pool_with_indices(node: fx.Node, ctx: EmitCtx) -> Expr:
    if not indices_used(node):
        return Expr(f"({max_pool(node, ctx).text},)")
    n = spatial_dims(node)
    args = _pool_args(ctx, n) + [repr(per_axis(ctx.arg("dilation"), n))]
    if ctx.arg("ceil_mode"):
        args.append("ceil_mode=True")
    pooled = call(ctx.helper("max_pool_with_indices"), *args)
    if ctx.rank(ctx.arg("self")) == n + 1:
        # unbatched: drop the batch axis from both outputs
        return Expr(f"tuple(t[0] for t in {pooled.text})")
    return pooled


@register_op(
    aten.avg_pool1d.default, aten.avg_pool2d.default, aten.avg_pool3d.default, layout=spatial_layout
)
def avg_pool(node: fx.Node, ctx: EmitCtx) -> Expr:
    args = _pool_args(ctx, spatial_dims(node))
    if ctx.arg("ceil_mode"):
        args.append("ceil_mode=True")
    if not ctx.arg("count_include_pad"):
        args.append("count_include_pad=False")
    divisor = ctx.arg("divisor_override", None)  # avg_pool1d has none
    if divisor:
        args.append(f"divisor={divisor!r}")
    return unbatch(node, call(ctx.helper("avg_pool"), *args))
