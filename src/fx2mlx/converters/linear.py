"""``nn.Linear`` as an MLX layer; matmul family and functional ``linear`` as ``@``."""

from __future__ import annotations

import torch
from torch import fx, nn

from ..emit_ctx import EmitCtx
from ..expr import ADD, ATOM, MUL, Expr
from ..layout import last_axis
from .registry import Ctor, register_layer, register_op

aten = torch.ops.aten


@register_layer(nn.Linear, "nn.Linear", layout=last_axis)
def build_linear(linear: nn.Linear) -> Ctor:
    args = [("input_dims", linear.in_features), ("output_dims", linear.out_features)]
    return Ctor("nn.Linear", args, [("bias", linear.bias is not None)], {"bias": True})


@register_op(aten.linear.default, layout=last_axis)
def linear(node: fx.Node, ctx: EmitCtx) -> Expr:
    weight, bias = ctx.arg(1), ctx.arg("bias", None)
    w = f"{ctx.x(weight, ATOM)}.T"
    if bias is None:
        return Expr(f"{ctx.a(0, MUL)} @ {w}", MUL)
    return Expr(f"{ctx.a(0, MUL)} @ {w} + {ctx.x(bias, ADD + 1)}", ADD)


@register_op(aten.matmul.default, aten.mm.default, aten.bmm.default)
def matmul(node: fx.Node, ctx: EmitCtx) -> Expr:
    return Expr(f"{ctx.a(0, MUL)} @ {ctx.a(1, MUL + 1)}", MUL)


@register_op(aten.addmm.default, aten.baddbmm.default)
def addmm(node: fx.Node, ctx: EmitCtx) -> Expr:
    beta, alpha = ctx.arg("beta", 1), ctx.arg("alpha", 1)
    product = f"{ctx.a(1, MUL)} @ {ctx.a(2, MUL + 1)}"
    if alpha != 1:
        product = f"{ctx.x(alpha, MUL)} * ({product})"
    base = ctx.a(0, ADD)
    if beta != 1:
        base = f"{ctx.x(beta, MUL)} * {ctx.a(0, MUL + 1)}"
    return Expr(f"{base} + {product}", ADD)
