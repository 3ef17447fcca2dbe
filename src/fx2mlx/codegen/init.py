"""The ``__init__`` of a generated class as a small tree of constructor calls.

Constructor arguments are :class:`Slot` s that carry a role (``in_channels``) and a value.
Instances of one torch class that build the same tree with different values become one
generated class whose varying slots are lifted into ``__init__`` parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..expr import literal

NO_DEFAULT = object()


@dataclass
class Slot:
    """A constructor argument value; ``param`` is set when it is lifted into a parameter."""

    role: str
    value: Any
    default: Any = NO_DEFAULT
    param: str | None = None


@dataclass
class CallNode:
    fn: str
    args: list[Tree] = field(default_factory=list)
    kwargs: list[tuple[str, Tree]] = field(default_factory=list)


@dataclass
class ListNode:
    items: list[Tree]
    brackets: str = "[]"


@dataclass
class DictNode:
    items: list[tuple[str, Tree]]


@dataclass
class Raw:
    text: str


Tree = Slot | CallNode | ListNode | DictNode | Raw


@dataclass
class InitLine:
    """``self.<target> = <tree>``; ``guard`` names the flag of an optional submodule."""

    target: str
    tree: Tree
    guard: str | None = None


def shape_key(tree: Tree) -> Any:
    """The tree with slot values erased: equal keys mean the same constructor structure."""
    if isinstance(tree, Slot):
        return ("slot", tree.role)
    if isinstance(tree, CallNode):
        return (
            "call",
            tree.fn,
            tuple(shape_key(a) for a in tree.args),
            tuple((k, shape_key(v)) for k, v in tree.kwargs),
        )
    if isinstance(tree, ListNode):
        return ("list", tree.brackets, tuple(shape_key(i) for i in tree.items))
    if isinstance(tree, DictNode):
        return ("dict", tuple((k, shape_key(v)) for k, v in tree.items))
    return ("raw", tree.text)


def slots(tree: Tree) -> list[Slot]:
    """Every slot of ``tree`` in a fixed order."""
    if isinstance(tree, Slot):
        return [tree]
    if isinstance(tree, CallNode):
        out = [s for a in tree.args for s in slots(a)]
        return out + [s for _, v in tree.kwargs for s in slots(v)]
    if isinstance(tree, ListNode):
        return [s for i in tree.items for s in slots(i)]
    if isinstance(tree, DictNode):
        return [s for _, v in tree.items for s in slots(v)]
    return []


def render(tree: Tree, omit: set[int] | None = None) -> str:
    """Source text; keyword slots whose ``id`` is in ``omit`` are left out (they're defaults)."""
    omit = omit or set()
    if isinstance(tree, Slot):
        return tree.param if tree.param else literal(tree.value)
    if isinstance(tree, CallNode):
        parts = [render(a, omit) for a in tree.args]
        for k, v in tree.kwargs:
            if isinstance(v, Slot) and id(v) in omit:
                continue
            parts.append(f"{k}={render(v, omit)}")
        return f"{tree.fn}({', '.join(parts)})"
    if isinstance(tree, ListNode):
        inner = ", ".join(render(i, omit) for i in tree.items)
        if tree.brackets == "()":
            return f"({inner},)" if len(tree.items) == 1 else f"({inner})"
        return f"[{inner}]"
    if isinstance(tree, DictNode):
        return "{" + ", ".join(f"{literal(k)}: {render(v, omit)}" for k, v in tree.items) + "}"
    return tree.text
