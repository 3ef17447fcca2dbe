"""Writes at computed positions: ``scatter`` (src or value), ``scatter_add``,
``scatter_reduce``, ``index_put`` (``x[idx] = v``, ``x[mask] = v``, accumulating or not),
``index_add``/``index_copy``/``index_fill`` and ``masked_scatter``, all exact.

MLX writes with item assignment (on a copy: helpers' ``index_set``) and accumulates with
``x.at[...].add``; a boolean mask write is an ``mx.where``. Written values take the written
tensor's dtype, as in torch.
"""

from __future__ import annotations

import torch
from torch import fx

from ..emit_ctx import EmitCtx, dtype_expr, op_args
from ..expr import ADD, ATOM, LOWEST, Expr, call
from .registry import register_op

aten = torch.ops.aten


def _val(value: object) -> torch.Tensor | None:
    val = value.meta.get("val") if isinstance(value, fx.Node) else None
    return val if isinstance(val, torch.Tensor) else None


def _as_self(ctx: EmitCtx, name: str) -> str:
    """Argument ``name`` in the written tensor's dtype (``mx.where`` would promote)."""
    value = ctx.arg(name)
    val = _val(value)
    if val is None or val.dtype == ctx.dtype():
        return ctx.x(value)
    return f"{ctx.x(value, ATOM)}.astype({dtype_expr(ctx.dtype())})"


def _dim(ctx: EmitCtx) -> str:
    return str(ctx.arg("dim") % max(ctx.rank(ctx.arg("self")), 1))


@register_op(aten.scatter.src, aten.scatter.value)
def scatter(node: fx.Node, ctx: EmitCtx) -> Expr:
    src = ctx.a("src") if node.target is aten.scatter.src else ctx.a("value")
    return call(ctx.helper("scatter"), ctx.a("self"), _dim(ctx), ctx.a("index"), src)


@register_op(aten.scatter_add.default)
def scatter_add(node: fx.Node, ctx: EmitCtx) -> Expr:
    args = (ctx.a("self"), _dim(ctx), ctx.a("index"), ctx.a("src"))
    return call(ctx.helper("scatter_add"), *args)


def check_scatter_reduce(node: fx.Node) -> str | None:
    args = op_args(node)
    floating = args["self"].meta["val"].dtype.is_floating_point
    if args["reduce"] == "mean" and not floating:
        return "scatter_reduce 'mean' of integers (torch rounds its own way)"
    if args["reduce"] in ("amax", "amin") and not args["include_self"] and not floating:
        return "scatter_reduce 'amax'/'amin' of integers without include_self"
    return None


@register_op(aten.scatter_reduce.two, check=check_scatter_reduce)
def scatter_reduce(node: fx.Node, ctx: EmitCtx) -> Expr:
    args = [ctx.a(name) for name in ("self", "index", "src", "reduce")]
    args.insert(1, _dim(ctx))
    if not ctx.arg("include_self"):
        args.append("include_self=False")
    return call(ctx.helper("scatter_reduce"), *args)


@register_op(aten.index_add.default)
def index_add(node: fx.Node, ctx: EmitCtx) -> Expr:
    source = _as_self(ctx, "source")
    if ctx.arg("alpha") != 1:
        source = f"{ctx.a('source', ATOM)} * {ctx.a('alpha', ATOM)}"
    items = [":"] * int(_dim(ctx)) + [ctx.a("index")]
    if ctx.rank(ctx.arg("self")) == 0:  # torch indexes a 0-d tensor as one of size 1
        return Expr(f"{ctx.a('self', ATOM)}.reshape(1).at[{ctx.a('index')}].add({source})[0]")
    return Expr(f"{ctx.a('self', ATOM)}.at[{', '.join(items)}].add({source})")


