"""Optional submodules (``self.downsample = None`` in some instances).

The calls into such a submodule must form one chain: a single input value in, a single value
out. Guarded, the chain becomes ``self.downsample(x) if "downsample" in self else x``; aliased
(for an instance without it), the chain's output is simply its input.
"""

from __future__ import annotations

import re

from ..expr import TERNARY, Expr, hole, holes, literal
from .attrs import attr_name, relative
from .body import Stmt
from .scopes import Scope


class NotAChain(Exception):
    """The calls into an optional submodule can't be replaced by one expression."""


def _partial_fill(text: str, values: dict[str, str]) -> str:
    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        return values[name] if name in values else m.group(0)

    return re.sub(r"\x00([^|\x00]+)\|(\d+)\x00", sub, text)


def optional_call(stmts: list[Stmt], scope: Scope, attr: str, guarded: bool) -> list[Stmt]:
    """Replace the statements that call into ``self.<attr>`` by one (guarded or alias) stmt."""
    group = [s for s in stmts if s.path and relative(scope.path, s.path).split(".")[0] == attr]
    if not group:
        return stmts
    made = {o.name: o for s in group for o in s.outs}
    external = [n for s in group for n in holes(s.expr.text) if n not in made]
    if len(set(external)) != 1 or any(len(s.outs) != 1 for s in group):
        raise NotAChain(attr)
    inner: dict[str, str] = {}
    for s in group:
        inner[s.outs[0].name] = _partial_fill(s.expr.text, inner)
    rest = [s for s in stmts if s not in group]
    used_outside = {n for s in rest for n in holes(s.expr.text)} & set(made)
    out = group[-1].outs[0]
    if used_outside - {out.name}:
        raise NotAChain(attr)
    # a child call's output node reads the child's own nodes, not the call's input: look the
    # input up in the whole graph
    src = next(n for n in out.graph.nodes if n.name == external[0])
    if guarded:
        key = literal(attr_name(scope.module, attr))
        text = f"{inner[out.name]} if {key} in self else {hole(src, TERNARY + 1)}"
        new = Stmt(
            [out],
            Expr(text, TERNARY),
            group[-1].anchor,
            kind="call",
            hint=group[-1].hint,
            guard=attr,
        )
    else:
        new = Stmt([out], Expr(hole(src)), group[-1].anchor, kind="alias")
    index = stmts.index(group[-1])
    return [s for s in stmts[:index] if s not in group] + [new] + stmts[index + 1 :]
