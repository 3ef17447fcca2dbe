"""``__call__`` parameter names for a generated class.

The forward's own names where its source shows which value is which (``attention_mask``),
else the name a child call already gave the same value, else ``x``.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap

from torch import fx, nn

from ..capture import Captured
from .hints import source_line
from .names import NameTable, identifier, reserved
from .scopes import Scope
from .sizes import is_size

# Names a generated ``__call__`` binds itself (``for layer in self.layers``).
LOCALS = ("self", "layer")


def param_names(
    scope: Scope, captured: Captured, known: dict[fx.Node, str] | None = None
) -> list[str]:
    """``__call__`` parameter names: the forward's own names where its source shows them,
    else the name a child call already gave the same value (``known``)."""
    if scope.parent is None:
        table = NameTable(set(LOCALS) | reserved())  # `ﬁlter` and `filter` are one name to Python
        return [table.fresh("x" if identifier(n) == "input_" else n) for n in captured.input_names]
    sig = _signature(scope.module)
    first = "x" if not sig or sig[0] in ("input", "args") else identifier(sig[0])
    table = NameTable(set(LOCALS) | reserved())
    inside = set(scope.subtree_nodes())
    unpacked = _unpacked(scope.module, sig[1:])
    names: list[str] = []
    for node in scope.inputs:
        if node.op == "get_attr":
            hint = str(node.target).rsplit(".", 1)[-1]
        elif is_size(node):
            hint = "size"
        elif not names:
            hint = first
        else:
            hint = _named_in_source(node, scope, inside, sig[1:], table.taken)
            hint = hint or (known or {}).get(node) or (unpacked.pop(0) if unpacked else "x")
        names.append(table.fresh(hint))
    return names


def _signature(module: nn.Module) -> list[str]:
    try:
        params = list(inspect.signature(type(module).forward).parameters)[1:]
    except (TypeError, ValueError):
        return []
    return [p for p in params if p not in ("args", "kwargs")]


def _named_in_source(
    node: fx.Node, scope: Scope, inside: set[fx.Node], sig: list[str], taken: set[str]
) -> str | None:
    """The forward parameter whose name appears on the source line that reads ``node``."""
    for user in node.users:
        if user not in inside:
            continue
        line = source_line(user, scope.module) or ""
        # a name followed by `=` is a keyword the call passes, not a value it reads
        found = [
            p for p in sig if re.search(rf"\b{re.escape(p)}\b(?!\s*=[^=])", line) and p not in taken
        ]
        if len(found) > 1:  # prefer parameters annotated as tensors
            found = [p for p in found if _tensor_param(scope.module, p)]
        if len(found) == 1:
            return identifier(found[0])
    return None


def _unpacked(module: nn.Module, sig: list[str]) -> list[str]:
    """Names the forward unpacks a tuple parameter into (``cos, sin = position_embeddings``):
    the elements of a tuple argument arrive as separate inputs, in that order."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(type(module).forward)))
    except (OSError, TypeError, SyntaxError):
        return []
    names: list[str] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assign) or len(node.targets) != 1:
            continue
        target, value = node.targets[0], node.value
        if isinstance(target, ast.Tuple) and isinstance(value, ast.Name) and value.id in sig:
            elts = [e.id for e in target.elts if isinstance(e, ast.Name)]
            names += elts if len(elts) == len(target.elts) else []
    return [identifier(n) for n in names]


def _tensor_param(module: nn.Module, name: str) -> bool:
    try:
        param = inspect.signature(type(module).forward).parameters[name]
    except (TypeError, ValueError, KeyError):
        return False
    note = param.annotation
    return note is inspect.Parameter.empty or "Tensor" in str(note)
