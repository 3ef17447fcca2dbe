"""Fold chains of calls over a list of layers into ``for layer in self.layers: x = layer(x)``."""

from __future__ import annotations

from dataclasses import replace

from torch import nn

from .attrs import attr_text, is_list, relative
from .inline import counts
from .scopes import Scope
from .statements import Kind, Stmt

# Modules that do nothing in eval mode: a chain may skip them and still iterate the list.
PASS_THROUGH = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.AlphaDropout, nn.Identity)


def _list_item(stmt: Stmt, scope: Scope) -> tuple[str, int] | None:
    """(list path, index) when ``stmt`` calls ``self.<list>[i]`` with a value first."""
    if stmt.kind is not Kind.CALL or stmt.path is None or len(stmt.outs) != 1:
        return None
    if "." not in stmt.path or not stmt.args or stmt.args[0].value() is None:
        return None
    parent, index = stmt.path.rsplit(".", 1)
    if not index.isdigit() or (scope.path and not parent.startswith(scope.path)):
        return None
    owner = (
        scope.module.get_submodule(relative(scope.path, parent)) if parent != scope.path else None
    )
    return (parent, int(index)) if is_list(owner) else None


def _covers(owner: nn.Module, indices: list[int]) -> bool:
    skipped = [i for i in range(len(owner)) if i not in indices]
    # each item once, in order: a list walked twice (ALBERT's shared layer) is no loop over it
    once = indices == sorted(set(indices))
    return once and all(isinstance(owner[i], PASS_THROUGH) for i in skipped)


def _continues(prev: Stmt, stmt: Stmt, parent: str, scope: Scope, uses: dict[str, int]) -> bool:
    """Whether ``stmt`` calls the next item of the same list on ``prev``'s output alone."""
    item = _list_item(stmt, scope)
    if item is None or item[0] != parent or stmt.args[1:] != prev.args[1:]:
        return False
    out = prev.outs[0].name
    return stmt.args[0].value() == out and uses.get(out, 0) == 1


def fold_loops(stmts: list[Stmt], scope: Scope) -> list[Stmt]:
    """Replace each maximal chain that walks a whole list (2+ calls) by one loop statement;
    guarded statements are folded inside too. ``stmts`` ends with the return."""
    uses = counts(stmts)
    out: list[Stmt] = []
    i = 0
    while i < len(stmts):
        if stmts[i].kind is Kind.GUARD:
            out.append(replace(stmts[i], body=fold_loops(stmts[i].body, scope)))
            i += 1
            continue
        item = _list_item(stmts[i], scope)
        j = i + 1
        while item is not None and j < len(stmts):
            if not _continues(stmts[j - 1], stmts[j], item[0], scope, uses):
                break
            j += 1
        run = stmts[i:j]
        if item is not None and len(run) >= 2 and _folds(run, scope, item[0]):
            out.append(_loop(run, scope, item[0]))
        else:
            out.extend(run)
        i = j
    return out


def _folds(run: list[Stmt], scope: Scope, parent: str) -> bool:
    owner = scope.module.get_submodule(relative(scope.path, parent))
    return _covers(owner, [int(s.path.rsplit(".", 1)[1]) for s in run])  # type: ignore[union-attr]


def _loop(run: list[Stmt], scope: Scope, parent: str) -> Stmt:
    """One statement for the chain; its arguments are the first call's (the chain's input and
    the arguments every call shares)."""
    return Stmt(
        Kind.LOOP,
        list(run[-1].outs),
        run[-1].anchor,
        callee=attr_text(scope.module, relative(scope.path, parent)),
        args=list(run[0].args),
        hint=run[-1].hint or run[0].hint,
    )
