"""The exact layout choice for layout-agnostic values: PyTorch's layout or channels-last, by
minimum cut.

The model: each value an agnostic op returns (elementwise, ``cat``, unary, keepdim reductions:
any op whose rule, given all its same-rank inputs in one of the two layouts, returns that layout
and reads them in it) is a binary variable, T (PyTorch's, the source side) or C (channels-last,
the sink side). Every other value is fixed at the layout the greedy plan gave it, and every
other reader reads what the greedy plan had it read (convolutions channels-last, outputs at the
boundary, ``canonical`` ops PyTorch's). A value costs one transpose per layout it is read in
but not stored in, however many readers share it: over the value and its readers that is
``[some member is C] + [some member is T] - 1`` (a P^n-Potts term), each indicator one auxiliary
node (an edge of capacity 1 to a terminal and infinite edges to the members), so a minimum cut
minimizes the count over every labelling exactly (``tests/test_layout_mincut.py`` checks it
against all of them on small graphs). Ties go to the greedy plan's layout (a
preference below one transpose's weight).

What it does not model, left to the greedy choice: layouts other than these two (a reshape's or
a permute's output; an agnostic value the greedy plan stored in a third layout, as attention's
heads-first values, stays there); how a non-agnostic reader's own output would change if its
input's layout did; agnostic ops whose lower-rank operands would need a different relayout in
each layout. ``assign_layout`` applies whichever of the two plans has fewer transposes.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Callable
from dataclasses import dataclass

from torch import fx

from ..layout import (
    Decision,
    LayoutRule,
    Perm,
    channels_last,
    identity,
    rank_of,
    tensor_args,
    unit_only,
)
from .layout_flow import INF, FlowGraph
from .layout_plan import Plan

SOURCE, SINK = 0, 1  # source side: PyTorch's layout; sink side: channels-last


@dataclass
class Variable:
    """An agnostic op's output: its flow node, the inputs it reads in its own layout, and
    what it needs of its other inputs (the same in either layout)."""

    index: int
    follows: set[fx.Node]
    fixed: dict[fx.Node, Perm]


def labelled(node: fx.Node, perm: Perm, perms: dict[fx.Node, Perm]) -> ChainMap:
    """``perms`` with every input of ``node``'s own rank as if stored in ``perm``."""
    same = {a: perm for a in tensor_args(node) if rank_of(a) == len(perm)}
    return ChainMap(same, perms)  # type: ignore[arg-type]


def solve(
    nodes: list[fx.Node], rule_for: Callable[[fx.Node], LayoutRule], greedy: Plan
) -> dict[fx.Node, Perm]:
    """The layout (PyTorch's or channels-last) of every agnostic value in a minimum-transpose
    assignment, the other values' layouts taken from the ``greedy`` plan."""
    graph = FlowGraph(2)
    model: dict[fx.Node, Variable] = {}
    for node in nodes:
        found = _variable(node, rule_for, greedy, model)
        if found is not None:
            model[node] = Variable(graph.add_node(), *found)
    weight = len(model) + 1  # one transpose outweighs every tie-break together
    for node in nodes:
        if _binary(node) and node.op != "output":
            _value_terms(graph, node, model, greedy, weight)
    for node, var in model.items():
        _prefer(graph, var.index, greedy.perms.get(node), rank_of(node) or 0)
    _, source_side = graph.min_cut(SOURCE, SINK)
    return {n: _perm(v.index in source_side, rank_of(n) or 0) for n, v in model.items()}


def _perm(source_side: bool, r: int) -> Perm:
    return identity(r) if source_side else channels_last(r)


def _binary(node: fx.Node) -> bool:
    """Whether the two layouts differ for this value (a transpose between them moves data)."""
    r = rank_of(node)
    if r is None or r < 3:
        return False
    return not unit_only(node.meta["val"].shape, identity(r), channels_last(r))


