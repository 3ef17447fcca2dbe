"""Shape ops: view/reshape/flatten, permute/transpose (free: only the layout changes),
unsqueeze/squeeze, expand, ``*_as``, pixel_shuffle/unshuffle, repeat, repeat_interleave, and
symbolic sizes."""

from __future__ import annotations

import torch
from torch import fx

from ..emit_ctx import EmitCtx, op_args
from ..expr import ATOM, Expr, call
from ..layout import (
    Decision,
    Perm,
    canonical,
    channels_last,
    identity,
    keep,
    ordered_layout,
    rank_of,
    reshape_layout,
)
from .registry import register_op

aten = torch.ops.aten


def _static_unit(size: object) -> bool:
    return isinstance(size, int) and size == 1


def _stored_sizes(ctx: EmitCtx, sizes: list[str]) -> str:
    """PyTorch-ordered output sizes, in the order the output is stored."""
    return ", ".join(sizes[d] for d in ctx.perm()) if sizes else "()"


@register_op(
    aten.view.default, aten.reshape.default, aten._unsafe_view.default, layout=reshape_layout
)
def reshape(node: fx.Node, ctx: EmitCtx) -> Expr:
    sizes = ctx.arg("shape") if node.target is aten.reshape.default else ctx.arg("size")
    # to 0-d: MLX's reshape() with no sizes crashes the process; it takes an empty tuple
    shape = _stored_sizes(ctx, [ctx.x(s) for s in sizes])
    return Expr(f"{ctx.a('self', ATOM)}.reshape({shape})")


def _dim_expr(ctx: EmitCtx, node: fx.Node, dim: int) -> str:
    return f"{ctx.x(node, ATOM)}.shape[{ctx.axis(node, dim)}]"


@register_op(aten.flatten.using_ints, layout=reshape_layout)
def flatten(node: fx.Node, ctx: EmitCtx) -> Expr:
    src = ctx.arg("self")
    r = ctx.rank(src)
    start, end = ctx.arg("start_dim") % max(r, 1), ctx.arg("end_dim") % max(r, 1)
    if ctx.perm(src) == identity(r) and ctx.perm() == identity(ctx.rank()):
        args = [str(start)] + ([str(end)] if end != r - 1 else [])
        return Expr(f"{ctx.x(src, ATOM)}.flatten({', '.join(args)})")
    sizes = [_dim_expr(ctx, src, d) for d in range(start)] + ["-1"]
    sizes += [_dim_expr(ctx, src, d) for d in range(end + 1, r)]
    return Expr(f"{ctx.x(src, ATOM)}.reshape({_stored_sizes(ctx, sizes)})")


@register_op(aten.unflatten.int, layout=reshape_layout)
def unflatten(node: fx.Node, ctx: EmitCtx) -> Expr:
    src, sizes = ctx.arg("self"), list(ctx.arg("sizes"))
    r = ctx.rank(src)
    dim = ctx.arg("dim") % r
    new = [_dim_expr(ctx, src, d) for d in range(dim)] + [ctx.x(s) for s in sizes]
    new += [_dim_expr(ctx, src, d) for d in range(dim + 1, r)]
    return Expr(f"{ctx.x(src, ATOM)}.reshape({_stored_sizes(ctx, new)})")


def permute_layout(node: fx.Node, perms: dict[fx.Node, Perm]) -> Decision:
    src = op_args(node)["self"]
    p = perms[src]
    dims = _permutation(node, len(p))
    return Decision({src: p}, tuple(dims.index(a) for a in p))


def _permutation(node: fx.Node, r: int) -> list[int]:
    args = op_args(node)
    if node.target is aten.permute.default:
        return [d % r for d in args["dims"]]
    if node.target in (aten.t.default, aten.numpy_T.default):  # `.t()` and `.T`
        return list(reversed(range(r)))
    if r == 0:  # a 0-d tensor's "dim 0" (or -1) leaves it as it is
        return []
    d0, d1 = args["dim0"] % r, args["dim1"] % r
    dims = list(range(r))
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return dims


