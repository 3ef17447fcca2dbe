"""Elementwise arithmetic, comparisons, math functions, casts and ``where``."""

from __future__ import annotations

import operator

import torch
from torch import fx

from ..emit_ctx import EmitCtx, dtype_expr
from ..expr import ATOM, Expr, call
from ..expr import binary as infix
from ..expr import unary as prefix
from ..layout import elementwise, keep
from .registry import register_op

aten = torch.ops.aten

_BINARY = {
    aten.add.Tensor: "+",
    aten.add.Scalar: "+",
    aten.sub.Tensor: "-",
    aten.sub.Scalar: "-",
    aten.rsub.Scalar: "-",
    aten.rsub.Tensor: "-",
    aten.mul.Tensor: "*",
    aten.mul.Scalar: "*",
    aten.div.Tensor: "/",
    aten.div.Scalar: "/",
    aten.pow.Tensor_Scalar: "**",
    aten.pow.Tensor_Tensor: "**",
    aten.pow.Scalar: "**",
    aten.eq.Tensor: "==",
    aten.eq.Scalar: "==",
    aten.ne.Tensor: "!=",
    aten.ne.Scalar: "!=",
    aten.lt.Tensor: "<",
    aten.lt.Scalar: "<",
    aten.le.Tensor: "<=",
    aten.le.Scalar: "<=",
    aten.gt.Tensor: ">",
    aten.gt.Scalar: ">",
    aten.ge.Tensor: ">=",
    aten.ge.Scalar: ">=",
    aten.bitwise_and.Tensor: "&",
    aten.bitwise_or.Tensor: "|",
}


def _is_tensor(value: object) -> bool:
    return isinstance(value, fx.Node) and isinstance(value.meta.get("val"), torch.Tensor)


@register_op(*_BINARY, layout=elementwise)
def binary(node: fx.Node, ctx: EmitCtx) -> Expr:
    op = _BINARY[node.target]
    a, b = ctx.arg("self"), ctx.arg("exponent" if op == "**" else "other")
    if node.target in (aten.rsub.Scalar, aten.rsub.Tensor):
        a, b = b, a
    alpha = ctx.arg("alpha", 1)
    if alpha != 1:
        b = infix("*", b, alpha)
    if not _is_tensor(a) and op == "**":
        a = call("mx.array", ctx.x(a))  # a Python float ** array needs an array base
    a, b = _widen_bool(a, ctx), _widen_bool(b, ctx)
    return infix(op, a, b)


def _widen_bool(value: object, ctx: EmitCtx) -> object:
    """A boolean operand of an op whose result torch makes an integer (``mask + 1`` is int64
    in torch, int32 in MLX) is cast to that integer first."""
    out = ctx.dtype()
    if out.is_floating_point or out.is_complex or out == torch.bool or not _is_tensor(value):
        return value
    if ctx.dtype(value) != torch.bool:  # type: ignore[arg-type]
        return value
    return Expr(f"{ctx.x(value, ATOM)}.astype({dtype_expr(out)})")


@register_op(aten.logical_and.default, aten.logical_or.default, layout=elementwise)
def logical(node: fx.Node, ctx: EmitCtx) -> Expr:
    # not `&`/`|`: those are bitwise on integers, and torch treats any nonzero as True
    fn = "mx.logical_and" if node.target is aten.logical_and.default else "mx.logical_or"
    return call(fn, ctx.a("self"), ctx.a("other"))


@register_op(aten.div.Tensor_mode, aten.div.Scalar_mode, layout=elementwise)
def div_mode(node: fx.Node, ctx: EmitCtx) -> Expr:
    mode = ctx.arg("rounding_mode", None)
    if mode == "floor":
        return call("mx.floor_divide", ctx.a("self"), ctx.a("other"))
    quotient = infix("/", ctx.arg("self"), ctx.arg("other"))
    if mode == "trunc" and not ctx.dtype().is_floating_point:
        return _trunc_div_int(ctx.arg("self"), ctx.arg("other"))
    if mode == "trunc":
        # MLX has no truncating division; round the true quotient toward zero.
        floor, ceil = call("mx.floor", quotient), call("mx.ceil", quotient)
        return call("mx.where", infix("<", quotient, 0), ceil, floor)
    return quotient


