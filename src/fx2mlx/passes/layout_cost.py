"""The greedy layout chooser (``assign_layout``'s first plan): transposes a decision would add.

A value is *available* in its own layout and in every layout a transpose already made of it
(the pass caches them: a value is transposed to a given layout at most once). An op whose rule
follows its inputs (elementwise, ``cat``, ``keep``: layout-agnostic) is asked again as if its
inputs had each of their available layouts, and the decision adding the fewest transposes wins;
ties go to the layout the op's readers want (``demand``), then to the rule's own first choice.

This is the greedy plan: in graph order, with one step of look-back (the cache) and one of
look-ahead (``demand``), not a proof of optimality (``tests/fixtures/layout_traps.py`` has
graphs where it adds a transpose). ``passes/layout_mincut.py`` is the exact part: for every
value a layout-agnostic op returns, PyTorch's layout or channels-last is chosen by min-cut to
minimize the whole graph's transposes, given the layouts this greedy plan gives every other
value. Still greedy: layouts other than those two (a reshape's, a permute's, attention's
heads-first), ops that change the layout (``reshape_layout``, ``permute_layout``...), and how a
non-agnostic op's output would change with its input's layout. ``assign_layout`` applies the
exact plan unless the greedy one has fewer transposes (on none of the layout tests' models
nor the 35 zoo models).
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Callable, Mapping

from torch import fx

from ..layout import Decision, LayoutRule, Perm, channels_last, identity, rank_of, to_channels_last

Available = Mapping[fx.Node, set[Perm]]


def added(decision: Decision, avail: Available) -> int:
    """How many new transposes ``decision`` needs: inputs wanted in a layout they lack."""
    return sum(1 for a, want in decision.inputs.items() if a in avail and want not in avail[a])


def choose(
    node: fx.Node, rule: LayoutRule, perms: dict[fx.Node, Perm], avail: Available, want: Perm | None
) -> Decision:
    """The rule's decision, or the one from another available input layout that adds fewer
    transposes (or as few, and gives the layout the readers want)."""
    best = rule(node, perms)
    cost = added(best, avail)
    if cost == 0 and (want is None or best.out == want):
        return best
    for layout in _candidates(node, avail):
        trial = ChainMap(
            {a: layout for a in node.all_input_nodes if layout in avail.get(a, ())}, perms
        )
        decision = rule(node, trial)  # type: ignore[arg-type]
        c = added(decision, avail)
        if c < cost or (c == cost and want is not None and decision.out == want != best.out):
            best, cost = decision, c
    return best


def _candidates(node: fx.Node, avail: Available) -> list[Perm]:
    """Every layout some input is available in (sorted: the choice is deterministic)."""
    found = {p for a in node.all_input_nodes for p in avail.get(a, ())}
    return sorted(p for p in found if p is not None)


def demand(
    nodes: list[fx.Node],
    rule_for: Callable[[fx.Node], LayoutRule],
    out: Callable[[int], Perm | None],
) -> dict[fx.Node, Perm]:
    """For each value, the layout its nearest readers want: channels-last for convolutions, pools
    and norms; the boundary's layout for outputs; followed back through layout-agnostic ops."""
    want: dict[fx.Node, Perm] = {}
    for node in reversed(nodes):
        r = rank_of(node)
        if r is None:
            continue
        for user in node.users:
            w = _wanted(node, user, r, rule_for, want, out)
            if w is not None:
                want[node] = w
                break
    return want


def _wanted(
    node: fx.Node,
    user: fx.Node,
    r: int,
    rule_for: Callable[[fx.Node], LayoutRule],
    want: dict[fx.Node, Perm],
    out: Callable[[int], Perm | None],
) -> Perm | None:
    if user.op == "output":
        return out(r)
    rule = rule_for(user)
    if rule is to_channels_last and user.all_input_nodes[0] is node:
        return channels_last(r)
    if getattr(rule, "__name__", "") in _FOLLOWERS and rank_of(user) == r:
        return want.get(user)
    return identity(r) if getattr(rule, "__name__", "") == "canonical" else None


_FOLLOWERS = {"keep", "elementwise", "cat_layout"}
