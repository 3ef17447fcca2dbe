"""Optional submodules (``self.downsample = None`` in some instances).

The calls into such a submodule must form one chain: a single input value in, a single value
out. Guarded, the chain becomes ``identity = x`` + ``if "downsample" in self: ...``; aliased
(for an instance without it), the chain's output is simply its input.
"""

from __future__ import annotations

from ..expr import ref
from .attrs import attr_name, relative
from .scopes import Scope
from .statements import Kind, Stmt, alias


class NotAChain(Exception):
    """The calls into an optional submodule can't be replaced by one expression."""


def optional_call(stmts: list[Stmt], scope: Scope, attr: str, guarded: bool) -> list[Stmt]:
    """Replace the statements that call into ``self.<attr>`` by one (guarded or alias) stmt."""
    group = [s for s in stmts if s.path and relative(scope.path, s.path).split(".")[0] == attr]
    if not group:
        return stmts
    made = {o.name for s in group for o in s.outs}
    external = {n for s in group for n in s.reads() if n not in made}
    if len(external) != 1 or any(len(s.outs) != 1 for s in group):
        raise NotAChain(attr)
    out = group[-1].outs[0]
    rest = [s for s in stmts if s not in group]
    if {n for s in rest for n in s.reads()} & (made - {out.name}):
        raise NotAChain(attr)
    (src,) = external
    if guarded:
        anchor, hint = group[-1].anchor, group[-1].hint
        new = Stmt(
            Kind.GUARD,
            [out],
            anchor,
            args=[ref(src)],
            body=group,
            guard=attr_name(scope.module, attr),
            hint=hint,
        )
        new.comment = "; ".join(dict.fromkeys(s.comment for s in group if s.comment))
    else:
        new = alias(out, src, group[-1].anchor)
    index = stmts.index(group[-1])
    return [s for s in stmts[:index] if s not in group] + [new] + stmts[index + 1 :]
