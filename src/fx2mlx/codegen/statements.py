"""Statements of one scope's ``__call__``: converted ops, layer calls and child calls."""

from __future__ import annotations

from torch import fx

from ..converters.registry import OPS
from ..emit_ctx import EmitCtx
from ..expr import ATOM, Expr, hole, holes
from ..layout import relayout
from ..meta import BAKED, COMMENT, LAYER, LAYOUT, LAYOUT_FROM
from .attrs import attr_text, relative
from .body import Stmt
from .hints import source_hint
from .scopes import Scope

_LAYOUT_NAMES = {
    (0, 2, 3, 1): "NHWC",
    (0, 1, 2, 3): "NCHW",
    (0, 2, 1): "NLC",
    (0, 1, 2): "NCL",
    (0, 2, 3, 4, 1): "NDHWC",
    (0, 1, 2, 3, 4): "NCDHW",
}


def relayout_stmt(node: fx.Node, order: int) -> Stmt:
    axes = node.args[1]
    src, dst = node.meta.get(LAYOUT_FROM), node.meta.get(LAYOUT)
    names = (_LAYOUT_NAMES.get(src), _LAYOUT_NAMES.get(dst))
    comment = f"{names[0]} -> {names[1]}" if all(names) and names[0] != names[1] else ""
    expr = Expr(f"{hole(node.args[0], ATOM)}.transpose({', '.join(map(str, axes))})")
    return Stmt([node], expr, order, comment=comment)


def op_stmt(node: fx.Node, scope: Scope, order: int, helpers: set[str]) -> Stmt:
    ctx = EmitCtx(node, helpers)
    expr = OPS[node.target].emit(node, ctx)
    inputs = node.all_input_nodes
    kind = "alias" if inputs and expr.text == hole(inputs[0]) else "op"
    comments = list(ctx.comments)
    if node.meta.get(COMMENT):
        comments.append(node.meta[COMMENT])
    if node.meta.get(BAKED):
        comments.append(node.meta[BAKED])
    return Stmt(
        [node],
        expr,
        order,
        kind=kind,
        hint=source_hint(node, scope.module),
        comment="; ".join(comments),
    )


def layer_stmt(node: fx.Node, scope: Scope, order: int) -> Stmt:
    layer = node.meta[LAYER]
    target = attr_text(scope.module, relative(scope.path, layer.path))
    args = [_arg_text(a) for a in node.args]
    if layer.ctor.pre:
        args[0] = layer.ctor.pre.replace("{x}", args[0])
    return Stmt(
        [node],
        Expr(f"{target}({', '.join(args)})"),
        order,
        hint=source_hint(node, scope.module),
        comment=layer.ctor.comment,
        path=layer.path,
    )


def _arg_text(arg: object) -> str:
    """A layer call's argument: a value, or a tuple of them (an LSTM's ``(h0, c0)``)."""
    if isinstance(arg, (tuple, list)):
        return f"({', '.join(map(_arg_text, arg))}{',' if len(arg) == 1 else ''})"
    assert isinstance(arg, fx.Node)
    return hole(arg)


def child_stmt(child: Scope, scope: Scope, order: int) -> Stmt:
    target = attr_text(scope.module, relative(scope.path, child.path))
    text = f"{target}({', '.join(hole(i) for i in child.inputs)})"
    hint = source_hint(child.outputs[-1], scope.module) if child.outputs else None
    return Stmt(list(child.outputs), Expr(text), order, kind="call", hint=hint, path=child.path)


def scope_statements(scope: Scope, order: dict[fx.Node, int], helpers: set[str]) -> list[Stmt]:
    """All statements of ``scope`` in an order that respects their data dependencies."""
    stmts: list[Stmt] = []
    for node in scope.nodes:
        if node in scope.sizes:
            continue
        if node.op == "call_module":
            stmts.append(layer_stmt(node, scope, order[node]))
        elif node.target is relayout:
            stmts.append(relayout_stmt(node, order[node]))
        else:
            stmts.append(op_stmt(node, scope, order[node], helpers))
    for child in scope.children:
        if not child.outputs:
            continue  # it only computed sizes, which every scope derives for itself
        anchor = max(order[n] for n in child.subtree_nodes())
        stmts.append(child_stmt(child, scope, anchor))
    return topo_sort(stmts)


def topo_sort(stmts: list[Stmt]) -> list[Stmt]:
    """Dependency order, ties broken by position in the original graph (iterative: scopes of
    flattened models can hold thousands of statements)."""
    producer = {out.name: s for s in stmts for out in s.outs}
    done: set[int] = set()
    out: list[Stmt] = []
    for root in sorted(stmts, key=lambda s: s.anchor):
        stack: list[tuple[Stmt, bool]] = [(root, False)]
        while stack:
            s, expanded = stack.pop()
            if expanded:
                out.append(s)
                continue
            if id(s) in done:
                continue
            done.add(id(s))
            stack.append((s, True))
            deps = [producer.get(n) for n in holes(s.expr.text)]
            stack.extend(
                (d, False)
                for d in reversed(deps)
                if d is not None and d is not s and id(d) not in done
            )
    return out
