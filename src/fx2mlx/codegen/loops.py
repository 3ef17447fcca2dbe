"""Fold chains of calls over a list of layers into ``for layer in self.layers: x = layer(x)``."""

from __future__ import annotations

from torch import fx, nn

from ..expr import Expr, hole, holes
from .attrs import attr_text, is_list, relative
from .body import Stmt
from .scopes import Scope

# Modules that do nothing in eval mode: a chain may skip them and still iterate the list.
PASS_THROUGH = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.AlphaDropout, nn.Identity)


def _list_item(stmt: Stmt, scope: Scope) -> tuple[str, int, str] | None:
    """(list path, index, other args) when ``stmt`` is exactly ``self.<list>[i](x, ...)``."""
    if stmt.path is None or stmt.guard or len(stmt.outs) != 1 or "." not in stmt.path:
        return None
    parent, index = stmt.path.rsplit(".", 1)
    if not index.isdigit() or (scope.path and not parent.startswith(scope.path)):
        return None
    owner = (
        scope.module.get_submodule(relative(scope.path, parent)) if parent != scope.path else None
    )
    if not is_list(owner):
        return None
    names = holes(stmt.expr.text)
    target = attr_text(scope.module, relative(scope.path, stmt.path))
    head = f"{target}(\x00{names[0]}|0\x00" if names else ""
    if not names or not stmt.expr.text.startswith(head) or not stmt.expr.text.endswith(")"):
        return None
    rest = stmt.expr.text[len(head) : -1]
    if rest and not rest.startswith(", "):
        return None
    return parent, int(index), rest


def _covers(owner: nn.Module, indices: list[int]) -> bool:
    skipped = [i for i in range(len(owner)) if i not in indices]
    # each item once, in order: a list walked twice (ALBERT's shared layer) is no loop over it
    once = indices == sorted(set(indices))
    return once and all(isinstance(owner[i], PASS_THROUGH) for i in skipped)


def fold_loops(
    stmts: list[Stmt], scope: Scope, uses: dict[str, int], by_name: dict[str, fx.Node]
) -> list[Stmt]:
    """Replace each maximal chain that walks a whole list (2+ calls) by one loop statement."""
    out: list[Stmt] = []
    i = 0
    while i < len(stmts):
        item = _list_item(stmts[i], scope)
        j = i + 1
        while item is not None and j < len(stmts):
            nxt = _list_item(stmts[j], scope)
            prev = stmts[j - 1].outs[0]
            if nxt is None or nxt[0] != item[0] or nxt[2] != item[2]:
                break
            if holes(stmts[j].expr.text)[0] != prev.name:
                break
            if uses.get(prev.name, 0) != 1:
                break
            j += 1
        run = stmts[i:j]
        if item is not None and len(run) >= 2 and _folds(run, scope, item[0]):
            out.append(_loop(run, scope, item[0], item[2], by_name))
        else:
            out.extend(run)
        i = j
    return out


def _folds(run: list[Stmt], scope: Scope, parent: str) -> bool:
    owner = scope.module.get_submodule(relative(scope.path, parent))
    return _covers(owner, [int(s.path.rsplit(".", 1)[1]) for s in run])  # type: ignore[union-attr]


def _loop(
    run: list[Stmt], scope: Scope, parent: str, rest: str, by_name: dict[str, fx.Node]
) -> Stmt:
    """``rest`` holds the arguments every call shares (``, mask``)."""
    src = by_name[holes(run[0].expr.text)[0]]
    attr = attr_text(scope.module, relative(scope.path, parent))
    return Stmt(
        list(run[-1].outs),
        Expr(f"layer({hole(src)}{rest})"),
        run[-1].anchor,
        kind="loop",
        hint=run[-1].hint or run[0].hint,
        loop=(attr, src),
    )
