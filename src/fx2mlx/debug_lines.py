"""Where a node's code is: the op it is, the line of ``model.py`` that computes it, the
user's line that made it, and the module whose forward did."""

from __future__ import annotations

import linecache
import operator
import re
from pathlib import Path

import torch
from torch import fx

from .codegen.collect import layer_stmt, op_stmt, relayout_stmt
from .codegen.scopes import Scope
from .codegen.statements import Kind, Stmt
from .debug_report import OpFinding
from .layout import relayout
from .meta import LAYER, SCOPE
from .report import OutputCheck


def statement(node: fx.Node, scope: Scope) -> Stmt:
    """The statement codegen builds for ``node`` (its holes name the values it reads)."""
    if node.op == "call_module":
        return layer_stmt(node, scope, 0)
    if node.target is relayout:
        return relayout_stmt(node, 0)
    return op_stmt(node, scope, 0, set())


def op_name(node: fx.Node) -> str:
    """``aten.softmax.int``, ``nn.Linear``, ``getitem``: what a person looks up."""
    if node.op == "call_module":
        return node.meta[LAYER].ctor.fn
    if node.target is operator.getitem:
        return "getitem"
    if node.target is relayout:
        return "transpose (layout)"
    if isinstance(node.target, torch._ops.OpOverload):
        return str(node.target)  # ``aten.softmax.int``: namespace, op and overload
    return str(getattr(node.target, "__name__", node.target))


def finding(
    node: fx.Node, scope: Scope, source: str, cls: str, checks: list[OutputCheck]
) -> OpFinding:
    """What to print for a node that drifts: its op, the generated and the user's lines."""
    stmt = statement(node, scope)
    found = OpFinding(op_name(node), node.name, module=_owner(node, scope))
    if checks:
        found.max_abs = max(c.max_abs for c in checks)
        found.rel = max(c.rel for c in checks)
        found.elem = max(c.elem for c in checks)
        found.note = "; ".join(c.problem for c in checks if c.problem)
    line = generated_line(source, cls, node, scope)
    if line is not None:
        found.generated_line, found.generated_text = line
    if node.op == "call_module":  # a layer: where it is called, not its own forward
        user = stmt.line or _user_frame(node)
    else:
        user = _user_frame(node) or stmt.line
    if user is not None:
        found.user_file, found.user_line = user[0], user[1]
        found.user_text = linecache.getline(user[0], user[1]).strip()
    return found


_FRAME = re.compile(r'File "([^"]+)", line (\d+), in (\w+)')


_TORCH = str(Path(torch.__file__).parent)


def _user_frame(node: fx.Node) -> tuple[str, int, str] | None:
    """The innermost frame of the node's stack trace outside torch itself: the user's line
    that made the op (inside a module the generated code inlined, too)."""
    frames = _FRAME.findall(node.meta.get("stack_trace") or "")
    frames = [f for f in frames if not f[0].startswith(_TORCH)]
    return (frames[-1][0], int(frames[-1][1]), frames[-1][2]) if frames else None


def _owner(node: fx.Node, scope: Scope) -> str:
    """``act (Shifted)``: the innermost module whose forward made the op."""
    frames = node.meta.get(SCOPE) or ()
    path = frames[-1][1] if frames else scope.path
    if node.op == "call_module":
        path = node.meta[LAYER].path
    root = scope
    while root.parent is not None:
        root = root.parent
    try:
        module = root.module.get_submodule(path) if path else root.module
    except AttributeError:  # a path the model no longer has: name the scope's module
        module = scope.module
    return f"{path or '<model>'} ({type(module).__name__})"


_CALL = re.compile(r"([A-Za-z_][\w.]*)\(")
_OPERATOR = re.compile(r"[-+*/@%<>=!&|^~]+|\[")


def token(node: fx.Node, scope: Scope) -> str | None:
    """A piece of text the node's generated code shows: the function it calls, else its
    operator."""
    stmt = statement(node, scope)
    if stmt.kind is Kind.CALL:
        return stmt.callee + "("
    if stmt.kind is not Kind.OP:
        return None
    text = re.sub(r"\x00[^\x00]*\x00", " ", stmt.rhs().text)
    m = _CALL.search(text) or _OPERATOR.search(text)
    return (m.group(1) + "(" if m.re is _CALL else m.group(0)) if m else None


def generated_line(source: str, cls: str, node: fx.Node, scope: Scope) -> tuple[int, str] | None:
    """The line of ``cls.__call__`` in ``source`` holding ``node``'s code: the k-th showing
    of its token, k counted over the scope's earlier nodes; else the ``def __call__`` line."""
    lines = source.splitlines()
    span = _call_span(lines, cls)
    if span is None:
        return None
    start, end = span
    tok = token(node, scope)
    if tok is not None:
        before = scope.nodes[: scope.nodes.index(node)] if node in scope.nodes else []
        k = sum(1 for n in before if token(n, scope) == tok)
        found = _kth(lines, start, end, tok, k)
        if found is None and "[" in tok:  # a list's layers called in a loop: ``layer(x)``
            found = _kth(lines, start, end, "layer(", 0)
        if found is not None:
            return found + 1, lines[found].strip()
    return start + 1, lines[start].strip()


def _kth(lines: list[str], start: int, end: int, tok: str, k: int) -> int | None:
    """The 0-based line of the ``k``-th (from 0) showing of ``tok`` in ``lines[start:end]``."""
    seen = 0
    for i in range(start, end):
        seen += lines[i].count(tok)
        if seen > k:
            return i
    return None


def _call_span(lines: list[str], cls: str) -> tuple[int, int] | None:
    """0-based [start, end) of ``cls.__call__`` (start: its ``def`` line)."""
    head = next((i for i, t in enumerate(lines) if t.startswith(f"class {cls}(")), None)
    if head is None:
        return None
    start = None
    for i in range(head + 1, len(lines)):
        text = lines[i]
        ends = bool(text) and not text[0].isspace()  # the next top-level definition
        if start is not None and (ends or text.startswith("    def ")):
            return start, i
        if ends:
            return None
        if text.startswith("    def __call__"):
            start = i
    return (start, len(lines)) if start is not None else None
