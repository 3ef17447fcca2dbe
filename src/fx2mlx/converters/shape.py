"""Shape ops: view/reshape/flatten, permute/transpose (free: only the layout changes),
unsqueeze/squeeze, cat/stack, split/chunk/unbind, slicing, select, expand, repeat, sizes."""

from __future__ import annotations

import operator

import torch
from torch import fx

from ..emit_ctx import EmitCtx
from ..expr import ATOM, Expr, call
from ..layout import Decision, Perm, canonical, identity, keep, rank_of
from .registry import register_op

aten = torch.ops.aten
_BIG = 2**62


def _static_unit(size: object) -> bool:
    return isinstance(size, int) and size == 1


def _reshape_layout(node: fx.Node, perms: dict[fx.Node, Perm]) -> Decision:
    """A reshape reads elements in order: fine on any layout that orders non-unit axes alike."""
    src = node.args[0]
    p = perms[src]
    shape = src.meta["val"].shape
    moving = [a for a in p if not _static_unit(shape[a])]
    if moving != sorted(moving):
        p = identity(len(p))
    out = rank_of(node) or 0
    return Decision({src: p}, identity(out))


@register_op(
    aten.view.default, aten.reshape.default, aten._unsafe_view.default, layout=_reshape_layout
)
def reshape(node: fx.Node, ctx: EmitCtx) -> Expr:
    return Expr(f"{ctx.a(0, ATOM)}.reshape({', '.join(ctx.x(s) for s in ctx.arg(1))})")


def _dim_expr(ctx: EmitCtx, node: fx.Node, dim: int) -> str:
    return f"{ctx.x(node, ATOM)}.shape[{ctx.axis(node, dim)}]"


@register_op(aten.flatten.using_ints, layout=_reshape_layout)
def flatten(node: fx.Node, ctx: EmitCtx) -> Expr:
    src = ctx.arg(0)
    r = ctx.rank(src)
    start, end = ctx.arg("start_dim", 0) % max(r, 1), ctx.arg("end_dim", -1) % max(r, 1)
    if ctx.perm(src) == identity(r):
        args = [str(start)] + ([str(end)] if end != r - 1 else [])
        return Expr(f"{ctx.x(src, ATOM)}.flatten({', '.join(args)})")
    sizes = [_dim_expr(ctx, src, d) for d in range(start)] + ["-1"]
    sizes += [_dim_expr(ctx, src, d) for d in range(end + 1, r)]
    return Expr(f"{ctx.x(src, ATOM)}.reshape({', '.join(sizes)})")


@register_op(aten.unflatten.int)
def unflatten(node: fx.Node, ctx: EmitCtx) -> Expr:
    src, dim, sizes = ctx.arg(0), ctx.arg(1), list(ctx.arg(2))
    r = ctx.rank(src)
    dim %= r
    new = [_dim_expr(ctx, src, d) for d in range(dim)] + [ctx.x(s) for s in sizes]
    new += [_dim_expr(ctx, src, d) for d in range(dim + 1, r)]
    return Expr(f"{ctx.x(src, ATOM)}.reshape({', '.join(new)})")


def _permute_layout(node: fx.Node, perms: dict[fx.Node, Perm]) -> Decision:
    src = node.args[0]
    p = perms[src]
    dims = _permutation(node, len(p))
    return Decision({src: p}, tuple(dims.index(a) for a in p))


def _permutation(node: fx.Node, r: int) -> list[int]:
    if node.target is aten.permute.default:
        return [d % r for d in node.args[1]]
    if node.target in (aten.t.default, aten.numpy_T.default):  # `.t()` and `.T`
        return list(reversed(range(r)))
    d0, d1 = node.args[1] % r, node.args[2] % r
    dims = list(range(r))
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return dims


@register_op(
    aten.permute.default,
    aten.transpose.int,
    aten.t.default,
    aten.numpy_T.default,
    layout=_permute_layout,
)
def permute(node: fx.Node, ctx: EmitCtx) -> Expr:
    # No data moves: the layout pass records the new axis order instead.
    return Expr(ctx.a(0))