@register_op(aten.index_copy.default, aten.index_fill.int_Scalar, aten.index_fill.int_Tensor)
def index_copy(node: fx.Node, ctx: EmitCtx) -> Expr:
    """``x.index_copy(dim, i, src)`` / ``x.index_fill(dim, i, v)``: ``x[..., i] = src``."""
    name = "source" if node.target is aten.index_copy.default else "value"
    where = ["slice(None)"] * int(_dim(ctx)) + [ctx.a("index")]
    index = f"({', '.join(where)},)"
    if ctx.rank(ctx.arg("self")) == 0:  # torch indexes a 0-d tensor as one of size 1
        one = f"{ctx.a('self', ATOM)}.reshape(1)"
        return Expr(f"{call(ctx.helper('index_set'), one, index, _as_self(ctx, name)).text}[0]")
    return call(ctx.helper("index_set"), ctx.a("self"), index, _as_self(ctx, name))


@register_op(aten.masked_scatter.default)
def masked_scatter(node: fx.Node, ctx: EmitCtx) -> Expr:
    return call(ctx.helper("masked_scatter"), ctx.a("self"), ctx.a("mask"), ctx.a("source"))


def _is_mask(value: object) -> bool:
    val = _val(value)
    return val is not None and val.dtype == torch.bool


def _split_indices(indices: list) -> tuple[int, list]:
    """How many leading axes are taken whole (``None``), and the index tensors after them."""
    indices = list(indices)
    while indices and indices[-1] is None:
        indices.pop()
    lead = next((i for i, t in enumerate(indices) if t is not None), len(indices))
    return lead, indices[lead:]


def _mask_case(node: fx.Node) -> str:
    """How ``x[mask] = values`` writes: one value for all ("broadcast"), one row each
    ("rows"), or neither ("")."""
    args = op_args(node)
    lead, (mask, *_) = _split_indices(args["indices"])
    rest = args["self"].meta["val"].dim() - lead - _val(mask).dim()  # type: ignore[union-attr]
    shape = _val(args["values"]).shape  # type: ignore[union-attr]
    if len(shape) <= rest or (len(shape) == rest + 1 and shape[0] == 1):
        return "broadcast"
    return "rows" if len(shape) == rest + 1 and lead == 0 else ""


def check_index_put(node: fx.Node) -> str | None:
    lead, tensors = _split_indices(op_args(node)["indices"])
    if any(t is None for t in tensors):
        return "index_put with index tensors apart (x[i, :, j] = v)"
    if any(_is_mask(t) for t in tensors):
        if len(tensors) > 1:
            return "index_put with a boolean mask beside other indices"
        if not _mask_case(node):
            return "index_put through a mask after a slice, of one row per selected place"
    return None


@register_op(aten.index_put.default, check=check_index_put)
def index_put(node: fx.Node, ctx: EmitCtx) -> Expr:
    lead, tensors = _split_indices(ctx.arg("indices"))
    x, values, add = ctx.a("self"), _as_self(ctx, "values"), ctx.arg("accumulate")
    if _is_mask(tensors[0]):
        return _mask_put(node, ctx, lead, tensors[0])
    if add:
        items = [":"] * lead + [ctx.x(t) for t in tensors]
        return Expr(f"{ctx.a('self', ATOM)}.at[{', '.join(items)}].add({values})")
    index = ", ".join(["slice(None)"] * lead + [ctx.x(t) for t in tensors])
    return call(ctx.helper("index_set"), x, f"({index},)", values)


def _mask_put(node: fx.Node, ctx: EmitCtx, lead: int, mask: fx.Node) -> Expr:
    """``x[mask] = values`` (``+=`` when accumulating), the mask over axes from ``lead``."""
    rest = ctx.rank() - lead - ctx.rank(mask)
    m = ctx.x(mask, ATOM if rest else LOWEST)
    m = f"{m}[..., {', '.join(['None'] * rest)}]" if rest else m
    values, add = _as_self(ctx, "values"), ctx.arg("accumulate")
    if _mask_case(node) == "broadcast":
        written = call("mx.where", m, values, "0" if add else ctx.a("self")).text
    else:
        base = call("mx.zeros_like", ctx.a("self")).text if add else ctx.a("self")
        written = call(ctx.helper("masked_scatter"), base, m, values).text
    return Expr(f"{ctx.a('self', ADD)} + {written}", ADD) if add else Expr(written)
