"""Render a scope's statements as the body of ``__call__``.

Single-use values are nested into their user (``nn.relu(self.bn1(self.conv1(x)))``, see
:mod:`.nesting`); the rest become assignments, named as :mod:`.naming` says (``identity``,
``x = f(x)``), and :mod:`.render` writes each statement's lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import fx

from ..expr import Expr
from .inline import Nested, expand, leaf_reads, tree_comments
from .names import NameTable
from .naming import Names
from .nesting import decide_nesting
from .render import statement_lines
from .statements import Kind, Stmt

BATCH_USES = 3  # `x.shape[0]` this often in one body reads better as `B`
NOTE_SPAN = 1  # statements: a comment the one before said is not said again

Dims = dict[str, tuple[str, int]]
"""Symbolic dimensions a body reads: key -> (parameter name, axis)."""


@dataclass
class Body:
    """The lines of a ``__call__`` and its parameter names."""

    lines: list[str] = field(default_factory=list)
    params: list[str] = field(default_factory=list)


def _resolve_aliases(stmts: list[Stmt]) -> list[Stmt]:
    """Drop alias statements (layout-only ops), pointing their readers at the source."""
    alias: dict[str, str] = {}
    for s in stmts:
        if s.kind is Kind.ALIAS:
            src = s.args[0].value()
            assert src is not None
            alias[s.outs[0].name] = alias.get(src, src)
    kept = [s for s in stmts if s.kind is not Kind.ALIAS]
    return [s.renamed(alias) for s in kept] if alias else kept


def render_body(
    stmts: list[Stmt],
    params: list[tuple[fx.Node, str]],
    values: dict[str, Expr],
    sizes: Nested | None = None,
    dims: Dims | None = None,
) -> Body:
    """Lines of ``__call__`` (without the ``def``); ``stmts`` end with the return.

    ``values``: texts of what the body reads but doesn't compute (attributes, dimensions);
    ``sizes``: symbolic sizes as expressions of ``dims``, whose parameters are never
    reassigned.
    """
    sizes, dims = sizes or {}, dims or {}
    stmts = _resolve_aliases(stmts)
    values = dict(values) | {node.name: Expr(name) for node, name in params}
    leaves = values | {k: expand(e, {}, values) for k, e in sizes.items()}
    nested = decide_nesting(stmts, leaves) | sizes
    emitted = [s for s in stmts if not _is_nested(s, nested)]
    scope = _names(stmts, params, values, nested, {p for p, _ in dims.values()})
    lines = _batch(emitted, scope, dims)
    for node, name in params:
        scope.hold(name, node)
    last = _last_reads(emitted, nested)
    notes = _notes(["; ".join(tree_comments(s, nested, scope.producers)) for s in emitted])
    for i, s in enumerate(emitted):
        lines.extend(_emit(s, i, last, scope, notes[i]))
    return Body(lines, [name for _, name in params])


def _names(
    stmts: list[Stmt],
    params: list[tuple[fx.Node, str]],
    values: dict[str, Expr],
    nested: Nested,
    pinned: set[str],
) -> Names:
    """The naming walk's start: parameters and ``pinned`` names are taken."""
    table = NameTable({name for _, name in params} | {"self", "layer"} | pinned)
    producers = {o.name: s for s in stmts for o in s.outs}
    scope = Names(values, nested, producers, table, pinned)
    for s in stmts:
        for name in s.reads():
            scope.readers.setdefault(name, []).append(s)
    return scope


def _notes(comments: list[str]) -> list[tuple[str, bool]]:
    """(comment, above) per statement: a comment several statements in a row share is said
    once, above the first of them."""
    out: list[tuple[str, bool]] = []
    for i, c in enumerate(comments):
        if c and c in comments[max(0, i - NOTE_SPAN) : i]:
            out.append(("", False))
        else:
            out.append((c, bool(c) and i + 1 < len(comments) and comments[i + 1] == c))
    return out


def _is_nested(s: Stmt, nested: Nested) -> bool:
    return s.kind in (Kind.OP, Kind.CALL) and len(s.outs) == 1 and s.outs[0].name in nested


def _emit(s: Stmt, i: int, last: dict[str, int], scope: Names, note: tuple[str, bool]) -> list[str]:
    """Name ``s``'s outputs and render it."""
    dying = [v for v, n in scope.live.items() if last.get(n, -1) <= i and v not in scope.pinned]
    for v in dying:
        del scope.live[v]
    targets = scope.targets(s, dying) if s.outs else []
    lines = statement_lines(s, targets, scope.text, *note)
    for out, name in zip(s.outs, targets):
        scope.hold(name, out)
    return lines


def _batch(emitted: list[Stmt], scope: Names, dims: Dims) -> list[str]:
    """``B = x.shape[0]`` up front when the batch size is read several times (the MLX idiom).
    Only parameters that are never reassigned (pinned) qualify."""
    if "B" in scope.table.taken:
        return []
    reads = [n for s in emitted for n in leaf_reads(s.reads(), scope.nested)]
    for param in sorted({p for p, axis in dims.values() if axis == 0}):
        keys = {k for k, (p, axis) in dims.items() if p == param and axis == 0}
        if sum(n in keys for n in reads) >= BATCH_USES:
            scope.table.taken.add("B")
            for key in keys:
                scope.values[key] = Expr("B")
            return [f"B = {param}.shape[0]"]
    return []


def _last_reads(emitted: list[Stmt], nested: Nested) -> dict[str, int]:
    """Index of the last emitted statement that reads each named value (after nesting)."""
    last: dict[str, int] = {}
    for i, s in enumerate(emitted):
        for name in leaf_reads(s.reads(), nested):
            last[name] = i
    return last
