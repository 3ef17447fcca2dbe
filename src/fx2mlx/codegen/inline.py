"""Reading statements through the values nested into them (``nn.relu(self.bn1(self.conv1(x)))``):
their full text, what they read, the comments they carry. :mod:`.nesting` decides what nests.
"""

from __future__ import annotations

from ..expr import Expr
from .statements import Stmt

INLINE_LIMIT = 60  # characters: longer single-use expressions get a name of their own
NEST_LIMIT = 2  # calls nested in a value that is nested into another call

Nested = dict[str, Expr]
"""Values nested into their reader: name -> the expression that computes it."""


def call_depth(text: str) -> int:
    """How deeply calls nest in ``text`` (``f(g(x))`` is 2; tuples don't count)."""
    depth, best, stack = 0, 0, []
    for i, ch in enumerate(text):
        if ch == "(":
            is_call = i > 0 and (text[i - 1].isalnum() or text[i - 1] in "_])")
            stack.append(is_call)
            depth += is_call
            best = max(best, depth)
        elif ch == ")" and stack:
            depth -= stack.pop()
    return best


def expand(expr: Expr, nested: Nested, values: dict[str, Expr]) -> Expr:
    """``expr`` with every value filled: nested values by their own (expanded) expression,
    the others by ``values``."""
    local: dict[str, Expr] = {}
    for name in dict.fromkeys(expr.reads()):
        local[name] = expand(nested[name], nested, values) if name in nested else values[name]
    return expr.filled(local)


def leaf_reads(reads: list[str], nested: Nested) -> list[str]:
    """The named values behind ``reads``, looking through nested values, in reading order
    (repeats included)."""
    out: list[str] = []
    for name in reads:
        out.extend(leaf_reads(nested[name].reads(), nested) if name in nested else [name])
    return out


def counts(stmts: list[Stmt]) -> dict[str, int]:
    """How often each value is read."""
    out: dict[str, int] = {}
    for s in stmts:
        for name in s.reads():
            out[name] = out.get(name, 0) + 1
    return out


def tree_comments(s: Stmt, nested: Nested, producers: dict[str, Stmt]) -> list[str]:
    """The comments of ``s`` and of the values nested into it, in reading order."""
    out = [s.comment] if s.comment else []
    for name in s.reads():
        if name in nested and name in producers:
            out += tree_comments(producers[name], nested, producers)
    return list(dict.fromkeys(out))
