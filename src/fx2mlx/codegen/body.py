"""Render a scope's statements as the body of ``__call__``.

Single-use values are nested into their user (``nn.relu(self.bn1(self.conv1(x)))``); the rest
become assignments. A statement reuses the name of an input that dies there, so linear
chains read ``x = ...(x)``; fresh names come from the user's own source line where we can
read it (``identity = ...``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import torch
from torch import fx

from ..expr import Expr, fill, holes
from .names import NameTable
from .text import comment_text

LINE_ROOM = 100 - 8  # black's line length, less the indentation of a method body
INLINE_LIMIT = 60  # characters: longer single-use expressions get a name of their own
NEST_LIMIT = 2  # calls nested in a value that is nested into another call


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


@dataclass
class Stmt:
    """One statement: ``outs = expr`` (or a loop / guarded call)."""

    outs: list[fx.Node]
    expr: Expr
    anchor: int
    kind: str = "op"  # op | call | alias | loop
    hint: str | None = None
    comment: str = ""
    guard: str | None = None  # optional submodule: ``... if "name" in self else <input>``
    loop: tuple[str, fx.Node] | None = None  # (list attribute text, input value)
    path: str | None = None  # module path of a layer or child call


@dataclass
class Body:
    lines: list[str] = field(default_factory=list)
    params: list[str] = field(default_factory=list)


def _resolve_aliases(stmts: list[Stmt]) -> tuple[list[Stmt], dict[str, str]]:
    """Drop alias statements (layout-only ops), pointing their users at the source."""
    alias: dict[str, str] = {}
    for s in stmts:
        if s.kind == "alias":
            src = holes(s.expr.text)[0]
            alias[s.outs[0].name] = alias.get(src, src)
    kept = [s for s in stmts if s.kind != "alias"]
    if not alias:
        return kept, alias
    for s in kept:
        s.expr = Expr(_rename_holes(s.expr.text, alias), s.expr.prec)
    return kept, alias


def _rename_holes(text: str, alias: dict[str, str]) -> str:
    for name in holes(text):
        if name in alias:
            text = text.replace(f"\x00{name}|", f"\x00{alias[name]}|")
    return text


def _count(stmts: list[Stmt], ret_text: str) -> dict[str, int]:
    count: dict[str, int] = {}
    for text in [s.expr.text for s in stmts] + [ret_text]:
        for name in holes(text):
            count[name] = count.get(name, 0) + 1
    return count


def render_body(
    stmts: list[Stmt],
    params: list[tuple[fx.Node, str]],
    attrs: dict[str, Expr],
    ret_text: str,
    pinned: set[str] = frozenset(),
) -> Body:
    """Lines of ``__call__`` (without the ``def``), ending in ``return``.

    ``pinned`` names (parameters that size expressions read) are never reassigned.
    """
    stmts, alias = _resolve_aliases(stmts)
    ret_text = _rename_holes(ret_text, alias)
    count = _count(stmts, ret_text)
    forced = {s.loop[1].name for s in stmts if s.loop}
    inlined = _decide_inlining(stmts, count, forced, attrs, params)
    emitted = [s for s in stmts if s.outs[0].name not in inlined or len(s.outs) != 1]
    last = _last_reads(emitted, ret_text, inlined)
    values: dict[str, Expr] = dict(attrs)
    table = NameTable({name for _, name in params} | {"self", "layer"} | set(pinned))
    live: dict[str, str] = {}
    by_var: dict[str, fx.Node] = {}  # the value each variable holds now
    for node, name in params:
        values[node.name] = Expr(name)
        live[name] = node.name
        by_var[name] = node
    lines: list[str] = []
    for i, s in enumerate(emitted):
        text = _expand(s.expr.text, inlined, values)
        dying = [v for v, n in live.items() if last.get(n, -1) <= i and v not in pinned]
        for v in dying:
            del live[v]
        reads = _read_order(s.expr.text, inlined, values)
        free = [v for v in reads if v in dying and _alike(by_var.get(v), s.outs[0])]
        targets = _targets(s, free[:1], live, table, pinned)
        for out, name in zip(s.outs, targets):
            values[out.name] = Expr(name)
            live[name] = out.name
            by_var[name] = out
        new = _statement(s, text, targets, values)
        if new[0].startswith("# ") and new[0] in lines[-4:]:
            new = new[1:]  # the same note as just above: once is enough
        lines.extend(new)
    lines.append(f"return {_expand(ret_text, inlined, values)}")
    return Body(_name_batch(lines, pinned, table), [name for _, name in params])


BATCH_USES = 3  # `x.shape[0]` this often in one body reads better as `B`


def _name_batch(lines: list[str], pinned: set[str], table: NameTable) -> list[str]:
    """``B = x.shape[0]`` up front when the batch size is read several times (the MLX idiom).
    Only parameters that are never reassigned (``pinned``) qualify."""
    if "B" in table.taken:
        return lines
    for name in sorted(pinned):
        pattern = re.compile(rf"(?<![\w.]){re.escape(name)}\.shape\[0\]")
        if sum(len(pattern.findall(line)) for line in lines) >= BATCH_USES:
            table.taken.add("B")
            return [f"B = {name}.shape[0]"] + [pattern.sub("B", line) for line in lines]
    return lines


def _decide_inlining(
    stmts: list[Stmt],
    count: dict[str, int],
    forced: set[str],
    attrs: dict[str, Expr],
    params: list[tuple[fx.Node, str]],
) -> dict[str, Expr]:
    """Which single-use values nest into their user (judged on their full nested text)."""
    approx: dict[str, Expr] = dict(attrs)
    for node, name in params:
        approx[node.name] = Expr(name)
    inlined: dict[str, Expr] = {}
    for s in stmts:
        text = fill(
            s.expr.text, {**approx, **{k: Expr(k) for k in holes(s.expr.text) if k not in approx}}
        )
        if _inlinable(s, text, count, forced):
            inlined[s.outs[0].name] = s.expr
            approx[s.outs[0].name] = Expr(text, s.expr.prec)
        else:
            for out in s.outs:
                approx[out.name] = Expr("v" * min(len(out.name), 3))
    return inlined


def _reads(text: str, inlined: dict[str, Expr]) -> set[str]:
    out: set[str] = set()
    for name in holes(text):
        out |= _reads(inlined[name].text, inlined) if name in inlined else {name}
    return out


def _last_reads(emitted: list[Stmt], ret_text: str, inlined: dict[str, Expr]) -> dict[str, int]:
    """Index of the last emitted statement that reads each named value (after nesting)."""
    last: dict[str, int] = {}
    for i, s in enumerate(emitted):
        for name in _reads(s.expr.text, inlined):
            last[name] = i
    for name in _reads(ret_text, inlined):
        last[name] = len(emitted)
    return last


def _expand(text: str, inlined: dict[str, Expr], values: dict[str, Expr]) -> str:
    """Fill holes with names, nesting inlined values' own (expanded) expressions."""
    local: dict[str, Expr] = {}
    for name in holes(text):
        if name in inlined:
            local[name] = Expr(_expand(inlined[name].text, inlined, values), inlined[name].prec)
        else:
            local[name] = values[name]
    return fill(text, local)


