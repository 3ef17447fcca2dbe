"""Bitwise and logical operators: the ``&``/``|``/``^``/``~`` aliases and xor forms.

Python binds ``|`` < ``^`` < ``&`` between comparisons and ``+``: ``a == b & c`` is
``a == (b & c)``, so these precedences sit strictly between COMPARE and ADD.
"""

from __future__ import annotations

import torch
from torch import fx

from ..emit_ctx import EmitCtx, op_args
from ..expr import ADD, COMPARE, UNARY, Expr, call
from ..layout import elementwise, keep
from .registry import register_op

aten = torch.ops.aten

OR, XOR, AND = COMPARE + 4, COMPARE + 6, COMPARE + 8
assert COMPARE < OR < XOR < AND < ADD

_OPERATORS = {
    aten.__and__.Tensor: ("&", AND),
    aten.__and__.Scalar: ("&", AND),
    aten.bitwise_and.Scalar: ("&", AND),
    aten.__or__.Tensor: ("|", OR),
    aten.__or__.Scalar: ("|", OR),
    aten.bitwise_or.Scalar: ("|", OR),
    aten.__xor__.Tensor: ("^", XOR),
    aten.__xor__.Scalar: ("^", XOR),
    aten.bitwise_xor.Tensor: ("^", XOR),
    aten.bitwise_xor.Scalar: ("^", XOR),
}


def check_bitwise(node: fx.Node) -> str | None:
    """Bitwise operators are defined on bool and integer tensors only (as in torch)."""
    args = op_args(node)
    for a in (args["self"], args.get("other")):
        val = a.meta.get("val") if isinstance(a, fx.Node) else None
        if isinstance(val, torch.Tensor) and val.dtype.is_floating_point:
            return f"bitwise operator on a {val.dtype} tensor"
    return None


@register_op(*_OPERATORS, layout=elementwise, check=check_bitwise)
def bitwise_operator(node: fx.Node, ctx: EmitCtx) -> Expr:
    op, prec = _OPERATORS[node.target]
    return Expr(f"{ctx.a('self', prec)} {op} {ctx.a('other', prec + 1)}", prec)


@register_op(aten.logical_xor.default, layout=elementwise)
def logical_xor(node: fx.Node, ctx: EmitCtx) -> Expr:
    # torch treats any nonzero value as True; compare the truth values, not the bits.
    return Expr(f"{_truth(ctx.arg('self'), ctx)} != {_truth(ctx.arg('other'), ctx)}", COMPARE)


def _truth(value: object, ctx: EmitCtx) -> str:
    val = value.meta.get("val") if isinstance(value, fx.Node) else None
    if isinstance(val, torch.Tensor) and val.dtype is torch.bool:
        return ctx.x(value, COMPARE + 1)
    return f"({ctx.x(value, COMPARE + 1)} != 0)"


@register_op(aten.bitwise_not.default, layout=keep, check=check_bitwise)
def bitwise_not(node: fx.Node, ctx: EmitCtx) -> Expr:
    if ctx.dtype(ctx.arg("self")) is torch.bool:
        return call("mx.logical_not", ctx.a("self"))
    return Expr(f"~{ctx.a('self', UNARY)}", UNARY)
