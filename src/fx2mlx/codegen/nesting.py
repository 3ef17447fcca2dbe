"""Which values nest into their one reader (``nn.relu(self.bn1(self.conv1(x)))``) and which
get a name of their own.

Bottom-up: a single-use value nests when its full nested text stays short and shallow. When
it doesn't, naming a part of it may read better than naming all of it: when it is too deep,
a deep call chain that is an operator's operand (``out = self.bn2(self.conv2(out))``, then
``nn.relu(out + identity)``), or what comes from other source lines when the value's own
line continues into its reader (``x = self.encoder(x)``, then
``self.head(mx.mean(self.norm(x), axis=1))``). A value that is all a ``return`` returns
may be as deep as a statement of its own: ``return f(x)`` beats ``y = f(x)``, ``return y``.
"""

from __future__ import annotations

from ..expr import ATOM, Expr
from .inline import INLINE_LIMIT, NEST_LIMIT, Nested, call_depth, counts, tree_comments
from .statements import Kind, Stmt

RETURN_ROOM = 100 - 8 - len("return ")  # a statement's value fits black's line (in a method)


def decide_nesting(stmts: list[Stmt], leaves: dict[str, Expr]) -> Nested:
    """The values that nest into their reader. ``leaves``: texts of the values that are
    given (parameters, attributes, sizes)."""
    count = counts(stmts)
    forced = {s.args[0].value() for s in stmts if s.kind is Kind.GUARD}
    plan = _Plan(leaves, stmts, count)
    for s in stmts:
        if s.kind not in (Kind.OP, Kind.CALL) or len(s.outs) != 1 or s.own_line:
            continue
        name = s.outs[0].name
        if count.get(name, 0) != 1 or name in forced:
            continue
        if plan.fits(s) or plan.fits_after_cut(s) or plan.fits_return(s):
            plan.nested[name] = s.rhs()
    return plan.nested


class _Plan:
    """Nesting decided so far, and how the nested text of an expression reads with it."""

    def __init__(self, leaves: dict[str, Expr], stmts: list[Stmt], count: dict[str, int]) -> None:
        self.leaves = leaves
        self.producers = {o.name: s for s in stmts for o in s.outs}
        self.readers = {n: s for s in stmts for n in s.reads() if count.get(n) == 1}
        self.nested: Nested = {}

    def text(self, expr: Expr) -> str:
        """``expr`` with nested values expanded and named ones as short placeholders."""
        local: dict[str, Expr] = {}
        for name in dict.fromkeys(expr.reads()):
            if name in self.nested:
                local[name] = Expr(self.text(self.nested[name]), self.nested[name].prec)
            else:
                local[name] = self.leaves.get(name) or Expr("v" * self._name_length(name))
        return expr.filled(local).text

    def _name_length(self, name: str) -> int:
        """About how long the variable that will hold ``name`` is (its source name's)."""
        producer = self.producers.get(name)
        return len(producer.hint) if producer is not None and producer.hint else 3

    def fits(self, s: Stmt) -> bool:
        """Whether ``s`` may nest into its reader: short, shallow, the reader's line stays
        within black's, and a comment stays with its source line (or ends in the return)
        and alone there."""
        text = self.text(s.rhs())
        if len(text) > INLINE_LIMIT or call_depth(text) > NEST_LIMIT:
            return False
        return self._reader_fits(s) and self._comment_fits(s)

    def _reader_fits(self, s: Stmt) -> bool:
        """A call's arguments may run long (black puts one a line); an operator expression
        must stay on its line, or black splits it at its operators."""
        reader = self.readers[s.outs[0].name]
        if reader.rhs().prec >= ATOM:
            return True
        self.nested[s.outs[0].name] = s.rhs()
        try:
            return len(self.text(reader.rhs())) <= RETURN_ROOM
        finally:
            del self.nested[s.outs[0].name]

    def _comment_fits(self, s: Stmt) -> bool:
        comments = tree_comments(s, self.nested, self.producers)
        if not comments:
            return True
        reader = self.readers[s.outs[0].name]
        with_line = reader.kind is Kind.RETURN or self._same_line(s)
        return with_line and len(set(comments) | ({reader.comment} - {""})) == 1

    def fits_return(self, s: Stmt) -> bool:
        """Whether ``s`` is all its reader returns and fits that line, one call deeper."""
        reader = self.readers.get(s.outs[0].name)
        if reader is None or reader.kind is not Kind.RETURN or reader.rhs().value() is None:
            return False
        text = self.text(s.rhs())
        deep_enough = call_depth(text) <= NEST_LIMIT + 1
        return len(text) <= RETURN_ROOM and deep_enough and self._comment_fits(s)

    def _same_line(self, s: Stmt) -> bool:
        reader = self.readers.get(s.outs[0].name)
        return s.line is not None and reader is not None and reader.line == s.line

    def fits_after_cut(self, s: Stmt) -> bool:
        """Name a part of ``s`` (see the module doc) so that the rest of it nests."""
        too_deep = call_depth(self.text(s.rhs())) > NEST_LIMIT
        operand = self._deep_operand(s.rhs()) if too_deep else []
        for cut in (operand, self._other_lines(s)):
            kept = {name: self.nested.pop(name) for name in cut}
            if kept and self.fits(s):
                return True
            self.nested.update(kept)
        return False

    def _deep_operand(self, expr: Expr) -> list[str]:
        """The deepest call chain (2+ calls) nested as an operator's operand."""
        best: list[str] = []
        depth = 1
        for name in self._nested_in(expr):
            operand = name in self._operands(expr)
            d = call_depth(self.text(self.nested[name]))
            if operand and d > depth:
                best, depth = [name], d
        return best

    def _operands(self, expr: Expr) -> set[str]:
        """Values nested anywhere in ``expr`` as an operator's operand."""
        out = set(expr.operands())
        for name in expr.reads():
            if name in self.nested:
                out |= self._operands(self.nested[name])
        return out

    def _nested_in(self, expr: Expr) -> list[str]:
        """Every value nested in ``expr``, outermost first."""
        out: list[str] = []
        for name in expr.reads():
            if name in self.nested:
                out += [name, *self._nested_in(self.nested[name])]
        return out

    def _other_lines(self, s: Stmt) -> list[str]:
        """When ``s``'s line continues into its reader: the values nested in it that come
        from other lines (the outermost ones; values of no known line count as ``s``'s)."""
        if not self._same_line(s):
            return []
        out: list[str] = []
        todo = [n for n in s.reads() if n in self.nested]
        while todo:
            name = todo.pop(0)
            if self.producers[name].line not in (s.line, None):
                out.append(name)
            else:
                todo += [n for n in self.nested[name].reads() if n in self.nested]
        return out
