"""A scope's statements: converted ops, layer calls and child calls, in dependency order."""

from __future__ import annotations

from torch import fx

from ..converters.registry import OPS
from ..emit_ctx import EmitCtx, dtype_expr
from ..expr import ATOM, Expr, call, hole, ref
from ..layout import relayout, unit_only
from ..meta import BAKED, COMMENT, LAYER, LAYOUT, LAYOUT_FROM
from .attrs import attr_text, relative
from .hints import source_hint, source_location
from .layout_notes import layout_note
from .scopes import Scope
from .statements import Kind, Stmt, alias, op


def relayout_stmt(node: fx.Node, order: int) -> Stmt:
    axes = node.args[1]
    comment = layout_note(node)
    shape = node.meta["val"].shape
    src, dst = node.meta[LAYOUT_FROM], node.meta[LAYOUT]
    if unit_only(shape, src, dst):  # only unit axes move: a reshape
        value = hole(node.args[0], ATOM)
        expr = Expr(f"{value}.reshape({', '.join(unit_move_sizes(value, shape, src, dst))})")
    else:
        expr = Expr(f"{hole(node.args[0], ATOM)}.transpose({', '.join(map(str, axes))})")
    return op(node, expr, order, comment=comment, own_line=bool(comment))


def unit_move_sizes(value: str, shape: object, src: tuple, dst: tuple) -> list[str]:
    """The sizes of a reshape that moves only unit axes, in ``dst`` order: 1 for a unit axis,
    every other size read from ``value`` (stored as ``src``): ``x.reshape(x.shape[0],
    x.shape[2], 1)``. Never a baked size; and not ``-1``, which MLX can't infer when another
    axis is 0 (an empty batch)."""
    sizes = list(shape)  # type: ignore[call-overload]
    unit = [isinstance(sizes[d], int) and sizes[d] == 1 for d in dst]
    return ["1" if u else f"{value}.shape[{src.index(d)}]" for d, u in zip(dst, unit)]


def op_stmt(node: fx.Node, scope: Scope, order: int, helpers: set[str]) -> Stmt:
    ctx = EmitCtx(node, helpers)
    expr = OPS[node.target].emit(node, ctx)
    inputs = node.all_input_nodes
    if inputs and expr.value() == inputs[0].name:
        return alias(node, inputs[0], order)  # layout-only: the value is its input
    comments = list(ctx.comments)
    if node.meta.get(COMMENT):
        comments.append(node.meta[COMMENT])
    if node.meta.get(BAKED):
        comments.append(node.meta[BAKED])
    hint, line = source_hint(node, scope.module), source_location(node, scope.module)
    return op(node, expr, order, hint=hint, line=line, comment="; ".join(comments))


def layer_stmt(node: fx.Node, scope: Scope, order: int) -> Stmt:
    layer = node.meta[LAYER]
    args = [_arg(a) for a in node.args]
    if layer.ctor.pre:  # e.g. explicit padding: ``mx.pad({x}, ...)``
        args[0] = Expr(layer.ctor.pre.replace("{x}", hole(node.args[0])))
    callee = attr_text(scope.module, relative(scope.path, layer.path))
    if layer.cast is not None:  # mixed precision: torch keeps the input's dtype
        expr = Expr(f"{call(callee, *args).text}.astype({dtype_expr(layer.cast)})", ATOM)
        hint, line = source_hint(node, scope.module), source_location(node, scope.module)
        return op(node, expr, order, hint=hint, line=line, comment=layer.ctor.comment)
    return Stmt(
        Kind.CALL,
        [node],
        order,
        callee=callee,
        args=args,
        hint=source_hint(node, scope.module),
        line=source_location(node, scope.module),
        comment=layer.ctor.comment,
        path=layer.path,
    )


def _arg(arg: object) -> Expr:
    """A layer call's argument: a value, or a tuple of them (an LSTM's ``(h0, c0)``)."""
    if isinstance(arg, (tuple, list)):
        items = [hole(a) for a in arg]
        return Expr(f"({', '.join(items)}{',' if len(items) == 1 else ''})", ATOM)
    assert isinstance(arg, fx.Node)
    return ref(arg)


def child_stmt(child: Scope, scope: Scope, order: int) -> Stmt:
    last = child.outputs[-1]
    return Stmt(
        Kind.CALL,
        list(child.outputs),
        order,
        callee=attr_text(scope.module, relative(scope.path, child.path)),
        args=[ref(i) for i in child.inputs],
        hint=source_hint(last, scope.module),
        line=source_location(last, scope.module),
        path=child.path,
    )


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
            deps = [producer.get(n) for n in s.reads()]
            stack.extend(
                (d, False)
                for d in reversed(deps)
                if d is not None and d is not s and id(d) not in done
            )
    return out