def _variable(
    node: fx.Node,
    rule_for: Callable[[fx.Node], LayoutRule],
    greedy: Plan,
    model: dict[fx.Node, Variable],
) -> tuple[set[fx.Node], dict[fx.Node, Perm]] | None:
    """The inputs an agnostic op follows and the fixed needs of the rest; None where the op
    is not agnostic in both layouts or its needs are not expressible."""
    if node.op not in ("call_function", "call_module") or not _binary(node):
        return None
    r = rank_of(node) or 0
    t, c = identity(r), channels_last(r)
    if greedy.perms.get(node) not in (t, c):
        return None  # a third layout (attention's heads-first) stays the greedy plan's
    rule = rule_for(node)
    dt, dc = (rule(node, labelled(node, p, greedy.perms)) for p in (t, c))  # type: ignore[arg-type]
    if dt.out != t or dc.out != c or dt.inputs.keys() != dc.inputs.keys():
        return None
    follows: set[fx.Node] = set()
    fixed: dict[fx.Node, Perm] = {}
    for a, need in dt.inputs.items():
        if rank_of(a) == r and need == t and dc.inputs[a] == c:
            follows.add(a)
        elif need == dc.inputs[a]:
            fixed[a] = need
        elif not _both_free(a, need, dc.inputs[a], greedy, model):
            return None
    return follows, fixed


def _both_free(
    a: fx.Node, nt: Perm, nc: Perm, greedy: Plan, model: dict[fx.Node, Variable]
) -> bool:
    """A lower-rank operand needed in two layouts: modelled only where both are free moves
    from its (fixed) layout, as a broadcast ``(C, 1, 1)`` parameter's are."""
    have = greedy.perms.get(a)
    if a in model or have is None:
        return False
    shape = a.meta["val"].shape
    return unit_only(shape, have, nt) and unit_only(shape, have, nc)


def _value_terms(
    graph: FlowGraph, value: fx.Node, model: dict[fx.Node, Variable], greedy: Plan, w: int
) -> None:
    """The transposes of ``value``: one per layout it is read in but not stored in."""
    r = rank_of(value) or 0
    t, c = identity(r), channels_last(r)
    members = [model[u].index for u in value.users if u in model and value in model[u].follows]
    wanted = {_need(u, value, model, greedy) for u in value.users} - {None}
    if value in model:
        members.append(model[value].index)
        if c not in wanted:
            _some(graph, members, SINK, w, t in wanted)
        if t not in wanted:
            _some(graph, members, SOURCE, w, c in wanted)
        return
    have = greedy.perms[value]
    shape = value.meta["val"].shape
    for side, p in ((SOURCE, t), (SINK, c)):
        if p not in wanted and p != have and not unit_only(shape, have, p):
            _some(graph, members, side, w, True)


def _need(user: fx.Node, value: fx.Node, model: dict[fx.Node, Variable], greedy: Plan) -> Perm:
    """The layout a reader that does not follow a variable reads ``value`` in (None: none)."""
    if user in model:
        return model[user].fixed.get(value)  # type: ignore[return-value]
    decision: Decision | None = greedy.decisions.get(user)
    return decision.inputs.get(value) if decision is not None else None  # type: ignore[return-value]


def _some(graph: FlowGraph, members: list[int], side: int, w: int, paid: bool) -> None:
    """Cost ``w`` if some member is on ``side`` (the layout of that side is read or stored
    while the other already has to be: ``paid``); without ``paid``, only where the members
    disagree, which a pair of these terms counts once over a constant."""
    if not members or (not paid and len(members) < 2):
        return
    if len(members) == 1:
        m = members[0]
        graph.add_edge(*((m, SINK) if side == SOURCE else (SOURCE, m)), w)
        return
    aux = graph.add_node()
    graph.add_edge(*((aux, SINK) if side == SOURCE else (SOURCE, aux)), w)
    for m in members:
        graph.add_edge(*((m, aux) if side == SOURCE else (aux, m)), INF)


def _prefer(graph: FlowGraph, index: int, greedy: Perm | None, r: int) -> None:
    """A tie-break below one transpose: keep the greedy plan's layout where it was one of two."""
    if greedy == identity(r):
        graph.add_edge(SOURCE, index, 1)  # cut (paid) when the node goes channels-last
    elif greedy == channels_last(r):
        graph.add_edge(index, SINK, 1)