@register_op(
    aten.permute.default,
    aten.transpose.int,
    aten.t.default,
    aten.numpy_T.default,
    layout=permute_layout,
)
def permute(node: fx.Node, ctx: EmitCtx) -> Expr:
    # No data moves: the layout pass records the new axis order instead.
    return Expr(ctx.a("self"))


def unsqueeze_layout(node: fx.Node, perms: dict[fx.Node, Perm]) -> Decision:
    args = op_args(node)
    src = args["self"]
    p = perms[src]
    d = args["dim"] % (len(p) + 1)
    shifted = [a + (a >= d) for a in p]
    k = shifted.index(d - 1) + 1 if d > 0 else 0
    return Decision({src: p}, tuple(shifted[:k] + [d] + shifted[k:]))


@register_op(aten.unsqueeze.default, layout=unsqueeze_layout)
def unsqueeze(node: fx.Node, ctx: EmitCtx) -> Expr:
    k = ctx.perm().index(ctx.arg("dim") % ctx.rank())
    return call("mx.expand_dims", ctx.a("self"), str(k))


def _squeezed(node: fx.Node) -> list[int]:
    """The dims a squeeze drops: the listed (or all) dims of static size 1."""
    args = op_args(node)
    shape = args["self"].meta["val"].shape
    r = len(shape)
    if r == 0:  # squeezing a 0-d tensor's "dim 0" leaves it as it is
        return []
    dims = args.get("dim", range(r))  # squeeze(x) names none: all of them
    dims = [dims] if isinstance(dims, int) else dims
    return sorted({d % r for d in dims if _static_unit(shape[d % r])})


def squeeze_layout(node: fx.Node, perms: dict[fx.Node, Perm]) -> Decision:
    src = op_args(node)["self"]
    p = perms[src]
    gone = _squeezed(node)
    out = tuple(a - sum(g < a for g in gone) for a in p if a not in gone)
    return Decision({src: p}, out)


@register_op(aten.squeeze.default, aten.squeeze.dim, aten.squeeze.dims, layout=squeeze_layout)
def squeeze(node: fx.Node, ctx: EmitCtx) -> Expr:
    gone = [ctx.axis(ctx.arg("self"), d) for d in _squeezed(node)]
    if not gone:
        return Expr(ctx.a("self"))
    axis = str(gone[0]) if len(gone) == 1 else ctx.x(tuple(sorted(gone)))
    return call("mx.squeeze", ctx.a("self"), axis=axis)


def expand_layout(node: fx.Node, perms: dict[fx.Node, Perm]) -> Decision:
    """Expanding without new leading dims broadcasts axis for axis: any layout works."""
    src = op_args(node)["self"]
    if rank_of(src) == rank_of(node):
        return keep(node, perms)
    return canonical(node, perms)


@register_op(aten.expand.default, layout=expand_layout)
def expand(node: fx.Node, ctx: EmitCtx) -> Expr:
    src = ctx.arg("self")
    sizes = list(ctx.arg("size"))
    offset = len(sizes) - ctx.rank(src)
    texts = [  # in stored order (a kept rank keeps the input's layout); -1 keeps a size
        (
            f"{ctx.x(src, ATOM)}.shape[{ctx.axis(src, d - offset)}]"
            if isinstance(sizes[d], int) and sizes[d] == -1
            else ctx.x(sizes[d])
        )
        for d in ctx.perm()
    ]
    return call(
        "mx.broadcast_to", ctx.a("self"), f"({', '.join(texts)}{',' if len(texts) == 1 else ''})"
    )


def _shape_text(ctx: EmitCtx, node: fx.Node) -> str:
    """``node``'s PyTorch shape at run time, whatever layout it is stored in."""
    r = ctx.rank(node)
    if ctx.perm(node) == identity(r):
        return f"{ctx.x(node, ATOM)}.shape"
    items = [_dim_expr(ctx, node, d) for d in range(r)]
    return f"({', '.join(items)}{',' if r == 1 else ''})"


def shape_as_layout(node: fx.Node, perms: dict[fx.Node, Perm]) -> Decision:
    """Only the shape of ``other`` is read: it stays in whatever layout it has."""
    if node.target is not aten.expand_as.default:
        return ordered_layout(node, perms)
    src, other = op_args(node)["self"], op_args(node)["other"]
    if rank_of(src) == rank_of(other):  # broadcast in other's layout, axis for axis
        return Decision({src: perms[other]}, perms[other])
    return Decision({src: identity(rank_of(src) or 0)}, identity(rank_of(node) or 0))


