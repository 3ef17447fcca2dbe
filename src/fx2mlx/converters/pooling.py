"""Pooling: MLX pool layers where they match PyTorch exactly, exact helpers otherwise."""

from __future__ import annotations

import torch
from torch import fx, nn

from ..emit_ctx import EmitCtx
from ..expr import Expr, call
from ..layout import to_channels_last
from .registry import Ctor, register_layer, register_op
from .spatial import batched_input, spatial_dims, spatial_layout, unbatch

aten = torch.ops.aten


def _tuple(value: object, n: int) -> tuple[int, ...]:
    if isinstance(value, int):
        return (value,) * n
    values = tuple(value)  # type: ignore[arg-type]
    return values * n if len(values) == 1 else values


def _one(value: tuple[int, ...]) -> int | tuple[int, ...]:
    return value[0] if len(set(value)) == 1 else value


def _max_pool_layer(pool: nn.Module) -> Ctor | None:
    n = 1 if isinstance(pool, nn.MaxPool1d) else 2
    kernel = _tuple(pool.kernel_size, n)
    stride = _tuple(pool.stride or pool.kernel_size, n)
    padding = _tuple(pool.padding, n)
    if pool.ceil_mode or pool.return_indices or _tuple(pool.dilation, n) != (1,) * n:
        return None
    return _pool_ctor(f"nn.MaxPool{n}d", kernel, stride, padding)


def _avg_pool_layer(pool: nn.Module) -> Ctor | None:
    n = 1 if isinstance(pool, nn.AvgPool1d) else 2
    kernel = _tuple(pool.kernel_size, n)
    stride = _tuple(pool.stride or pool.kernel_size, n)
    padding = _tuple(pool.padding, n)
    if pool.ceil_mode or getattr(pool, "divisor_override", None):
        return None
    if any(padding) and not pool.count_include_pad:
        return None
    return _pool_ctor(f"nn.AvgPool{n}d", kernel, stride, padding)


def _pool_ctor(fn: str, kernel: tuple, stride: tuple, padding: tuple) -> Ctor:
    # MLX's stride defaults to the kernel size, like PyTorch's
    kwargs = [("stride", _one(stride)), ("padding", _one(padding))]
    defaults = {"stride": _one(kernel), "padding": 0}
    # MLX layers need a batch axis: unbatched (C, *spatial) calls go op by op
    ranks = (len(kernel) + 2,)
    return Ctor(fn, [("kernel_size", _one(kernel))], kwargs, defaults, input_ranks=ranks)


# MLX has pooling layers but no functional pooling: use the layer wherever it matches torch.
for _cls, _build in (
    (nn.MaxPool1d, _max_pool_layer),
    (nn.MaxPool2d, _max_pool_layer),
    (nn.AvgPool1d, _avg_pool_layer),
    (nn.AvgPool2d, _avg_pool_layer),
):
    register_layer(_cls, f"nn.{_cls.__name__}", layout=to_channels_last, always=True)(_build)


def _pool_args(ctx: EmitCtx, n: int) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    kernel = _tuple(ctx.arg("kernel_size"), n)
    stride = ctx.arg("stride", None)
    stride = _tuple(stride, n) if stride else kernel
    return kernel, stride, _tuple(ctx.arg("padding", 0), n)


@register_op(aten.max_pool1d.default, aten.max_pool2d.default, layout=spatial_layout)
def max_pool(node: fx.Node, ctx: EmitCtx) -> Expr:
    n = spatial_dims(node)
    kernel, stride, padding = _pool_args(ctx, n)
    dilation = _tuple(ctx.arg("dilation", 1), n)
    args = [batched_input(node, ctx), repr(kernel), repr(stride), repr(padding)]
    if dilation != (1,) * n:
        args.append(f"dilation={dilation!r}")
    if ctx.arg("ceil_mode", False):
        args.append("ceil_mode=True")
    return unbatch(node, ctx, call(ctx.helper("max_pool"), *args))


def _indices_used(node: fx.Node) -> bool:
    return any(u.args[1] == 1 for u in node.users)


@register_op(
    aten.max_pool2d_with_indices.default,
    aten.max_pool1d_with_indices.default,
    layout=spatial_layout,
)
def max_pool_with_indices(node: fx.Node, ctx: EmitCtx) -> Expr:
    if not _indices_used(node):
        return Expr(f"({max_pool(node, ctx).text},)")
    n = spatial_dims(node)
    kernel, stride, padding = _pool_args(ctx, n)
    dilation = _tuple(ctx.arg("dilation", 1), n)
    args = [batched_input(node, ctx), repr(kernel), repr(stride), repr(padding), repr(dilation)]
    if ctx.arg("ceil_mode", False):
        args.append("ceil_mode=True")
    pooled = call(ctx.helper("max_pool_with_indices"), *args)
    if ctx.rank(ctx.arg(0)) == n + 1:
        # unbatched: drop the batch axis from both outputs
        return Expr(f"tuple(t[0] for t in {pooled.text})")
    return pooled


@register_op(aten.avg_pool1d.default, aten.avg_pool2d.default, layout=spatial_layout)
def avg_pool(node: fx.Node, ctx: EmitCtx) -> Expr:
    n = spatial_dims(node)
    kernel, stride, padding = _pool_args(ctx, n)
    args = [batched_input(node, ctx), repr(kernel), repr(stride), repr(padding)]
    if ctx.arg("ceil_mode", False):
        args.append("ceil_mode=True")
    if not ctx.arg("count_include_pad", True):
        args.append("count_include_pad=False")
    divisor = ctx.arg("divisor_override", None)
    if divisor:
        args.append(f"divisor={divisor!r}")
    return unbatch(node, ctx, call(ctx.helper("avg_pool"), *args))


def _check_adaptive(node: fx.Node) -> str | None:
    shape = node.args[0].meta["val"].shape[-spatial_dims(node) :]
    if not all(isinstance(s, int) for s in shape):
        return "adaptive pooling over a dynamic spatial size"
    return None


@register_op(
    aten.adaptive_avg_pool1d.default,
    aten.adaptive_avg_pool2d.default,
    aten._adaptive_avg_pool2d.default,
    layout=spatial_layout,
    check=_check_adaptive,
)
def adaptive_avg_pool(node: fx.Node, ctx: EmitCtx) -> Expr:
    spatial = ctx.shape(ctx.arg(0))[-spatial_dims(node) :]
    out = [s if o is None else o for o, s in zip(_tuple(ctx.arg(1), len(spatial)), spatial)]
    axes = tuple(range(1, len(spatial) + 1))
    x = batched_input(node, ctx)
    if all(o == 1 for o in out):
        axis = repr(axes[0] if len(axes) == 1 else axes)
        expr = call("mx.mean", x, axis=axis, keepdims="True")
    elif all(s % o == 0 for s, o in zip(spatial, out)):
        expr = _adaptive_by_reshape(x, spatial, out)
    else:
        expr = call(ctx.helper("adaptive_avg_pool"), x, repr(tuple(out)))
    return unbatch(node, ctx, expr)


def _adaptive_by_reshape(x: str, spatial: list, out: list) -> Expr:
    """Evenly divisible windows: split each axis into (out, window) and average the windows."""
    dims = [f"{x}.shape[0]"]
    for s, o in zip(spatial, out):
        dims += [str(o), str(s // o)]
    dims.append(f"{x}.shape[-1]")
    axes = tuple(2 + 2 * i for i in range(len(spatial)))
    axis = axes[0] if len(axes) == 1 else axes
    return Expr(f"mx.mean({x}.reshape({', '.join(dims)}), axis={axis!r})")
