"""Pass: global average pooling followed by a flatten becomes one mean over the spatial axes.

``AdaptiveAvgPool2d(1)`` + ``flatten(1)`` is the classic CNN head. As one ``mean`` the
generated code reads ``x = mx.mean(x, axis=(1, 2))`` and needs no reshape.
"""

from __future__ import annotations

import torch
from torch import fx

from ..capture import Captured
from ..meta import COMMENT

aten = torch.ops.aten
_POOLS = {
    aten.adaptive_avg_pool1d.default: 1,
    aten.adaptive_avg_pool2d.default: 2,
    aten._adaptive_avg_pool2d.default: 2,
    aten.adaptive_avg_pool3d.default: 3,
    aten._adaptive_avg_pool3d.default: 3,
}
_FLATTENS = {
    aten.flatten.using_ints,
    aten.view.default,
    aten.reshape.default,
    aten._unsafe_view.default,
}


def _global(node: fx.Node) -> bool:
    if node.target not in _POOLS:
        return False
    size = node.args[1]
    sizes = [size] if isinstance(size, int) else list(size)
    return all(s == 1 for s in sizes)


def _drops_spatial(user: fx.Node, pooled: fx.Node) -> bool:
    """The user turns (N, C, 1, ...) into (N, C)."""
    out = user.meta.get("val")
    src = pooled.meta.get("val")
    if not isinstance(out, torch.Tensor) or not isinstance(src, torch.Tensor):
        return False
    return out.dim() == 2 and out.shape[1] == src.shape[1] and user.target in _FLATTENS


def fuse_global_pool(captured: Captured) -> int:
    """Rewrite every global-average-pool + flatten pair; returns how many."""
    graph = captured.graph
    fused = 0
    for node in list(graph.nodes):
        if node.op != "call_function" or not _global(node) or len(node.users) != 1:
            continue
        user = next(iter(node.users))
        if not _drops_spatial(user, node):
            continue
        dims = list(range(2, 2 + _POOLS[node.target]))
        with graph.inserting_before(user):
            mean = graph.call_function(aten.mean.dim, (node.args[0], dims))
        mean.meta.update(user.meta)
        mean.meta[COMMENT] = f"AdaptiveAvgPool{len(dims)}d(1) + flatten"
        user.replace_all_uses_with(mean)
        graph.erase_node(user)
        graph.erase_node(node)
        fused += 1
    return fused
