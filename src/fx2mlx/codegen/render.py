"""Statements to source lines, once their targets are named and their reads are known."""

from __future__ import annotations

from collections.abc import Callable

from ..expr import Expr, call, literal
from .inline import INLINE_LIMIT, NEST_LIMIT, call_depth
from .statements import Kind, Stmt
from .text import comment_text

LINE_ROOM = 100 - 8  # black's line length, less the indentation of a method body
INDENT = "    "

Text = Callable[[Expr], str]
"""Renders an expression whose values all have names or nested expressions."""


def statement_lines(
    s: Stmt, targets: list[str], text: Text, comment: str = "", above: bool = False
) -> list[str]:
    """The lines of one statement (without the method's indentation); ``above`` puts the
    comment on a line of its own (a note for the statements that follow)."""
    if s.kind is Kind.LOOP:
        body = _commented(_loop_body(s, targets[0], text), comment)
        return _loop(s, targets[0], text) + body
    if s.kind is Kind.GUARD:
        return _guard(s, targets[0], text, comment)
    if s.kind is Kind.RETURN:
        return _commented(f"return {text(s.rhs())}", comment, above)
    return _commented(f"{', '.join(targets)} = {text(s.rhs())}", comment, above)


def _commented(line: str, comment: str, above: bool = False) -> list[str]:
    """``line  # comment``, or the comment on a line of its own above where a trailing
    comment would make black split the line."""
    comment = comment_text(comment)  # notes may quote the model: one inert line
    if not comment:
        return [line]
    indent = line[: len(line) - len(line.lstrip())]
    if above or len(line) + len(comment) + 4 > LINE_ROOM:
        return [f"{indent}# {comment}", line]
    return [f"{line}  # {comment}"]


def _loop(s: Stmt, var: str, text: Text) -> list[str]:
    """The loop's input must be in ``var`` before the first iteration."""
    src = text(s.args[0])
    return ([] if src == var else [f"{var} = {src}"]) + [f"for layer in {s.callee}:"]


def _loop_body(s: Stmt, var: str, text: Text) -> str:
    rest = [text(a) for a in s.args[1:]]
    return f"{INDENT}{var} = {call('layer', var, *rest).text}"


def _guard(s: Stmt, var: str, text: Text, comment: str) -> list[str]:
    """``var = <input>`` then ``if "attr" in self:`` and the guarded chain, reassigning
    ``var``: the same shape as torch's ``if self.downsample is not None:``."""
    src = text(s.args[0])
    head = [] if src == var else [f"{var} = {src}"]
    head += _commented(f"if {literal(s.guard)} in self:", comment)
    return head + [INDENT + line for line in _chain(s.body, var, src, text)]


def _chain(body: list[Stmt], var: str, src: str, text: Text) -> list[str]:
    """A chain of calls, each reading the one before: nested while short and shallow."""
    lines: list[str] = []
    cur, in_var = Expr(src), True  # the chain's value so far; whether ``var`` holds it
    for s in body:
        if s.kind is Kind.LOOP:
            if not in_var:
                lines.append(f"{var} = {cur.text}")
            lines += [f"for layer in {s.callee}:", _loop_body(s, var, text)]
            cur, in_var = Expr(var), True
            continue
        nxt = s.rhs().filled({name: cur for name in s.reads()})
        if not _short(nxt.text) and not in_var:
            lines.append(f"{var} = {cur.text}")
            nxt = s.rhs().filled({name: Expr(var) for name in s.reads()})
        cur, in_var = nxt, False
    if not in_var:
        lines.append(f"{var} = {cur.text}")
    return lines


def _short(text: str) -> bool:
    return len(text) <= INLINE_LIMIT and call_depth(text) <= NEST_LIMIT
