"""The statements of a generated ``__call__``, as structure: what they compute, from which
values, into which values. Nothing here is source text until :mod:`.render` writes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

from torch import fx

from ..expr import Expr, call, ref


class Kind(Enum):
    """What a statement does."""

    OP = "op"  # outs = expr (a converter's expression)
    CALL = "call"  # outs = callee(*args): a layer or a child module
    ALIAS = "alias"  # no code: the output is args[0] (a layout-only op, an absent submodule)
    LOOP = "loop"  # for layer in callee: out = layer(out, *args[1:]), out starting as args[0]
    GUARD = "guard"  # out = args[0]; if "guard" in self: <body> (an optional submodule)
    RETURN = "return"  # return expr


@dataclass
class Stmt:
    """One statement of a ``__call__`` body, before names are chosen."""

    kind: Kind
    outs: list[fx.Node]
    anchor: int = 0  # position in graph order: ties in the dependency order go by it
    expr: Expr | None = None  # OP, RETURN
    callee: str = ""  # CALL, LOOP: ``self.conv1``, ``self.layers``
    args: list[Expr] = field(default_factory=list)
    body: list[Stmt] = field(default_factory=list)  # GUARD: the calls it guards, in order
    guard: str = ""  # GUARD: the optional attribute
    comment: str = ""
    hint: str | None = None  # a name for the output, from the user's source
    line: tuple[str, int, str] | None = None  # the source line: file, number, function
    path: str | None = None  # module path of a layer or child call
    own_line: bool = False  # never nested into its reader (a layout change, said as such)

    def rhs(self) -> Expr:
        """What it computes, as one expression (a LOOP: one iteration's call; a GUARD: its
        input)."""
        if self.kind is Kind.CALL:
            return call(self.callee, *self.args)
        if self.kind is Kind.LOOP:
            return call("layer", *self.args)
        if self.kind in (Kind.ALIAS, Kind.GUARD):
            return self.args[0]
        assert self.expr is not None, self.kind
        return self.expr

    def reads(self) -> list[str]:
        """Values it reads from outside itself, in reading order (repeats included)."""
        if self.kind in (Kind.OP, Kind.RETURN):
            return self.rhs().reads()
        return [name for a in self.args for name in a.reads()]

    def renamed(self, names: Mapping[str, str]) -> Stmt:
        """The statement reading ``names[old]`` wherever it read ``old``."""
        return replace(
            self,
            expr=self.expr.renamed(names) if self.expr is not None else None,
            args=[a.renamed(names) for a in self.args],
            body=[s.renamed(names) for s in self.body],
        )


def op(node: fx.Node, expr: Expr, anchor: int, **kw: Any) -> Stmt:
    """``node = expr``."""
    return Stmt(Kind.OP, [node], anchor, expr=expr, **kw)


def alias(out: fx.Node, src: fx.Node | str, anchor: int = 0) -> Stmt:
    """``out`` is ``src`` (no code)."""
    return Stmt(Kind.ALIAS, [out], anchor, args=[ref(src)])


def returns(expr: Expr) -> Stmt:
    """``return expr``: the last statement of every body."""
    return Stmt(Kind.RETURN, [], expr=expr)
