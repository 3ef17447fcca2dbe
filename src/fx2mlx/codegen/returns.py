"""The return annotation of the generated model's ``__call__``, true to its output structure:
``(tensor, 3)`` is ``tuple[mx.array, int]``, not ``tuple[mx.array, mx.array]``."""

from __future__ import annotations

from collections import namedtuple
from typing import Any

from torch import fx
from torch.utils import _pytree as pytree

from .dedup import annotation


def container(t: type) -> str:
    """How an output container is written: ``"None"``, ``"list"``, ``"tuple"`` or ``"dict"``
    (dicts and ``ModelOutput``s, whose pytree context is the list of keys). Subclasses count:
    fx returns its own immutable lists and dicts, and named tuples stay tuples (pytree files
    every named tuple under the ``namedtuple`` function, its class in the context)."""
    if t is type(None):
        return "None"
    if t is namedtuple or isinstance(t, type) and issubclass(t, tuple):
        return "tuple"
    return "list" if isinstance(t, type) and issubclass(t, list) else "dict"


def _union(types: list[str]) -> str:
    return " | ".join(dict.fromkeys(types))  # each type once, in order of first appearance


def _leaf_type(value: Any) -> str:
    if isinstance(value, fx.Node):
        return annotation(value.meta.get("val"))
    return annotation(value)  # a constant returned as it is (``return x, 3``)


def output_annotation(spec: pytree.TreeSpec, leaves: list[Any]) -> str:
    """The annotation for the structure ``spec`` with the flattened output ``leaves`` (graph
    nodes or constants), in the same order as :func:`emit.render_outputs` writes them."""
    it = iter(leaves)

    def walk(s: pytree.TreeSpec) -> str:
        if s.is_leaf():
            return _leaf_type(next(it))
        kids = [walk(c) for c in s.children()]
        kind = container(s.type)
        if kind == "None":
            return "None"
        if kind == "tuple":
            return f"tuple[{', '.join(kids) or '()'}]"
        if kind == "list":
            return f"list[{_union(kids)}]" if kids else "list"
        keys = _union([annotation(k) for k in s.context])
        return f"dict[{keys}, {_union(kids)}]" if kids else "dict"

    return walk(spec)
