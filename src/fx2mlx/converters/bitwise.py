"""Bitwise and logical operators: the ``&``/``|``/``^``/``~`` aliases and xor forms.

Python binds ``|`` < ``^`` < ``&`` between comparisons and ``+`` (``a == b & c`` is
``a == (b & c)``): :func:`~fx2mlx.expr.binary` parenthesizes accordingly.
"""

from __future__ import annotations

import torch
from torch import fx

from ..emit_ctx import EmitCtx, op_args
from ..expr import Expr, binary, call, unary
from ..layout import elementwise, keep
from .registry import register_op

aten = torch.ops.aten

_OPERATORS = {
    aten.__and__.Tensor: "&",
    aten.__and__.Scalar: "&",
    aten.bitwise_and.Scalar: "&",
    aten.__or__.Tensor: "|",
    aten.__or__.Scalar: "|",
    aten.bitwise_or.Scalar: "|",
    aten.__xor__.Tensor: "^",
    aten.__xor__.Scalar: "^",
    aten.bitwise_xor.Tensor: "^",
    aten.bitwise_xor.Scalar: "^",
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
    return binary(_OPERATORS[node.target], ctx.arg("self"), ctx.arg("other"))


@register_op(aten.logical_xor.default, layout=elementwise)
def logical_xor(node: fx.Node, ctx: EmitCtx) -> Expr:
    # torch treats any nonzero value as True; compare the truth values, not the bits.
    return binary("!=", _truth(ctx.arg("self")), _truth(ctx.arg("other")))


def _truth(value: object) -> Expr | fx.Node:
    val = value.meta.get("val") if isinstance(value, fx.Node) else None
    if isinstance(val, torch.Tensor) and val.dtype is torch.bool:
        return value  # type: ignore[return-value]
    return binary("!=", value, 0)  # type: ignore[arg-type]


@register_op(aten.bitwise_not.default, layout=keep, check=check_bitwise)
def bitwise_not(node: fx.Node, ctx: EmitCtx) -> Expr:
    if ctx.dtype(ctx.arg("self")) is torch.bool:
        return call("mx.logical_not", ctx.a("self"))
    return unary("~", ctx.arg("self"))
