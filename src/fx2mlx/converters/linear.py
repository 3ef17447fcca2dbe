"""``nn.Linear`` as an MLX layer; matmul family and functional ``linear`` as ``@``; ``bilinear``
as ``mx.einsum``."""

from __future__ import annotations

import torch
from torch import fx, nn

from ..emit_ctx import EmitCtx
from ..expr import ATOM, Expr, binary, call
from ..layout import last_axis
from .registry import Ctor, register_layer, register_op

aten = torch.ops.aten


@register_layer(
    nn.Linear, "nn.Linear", layout=last_axis, forward_op=(aten.linear.default, ("weight", "bias"))
)
def build_linear(linear: nn.Linear) -> Ctor:
    args = [("input_dims", linear.in_features), ("output_dims", linear.out_features)]
    return Ctor("nn.Linear", args, [("bias", linear.bias is not None)], {"bias": True})


@register_op(aten.linear.default, layout=last_axis)
def linear(node: fx.Node, ctx: EmitCtx) -> Expr:
    """As MLX's ``nn.Linear`` computes it: with a bias, one fused ``mx.addmm`` (an
    ``nn.Linear`` subclass with its own forward, e.g. Whisper's, lands here)."""
    weight, bias = ctx.arg("weight"), ctx.arg("bias", None)
    transposed = Expr(f"{ctx.x(weight, ATOM)}.T")
    if bias is None:
        return binary("@", ctx.arg("input"), transposed)
    return call("mx.addmm", bias, ctx.arg("input"), transposed)


@register_op(aten.matmul.default, aten.mm.default, aten.bmm.default)
def matmul(node: fx.Node, ctx: EmitCtx) -> Expr:
    other = "other" if node.target is aten.matmul.default else "mat2"
    return binary("@", ctx.arg("self"), ctx.arg(other))


@register_op(aten.addmm.default, aten.baddbmm.default)
def addmm(node: fx.Node, ctx: EmitCtx) -> Expr:
    beta, alpha = ctx.arg("beta", 1), ctx.arg("alpha", 1)
    left, right = ("mat1", "mat2") if node.target is aten.addmm.default else ("batch1", "batch2")
    product = binary("@", ctx.arg(left), ctx.arg(right))
    if alpha != 1:
        product = binary("*", alpha, product)
    base = ctx.arg("self") if beta == 1 else binary("*", beta, ctx.arg("self"))
    return binary("+", base, product)


@register_op(aten.bilinear.default)
def bilinear(node: fx.Node, ctx: EmitCtx) -> Expr:
    """``nn.Bilinear`` / ``F.bilinear``: ``y_o = x1 W_o x2 + b_o`` (torch's weight is
    ``(out, in1, in2)``; MLX's Bilinear layer takes two inputs, which a layer call can't)."""
    x1, w, x2 = ctx.a("input1"), ctx.a("weight"), ctx.a("input2")
    product = call("mx.einsum", repr("...i,oij,...j->...o"), x1, w, x2)
    bias = ctx.arg("bias")
    return product if bias is None else binary("+", product, bias)
