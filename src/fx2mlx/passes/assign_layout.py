"""Pass: give every tensor a storage layout and insert the transposes semantics force.

A layout is a permutation ``perm``: the MLX array holds ``torch_value.permute(perm)``.
Identity is PyTorch's own layout. Convolutions, pools and norms want channels last, so the
pass starts a channels-last region at the first of them and keeps it as long as the ops that
follow can work on it (their axis arguments are remapped by the converters). A transpose is
inserted only when an op needs a layout its input does not have.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import fx

from ..capture import SCOPE, Captured

LAYOUT = "fx2mlx.layout"
"""``node.meta`` key: the storage permutation of the node's tensor value (None: not a tensor)."""

Perm = tuple[int, ...]


@dataclass
class Decision:
    """What an op needs of its tensor inputs, and the layout of what it returns."""

    inputs: dict[fx.Node, Perm]
    out: Perm | None


LayoutRule = Callable[[fx.Node, "dict[fx.Node, Perm]"], Decision]


def identity(rank: int) -> Perm:
    return tuple(range(rank))


def channels_last(rank: int) -> Perm:
    """(0, 2, 3, ..., 1): the channel axis moved to the end."""
    return (0, *range(2, rank), 1) if rank >= 3 else identity(rank)


def rank_of(node: object) -> int | None:
    val = node.meta.get("val") if isinstance(node, fx.Node) else None
    return val.dim() if isinstance(val, torch.Tensor) else None


def tensor_args(node: fx.Node) -> list[fx.Node]:
    return [a for a in node.all_input_nodes if rank_of(a) is not None]


def out_rank(node: fx.Node) -> int | None:
    val = node.meta.get("val")
    if isinstance(val, torch.Tensor):
        return val.dim()
    if isinstance(val, (list, tuple)) and val and isinstance(val[0], torch.Tensor):
        return val[0].dim()
    return None


def canonical(node: fx.Node, perms: dict[fx.Node, Perm]) -> Decision:
    """The default: PyTorch layout in, PyTorch layout out."""
    need = {a: identity(rank_of(a) or 0) for a in tensor_args(node)}
    r = out_rank(node)
    return Decision(need, identity(r) if r is not None else None)


def first_input(node: fx.Node) -> fx.Node:
    arg = node.args[0]
    if isinstance(arg, (list, tuple)):
        arg = arg[0]
    assert isinstance(arg, fx.Node)
    return arg


def keep(node: fx.Node, perms: dict[fx.Node, Perm]) -> Decision:
    """Ops that work on any layout and return the same one (unary elementwise, softmax...)."""
    src = first_input(node)
    p = perms[src]
    need = {a: (p if a is src else identity(rank_of(a) or 0)) for a in tensor_args(node)}
    return Decision(need, p)


def elementwise(node: fx.Node, perms: dict[fx.Node, Perm]) -> Decision:
    """Broadcasting ops: follow the first full-rank input when the others can follow too."""
    r = out_rank(node)
    args = tensor_args(node)
    full = [a for a in args if rank_of(a) == r]
    if r is None or not full:
        return canonical(node, perms)
    p = perms[full[0]]
    need: dict[fx.Node, Perm] = {}
    for a in args:
        ra = rank_of(a) or 0
        val = a.meta["val"]
        if ra == r:
            need[a] = p
        elif p == identity(r) or all(s == 1 for s in val.shape):
            need[a] = identity(ra)
        else:
            return canonical(node, perms)
    return Decision(need, p)


def to_channels_last(node: fx.Node, perms: dict[fx.Node, Perm]) -> Decision:
    """Convolutions, pools, norms: the first input channels-last, output channels-last."""
    src = first_input(node)
    r = rank_of(src) or 0
    need = {a: identity(rank_of(a) or 0) for a in tensor_args(node)}
    need[src] = channels_last(r)
    orank = out_rank(node)
    return Decision(need, channels_last(orank) if orank is not None else None)


def last_axis(node: fx.Node, perms: dict[fx.Node, Perm]) -> Decision:
    """Ops on the last axis (linear, layer_norm): any layout that keeps that axis last."""
    src = first_input(node)
    p = perms[src]
    r = len(p)
    if r == 0 or p[-1] != r - 1:
        p = identity(r)
    need = {a: (p if a is src else identity(rank_of(a) or 0)) for a in tensor_args(node)}
    orank = out_rank(node)
    same = orank == r
    return Decision(need, p if same else (identity(orank) if orank is not None else None))


def _transpose_target(x: object, axes: tuple[int, ...]) -> object:  # pragma: no cover
    """Graph target for an inserted transpose; never called, only emitted."""
    raise RuntimeError("layout transposes are emitted, not executed")


relayout = _transpose_target
relayout.__name__ = "relayout"


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
    node.meta["fx2mlx.layout_from"] = src
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
    from ..converters.registry import OPS

    if node.op == "call_module":
        return node.meta["fx2mlx.layer"].converter.layout
    if node.target is operator.getitem:
        return _getitem
    conv = OPS.get(node.target)
    return conv.layout if conv is not None else canonical


def _getitem(node: fx.Node, perms: dict[fx.Node, Perm]) -> Decision:
    src = node.args[0]
    p = perms.get(src) if isinstance(src, fx.Node) else None
    return Decision({}, p if out_rank(node) is not None else None)


def assign_layout(captured: Captured, channels_last_io: bool = False) -> int:
    """Annotate ``meta[LAYOUT]`` on every node; returns the number of transposes inserted."""
    graph = captured.graph
    perms: dict[fx.Node, Perm] = {}
    cache: dict[tuple[fx.Node, Perm], fx.Node] = {}
    inserted = 0
    for node in list(graph.nodes):
        if node.op in ("placeholder", "get_attr"):
            r = rank_of(node)
            io_cl = channels_last_io and node.op == "placeholder" and r in (3, 4, 5)
            perms[node] = (channels_last(r) if io_cl else identity(r)) if r is not None else None
            node.meta[LAYOUT] = perms[node]
            continue
        if node.op == "output":
            inserted += _fix_outputs(graph, node, perms, channels_last_io)
            continue
        decision = _rule_for(node)(node, perms)
        for arg, want in decision.inputs.items():
            have = perms.get(arg)
            if have is not None and have != want:
                new = cache.get((arg, want))
                if new is None:
                    new = _insert_transpose(graph, arg, node, have, want, perms)
                    cache[(arg, want)] = new
                    inserted += 1
                node.replace_input_with(arg, new)
        perms[node] = decision.out
        node.meta[LAYOUT] = decision.out
    return inserted


def _fix_outputs(graph: fx.Graph, node: fx.Node, perms: dict[fx.Node, Perm], cl_io: bool) -> int:
    inserted = 0
    for arg in list(node.all_input_nodes):
        have, r = perms.get(arg), rank_of(arg)
        if have is None or r is None:
            continue
        want = channels_last(r) if cl_io and r in (3, 4, 5) else identity(r)
        if have != want:
            new = _insert_transpose(graph, arg, node, have, want, perms)
            node.replace_input_with(arg, new)
            inserted += 1
    return inserted