def _unsqueeze_layout(node: fx.Node, perms: dict[fx.Node, Perm]) -> Decision:
    src = node.args[0]
    p = perms[src]
    d = node.args[1] % (len(p) + 1)
    shifted = [a + (a >= d) for a in p]
    k = shifted.index(d - 1) + 1 if d > 0 else 0
    return Decision({src: p}, tuple(shifted[:k] + [d] + shifted[k:]))


@register_op(aten.unsqueeze.default, layout=_unsqueeze_layout)
def unsqueeze(node: fx.Node, ctx: EmitCtx) -> Expr:
    k = ctx.perm().index(node.args[1] % ctx.rank())
    return call("mx.expand_dims", ctx.a(0), str(k))


def _squeezed(node: fx.Node) -> list[int]:
    shape = node.args[0].meta["val"].shape
    r = len(shape)
    if node.target is aten.squeeze.default:
        dims = range(r)
    elif node.target is aten.squeeze.dim:
        dims = [node.args[1]]
    else:
        dims = node.args[1]
    return sorted({d % r for d in dims if _static_unit(shape[d % r])})


def _squeeze_layout(node: fx.Node, perms: dict[fx.Node, Perm]) -> Decision:
    src = node.args[0]
    p = perms[src]
    gone = _squeezed(node)
    out = tuple(a - sum(g < a for g in gone) for a in p if a not in gone)
    return Decision({src: p}, out)


@register_op(aten.squeeze.default, aten.squeeze.dim, aten.squeeze.dims, layout=_squeeze_layout)
def squeeze(node: fx.Node, ctx: EmitCtx) -> Expr:
    gone = [ctx.axis(node.args[0], d) for d in _squeezed(node)]
    if not gone:
        return Expr(ctx.a(0))
    axis = str(gone[0]) if len(gone) == 1 else ctx.x(tuple(sorted(gone)))
    return call("mx.squeeze", ctx.a(0), axis=axis)


def _same_as_first(node: fx.Node, perms: dict[fx.Node, Perm]) -> Decision:
    tensors = list(node.args[0])
    nonempty = [t for t in tensors if rank_of(t) == rank_of(node)]
    p = perms[nonempty[0]] if nonempty else identity(rank_of(node) or 0)
    return Decision({t: p for t in nonempty}, p)


@register_op(aten.cat.default, layout=_same_as_first)
def cat(node: fx.Node, ctx: EmitCtx) -> Expr:
    tensors = [t for t in ctx.arg(0) if ctx.rank(t) == ctx.rank()]
    axis = ctx.axis(node, ctx.arg("dim", 0))
    return call("mx.concatenate", ctx.x(tensors), axis=str(axis))


@register_op(aten.stack.default)
def stack(node: fx.Node, ctx: EmitCtx) -> Expr:
    dim = ctx.arg("dim", 0) % ctx.rank()
    return call("mx.stack", ctx.x(list(ctx.arg(0))), axis=str(dim))