def _alike(a: fx.Node | None, b: fx.Node) -> bool:
    """Same kind of value (floats stay floats, token ids stay ids): only then may one reuse
    the other's name, so ``tokens`` never ends up naming hidden states."""
    va, vb = (a.meta.get("val") if a is not None else None), b.meta.get("val")
    if not isinstance(va, torch.Tensor) or not isinstance(vb, torch.Tensor):
        return type(va) is type(vb)
    return va.dtype.is_floating_point == vb.dtype.is_floating_point


def _read_order(text: str, inlined: dict[str, Expr], values: dict[str, Expr]) -> list[str]:
    """Variables a statement reads, in reading order through nested values; the first is its
    data-flow input, whose name a chain reuses (``x = f(x)``)."""
    out: list[str] = []
    for name in holes(text):
        found = (
            _read_order(inlined[name].text, inlined, values)
            if name in inlined
            else [values[name].text] if name in values else []
        )
        out.extend(v for v in found if v not in out)
    return out


def _inlinable(s: Stmt, text: str, count: dict[str, int], forced: set[str]) -> bool:
    if len(s.outs) != 1 or s.kind not in ("op", "call") or s.guard or s.comment:
        return False
    name = s.outs[0].name
    return (
        count.get(name, 0) == 1
        and name not in forced
        and len(text) <= INLINE_LIMIT
        and call_depth(text) <= NEST_LIMIT
    )


def _targets(
    s: Stmt, free: list[str], live: dict[str, str], table: NameTable, pinned: set[str]
) -> list[str]:
    """Names for a statement's outputs: the source's own name, else a dying input's."""
    names: list[str] = []
    for _ in s.outs:
        hint = s.hint if len(s.outs) == 1 else None
        if hint and hint not in live and hint not in names and hint not in pinned:
            name = hint
            table.taken.add(hint)
            if hint in free:
                free.remove(hint)
        elif free:
            name = free.pop(0)
        else:
            name = table.fresh(hint or ("out" if len(s.outs) > 1 else "y"))
        names.append(name)
    return names


def _statement(s: Stmt, text: str, targets: list[str], values: dict[str, Expr]) -> list[str]:
    note = comment_text(s.comment)  # notes may quote the model: one inert line
    comment = f"  # {note}" if note else ""
    if s.loop is not None:
        attr, src = s.loop
        var, name = targets[0], values[src.name].text
        head = [] if name == var else [f"{var} = {name}"]
        call = text.replace(f"layer({name}", f"layer({var}", 1)
        return head + [f"for layer in {attr}:", f"    {var} = {call}{comment}"]
    line = f"{', '.join(targets)} = {text}"
    if comment and len(line) + len(comment) > LINE_ROOM:
        return [f"# {note}", line]  # a trailing comment would make black split the line
    return [line + comment]
