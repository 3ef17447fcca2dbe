"""Pass: RMSNorm and LayerNorm written out become ``rms_norm`` / ``layer_norm``.

Llama's RMSNorm is ``w * (x * rsqrt(mean(x^2, -1) + eps))``; many models write LayerNorm as
``w * (x - mean) / sqrt(var + eps) + b``. Both are MLX's fused ``mx.fast.rms_norm`` /
``mx.fast.layer_norm`` (one pass over the row instead of five element-wise ops) when the math
is the same. The match starts at each ``rsqrt``/``sqrt`` and reads the input, eps, weight and
bias around it; the rewrite is kept only if the written-out subgraph and the fused op agree on
random inputs (``fusion_proof``): an eps outside the root, a mean over another axis or a
variance with Bessel's correction stays as written.
"""

from __future__ import annotations

import torch
from torch import fx

from ..capture import Captured
from .fusion_proof import region, replace, rewrite_each, same_function

aten = torch.ops.aten
_ROOTS = {aten.rsqrt.default, aten.sqrt.default}


def fuse_norms(captured: Captured) -> int:
    """Rewrite each written-out RMSNorm or LayerNorm that provably is one; returns how many."""
    return rewrite_each(captured, _ROOTS, _fuse)


def _fuse(captured: Captured, root: fx.Node) -> bool:
    stat, eps = _plus_eps(root.args[0])
    x, centered = _statistic(stat)
    normed = _normalized(root, centered if centered is not None else x)
    if x is None or normed is None or not isinstance(_last_dim(x), int):
        return False
    out, weight = _affine(normed, aten.mul.Tensor, _last_dim(x))
    bias = None
    if centered is not None:
        out, bias = _affine(out, aten.add.Tensor, _last_dim(x))
    inputs = [n for n in (x, weight, bias) if n is not None]
    if region(inputs, out) is None:
        return False
    shape = [_last_dim(x)]
    if centered is None:
        target, args = aten.rms_norm.default, (x, shape, weight, eps)
    else:
        target, args = aten.layer_norm.default, (x, shape, weight, bias, eps)

    def fused(*values: torch.Tensor) -> torch.Tensor:
        env = dict(zip(inputs, values))
        return target(*[env.get(a, a) if isinstance(a, fx.Node) else a for a in args])

    if not same_function(captured, inputs, out, fused):
        return False
    replace(captured, out, target, args, {})
    return True


def _plus_eps(node: object) -> tuple[object, float]:
    """``(s, eps)`` for ``s + eps`` (or ``eps + s``); ``(node, 0.0)`` otherwise."""
    if isinstance(node, fx.Node) and node.target is aten.add.Tensor and not node.kwargs:
        a, b = node.args[:2]
        if isinstance(b, (int, float)) and isinstance(a, fx.Node):
            return a, float(b)
        if isinstance(a, (int, float)) and isinstance(b, fx.Node):
            return b, float(a)
    return node, 0.0


def _statistic(node: object) -> tuple[fx.Node | None, fx.Node | None]:
    """``(x, None)`` for ``mean(x^2)``, ``(x, x - mean(x))`` for ``mean((x - mean(x))^2)``."""
    if not _mean_last(node):
        return None, None
    square = _squared(node.args[0])
    if square is None:
        return None, None
    if _is_centered(square):
        return square.args[0], square
    return square, None


def _mean_last(node: object) -> bool:
    if not isinstance(node, fx.Node) or node.target is not aten.mean.dim:
        return False
    rank = node.meta["val"].dim()
    dims = node.args[1] if len(node.args) > 1 else None
    keep = node.args[2] if len(node.args) > 2 else node.kwargs.get("keepdim", False)
    return keep and isinstance(dims, (list, tuple)) and [d % rank for d in dims] == [rank - 1]


def _squared(node: object) -> fx.Node | None:
    """``y`` for ``y ** 2`` or ``y * y``."""
    if not isinstance(node, fx.Node):
        return None
    a, b = (list(node.args) + [None])[:2]
    if node.target is aten.pow.Tensor_Scalar and b == 2:
        return a
    if node.target is aten.mul.Tensor and a is b and isinstance(a, fx.Node):
        return a
    return None


def _is_centered(node: fx.Node) -> bool:
    """``x - mean(x)`` over the last axis."""
    if node.target is not aten.sub.Tensor or node.kwargs or len(node.args) != 2:
        return False
    x, mu = node.args
    return _mean_last(mu) and mu.args[0] is x


def _normalized(root: fx.Node, numerator: object) -> fx.Node | None:
    """The node dividing ``numerator`` by the root (``n * rsqrt(..)``, ``n / sqrt(..)``)."""
    if len(root.users) != 1 or numerator is None:
        return None
    user = next(iter(root.users))
    want = aten.mul.Tensor if root.target is aten.rsqrt.default else aten.div.Tensor
    if user.target is not want or user.kwargs:
        return None
    others = [a for a in user.args if a is not root]
    if len(others) != 1 or (want is aten.div.Tensor and user.args[1] is not root):
        return None
    other = others[0]
    same = other is numerator or (
        isinstance(other, fx.Node)
        and isinstance(numerator, fx.Node)
        and _is_centered(other)
        and _is_centered(numerator)
        and other.args[0] is numerator.args[0]
    )
    return user if same else None


def _affine(node: fx.Node, op: object, dim: int) -> tuple[fx.Node, fx.Node | None]:
    """``(y, p)`` if ``node``'s only user is ``node op p`` with ``p`` of shape ``(dim,)``."""
    if len(node.users) != 1:
        return node, None
    user = next(iter(node.users))
    if user.target is not op or user.kwargs or len(user.args) != 2:
        return node, None
    other = user.args[1] if user.args[0] is node else user.args[0]
    val = other.meta.get("val") if isinstance(other, fx.Node) else None
    if isinstance(val, torch.Tensor) and list(val.shape) == [dim]:
        return user, other
    return node, None


def _last_dim(node: fx.Node) -> object:
    val = node.meta.get("val")
    return val.shape[-1] if isinstance(val, torch.Tensor) and val.dim() else None
