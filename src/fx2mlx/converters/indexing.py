"""Taking tensors apart and putting them together: slicing, select, indexing, gather,
split/chunk/unbind, cat/stack."""

from __future__ import annotations

import operator

import torch
from torch import fx

from ..emit_ctx import OPEN_END, EmitCtx, dtype_expr, op_args
from ..expr import ATOM, Expr, call
from ..layout import Decision, Perm, identity, keep, out_rank, rank_of
from .registry import register_op

aten = torch.ops.aten


def cat_layout(node: fx.Node, perms: dict[fx.Node, Perm]) -> Decision:
    """Every input in the first one's layout (empty inputs, which torch skips, aside)."""
    tensors = list(op_args(node)["tensors"])
    nonempty = [t for t in tensors if rank_of(t) == rank_of(node)]
    p = perms[nonempty[0]] if nonempty else identity(rank_of(node) or 0)
    return Decision({t: p for t in nonempty}, p)


@register_op(aten.cat.default, layout=cat_layout)
def cat(node: fx.Node, ctx: EmitCtx) -> Expr:
    tensors = [t for t in ctx.arg("tensors") if ctx.rank(t) == ctx.rank()]
    axis = ctx.axis(node, ctx.arg("dim"))
    return call("mx.concatenate", ctx.x(tensors), axis=str(axis))


@register_op(aten.stack.default)
def stack(node: fx.Node, ctx: EmitCtx) -> Expr:
    dim = ctx.arg("dim") % ctx.rank()
    return call("mx.stack", ctx.x(list(ctx.arg("tensors"))), axis=str(dim))


