"""A layout plan: every op's layout decision in graph order and the transposes it costs, worked
out before the graph is touched (``assign_layout`` plans twice, greedy and exact, and applies
the cheaper plan).

A value is transposed to a given layout at most once (later readers reuse it, outputs too); a
relayout that moves only axes of static size 1 is a reshape and costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from torch import fx

from ..layout import Decision, Perm, channels_last, identity, rank_of, unit_only

Pick = Callable[[fx.Node, "dict[fx.Node, Perm]", "dict[fx.Node, set[Perm]]"], Decision]
"""Chooses an op's decision, given the layouts values have and those they are available in."""


@dataclass
class Plan:
    """Each op's decision (the output node's: its boundary layouts) and the transposes they add."""

    decisions: dict[fx.Node, Decision] = field(default_factory=dict)
    perms: dict[fx.Node, Perm] = field(default_factory=dict)
    transposes: int = 0


def boundary(r: int | None, cl_io: bool) -> Perm:
    """The layout at the model's edges: PyTorch's, or channels-last where the caller asked."""
    return channels_last(r) if cl_io and r in (3, 4, 5) else identity(r or 0)


def plan_layout(
    nodes: list[fx.Node], pick: Pick, cl_io: bool, want: dict[fx.Node, Perm] | None = None
) -> Plan:
    """Decide every node's layout in graph order with ``pick``; count the transposes. With
    ``cl_io``, an input whose readers want it channels-last (``want``) is taken so, and an
    output held channels-last is returned so (``io_layout``)."""
    plan = Plan()
    avail: dict[fx.Node, set[Perm]] = {}
    for node in nodes:
        if node.op in ("placeholder", "get_attr"):
            r = rank_of(node)
            cl = cl_io and node.op == "placeholder" and (want or {}).get(node) == boundary(r, True)
            plan.perms[node] = boundary(r, cl) if r is not None else None  # type: ignore[assignment]
            avail[node] = {plan.perms[node]}
            continue
        if node.op == "output":
            decision = _outputs(node, cl_io, plan.perms)
        else:
            decision = pick(node, plan.perms, avail)
        plan.decisions[node] = decision
        plan.transposes += _add(decision, plan.perms, avail)
        plan.perms[node] = decision.out  # type: ignore[assignment]
        avail[node] = {decision.out}  # type: ignore[arg-type]
    return plan


def _outputs(node: fx.Node, cl_io: bool, perms: dict[fx.Node, Perm]) -> Decision:
    """PyTorch's layout for every output, but channels-last for one held so with ``cl_io``."""
    need = {}
    for a in node.all_input_nodes:
        r = rank_of(a)
        if r is not None:
            need[a] = boundary(r, cl_io and perms.get(a) == boundary(r, True))
    return Decision(need, None)


def _add(decision: Decision, perms: dict[fx.Node, Perm], avail: dict[fx.Node, set[Perm]]) -> int:
    """Record the relayouts ``decision`` needs; the count of those that move data."""
    added = 0
    for arg, need in decision.inputs.items():
        have = perms.get(arg)
        if have is None or need in avail.setdefault(arg, {have}):
            continue
        avail[arg].add(need)
        added += not unit_only(arg.meta["val"].shape, have, need)
    return added
