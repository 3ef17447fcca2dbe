"""Symbolic sizes (``x.size(0) * 4``) rebuilt from the tensors a scope can see.

Export records sizes as SymInt-valued nodes and shares them across the whole graph. Passing
them between generated classes would add odd parameters, so each scope re-derives them from
its own tensor inputs: ``4 * x.shape[0]``. Each dimension read is a value of its own (a
:data:`Dims` key), so the body can name one it reads often (``B = x.shape[0]``).
"""

from __future__ import annotations

import functools

import sympy
import torch
from torch import fx

from ..expr import Expr, binary, constant, ref, unary
from ..meta import LAYOUT

Dims = dict[str, tuple[fx.Node, int]]
"""Dimensions sizes read: key -> (tensor, stored axis)."""


def is_size(node: fx.Node) -> bool:
    return isinstance(node.meta.get("val"), torch.SymInt)


def _simple(expr: sympy.Expr) -> bool:
    """Only sums and products of symbols and integers print as plain Python."""
    if expr.is_Symbol or expr.is_Integer:
        return True
    if isinstance(expr, (sympy.Add, sympy.Mul)):
        return all(_simple(a) for a in expr.args)
    return False


def _find(symbol: sympy.Symbol, tensors: list[fx.Node]) -> tuple[fx.Node, int] | None:
    for t in tensors:
        val = t.meta.get("val")
        if not isinstance(val, torch.Tensor):
            continue
        for d, size in enumerate(val.shape):
            if isinstance(size, torch.SymInt) and size.node.expr == symbol:
                perm = t.meta.get(LAYOUT) or tuple(range(val.dim()))
                return t, perm.index(d)
    return None


def dim_key(tensor: fx.Node, axis: int) -> str:
    return f"{tensor.name}.shape[{axis}]"


def size_expr(node: fx.Node, tensors: list[fx.Node]) -> tuple[Expr, Dims] | None:
    """``node``'s value in terms of ``tensors``' dimensions, or None when it can't be."""
    expr = node.meta["val"].node.expr
    if not _simple(expr):
        return None
    dims: Dims = {}
    for symbol in expr.free_symbols:
        found = _find(symbol, tensors)
        if found is None:
            return None
        dims[str(symbol)] = found
    keys = {symbol: dim_key(*d) for symbol, d in dims.items()}
    return _source(expr, keys), {dim_key(*d): d for d in dims.values()}


def _source(expr: sympy.Expr, keys: dict[str, str]) -> Expr:
    """A sum or product of symbols and integers, in sympy's printing order."""
    if expr.is_Symbol:
        return ref(keys[str(expr)])
    if expr.is_Integer:
        return constant(int(expr))
    if isinstance(expr, sympy.Add):
        terms = expr.as_ordered_terms()
        out = _source(terms[0], keys)
        for term in terms[1:]:
            negative = term.could_extract_minus_sign()
            out = binary("-" if negative else "+", out, _source(-term if negative else term, keys))
        return out
    coeff, rest = expr.as_coeff_Mul()
    if coeff == -1:
        return unary("-", _source(rest, keys))
    factors = [_source(f, keys) for f in expr.as_ordered_factors()]
    return functools.reduce(lambda a, b: binary("*", a, b), factors)
