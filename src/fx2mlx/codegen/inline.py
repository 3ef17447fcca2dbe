"""Which values nest into their one reader (``nn.relu(self.bn1(self.conv1(x)))``) and which
get a name of their own; and reading statements through the values nested into them.
"""

from __future__ import annotations

from .expr import Expr
from .statements import Kind, Stmt

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


def decide_nesting(stmts: list[Stmt], leaves: dict[str, Expr]) -> Nested:
    """Single-use values nest into their reader when the result stays short and shallow
    (judged on the full nested text). ``leaves``: texts of the values that are given."""
    count = counts(stmts)
    forced = {s.args[0].value() for s in stmts if s.kind in (Kind.LOOP, Kind.GUARD)}
    approx: dict[str, Expr] = dict(leaves)
    nested: Nested = {}
    for s in stmts:
        if s.kind not in (Kind.OP, Kind.CALL):
            for out in s.outs:
                approx[out.name] = Expr("v" * min(len(out.name), 3))
            continue
        rhs = s.rhs()
        text = rhs.filled({**{k: Expr(k) for k in rhs.reads()}, **approx})
        name = s.outs[0].name
        if _nestable(s, text.text, count, forced):
            nested[name] = rhs
            approx[name] = Expr(text.text, rhs.prec)
        else:
            for out in s.outs:
                approx[out.name] = Expr("v" * min(len(out.name), 3))
    return nested


def _nestable(s: Stmt, text: str, count: dict[str, int], forced: set[str | None]) -> bool:
    if len(s.outs) != 1 or s.comment:
        return False
    name = s.outs[0].name
    return (
        count.get(name, 0) == 1
        and name not in forced
        and len(text) <= INLINE_LIMIT
        and call_depth(text) <= NEST_LIMIT
    )
