"""Expressions with holes for graph values, rendered with correct parenthesization.

Converters build :class:`Expr` objects; a hole stands for a graph value (or a symbolic
dimension) and is later filled either with a variable name or with the value's own (inlined)
expression, parenthesized only when the surrounding precedence demands it. The hole encoding
is private to this module: everyone else asks an :class:`Expr` what it reads, or fills it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from torch import fx

# Python's operator precedence, loosest to tightest (the language reference's table).
LOWEST = 0
TERNARY = 10
OR = 20
AND = 25
NOT = 30
COMPARE = 40
BIT_OR = 46
BIT_XOR = 48
BIT_AND = 50
SHIFT = 55
ADD = 60
MUL = 70
UNARY = 80
POWER = 90
ATOM = 100  # names, calls, attributes, subscripts

OPERATORS = {
    "**": POWER,
    **dict.fromkeys(("*", "/", "//", "%", "@"), MUL),
    **dict.fromkeys(("+", "-"), ADD),
    **dict.fromkeys(("<<", ">>"), SHIFT),
    "&": BIT_AND,
    "^": BIT_XOR,
    "|": BIT_OR,
    **dict.fromkeys(("==", "!=", "<", "<=", ">", ">="), COMPARE),
    "and": AND,
    "or": OR,
}

_HOLE = re.compile(r"\x00([^|\x00]+)\|(\d+)\x00")


@dataclass(frozen=True)
class Expr:
    """Python source text with holes, and the precedence of its outermost operator."""

    text: str
    prec: int = ATOM

    def __str__(self) -> str:  # pragma: no cover - debugging aid
        return self.text

    def reads(self) -> list[str]:
        """Names of the values it reads, in reading order (repeats included)."""
        return [m.group(1) for m in _HOLE.finditer(self.text)]

    def operands(self) -> list[str]:
        """Names of the values it places directly as an operator's operand (``a + b``)."""
        return [m.group(1) for m in _HOLE.finditer(self.text) if LOWEST < int(m.group(2)) < ATOM]

    def value(self) -> str | None:
        """The name of the one value this expression is, unchanged (else None)."""
        m = _HOLE.fullmatch(self.text)
        return m.group(1) if m else None

    def renamed(self, names: Mapping[str, str]) -> Expr:
        """The same expression reading ``names[old]`` wherever it read ``old``."""

        def sub(m: re.Match[str]) -> str:
            return hole(names.get(m.group(1), m.group(1)), int(m.group(2)))

        return Expr(_HOLE.sub(sub, self.text), self.prec)

    def filled(self, values: Mapping[str, Expr]) -> Expr:
        """Holes replaced by ``values`` (parenthesized where precedence requires); holes
        without a value stay."""
        name = self.value()
        if name is not None and name in values:
            return values[name]

        def sub(m: re.Match[str]) -> str:
            value = values.get(m.group(1))
            return m.group(0) if value is None else operand(value, int(m.group(2)))

        return Expr(_HOLE.sub(sub, self.text), self.prec)


Operand = Expr | fx.Node | bool | int | float | None
"""What an operator can take: an expression, a graph value, or a constant."""


def hole(value: fx.Node | str, prec: int = LOWEST) -> str:
    """Source text standing for a value (a node, or a name a caller defines), placed where
    the surrounding code needs at least precedence ``prec``."""
    name = value.name if isinstance(value, fx.Node) else value
    return f"\x00{name}|{prec}\x00"


def ref(value: fx.Node | str) -> Expr:
    """The expression that is just ``value``."""
    return Expr(hole(value))


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


def constant(value: object) -> Expr:
    """A constant as an expression: a negative number is a unary minus."""
    text = literal(value)
    return Expr(text, UNARY if text.startswith("-") else ATOM)


def operand(value: Operand, need: int) -> str:
    """Source text for ``value`` where the surrounding code needs precedence ``need``."""
    if isinstance(value, fx.Node):
        return hole(value, need)
    if not isinstance(value, Expr):
        value = constant(value)
    name = value.value()
    if name is not None:
        return hole(name, need)
    return value.text if value.prec >= need else f"({value.text})"


def binary(op: str, left: Operand, right: Operand) -> Expr:
    """``left op right``, each side parenthesized exactly where Python needs it."""
    prec = OPERATORS[op]
    if op == "**":  # binds right to left
        need = (prec + 1, prec)
    elif prec == COMPARE:  # `a < b < c` would chain: parenthesize nested comparisons
        need = (prec + 1, prec + 1)
    else:
        need = (prec, prec + 1)
    return Expr(f"{operand(left, need[0])} {op} {operand(right, need[1])}", prec)


def unary(op: str, value: Operand) -> Expr:
    """``-x``, ``~x`` or ``not x``."""
    prec = NOT if op == "not" else UNARY
    sep = " " if op == "not" else ""
    return Expr(f"{op}{sep}{operand(value, prec)}", prec)


def call(fn: str, *args: str | Operand, **kwargs: str | Operand) -> Expr:
    """``fn(a, b, k=v)``; a ``str`` argument is source text already, anything else an
    operand (an expression, a graph value, a constant)."""
    parts = [_text(a) for a in args] + [f"{k}={_text(v)}" for k, v in kwargs.items()]
    return Expr(f"{fn}({', '.join(parts)})", ATOM)


def _text(arg: str | Operand) -> str:
    return arg if isinstance(arg, str) else operand(arg, LOWEST)
