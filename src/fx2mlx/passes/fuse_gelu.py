"""Pass: GELU written out becomes ``gelu`` (``nn.gelu_approx`` / ``nn.gelu`` in MLX).

GPT-2's ``NewGELUActivation`` writes the tanh approximation out,
``0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3)))``: eight element-wise ops where
MLX has one. The match starts at each ``tanh`` (``erf`` for the exact GELU), finds the one
tensor the element-wise chain around it reads, and tries the chain's ends, longest first; an
end is rewritten only if the written-out subgraph and ``gelu`` agree on random inputs
(``fusion_proof``), so other constants or an unrelated ``tanh`` stay as written.
"""

from __future__ import annotations

import torch
from torch import fx

from ..capture import Captured
from .fusion_proof import region, replace, rewrite_each, same_function

aten = torch.ops.aten
_ANCHORS = {aten.tanh.default: "tanh", aten.erf.default: "none"}
_ELEMENTWISE = {
    aten.mul.Tensor,
    aten.add.Tensor,
    aten.sub.Tensor,
    aten.div.Tensor,
    aten.pow.Tensor_Scalar,
    aten.tanh.default,
    aten.erf.default,
}
_REACH = 4  # element-wise ops between the anchor and the chain's end (GPT-2's has 2)


def fuse_gelu(captured: Captured) -> int:
    """Rewrite each written-out GELU that provably is one; returns how many."""
    return rewrite_each(captured, _ANCHORS, _fuse)


def _fuse(captured: Captured, anchor: fx.Node) -> bool:
    x = _source(anchor)
    if x is None:
        return False
    approximate = _ANCHORS[anchor.target]

    def fused(value: torch.Tensor) -> torch.Tensor:
        return aten.gelu.default(value, approximate=approximate)

    for end in reversed(_ends(anchor, x)):
        if region([x], end) is not None and same_function(captured, [x], end, fused):
            replace(captured, end, aten.gelu.default, (x,), {"approximate": approximate})
            return True
    return False


def _source(anchor: fx.Node) -> fx.Node | None:
    """The one tensor the element-wise ops leading to ``anchor`` read, if only one."""
    leaves: list[fx.Node] = []
    seen: set[fx.Node] = set()
    stack = [anchor]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        for arg in node.all_input_nodes:
            elementwise = arg.op == "call_function" and arg.target in _ELEMENTWISE
            (stack if elementwise and len(seen) < 16 else leaves).append(arg)
    found = set(leaves) - seen
    return next(iter(found)) if len(found) == 1 else None


def _ends(anchor: fx.Node, x: fx.Node) -> list[fx.Node]:
    """Element-wise nodes after ``anchor`` that read only the chain and ``x``, in order."""
    inside, ends, frontier = {anchor, x}, [anchor], [anchor]
    # ops on x alone beside the chain (GPT-2's 0.5 * x)
    inside |= {u for u in x.users if u.target in _ELEMENTWISE and set(u.all_input_nodes) == {x}}
    for _ in range(_REACH):
        grown = []
        for node in frontier:
            for user in node.users:
                reads = set(user.all_input_nodes)
                if user.target in _ELEMENTWISE and user not in inside and reads <= inside | {x}:
                    inside.add(user)
                    grown.append(user)
        frontier = grown
        ends += grown
    order = {n: i for i, n in enumerate(anchor.graph.nodes)}
    return sorted(ends, key=order.__getitem__)
