"""Why a layout transpose is there, for the comment on its line.

The layout pass inserts a transpose only where semantics force one; the comment names that
reason (``# flatten in PyTorch's (C, L) order so fc.weight loads unchanged``), not just the
permutation.
"""

from __future__ import annotations

import torch
from torch import fx

from ..converters.registry import OPS
from ..meta import LAYER, LAYOUT, LAYOUT_FROM

NAMES = {
    (0, 2, 3, 1): "NHWC",
    (0, 1, 2, 3): "NCHW",
    (0, 2, 1): "NLC",
    (0, 1, 2): "NCL",
    (0, 2, 3, 4, 1): "NDHWC",
    (0, 1, 2, 3, 4): "NCDHW",
}
_RESHAPES = {"flatten", "view", "reshape", "_unsafe_view"}
_CHANNELS_LAST = {"conv": "convolutions", "pooling": "pools", "norm": "norms"}
_PERMUTES = {"permute", "transpose", "t", "numpy_T"}


def layout_note(node: fx.Node) -> str:
    """The comment for relayout ``node`` (empty when its layouts have no common name)."""
    src = NAMES.get(node.meta.get(LAYOUT_FROM))  # type: ignore[arg-type]
    dst = NAMES.get(node.meta.get(LAYOUT))  # type: ignore[arg-type]
    if not src or not dst or src == dst:
        return ""
    permute = _pending_permute(node)
    if permute is not None:  # not a channels layout: forward's own permute, done late
        return f"the {_short(permute)} of forward, applied where the axis order matters"
    user = next(iter(node.users), None)  # the one it was inserted for
    channels_last = dst.endswith("C")
    if user is None or user.op == "output":
        side = "channels-last (as asked)" if channels_last else "back to PyTorch's layout"
        return f"{src} -> {dst}: {side} for the caller"
    if not channels_last and _short(user) in _RESHAPES:
        return _reshape_note(user, dst)
    if _matches_other_operand(node, user):
        return f"{src} -> {dst} to match the other operand of {_op(user)}"
    if channels_last:
        return f"{src} -> {dst}: {_channels_last_user(user)} channels-last"
    return f"{src} -> {dst}: {_op(user)} needs PyTorch's layout"


def _pending_permute(node: fx.Node) -> fx.Node | None:
    """The permute in forward whose axis order this relayout finally moves data to: the
    layout pass keeps a permute free (a relabel) until an op needs the order."""
    want, cur = node.meta.get(LAYOUT_FROM), node.args[0]
    while isinstance(cur, fx.Node) and cur.meta.get(LAYOUT) == want:
        if _short(cur) in _PERMUTES:
            return cur
        inputs = [a for a in cur.all_input_nodes if a.op != "get_attr"]
        cur = inputs[0] if inputs else None
    return None


def _matches_other_operand(node: fx.Node, user: fx.Node) -> bool:
    want = node.meta.get(LAYOUT)
    others = [a for a in user.all_input_nodes if a is not node and a.op != "get_attr"]
    return any(a.meta.get(LAYOUT) == want for a in others)


def _channels_last_user(user: fx.Node) -> str:
    """What in MLX wants channels last: ``MLX's nn.Conv2d is``, ``MLX convolutions are``."""
    if user.op == "call_module":
        return f"MLX's {user.meta[LAYER].ctor.fn} is"
    family = OPS[user.target].family if user.target in OPS else ""
    return f"MLX {_CHANNELS_LAST[family]} are" if family in _CHANNELS_LAST else "MLX's layers are"


def _reshape_note(user: fx.Node, dst: str) -> str:
    """``flatten in PyTorch's (C, H, W) order``, and which weights that keeps valid."""
    axes = ", ".join(dst[1:])
    verb = "flatten" if _short(user) == "flatten" else "reshape"
    note = f"{verb} in PyTorch's ({axes}) order"
    weight = _linear_weight(user)
    return f"{note} so {weight} loads unchanged" if weight else note


def _linear_weight(node: fx.Node) -> str | None:
    """The weight of a linear layer that reads ``node`` directly."""
    for user in node.users:
        if user.op == "call_module" and user.meta[LAYER].ctor.fn == "nn.Linear":
            return f"{user.meta[LAYER].path}.weight"
        if user.target is torch.ops.aten.linear.default and user.args[1].op == "get_attr":
            return str(user.args[1].target)
    return None


def _op(node: fx.Node) -> str:
    """How the comment names an op: ``nn.Linear``, ``cat``."""
    return node.meta[LAYER].ctor.fn if node.op == "call_module" else _short(node)


def _short(node: fx.Node) -> str:
    """``aten.flatten.using_ints`` -> ``flatten``."""
    schema = getattr(node.target, "_schema", None)
    if schema is not None:
        return schema.name.split("::")[-1]
    return getattr(node.target, "__name__", str(node.target))
