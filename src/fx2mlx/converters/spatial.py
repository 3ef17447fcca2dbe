"""Shared by conv and pooling ops: spatial rank, and unbatched ``(C, *spatial)`` inputs.

MLX's conv and pool kernels need ``(N, *spatial, C)``. An unbatched input is stored
``(*spatial, C)`` and given a batch axis of one for the call (``x[None]``, then ``[0]``).
"""

from __future__ import annotations

from torch import fx

from ..emit_ctx import EmitCtx
from ..expr import ATOM, Expr
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


def is_unbatched(node: fx.Node, ctx: EmitCtx) -> bool:
    return ctx.rank(ctx.arg(0)) == spatial_dims(node) + 1


def batched_input(node: fx.Node, ctx: EmitCtx) -> str:
    """The first input as a batched channels-last array (source text of precedence ATOM)."""
    return f"{ctx.a(0, ATOM)}[None]" if is_unbatched(node, ctx) else ctx.a(0, ATOM)


def unbatch(node: fx.Node, ctx: EmitCtx, expr: Expr) -> Expr:
    """Drop the batch axis :func:`batched_input` added."""
    if not is_unbatched(node, ctx):
        return expr
    text = expr.text if expr.prec >= ATOM else f"({expr.text})"
    return Expr(f"{text}[0]")
