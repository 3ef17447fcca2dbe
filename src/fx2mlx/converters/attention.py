"""``scaled_dot_product_attention`` as ``mx.fast.scaled_dot_product_attention``."""

from __future__ import annotations

import math

import torch
from torch import fx

from ..emit_ctx import EmitCtx, op_args
from ..expr import ATOM, Expr, binary, call
from ..meta import UNGUARDED
from .registry import Inherent, register_op

aten = torch.ops.aten
_QKV = ("query", "key", "value")


def check_sdpa(node: fx.Node) -> str | None:
    args = op_args(node)
    q = args["query"].meta["val"]
    if q.dim() not in (3, 4):
        return f"attention on rank-{q.dim()} tensors (MLX takes (batch, heads, length, dim))"
    if any(args[name].meta["val"].dim() != q.dim() for name in _QKV[1:]):
        return "query, key and value of different ranks (MLX doesn't broadcast them)"
    if args["dropout_p"]:
        return Inherent("attention dropout (training mode)")
    return None


def _scale(ctx: EmitCtx) -> str:
    scale = ctx.arg("scale")
    if scale is not None:
        return repr(float(scale))
    dim = ctx.shape(ctx.arg("query"))[-1]
    if isinstance(dim, int):
        return repr(1.0 / math.sqrt(dim))
    return f"{ctx.a('query', ATOM)}.shape[-1] ** -0.5"


def _causal_mask(ctx: EmitCtx) -> str:
    """torch's is_causal keeps the top-left triangle; MLX's "causal" is the same when L == S."""
    lq, lk = ctx.shape(ctx.arg("query"))[-2], ctx.shape(ctx.arg("key"))[-2]
    if _size_expr(lq) == _size_expr(lk):  # the same size, or the same symbolic size
        return '"causal"'
    q, k = ctx.a("query", ATOM), ctx.a("key", ATOM)
    return f"mx.tril(mx.ones(({q}.shape[-2], {k}.shape[-2]), dtype=mx.bool_))"


def _size_expr(size: object) -> object:
    return size.node.expr if isinstance(size, torch.SymInt) else size


def _sees_a_key(ctx: EmitCtx, mask: fx.Node) -> Expr:
    """Per query: is any key allowed? (a bool mask's True, a float mask's finite entry)"""
    allowed = ctx.x(mask) if ctx.dtype(mask) is torch.bool else binary("!=", mask, -math.inf)
    return call("mx.any", allowed, axis="-1", keepdims="True")


@register_op(aten.scaled_dot_product_attention.default, check=check_sdpa)
def sdpa(node: fx.Node, ctx: EmitCtx) -> Expr:
    mask = ctx.arg("attn_mask")
    kwargs = {"scale": _scale(ctx)}
    if ctx.arg("is_causal"):
        kwargs["mask"] = _causal_mask(ctx)
    elif mask is not None:
        kwargs["mask"] = ctx.x(mask)
    qkv = [ctx.a(name) for name in _QKV]
    unbatched_heads = ctx.rank(ctx.arg("query")) == 3
    if unbatched_heads:
        # MLX wants a heads axis; add one and drop it again
        qkv = [f"{ctx.a(name, ATOM)}[:, None]" for name in _QKV]
        if "mask" in kwargs and mask is not None and ctx.rank(mask) == 3:
            kwargs["mask"] = f"{ctx.x(mask, ATOM)}[:, None]"
    out = call("mx.fast.scaled_dot_product_attention", *qkv, **kwargs)
    if unbatched_heads:
        out = Expr(f"{out.text}[:, 0]")
    if mask is None or ctx.arg("is_causal") or node.meta.get(UNGUARDED):
        return out
    # torch returns 0 for a query whose keys are all masked; MLX the mean of v, or NaN
    ctx.comment("zero where a query may attend to no key, as torch")
    return call("mx.where", _sees_a_key(ctx, mask), out, "0.0")
