"""Attributes in the order the torch class's ``__init__`` assigns them.

``nn.Module`` keeps submodules, parameters and buffers in three separate dicts, so their
interleaving (``self.embed``, then ``self.pos``, then ``self.encoder``) is only in the
source. Classes without readable source keep the dicts' order.
"""

from __future__ import annotations

import ast
import functools
import inspect
import textwrap

from torch import nn

_REGISTER = {"register_buffer", "register_parameter", "register_module", "add_module"}


@functools.cache
def init_order(cls: type) -> dict[str, int]:
    """Rank of each attribute name by where the ``__init__`` of ``cls`` (bases first, as
    ``super().__init__()`` runs first) assigns it."""
    names: list[str] = []
    for klass in reversed(cls.__mro__):
        if klass in (nn.Module, object) or "__init__" not in vars(klass):
            continue
        names += [n for n in _assigned(klass.__init__) if n not in names]
    return {name: i for i, name in enumerate(names)}


def _assigned(init: object) -> list[str]:
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(init)))  # type: ignore[arg-type]
    except (OSError, TypeError, SyntaxError):
        return []
    found = [(node.lineno, node.col_offset, name) for node, name in _attributes(tree)]
    return list(dict.fromkeys(name for _, _, name in sorted(found)))


def _attributes(tree: ast.AST) -> list[tuple[ast.AST, str]]:
    """``self.name = ...`` targets and ``self.register_buffer("name", ...)``-style calls."""
    out: list[tuple[ast.AST, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            if isinstance(node.value, ast.Name) and node.value.id == "self":
                out.append((node, node.attr))
        elif isinstance(node, ast.Call) and _registers(node) and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                out.append((node, first.value))
    return out


def _registers(call: ast.Call) -> bool:
    fn = call.func
    return (
        isinstance(fn, ast.Attribute)
        and fn.attr in _REGISTER
        and isinstance(fn.value, ast.Name)
        and fn.value.id == "self"
    )