def _split_sizes(node: fx.Node, ctx: EmitCtx, size: int) -> list[int]:
    if node.target is aten.split_with_sizes.default:
        return list(ctx.arg("split_sizes"))
    if node.target is aten.chunk.default:
        step = -(-size // ctx.arg("chunks"))
    else:
        step = ctx.arg("split_size")
    return [min(step, size - i) for i in range(0, size, step)]


def _split_points(node: fx.Node, ctx: EmitCtx) -> list[int]:
    size = ctx.shape(ctx.arg("self"))[ctx.arg("dim")]
    points, total = [], 0
    for s in _split_sizes(node, ctx, size)[:-1]:
        total += s
        points.append(total)
    return points


def check_split(node: fx.Node) -> str | None:
    args = op_args(node)
    size = args["self"].meta["val"].shape[args["dim"]]
    return None if isinstance(size, int) else "split along a dynamic dimension"


@register_op(
    aten.split.Tensor,
    aten.split_with_sizes.default,
    aten.chunk.default,
    layout=keep,
    check=check_split,
)
def split(node: fx.Node, ctx: EmitCtx) -> Expr:
    axis = ctx.axis(ctx.arg("self"), ctx.arg("dim"))
    points = _split_points(node, ctx)
    return call("mx.split", ctx.a("self"), ctx.x(points), axis=str(axis))


@register_op(aten.unbind.int)
def unbind(node: fx.Node, ctx: EmitCtx) -> Expr:
    dim = ctx.arg("dim") % ctx.rank(ctx.arg("self"))
    src = ctx.a("self") if dim == 0 else call("mx.moveaxis", ctx.a("self"), str(dim), "0").text
    return call("list", src)


def _index_text(ctx: EmitCtx, src: fx.Node, axis: int, item: str) -> Expr:
    parts = [":"] * axis + [item]
    return Expr(f"{ctx.x(src, ATOM)}[{', '.join(parts)}]")


def _slice_bound(ctx: EmitCtx, value: object, skip: object) -> str:
    if value is None or value == skip or (isinstance(value, int) and value >= OPEN_END):
        return ""
    return ctx.x(value)


@register_op(aten.slice.Tensor, layout=keep)
def slice_(node: fx.Node, ctx: EmitCtx) -> Expr:
    src = ctx.arg("self")
    axis = ctx.axis(src, ctx.arg("dim"))
    start = _slice_bound(ctx, ctx.arg("start"), 0)
    end = _slice_bound(ctx, ctx.arg("end"), None)
    step = ctx.arg("step")
    item = f"{start}:{end}" + (f":{ctx.x(step)}" if step != 1 else "")
    return _index_text(ctx, src, axis, item)


def select_layout(node: fx.Node, perms: dict[fx.Node, Perm]) -> Decision:
    args = op_args(node)
    src = args["self"]
    p = perms[src]
    d = args["dim"] % len(p)
    return Decision({src: p}, tuple(a - (a > d) for a in p if a != d))


@register_op(aten.select.int, layout=select_layout)
def select(node: fx.Node, ctx: EmitCtx) -> Expr:
    src = ctx.arg("self")
    return _index_text(ctx, src, ctx.axis(src, ctx.arg("dim")), ctx.a("index"))


def getitem_layout(node: fx.Node, perms: dict[fx.Node, Perm]) -> Decision:
    """An output of a multi-output op has the layout the op gave its outputs."""
    src = op_args(node)["a"]
    p = perms.get(src) if isinstance(src, fx.Node) else None
    r = out_rank(node)
    if p is not None and r is not None and len(p) != r and p == identity(len(p)):
        p = identity(r)  # outputs of several ranks (svd's S, qr's empty Q) in PyTorch's layout
    return Decision({}, p if r is not None else None)


@register_op(operator.getitem, layout=getitem_layout)
def getitem(node: fx.Node, ctx: EmitCtx) -> Expr:
    """``a[b]``: an output of a multi-output op (or an item of a list)."""
    return Expr(f"{ctx.a('a', ATOM)}[{ctx.a('b')}]")


def check_index(node: fx.Node) -> str | None:
    for i in op_args(node)["indices"]:
        val = i.meta.get("val") if isinstance(i, fx.Node) else None
        if isinstance(val, torch.Tensor) and val.dtype in (torch.bool, torch.uint8):
            return "indexing with a boolean mask (the output's size depends on its values)"
    return None


@register_op(aten.index.Tensor, check=check_index)
def index(node: fx.Node, ctx: EmitCtx) -> Expr:
    items = [":" if i is None else ctx.x(i) for i in ctx.arg("indices")]
    return Expr(f"{ctx.a('self', ATOM)}[{', '.join(items)}]")


@register_op(aten.gather.default)
def gather(node: fx.Node, ctx: EmitCtx) -> Expr:
    index = ctx.x(ctx.arg("index"), ATOM)
    if ctx.rank(ctx.arg("self")) == 0:  # index is all zeros: only element 0 to gather
        return call("mx.broadcast_to", ctx.a("self"), f"{index}.shape")
    if any(isinstance(d, int) and d == 0 for d in ctx.shape(ctx.arg("index"))):
        return call("mx.zeros", f"{index}.shape", dtype=dtype_expr(ctx.dtype()))
    dim = ctx.arg("dim") % ctx.rank(ctx.arg("self"))
    return call("mx.take_along_axis", ctx.a("self"), ctx.a("index"), axis=str(dim))


def _start(ctx: EmitCtx, src: fx.Node, dim: int, start: object) -> str:
    """A slice start as the non-negative index ``mx.slice_update`` takes (torch clamps it)."""
    if start is None:
        return "0"
    size = ctx.shape(src)[dim]
    if isinstance(start, int) and isinstance(size, int):
        return str(max(0, min(size, start + size if start < 0 else start)))
    return ctx.x(start)


def check_slice_scatter(node: fx.Node) -> str | None:
    args = op_args(node)
    if args["step"] != 1:
        return "slice_scatter with a step (mx.slice_update writes a contiguous block)"
    start, size = args["start"], args["self"].meta["val"].shape[args["dim"]]
    if isinstance(start, int) and start < 0 and not isinstance(size, int):
        return "slice_scatter from the end of a dynamic dimension"
    return None


@register_op(aten.slice_scatter.default, check=check_slice_scatter)
def slice_scatter(node: fx.Node, ctx: EmitCtx) -> Expr:
    """``x[..., a:b] = src`` (a write through a slice, see normalize_graph)."""
    src, dim = ctx.arg("self"), ctx.arg("dim") % ctx.rank()
    start = _start(ctx, src, dim, ctx.arg("start"))
    return call(
        "mx.slice_update", ctx.a("self"), ctx.a("src"), f"mx.array([{start}])", axes=f"({dim},)"
    )


def check_select_scatter(node: fx.Node) -> str | None:
    args = op_args(node)
    index, size = args["index"], args["self"].meta["val"].shape[args["dim"]]
    if isinstance(index, int) and index < 0 and not isinstance(size, int):
        return "select_scatter from the end of a dynamic dimension"
    return None


@register_op(aten.select_scatter.default, check=check_select_scatter)
def select_scatter(node: fx.Node, ctx: EmitCtx) -> Expr:
    """``x[..., i] = src`` (a write through an index, see normalize_graph)."""
    src, dim = ctx.arg("self"), ctx.arg("dim") % ctx.rank()
    index = _start(ctx, src, dim, ctx.arg("index"))
    update = call("mx.expand_dims", ctx.a("src"), str(dim)).text
    return call("mx.slice_update", ctx.a("self"), update, f"mx.array([{index}])", axes=f"({dim},)")