def _split_points(node: fx.Node, ctx: EmitCtx) -> list[int]:
    src = ctx.arg(0)
    dim = ctx.arg("dim", 0)
    size = ctx.shape(src)[dim]
    if node.target is aten.split_with_sizes.default:
        sizes = list(ctx.arg(1))
    else:
        step = ctx.arg(1)
        if node.target is aten.chunk.default:
            step = -(-size // step)
        sizes = [min(step, size - i) for i in range(0, size, step)]
    points, total = [], 0
    for s in sizes[:-1]:
        total += s
        points.append(total)
    return points


def _check_split(node: fx.Node) -> str | None:
    src = node.args[0]
    dim = node.kwargs.get("dim", node.args[2] if len(node.args) > 2 else 0)
    size = src.meta["val"].shape[dim]
    return None if isinstance(size, int) else "split along a dynamic dimension"


@register_op(
    aten.split.Tensor,
    aten.split_with_sizes.default,
    aten.chunk.default,
    layout=keep,
    check=_check_split,
)
def split(node: fx.Node, ctx: EmitCtx) -> Expr:
    axis = ctx.axis(ctx.arg(0), ctx.arg("dim", 0))
    points = _split_points(node, ctx)
    return call("mx.split", ctx.a(0), ctx.x(points), axis=str(axis))


@register_op(aten.unbind.int)
def unbind(node: fx.Node, ctx: EmitCtx) -> Expr:
    dim = ctx.arg("dim", 0) % ctx.rank(ctx.arg(0))
    src = ctx.a(0) if dim == 0 else call("mx.moveaxis", ctx.a(0), str(dim), "0").text
    return call("list", src)


def _index_text(ctx: EmitCtx, src: fx.Node, axis: int, item: str) -> Expr:
    parts = [":"] * axis + [item]
    return Expr(f"{ctx.x(src, ATOM)}[{', '.join(parts)}]")


def _slice_bound(ctx: EmitCtx, value: object, skip: object) -> str:
    if value is None or value == skip or (isinstance(value, int) and value >= _BIG):
        return ""
    return ctx.x(value)


@register_op(aten.slice.Tensor, layout=keep)
def slice_(node: fx.Node, ctx: EmitCtx) -> Expr:
    src = ctx.arg(0)
    axis = ctx.axis(src, ctx.arg("dim", 0))
    start = _slice_bound(ctx, ctx.arg("start", None), 0)
    end = _slice_bound(ctx, ctx.arg("end", None), None)
    step = ctx.arg("step", 1)
    item = f"{start}:{end}" + (f":{ctx.x(step)}" if step != 1 else "")
    return _index_text(ctx, src, axis, item)


def _select_layout(node: fx.Node, perms: dict[fx.Node, Perm]) -> Decision:
    src = node.args[0]
    p = perms[src]
    d = node.args[1] % len(p)
    return Decision({src: p}, tuple(a - (a > d) for a in p if a != d))


@register_op(aten.select.int, layout=_select_layout)
def select(node: fx.Node, ctx: EmitCtx) -> Expr:
    src = ctx.arg(0)
    return _index_text(ctx, src, ctx.axis(src, ctx.arg(1)), ctx.a(2))


@register_op(aten.expand.default)
def expand(node: fx.Node, ctx: EmitCtx) -> Expr:
    src = ctx.arg(0)
    sizes = list(ctx.arg(1))
    offset = len(sizes) - ctx.rank(src)
    texts = [
        f"{ctx.x(src, ATOM)}.shape[{i - offset}]" if isinstance(s, int) and s == -1 else ctx.x(s)
        for i, s in enumerate(sizes)
    ]
    return call(
        "mx.broadcast_to", ctx.a(0), f"({', '.join(texts)}{',' if len(texts) == 1 else ''})"
    )


@register_op(aten.repeat.default)
def repeat(node: fx.Node, ctx: EmitCtx) -> Expr:
    return call("mx.tile", ctx.a(0), ctx.x(list(ctx.arg(1))))


def _size_layout(node: fx.Node, perms: dict[fx.Node, Perm]) -> Decision:
    src = node.args[0]
    return Decision({src: perms[src]}, None)


@register_op(aten.sym_size.int, layout=_size_layout)
def sym_size(node: fx.Node, ctx: EmitCtx) -> Expr:
    return Expr(f"{ctx.a(0, ATOM)}.shape[{ctx.axis(ctx.arg(0), ctx.arg(1))}]")


@register_op(operator.getitem, layout=canonical)
def getitem(node: fx.Node, ctx: EmitCtx) -> Expr:
    return Expr(f"{ctx.a(0, ATOM)}[{ctx.a(1)}]")


@register_op(aten.index.Tensor)
def index(node: fx.Node, ctx: EmitCtx) -> Expr:
    items = [":" if i is None else ctx.x(i) for i in ctx.arg(1)]
    return Expr(f"{ctx.a(0, ATOM)}[{', '.join(items)}]")


@register_op(aten.gather.default)
def gather(node: fx.Node, ctx: EmitCtx) -> Expr:
    dim = ctx.arg(1) % ctx.rank(ctx.arg(0))
    return call("mx.take_along_axis", ctx.a(0), ctx.a(2), axis=str(dim))
