"""Pass: give every tensor a storage layout and insert the transposes semantics force.

A layout is a permutation ``perm`` (see ``fx2mlx.layout``): the MLX array holds
``torch_value.permute(perm)``. Convolutions, pools and norms want channels last, so the pass
starts a channels-last region at the first of them and keeps it as long as the ops that follow
can work on it (their axis arguments are remapped by the converters). A transpose is inserted
only when an op's layout rule needs a layout its input does not have.
"""

from __future__ import annotations

from torch import fx

from ..capture import Captured
from ..converters.registry import OPS
from ..layout import (
    LayoutRule,
    Perm,
    canonical,
    channels_last,
    identity,
    rank_of,
    relayout,
    unit_only,
)
from ..meta import LAYER, LAYOUT, LAYOUT_FROM, SCOPE
from .layout_cost import choose, demand


def _axes(src: Perm, dst: Perm) -> tuple[int, ...]:
    return tuple(src.index(d) for d in dst)


def _insert_transpose(
    graph: fx.Graph, value: fx.Node, user: fx.Node, src: Perm, dst: Perm, perms: dict[fx.Node, Perm]
) -> fx.Node:
    with graph.inserting_before(user):
        node = graph.call_function(relayout, (value, _axes(src, dst)))
    node.meta["val"] = value.meta.get("val")
    node.meta[SCOPE] = _common(value.meta.get(SCOPE, ()), user.meta.get(SCOPE, ()))
    node.meta[LAYOUT] = dst
    node.meta[LAYOUT_FROM] = src
    perms[node] = dst
    return node


def _common(a: tuple, b: tuple) -> tuple:
    out = []
    for x, y in zip(a, b):
        if x != y:
            break
        out.append(x)
    return tuple(out)


def _rule_for(node: fx.Node) -> LayoutRule:
    if node.op == "call_module":
        return node.meta[LAYER].converter.layout
    conv = OPS.get(node.target)
    return conv.layout if conv is not None else canonical


def assign_layout(captured: Captured, channels_last_io: bool = False) -> int:
    """Annotate ``meta[LAYOUT]`` on every node; returns the number of transposes inserted
    (relayouts that move only unit axes are reshapes, not counted)."""
    graph = captured.graph
    perms: dict[fx.Node, Perm] = {}
    avail: dict[fx.Node, set[Perm]] = {}
    cache: dict[tuple[fx.Node, Perm], fx.Node] = {}
    want = demand(list(graph.nodes), _rule_for, lambda r: _boundary(r, channels_last_io))
    inserted = 0
    for node in list(graph.nodes):
        if node.op in ("placeholder", "get_attr"):
            r = rank_of(node)
            io_cl = channels_last_io and node.op == "placeholder"
            perms[node] = (_boundary(r, io_cl)) if r is not None else None
            node.meta[LAYOUT] = perms[node]
            avail[node] = {perms[node]}
            continue
        if node.op == "output":
            inserted += _fix_outputs(graph, node, perms, channels_last_io)
            continue
        decision = choose(node, _rule_for(node), perms, avail, want.get(node))
        for arg, need in decision.inputs.items():
            have = perms.get(arg)
            if have is not None and have != need:
                new = cache.get((arg, need))
                if new is None:
                    new = _insert_transpose(graph, arg, node, have, need, perms)
                    cache[(arg, need)] = new
                    avail.setdefault(arg, set()).add(need)
                    inserted += not is_free(new)
                node.replace_input_with(arg, new)
        perms[node] = decision.out
        node.meta[LAYOUT] = decision.out
        avail[node] = {decision.out}
    return inserted


def _boundary(r: int | None, cl_io: bool) -> Perm:
    """The layout at the model's edges: PyTorch's, or channels-last where the caller asked."""
    return channels_last(r) if cl_io and r in (3, 4, 5) else identity(r or 0)


def is_free(node: fx.Node) -> bool:
    """A relayout that moves only axes of static size 1: no data moves (emitted as a reshape)."""
    return unit_only(node.meta["val"].shape, node.meta[LAYOUT_FROM], node.meta[LAYOUT])


def _fix_outputs(graph: fx.Graph, node: fx.Node, perms: dict[fx.Node, Perm], cl_io: bool) -> int:
    inserted = 0
    for arg in list(node.all_input_nodes):
        have, r = perms.get(arg), rank_of(arg)
        if have is None or r is None:
            continue
        want = _boundary(r, cl_io)
        if have != want:
            new = _insert_transpose(graph, arg, node, have, want, perms)
            node.replace_input_with(arg, new)
            inserted += not is_free(new)
    return inserted