def _trunc_div_int(a: fx.Node, b: object) -> Expr:
    """Integer division toward zero, exact in the integer dtype (the float quotient would
    round 2**30 + 1 and return float32): sign(a)·sign(b)·(|a| // |b|)."""
    if isinstance(b, fx.Node):
        signs = infix("*", call("mx.sign", a), call("mx.sign", b))
        return infix("*", signs, infix("//", call("mx.abs", a), call("mx.abs", b)))
    # a Python divisor stays a literal: an MLX scalar array would promote uint8 to int32
    sign = call("mx.sign", a) if b > 0 else prefix("-", call("mx.sign", a))  # type: ignore[operator]
    return infix("*", sign, infix("//", call("mx.abs", a), abs(b)))  # type: ignore[arg-type]


_UNARY = {
    aten.neg.default: None,
    aten.exp.default: "mx.exp",
    aten.log.default: "mx.log",
    aten.log1p.default: "mx.log1p",
    aten.sqrt.default: "mx.sqrt",
    aten.rsqrt.default: "mx.rsqrt",
    aten.abs.default: "mx.abs",
    aten.sin.default: "mx.sin",
    aten.cos.default: "mx.cos",
    aten.erf.default: "mx.erf",
    aten.reciprocal.default: "mx.reciprocal",
    aten.floor.default: "mx.floor",
    aten.ceil.default: "mx.ceil",
    aten.round.default: "mx.round",
    aten.sign.default: "mx.sign",
    aten.logical_not.default: "mx.logical_not",
    aten.square.default: "mx.square",
    aten.isnan.default: "mx.isnan",
    aten.isinf.default: "mx.isinf",
    aten.tan.default: "mx.tan",
    aten.atan.default: "mx.arctan",
    aten.asin.default: "mx.arcsin",
    aten.acos.default: "mx.arccos",
    aten.sinh.default: "mx.sinh",
    aten.cosh.default: "mx.cosh",
    aten.expm1.default: "mx.expm1",
    aten.log2.default: "mx.log2",
    aten.log10.default: "mx.log10",
    aten.trunc.default: "mx.trunc",
}


@register_op(*_UNARY, layout=keep)
def unary(node: fx.Node, ctx: EmitCtx) -> Expr:
    fn = _UNARY[node.target]
    if fn is None:
        return prefix("-", ctx.arg("self"))
    return call(fn, ctx.a("self"))


@register_op(aten.frac.default, layout=keep)
def frac(node: fx.Node, ctx: EmitCtx) -> Expr:
    return infix("-", ctx.arg("self"), call("mx.trunc", ctx.a("self")))


_FUNCTIONS = {
    aten.floor_divide.default: "mx.floor_divide",
    aten.floor_divide.Scalar: "mx.floor_divide",
    aten.remainder.Scalar: "mx.remainder",
    aten.remainder.Tensor: "mx.remainder",
    aten.atan2.default: "mx.arctan2",
    aten.logaddexp.default: "mx.logaddexp",
}


@register_op(*_FUNCTIONS, layout=elementwise)
def function2(node: fx.Node, ctx: EmitCtx) -> Expr:
    """Binary ops MLX spells as functions with torch's semantics (remainder takes the
    divisor's sign, floor_divide rounds down, as in torch)."""
    return call(_FUNCTIONS[node.target], ctx.a("self"), ctx.a("other"))


@register_op(aten.fmod.Scalar, aten.fmod.Tensor, layout=elementwise)
def fmod(node: fx.Node, ctx: EmitCtx) -> Expr:
    # C fmod takes the dividend's sign; MLX only has remainder (the divisor's): shift back.
    r = call("mx.remainder", ctx.a("self"), ctx.a("other"))
    sign_differs = infix("!=", infix("<", r, 0), infix("<", ctx.arg("self"), 0))
    flip = infix("&", infix("!=", r, 0), sign_differs)
    return call("mx.where", flip, infix("-", r, ctx.arg("other")), r)


