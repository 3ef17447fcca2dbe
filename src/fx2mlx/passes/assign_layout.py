"""Pass: give every tensor a storage layout and insert the transposes semantics force.

A layout is a permutation ``perm`` (see ``fx2mlx.layout``): the MLX array holds
``torch_value.permute(perm)``. Convolutions, pools and norms want channels last, so the pass
starts a channels-last region at the first of them and keeps it as long as the ops that follow
can work on it (their axis arguments are remapped by the converters). A transpose is inserted
only when an op's layout rule needs a layout its input does not have. The layouts are planned
twice before the graph is touched (``layout_plan``): greedily in graph order (``layout_cost``)
and with the agnostic values' layouts chosen by min-cut (``layout_mincut``); the cheaper plan
is written into the graph.
"""

from __future__ import annotations

from torch import fx
from torch.utils import _pytree as pytree

from ..capture import Captured
from ..converters.registry import OPS
from ..io_layout import ChannelsLastIO
from ..layout import Decision, LayoutRule, Perm, canonical, rank_of, relayout
from ..meta import LAYER, LAYOUT, LAYOUT_FROM, SCOPE
from .layout_cost import choose, demand
from .layout_mincut import labelled, solve
from .layout_plan import Pick, Plan, boundary, plan_layout


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
    (relayouts that move only unit axes are reshapes, not counted). Two plans are made, the
    greedy one and the exact min-cut one; the one with fewer transposes is applied (ties go
    to the exact one)."""
    nodes = list(captured.graph.nodes)
    # outputs pull toward PyTorch's layout; with channels_last_io they take what they are held in
    want = demand(nodes, _rule_for, lambda r: None if channels_last_io else boundary(r, False))
    greedy = plan_layout(nodes, greedy_pick(want), channels_last_io, want)
    labels = solve(nodes, _rule_for, greedy)
    exact = plan_layout(nodes, exact_pick(labels, want), channels_last_io, want)
    best = exact if exact.transposes <= greedy.transposes else greedy
    _apply(captured.graph, nodes, best)
    captured.io_layout = _io_layout(nodes)
    return best.transposes


def _io_layout(nodes: list[fx.Node]) -> ChannelsLastIO:
    """The inputs and output leaves left channels-last (only ever with ``channels_last_io``)."""

    def held_cl(value: object) -> bool:
        r = rank_of(value) if isinstance(value, fx.Node) else None
        return r in (3, 4, 5) and value.meta.get(LAYOUT) == boundary(r, True)  # type: ignore[union-attr]

    inputs = [n for n in nodes if n.op == "placeholder"]
    output = next(n for n in reversed(nodes) if n.op == "output")
    leaves = pytree.tree_leaves(output.args[0])
    return ChannelsLastIO(
        tuple(i for i, n in enumerate(inputs) if held_cl(n)),
        tuple(i for i, v in enumerate(leaves) if held_cl(v)),
    )


def greedy_pick(want: dict[fx.Node, Perm]) -> Pick:
    """Each op's rule, re-asked with its inputs' available layouts (``layout_cost.choose``)."""
    return lambda node, perms, avail: choose(node, _rule_for(node), perms, avail, want.get(node))


def exact_pick(labels: dict[fx.Node, Perm], want: dict[fx.Node, Perm]) -> Pick:
    """The min-cut's layout where it chose one and the rule can give it, else the greedy choice."""

    def pick(
        node: fx.Node, perms: dict[fx.Node, Perm], avail: dict[fx.Node, set[Perm]]
    ) -> Decision:
        rule = _rule_for(node)
        if node in labels:
            decision = rule(node, labelled(node, labels[node], perms))  # type: ignore[arg-type]
            if decision.out == labels[node]:
                return decision
        return choose(node, rule, perms, avail, want.get(node))

    return pick


def _apply(graph: fx.Graph, nodes: list[fx.Node], plan: Plan) -> None:
    """Write ``plan`` into the graph: layouts into ``meta[LAYOUT]``, each relayout inserted
    once per value and layout, before its first reader."""
    perms = dict(plan.perms)
    cache: dict[tuple[fx.Node, Perm], fx.Node] = {}
    for node in nodes:
        decision = plan.decisions.get(node)
        for arg, need in decision.inputs.items() if decision is not None else ():
            have = perms.get(arg)
            if have is not None and have != need:
                new = cache.get((arg, need))
                if new is None:
                    new = cache[(arg, need)] = _insert_transpose(
                        graph, arg, node, have, need, perms
                    )
                node.replace_input_with(arg, new)
        if node.op != "output":
            node.meta[LAYOUT] = perms[node]
