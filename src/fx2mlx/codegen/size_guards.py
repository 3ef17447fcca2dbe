"""The shape checks at the top of the model's ``__call__``: one per input size the conversion
baked in or the model fixed although meant dynamic (a batch-1 reshape), so another size fails with a message naming the input and dim instead of
broadcasting into a wrong result (a GPT-2 converted at length 10 and called at length 1
would return 10 positions)."""

from __future__ import annotations

from torch import fx

from ..capture import Captured
from ..meta import LAYOUT
from ..report import BakedDim


def size_guards(captured: Captured, baked: list[BakedDim], params: list[str]) -> list[str]:
    """``if x.shape[1] != 10:`` / ``raise ValueError(...)`` lines, one check per baked size."""
    inputs = [n for n in captured.graph.nodes if n.op == "placeholder"]
    lines: list[str] = []
    checked = {(b.index, b.dim, b.value) for b in baked} | set(captured.fixed)
    for index, dim, value in sorted(checked):
        if index >= len(inputs) or index >= len(params):
            continue
        name, axis = params[index], _axis(inputs[index], dim)
        size = f"{name}.shape[{axis}]"
        message = f"{size} is {{{size}}}: model.py takes {value} only"
        lines += [f"if {size} != {value}:", f'    raise ValueError(f"{message}")']
    return lines


def _axis(node: fx.Node, dim: int) -> int:
    """Where PyTorch's ``dim`` of an input is in the array the generated model takes (a
    channels-last input holds it elsewhere)."""
    perm = node.meta.get(LAYOUT)
    return list(perm).index(dim) if perm else dim