@register_op(
    aten.expand_as.default, aten.reshape_as.default, aten.view_as.default, layout=shape_as_layout
)
def shape_as(node: fx.Node, ctx: EmitCtx) -> Expr:
    other = ctx.arg("other")
    if node.target is aten.expand_as.default:
        same = ctx.perm() == ctx.perm(other)  # stored alike: the stored shape will do
        shape = f"{ctx.x(other, ATOM)}.shape" if same else _shape_text(ctx, other)
        return call("mx.broadcast_to", ctx.a("self"), shape)
    shape = _shape_text(ctx, other)
    return Expr(f"{ctx.a('self', ATOM)}.reshape({shape})")


def pixel_shuffle_layout(node: fx.Node, perms: dict[fx.Node, Perm]) -> Decision:
    """A channels-last image stays channels-last (inside a conv stack); anything else is
    shuffled in PyTorch's layout."""
    src = op_args(node)["self"]
    p = perms[src]
    if len(p) == 4 and p == channels_last(4):
        return Decision({src: p}, p)
    return Decision({src: identity(len(p))}, identity(len(p)))


@register_op(aten.pixel_shuffle.default, aten.pixel_unshuffle.default, layout=pixel_shuffle_layout)
def pixel_shuffle(node: fx.Node, ctx: EmitCtx) -> Expr:
    shuffle = node.target is aten.pixel_shuffle.default
    fn = ctx.helper("pixel_shuffle" if shuffle else "pixel_unshuffle")
    factor = ctx.a("upscale_factor" if shuffle else "downscale_factor")
    src = ctx.arg("self")
    if ctx.perm(src) == identity(ctx.rank(src)):
        return call(fn, ctx.a("self"), factor)
    return call(fn, ctx.a("self"), factor, channels_last="True")


@register_op(aten.repeat.default)
def repeat(node: fx.Node, ctx: EmitCtx) -> Expr:
    return call("mx.tile", ctx.a("self"), ctx.x(list(ctx.arg("repeats"))))


def size_layout(node: fx.Node, perms: dict[fx.Node, Perm]) -> Decision:
    src = op_args(node)["self"]
    return Decision({src: perms[src]}, None)


@register_op(aten.sym_size.int, layout=size_layout)
def sym_size(node: fx.Node, ctx: EmitCtx) -> Expr:
    return Expr(f"{ctx.a('self', ATOM)}.shape[{ctx.axis(ctx.arg('self'), ctx.arg('dim'))}]")


def repeat_interleave_layout(node: fx.Node, perms: dict[fx.Node, Perm]) -> Decision:
    """Along one axis any layout works; without a dim torch flattens, in its own order."""
    if op_args(node)["dim"] is None:
        return canonical(node, perms)
    return keep(node, perms)


def check_repeat_interleave(node: fx.Node) -> str | None:
    if isinstance(op_args(node)["repeats"], fx.Node):
        # the output's length is the sum of the repeats: known only when they are constant
        return "repeat_interleave with tensor repeats computed at run time (data-dependent shape)"
    return None


@register_op(
    aten.repeat_interleave.self_int,
    aten.repeat_interleave.self_Tensor,
    layout=repeat_interleave_layout,
    check=check_repeat_interleave,
)
def repeat_interleave(node: fx.Node, ctx: EmitCtx) -> Expr:
    src, dim, repeats = ctx.arg("self"), ctx.arg("dim"), ctx.arg("repeats")
    if dim is None:
        x, axis = f"{ctx.x(src, ATOM)}.flatten()", 0
    else:
        x, axis = ctx.a("self"), ctx.axis(src, dim)
    if isinstance(repeats, list) and len(repeats) != 1:
        ctx.comment("repeats baked in from a constant tensor at conversion")
        return call(ctx.helper("repeat_interleave"), x, ctx.x(repeats), str(axis))
    count = repeats[0] if isinstance(repeats, list) else repeats  # one repeat: for every element
    return call("mx.repeat", x, ctx.x(count), axis=str(axis))
