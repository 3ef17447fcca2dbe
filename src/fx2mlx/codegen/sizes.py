"""Symbolic sizes (``x.size(0) * 4``) rebuilt from the tensors a scope can see.

Export records sizes as SymInt-valued nodes and shares them across the whole graph. Passing
them between generated classes would add odd parameters, so each scope re-derives them from
its own tensor inputs: ``4 * x.shape[0]``.
"""

from __future__ import annotations

import re

import sympy
import torch
from torch import fx

from ..expr import ADD, ATOM, MUL, Expr, hole
from ..meta import LAYOUT

_SYMBOL = re.compile(r"\b([su]\d+)\b")


def is_size(node: fx.Node) -> bool:
    return isinstance(node.meta.get("val"), torch.SymInt)


def _simple(expr: sympy.Expr) -> bool:
    """Only sums and products of symbols and integers print as plain Python."""
    if expr.is_Symbol or expr.is_Integer:
        return True
    if isinstance(expr, (sympy.Add, sympy.Mul)):
        return all(_simple(a) for a in expr.args)
    return False


def _find(symbol: sympy.Symbol, tensors: list[fx.Node]) -> str | None:
    for t in tensors:
        val = t.meta.get("val")
        if not isinstance(val, torch.Tensor):
            continue
        for d, size in enumerate(val.shape):
            if isinstance(size, torch.SymInt) and size.node.expr == symbol:
                perm = t.meta.get(LAYOUT) or tuple(range(val.dim()))
                return f"{hole(t, ATOM)}.shape[{perm.index(d)}]"
    return None


def size_expr(node: fx.Node, tensors: list[fx.Node]) -> Expr | None:
    """``node``'s value in terms of ``tensors``' shapes, or None when it can't be."""
    expr = node.meta["val"].node.expr
    if not _simple(expr):
        return None
    parts: dict[str, str] = {}
    for symbol in expr.free_symbols:
        found = _find(symbol, tensors)
        if found is None:
            return None
        parts[str(symbol)] = found
    text = _SYMBOL.sub(lambda m: parts[m.group(1)], str(expr).replace("*", " * "))
    prec = ADD if isinstance(expr, sympy.Add) else MUL if isinstance(expr, sympy.Mul) else ATOM
    return Expr(text, prec)
