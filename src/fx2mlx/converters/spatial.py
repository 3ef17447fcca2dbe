"""Shared by conv and pooling ops: spatial rank, per-axis sizes, unbatched inputs, and the
keywords, groups and bias of MLX's functional convolutions.

MLX's conv and pool kernels need ``(N, *spatial, C)``. An unbatched input is stored
``(*spatial, C)`` and given a batch axis of one for the call (``x[None]``, then ``[0]``).
"""

from __future__ import annotations

import operator
from collections.abc import Sequence

from torch import fx

from ..emit_ctx import EmitCtx, op_args
from ..expr import ATOM, Expr, binary, call, operand
from ..layout import (
    Decision,
    Perm,
    first_input,
    identity,
    out_rank,
    rank_of,
    tensor_args,
    to_channels_last,
)


def spatial_dims(node: fx.Node) -> int:
    """1 for ``conv1d``/``max_pool1d``..., 2 for the 2d ops (read from the op's name)."""
    name = str(node.target)
    for n in (1, 2, 3):
        if f"{n}d" in name:
            return n
    raise AssertionError(f"no spatial rank in {name}")


def per_axis(value: object, n: int) -> tuple[int, ...]:
    """A size argument for each of ``n`` axes: ``3`` or ``[3]`` -> ``(3, 3)`` when n is 2."""
    if isinstance(value, int):
        return (value,) * n
    values = tuple(value)  # type: ignore[arg-type]
    return values * n if len(values) == 1 else values


def int_or_tuple(values: Sequence[int]) -> int | tuple[int, ...]:
    """``(3, 3)`` -> ``3``: MLX takes an int for equal sizes, which reads better."""
    return values[0] if len(set(values)) == 1 else tuple(values)


def indices_used(node: fx.Node) -> bool:
    """Whether a user of a (values, indices) op reads the indices: ``getitem(pooled, 1)``."""
    return any(u.target is operator.getitem and op_args(u)["b"] == 1 for u in node.users)


def _channels_last_unbatched(rank: int) -> Perm:
    return (*range(1, rank), 0)


def spatial_layout(node: fx.Node, perms: dict[fx.Node, Perm]) -> Decision:
    """Channels last, with or without a batch axis."""
    src = first_input(node)
    r = rank_of(src) or 0
    if r != spatial_dims(node) + 1:
        return to_channels_last(node, perms)
    need = {a: identity(rank_of(a) or 0) for a in tensor_args(node)}
    need[src] = _channels_last_unbatched(r)
    orank = out_rank(node)
    return Decision(need, _channels_last_unbatched(orank) if orank is not None else None)


def is_unbatched(node: fx.Node) -> bool:
    return rank_of(first_input(node)) == spatial_dims(node) + 1


def batched_input(node: fx.Node, ctx: EmitCtx) -> str:
    """The first input as a batched channels-last array (source text of precedence ATOM)."""
    x = ctx.x(first_input(node), ATOM)
    return f"{x}[None]" if is_unbatched(node) else x


def unbatch(node: fx.Node, expr: Expr) -> Expr:
    """Drop the batch axis :func:`batched_input` added."""
    if not is_unbatched(node):
        return expr
    text = operand(expr, ATOM)
    return Expr(f"{text}[0]")


_MLX_DEFAULTS = {"stride": 1, "padding": 0, "dilation": 1, "output_padding": 0}


def size_keywords(ctx: EmitCtx, n: int, **sizes: object) -> list[str]:
    """``stride=2``, ``padding=(1, 0)``, ...: each size argument that differs from MLX's
    default, as keyword text."""
    out = []
    for name, value in sizes.items():
        values = per_axis(value, n)
        if any(v != _MLX_DEFAULTS[name] for v in values):
            out.append(f"{name}={ctx.x(int_or_tuple(values))}")
    return out


def conv_call(ctx: EmitCtx, fn: str, n: int, args: list[str], keywords: list[str]) -> Expr:
    """``fn(x, w, **keywords)`` with the op's ``groups``; MLX's 3-d convolutions (plain and
    transposed) take one group only, so there each group is convolved on its own."""
    groups = ctx.arg("groups")
    if groups == 1:
        return call(fn, *args, *keywords)
    if n < 3:
        return call(fn, *args, *keywords, groups=ctx.x(groups))
    ctx.comment(f"{fn} takes one group: convolve group by group")
    return call(ctx.helper("grouped_conv"), fn, *args, ctx.x(groups), *keywords)


def with_bias(ctx: EmitCtx, conv: Expr) -> Expr:
    """``conv + bias`` when the op has a bias (MLX's functional convolutions take none)."""
    bias = ctx.arg("bias")
    if bias is None:
        return conv
    return binary("+", conv, bias)
