"""Variable names for a statement's outputs.

In order: the name the user's source gives the value (or a value nested into it), the name
of its data-flow input if that dies here (so chains read ``x = f(x)``; a loop takes its
input's), then
the source's name for the value itself numbered (``causal_mask2``), else ``y``. A value computed on the way to
a line's result that reads the variable the line assigns (``nn.relu(...)`` in
``x = x + self._ff_block(self.norm2(x))``) is not numbered: ``x2 = f(x)`` would read as a
new version of ``x``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import fx

from ..expr import Expr
from .inline import Nested, expand, leaf_reads
from .names import NameTable
from .statements import Kind, Stmt

FALLBACK = "y"  # what mlx-examples call an intermediate result


@dataclass
class Names:
    """The naming walk's state: each value's text, and which variable holds what."""

    values: dict[str, Expr]
    nested: Nested
    producers: dict[str, Stmt]
    table: NameTable
    pinned: set[str]
    readers: dict[str, list[Stmt]] = field(default_factory=dict)
    live: dict[str, str] = field(default_factory=dict)  # variable -> the value it holds
    by_var: dict[str, fx.Node] = field(default_factory=dict)

    def hold(self, var: str, node: fx.Node) -> None:
        self.values[node.name] = Expr(var)
        self.live[var] = node.name
        self.by_var[var] = node

    def text(self, expr: Expr) -> str:
        """``expr`` as it reads now: nested values expanded, named ones by their names."""
        return expand(expr, self.nested, self.values).text

    def usable(self, name: str) -> bool:
        return name not in self.live and name not in self.pinned

    def targets(self, s: Stmt, dying: list[str]) -> list[str]:
        """Names for ``s``'s outputs; ``dying``: variables whose last read is ``s``."""
        loop_reads = self._loop_reads(s)
        # only the data-flow input's name carries on (``x = f(x)``): another dying argument
        # (``cos`` in ``attn(h, cos, sin)``) names something else
        free = [
            v
            for v in self._read_order(s)[:1]
            if v in dying and v not in loop_reads and _alike(self.by_var.get(v), s.outs[0])
        ]
        if len(s.outs) > 1:
            return [
                free.pop(0) if i == 0 and free else self.table.fresh("out")
                for i in range(len(s.outs))
            ]
        hints = self._hints(s)
        if s.kind is Kind.LOOP and free and free[0] != FALLBACK:
            return [free[0]]
        for name in [*[str(h.hint) for h in hints], *free[:1]]:
            if name in loop_reads:
                continue
            if name in free or self.usable(name):
                self.table.taken.add(name)
                return [name]
        if s.hint and (self._final(s) or s.hint not in self._read_order(s)):
            return [self.table.fresh(s.hint)]
        if self.usable(FALLBACK) and FALLBACK not in loop_reads:
            self.table.taken.add(FALLBACK)
            return [FALLBACK]
        return [self.table.fresh(FALLBACK)]

    def _loop_reads(self, s: Stmt) -> set[str]:
        """Variables a loop reads on every iteration (its arguments after the carried one):
        its variable, assigned before the loop, must not be one of them."""
        if s.kind is not Kind.LOOP:
            return set()
        reads = leaf_reads([n for a in s.args[1:] for n in a.reads()], self.nested)
        return {self.values[n].text for n in reads if n in self.values}

    def _hints(self, s: Stmt) -> list[Stmt]:
        """``s`` and the values nested in it that the source names, outermost first."""
        out = [s] if s.hint else []
        todo = [n for n in s.reads() if n in self.nested and n in self.producers]
        while todo:
            producer = self.producers[todo.pop(0)]
            out += [producer] if producer.hint else []
            todo += [n for n in producer.reads() if n in self.nested and n in self.producers]
        return out

    def _final(self, s: Stmt) -> bool:
        """Whether ``s`` is what its source line computes last (no reader continues it)."""
        readers = [r for o in s.outs for r in self.readers.get(o.name, [])]
        return all(r.line != s.line for r in readers)

    def _read_order(self, s: Stmt) -> list[str]:
        """Variables ``s`` reads, in reading order through nested values; the first is its
        data-flow input, whose name a chain reuses (``x = f(x)``)."""
        reads = leaf_reads(s.reads(), self.nested)
        return list(dict.fromkeys(self.values[n].text for n in reads if n in self.values))


def _alike(a: fx.Node | None, b: fx.Node) -> bool:
    """Same kind of value (floats stay floats, token ids stay ids, masks stay masks): only
    then may one reuse the other's name, so ``tokens`` never ends up naming hidden states."""
    va, vb = (a.meta.get("val") if a is not None else None), b.meta.get("val")
    if not isinstance(va, torch.Tensor) or not isinstance(vb, torch.Tensor):
        return type(va) is type(vb)
    return _kind(va.dtype) == _kind(vb.dtype)


def _kind(dtype: torch.dtype) -> str:
    return "float" if dtype.is_floating_point else "bool" if dtype is torch.bool else "int"