@register_op(aten.lerp.Scalar, aten.lerp.Tensor, layout=elementwise)
def lerp(node: fx.Node, ctx: EmitCtx) -> Expr:
    start, end, weight = ctx.arg("self"), ctx.arg("end"), ctx.arg("weight")
    return infix("+", start, infix("*", weight, infix("-", end, start)))


@register_op(aten.addcmul.default, aten.addcdiv.default, layout=elementwise)
def addc(node: fx.Node, ctx: EmitCtx) -> Expr:
    op = "*" if node.target is aten.addcmul.default else "/"
    term = infix(op, ctx.arg("tensor1"), ctx.arg("tensor2"))
    value = ctx.arg("value", 1)
    if value != 1:
        term = infix("*", value, term)
    return infix("+", ctx.arg("self"), term)


@register_op(
    aten.maximum.default,
    aten.minimum.default,
    aten.max.other,
    aten.min.other,
    layout=elementwise,
)
def min_max(node: fx.Node, ctx: EmitCtx) -> Expr:
    """Binary max/min; like torch, MLX's propagate a NaN from either side."""
    larger = node.target in (aten.maximum.default, aten.max.other)
    return call("mx.maximum" if larger else "mx.minimum", ctx.a("self"), ctx.a("other"))


@register_op(aten.fmax.default, aten.fmin.default, layout=elementwise)
def fmin_fmax(node: fx.Node, ctx: EmitCtx) -> Expr:
    # fmax/fmin ignore a NaN on one side (MLX's maximum propagates it): take the other side
    fn = "mx.maximum" if node.target is aten.fmax.default else "mx.minimum"
    a, b = ctx.a("self"), ctx.a("other")
    both = call(fn, a, b).text
    return call("mx.where", f"mx.isnan({a})", b, call("mx.where", f"mx.isnan({b})", a, both).text)


@register_op(aten.clamp.default, aten.clamp.Tensor, layout=elementwise)
def clamp(node: fx.Node, ctx: EmitCtx) -> Expr:
    return call("mx.clip", ctx.a("self"), ctx.a("min"), ctx.a("max"))


@register_op(aten.clamp_min.default, aten.clamp_min.Tensor, layout=elementwise)
def clamp_min(node: fx.Node, ctx: EmitCtx) -> Expr:
    return call("mx.maximum", ctx.a("self"), ctx.a("min"))


@register_op(aten.clamp_max.default, aten.clamp_max.Tensor, layout=elementwise)
def clamp_max(node: fx.Node, ctx: EmitCtx) -> Expr:
    return call("mx.minimum", ctx.a("self"), ctx.a("max"))


@register_op(
    aten.where.self,
    aten.where.ScalarOther,
    aten.where.ScalarSelf,
    aten.where.Scalar,
    layout=elementwise,
)
def where(node: fx.Node, ctx: EmitCtx) -> Expr:
    return call("mx.where", ctx.a("condition"), ctx.a("self"), ctx.a("other"))


@register_op(aten.masked_fill.Scalar, aten.masked_fill.Tensor, layout=elementwise)
def masked_fill(node: fx.Node, ctx: EmitCtx) -> Expr:
    return call("mx.where", ctx.a("mask"), ctx.a("value"), ctx.a("self"))


@register_op(
    aten.to.dtype,
    aten._to_copy.default,
    aten.to.dtype_layout,
    aten.type_as.default,
    aten.to.device,
    layout=keep,
)
def cast(node: fx.Node, ctx: EmitCtx) -> Expr:
    return Expr(f"{ctx.a('self', ATOM)}.astype({dtype_expr(ctx.dtype())})")


_SCALAR_OPS = {
    operator.add: "+",
    operator.sub: "-",
    operator.mul: "*",
    operator.floordiv: "//",
    operator.truediv: "/",
    operator.mod: "%",
}


@register_op(*_SCALAR_OPS)
def scalar_op(node: fx.Node, ctx: EmitCtx) -> Expr:
    """Arithmetic on symbolic sizes (``x.shape[0] * 2``)."""
    return infix(_SCALAR_OPS[node.target], ctx.arg("a"), ctx.arg("b"))
