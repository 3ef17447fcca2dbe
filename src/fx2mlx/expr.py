"""Expressions with holes for graph values, rendered with correct parenthesization.

Converters build :class:`Expr` objects; a hole ``\\x00name|prec\\x00`` stands for a graph value
and is later filled either with a variable name or with the value's own (inlined) expression,
parenthesized only when the surrounding precedence demands it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from torch import fx

ATOM = 100  # names, calls, attributes, subscripts
POWER = 90
UNARY = 80
MUL = 70
ADD = 60
COMPARE = 40
NOT = 30
TERNARY = 10
LOWEST = 0

_HOLE = re.compile(r"\x00([^|\x00]+)\|(\d+)\x00")


@dataclass(frozen=True)
class Expr:
    """Python source text with holes, and the precedence of its outermost operator."""

    text: str
    prec: int = ATOM

    def __str__(self) -> str:  # pragma: no cover - debugging aid
        return self.text


def hole(node: fx.Node, prec: int = LOWEST) -> str:
    """A hole for ``node``'s value, needing at least precedence ``prec`` where it is placed."""
    return f"\x00{node.name}|{prec}\x00"


def holes(text: str) -> list[str]:
    """Names of the values referenced by holes in ``text``, in order of appearance."""
    return [m.group(1) for m in _HOLE.finditer(text)]


def fill(text: str, values: dict[str, Expr]) -> str:
    """Replace each hole by its value's text, parenthesized where precedence requires."""

    def sub(m: re.Match[str]) -> str:
        value = values[m.group(1)]
        need = int(m.group(2))
        return f"({value.text})" if value.prec < need else value.text

    return _HOLE.sub(sub, text)


def literal(value: object) -> str:
    """Python source for a constant: ``repr`` for safety, with floats kept exact. The base
    types' own ``repr`` is used, so a ``str`` or ``float`` subclass can't supply its own."""
    if isinstance(value, bool) or value is None:
        return repr(value)  # bool can't be subclassed
    if isinstance(value, float):
        if math.isinf(value):
            return "float('inf')" if value > 0 else "-float('inf')"
        if math.isnan(value):
            return "float('nan')"
        return float.__repr__(value)
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, str):
        return str.__repr__(value)
    if isinstance(value, tuple):
        inner = ", ".join(literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    raise TypeError(f"cannot emit a literal of type {type(value).__name__}")


def call(fn: str, *args: str, **kwargs: str) -> Expr:
    """``fn(a, b, k=v)`` from already-rendered argument texts."""
    parts = list(args) + [f"{k}={v}" for k, v in kwargs.items()]
    return Expr(f"{fn}({', '.join(parts)})", ATOM)


def binary(op: str, left: str, right: str, prec: int) -> Expr:
    """``left op right``; operands must already carry holes of the right precedence."""
    return Expr(f"{left} {op} {right}", prec)
