"""Adaptive pooling, average and max, 1d/2d/3d: PyTorch's windows ``[floor(i * n / out),
ceil((i + 1) * n / out))`` of each axis. A global pool is one reduction, evenly dividing
windows are a reshape and a reduction, anything else the exact ``adaptive_pool`` helper."""

from __future__ import annotations

import torch
from torch import fx

from ..emit_ctx import EmitCtx, op_args
from ..expr import Expr, call
from .registry import register_op
from .spatial import batched_input, indices_used, per_axis, spatial_dims, spatial_layout, unbatch

aten = torch.ops.aten


def check_adaptive_pool(node: fx.Node) -> str | None:
    shape = op_args(node)["self"].meta["val"].shape[-spatial_dims(node) :]
    if not all(isinstance(s, int) for s in shape):
        return "adaptive pooling over a dynamic spatial size"
    return None


def _output_size(ctx: EmitCtx, n: int) -> tuple[list[int], list[int]]:
    """The input's spatial size and the output's (a ``None`` entry keeps the input's)."""
    spatial = ctx.shape(ctx.arg("self"))[-n:]
    sizes = per_axis(ctx.arg("output_size"), n)
    return spatial, [s if o is None else o for o, s in zip(sizes, spatial)]


def _adaptive(node: fx.Node, ctx: EmitCtx, reduce: str) -> Expr:
    """``reduce`` (``mx.mean`` or ``mx.max``) over each adaptive window, batched and not."""
    spatial, out = _output_size(ctx, spatial_dims(node))
    axes = tuple(range(1, len(spatial) + 1))
    x = batched_input(node, ctx)
    if all(o == 1 for o in out):
        axis = repr(axes[0] if len(axes) == 1 else axes)
        expr = call(reduce, x, axis=axis, keepdims="True")
    elif all(s % o == 0 for s, o in zip(spatial, out)):
        expr = _by_reshape(x, spatial, out, reduce)
    else:
        expr = call(ctx.helper("adaptive_pool"), x, repr(tuple(out)), reduce)
    return unbatch(node, expr)


def _by_reshape(x: str, spatial: list[int], out: list[int], reduce: str) -> Expr:
    """Evenly divisible windows: split each axis into (out, window) and reduce the windows."""
    dims = [f"{x}.shape[0]"]
    for s, o in zip(spatial, out):
        dims += [str(o), str(s // o)]
    dims.append(f"{x}.shape[-1]")
    axes = tuple(2 + 2 * i for i in range(len(spatial)))
    axis = axes[0] if len(axes) == 1 else axes
    return Expr(f"{reduce}({x}.reshape({', '.join(dims)}), axis={axis!r})")


@register_op(
    aten.adaptive_avg_pool1d.default,
    aten.adaptive_avg_pool2d.default,
    aten.adaptive_avg_pool3d.default,
    aten._adaptive_avg_pool2d.default,
    aten._adaptive_avg_pool3d.default,
    layout=spatial_layout,
    check=check_adaptive_pool,
)
def adaptive_avg_pool(node: fx.Node, ctx: EmitCtx) -> Expr:
    return _adaptive(node, ctx, "mx.mean")


@register_op(
    aten.adaptive_max_pool1d.default,
    aten.adaptive_max_pool2d.default,
    aten.adaptive_max_pool3d.default,
    layout=spatial_layout,
    check=check_adaptive_pool,
)
def adaptive_max_pool(node: fx.Node, ctx: EmitCtx) -> Expr:
    """(values, indices); the indices, when read, by the exact arg-max helper."""
    if not indices_used(node):
        return Expr(f"({_adaptive(node, ctx, 'mx.max').text},)")
    _, out = _output_size(ctx, spatial_dims(node))
    pooled = call(
        ctx.helper("adaptive_max_pool_with_indices"), batched_input(node, ctx), repr(tuple(out))
    )
    if ctx.rank(ctx.arg("self")) == len(out) + 1:
        # unbatched: drop the batch axis from both outputs
        return Expr(f"tuple(t[0] for t in {pooled.text})")
    return pooled
