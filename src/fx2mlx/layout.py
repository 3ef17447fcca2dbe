"""Storage layouts and the rules converters declare for them (the ``assign_layout`` pass runs them).

A layout is a permutation ``perm``: the MLX array holds ``torch_value.permute(perm)``; the
identity is PyTorch's own layout. Each converter names a :data:`LayoutRule`: given the layouts
its inputs have, the rule says which layouts it needs and which layout its output gets. The
pass inserts a :func:`relayout` (a transpose) wherever a need differs from what an input has.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import fx

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


def first_input(node: fx.Node) -> fx.Node:
    """The op's first argument, or the first tensor of a list argument (``cat``)."""
    arg = node.args[0]
    if isinstance(arg, (list, tuple)):
        arg = arg[0]
    assert isinstance(arg, fx.Node)
    return arg


def canonical(node: fx.Node, perms: dict[fx.Node, Perm]) -> Decision:
    """The default: PyTorch layout in, PyTorch layout out."""
    need = {a: identity(rank_of(a) or 0) for a in tensor_args(node)}
    r = out_rank(node)
    return Decision(need, identity(r) if r is not None else None)


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
        elif set(p[r - ra :]) == set(range(r - ra, r)):  # its dims are stored last, in some order
            need[a] = tuple(d - (r - ra) for d in p[r - ra :])  # broadcast aligns them alike
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


def _unit(size: object) -> bool:
    return isinstance(size, int) and size == 1


def _size(size: object) -> object:
    """A size as something products and equality work on: an int, or a SymInt's expression."""
    return size if isinstance(size, int) else getattr(getattr(size, "node", None), "expr", None)


def _groups(src: list, dst: list) -> list[tuple[list[int], list[int]]] | None:
    """Pair the non-unit dims of a reshape into groups of equal product (``(C, H, W) -> (C, HW)``
    gives ``[([0], [0]), ([1, 2], [1])]``); None where a symbolic size leaves it ambiguous."""
    ins = [d for d, s in enumerate(src) if not _unit(s)]
    outs = [d for d, s in enumerate(dst) if not _unit(s)]
    groups: list[tuple[list[int], list[int]]] = []
    i = j = 0
    while i < len(ins) and j < len(outs):
        gi, gj = [ins[i]], [outs[j]]
        pi, pj = _size(src[ins[i]]), _size(dst[outs[j]])
        i, j = i + 1, j + 1
        if pi is None or pj is None:
            return None
        while pi != pj:
            if not (isinstance(pi, int) and isinstance(pj, int)):
                return None  # symbolic sizes only pair one to one
            if pi < pj and i < len(ins):
                gi.append(ins[i])
                pi, i = pi * _size(src[ins[i]]), i + 1  # type: ignore[operator]
            elif pj < pi and j < len(outs):
                gj.append(outs[j])
                pj, j = pj * _size(dst[outs[j]]), j + 1  # type: ignore[operator]
            else:
                return None
        groups.append((gi, gj))
    return groups if i == len(ins) and j == len(outs) else None


def reshape_perm(src: list, dst: list, p: Perm) -> Perm | None:
    """The layout a reshape from shape ``src`` (stored as ``p``) to ``dst`` can give without
    moving data: each group of merged or split dims must sit together, in order, in storage;
    the groups may come in any order (NHWC ``(N, C, H*W)`` is stored ``(N, HW, C)``)."""
    groups = _groups(src, dst)
    if groups is None:
        return None
    stored = [a for a in p if not _unit(src[a])]
    order = []
    for gi, gj in groups:
        at = stored.index(gi[0])
        if stored[at : at + len(gi)] != gi:
            return None  # the group is split or reversed in storage
        order.append((at, gj))
    out = [d for _, gj in sorted(order) for d in gj]
    for d in (d for d, s in enumerate(dst) if _unit(s)):  # unit dims go anywhere: beside d - 1
        out.insert(out.index(d - 1) + 1 if d > 0 else 0, d)
    return tuple(out)


def regrouped(src: list, dst: list, p: Perm) -> Perm | None:
    """The layout nearest ``p`` that a reshape from ``src`` to ``dst`` can read: each group of
    merged or split dims pulled together, in order, where its first dim is stored (a channel
    shuffle's ``(N, H, W, g, C/g)`` becomes ``(N, H, W, C/g, g)``, not PyTorch's layout)."""
    groups = _groups(src, dst)
    if groups is None:
        return None
    group_of = {d: tuple(gi) for gi, _ in groups for d in gi}
    out: list[int] = []
    for a in p:
        if a not in group_of:
            out.append(a)  # a unit dim stays where it is
        elif a not in out:
            out.extend(group_of[a])
    return tuple(out)


def unit_only(shape: object, src: Perm, dst: Perm) -> bool:
    """Whether going from layout ``src`` to ``dst`` moves only axes of static size 1 (a reshape:
    no data moves, whatever the other sizes turn out to be)."""
    sizes = list(shape)  # type: ignore[call-overload]
    return [a for a in src if not _unit(sizes[a])] == [a for a in dst if not _unit(sizes[a])]


def ordered_layout(node: fx.Node, perms: dict[fx.Node, Perm]) -> Decision:
    """A reshape to PyTorch's layout: any input layout that orders non-unit axes alike."""
    src = first_input(node)
    p = perms[src]
    shape = src.meta["val"].shape
    if [a for a in p if not _unit(shape[a])] != sorted(a for a in p if not _unit(shape[a])):
        p = identity(len(p))
    return Decision({src: p}, identity(rank_of(node) or 0))


def reshape_layout(node: fx.Node, perms: dict[fx.Node, Perm]) -> Decision:
    """A reshape reads elements in storage order: it keeps the input's layout where each group
    of merged or split dims sits together in storage (a channels-last ``flatten(2)`` gives
    ``(N, HW, C)``: the channel axis stays whole), else it needs PyTorch's order."""
    src = first_input(node)
    shapes = list(src.meta["val"].shape), list(node.meta["val"].shape)
    p = perms[src]
    out = reshape_perm(*shapes, p)
    if out is None:  # one transpose either way; regrouped where an image stays channels-last
        q = regrouped(*shapes, p)
        out = reshape_perm(*shapes, q) if q is not None else None
        if out is None or len(out) < 4 or out != channels_last(len(out)):
            return ordered_layout(node, perms)
        p = q
    return Decision({src: p}, out)


def _transpose_target(x: object, axes: tuple[int, ...]) -> object:  # pragma: no cover
    """Graph target for an inserted transpose; never called, only emitted."""
    raise RuntimeError("layout transposes are emitted, not executed")


relayout = _transpose_target
relayout.__name__ = "relayout"
