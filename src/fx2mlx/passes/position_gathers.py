"""Pass: a gather at ``arange`` positions is a view, and is written as one.

Hugging Face's mask utilities index a mask with one ``arange`` per dim, each laid along its
own axis: ``mask[arange(B)[:, None, None, None], arange(L)[None, None, None, :]]``. That is
``mask[:, None, None, :]``. The rewrite applies when every index depends on input sizes only
and, evaluated at the example's sizes and at several others, is ``arange`` over the whole of
its dim along a single axis, the axes in the order of the dims. (The index may count the
token ids' batch while the mask has its own: both are dynamic dims of equal example size,
which the model's code takes to be equal; validation runs them at a second size together.)
"""

from __future__ import annotations

import torch
from torch import fx

from ..capture import Captured
from ..capture.graph import size_expr
from .size_only import erase_unused, holds_at_every_size, val

aten = torch.ops.aten


def position_gathers(captured: Captured) -> int:
    """Replace each such gather by unsqueezes; returns how many."""
    done = 0
    for node in list(captured.graph.nodes):
        if node.op == "call_function" and node.target is aten.index.Tensor:
            axes = _axes(captured, node)
            if axes is not None:
                _as_view(captured, node, axes)
                done += 1
    return done


def _axes(captured: Captured, node: fx.Node) -> list[int] | None:
    """The output axis each of the source's dims lands on, or None if it's not a view."""
    src, indices = node.args[0], node.args[1]
    out = val(node)
    if not isinstance(src, fx.Node) or len(indices) != val(src).dim():
        return None
    axes: list[int] = []
    for k, index in enumerate(indices):
        if not isinstance(index, fx.Node) or val(index).dim() != out.dim():
            return None
        axis = _arange_axis(captured, index)
        if axis is None:
            return None
        if (axes and axis <= axes[-1]) or not _same_size(out.shape[axis], val(src).shape[k]):
            return None
        axes.append(axis)
    return axes


def _arange_axis(captured: Captured, index: fx.Node) -> int | None:
    """The axis ``index`` is an ``arange`` along at every size, or None."""
    found: dict[str, int] = {}
    if not holds_at_every_size(captured, index, lambda t: _arange_along(t, found)):
        return None
    return found["axis"]


def _same_size(a: object, b: object) -> bool:
    """Equal sizes; or two inputs' dynamic dims of equal example size (the ids' batch and
    their mask's: export gives each its own symbol, the model's code takes them as equal)."""
    if size_expr(a) == size_expr(b):
        return True
    return all(isinstance(x, torch.SymInt) for x in (a, b)) and a.node.hint == b.node.hint


def _arange_along(t: object, found: dict[str, int]) -> bool:
    """``t`` is ``arange(n)`` along one axis (the same one at every size; the first
    evaluation, at the example's sizes, decides which)."""
    if not isinstance(t, torch.Tensor) or t.is_floating_point() or t.dtype == torch.bool:
        return False
    long = [d for d, size in enumerate(t.shape) if size != 1]
    if len(long) > 1 or (not long and "axis" not in found):
        return False
    axis = found.setdefault("axis", long[0] if long else -1)
    if long and long[0] != axis:
        return False
    return bool(torch.equal(t.flatten(), torch.arange(t.numel())))


def _as_view(captured: Captured, node: fx.Node, axes: list[int]) -> None:
    graph = captured.graph
    src, indices = node.args[0], list(node.args[1])
    current = src
    with graph.inserting_before(node):
        for axis in range(val(node).dim()):
            if axis in axes:
                continue
            new = graph.call_function(aten.unsqueeze.default, (current, axis))
            new.meta.update({k: v for k, v in node.meta.items() if k != "val"})
            new.meta["val"] = val(current).unsqueeze(axis)
            current = new
    node.replace_all_uses_with(current)
    graph.erase_node(node)
    for index in indices:
        erase_unused(captured, index)
