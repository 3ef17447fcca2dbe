"""Normalization: BatchNorm (eval), LayerNorm, GroupNorm, RMSNorm, InstanceNorm and
LocalResponseNorm as MLX layers, ``mx.fast`` calls or exact helpers."""

from __future__ import annotations

import torch
from torch import fx, nn

from ..emit_ctx import EmitCtx, op_args
from ..expr import ATOM, Expr, binary, call, operand
from ..layout import last_axis, to_channels_last
from .registry import Ctor, register_layer, register_op

aten = torch.ops.aten

_STATS = ("weight", "bias", "running_mean", "running_var")


def _in_dtype(node: fx.Node, ctx: EmitCtx, out: Expr) -> Expr:
    """``out`` cast back to the output's dtype where a statistic or affine parameter has
    another float dtype (a float32 norm in a bfloat16 model): torch keeps the input's dtype,
    MLX promotes to the wider one."""
    want = ctx.dtype()
    stats = [ctx.arg(name, None) for name in _STATS]
    if all(ctx.dtype(s) == want for s in stats if isinstance(s, fx.Node)):
        return out
    return Expr(f"{operand(out, ATOM)}.astype({ctx.x(want)})")


@register_layer(nn.BatchNorm1d, "nn.BatchNorm", layout=to_channels_last)
@register_layer(nn.BatchNorm2d, "nn.BatchNorm", layout=to_channels_last)
def build_batch_norm(bn: nn.Module) -> Ctor | None:
    if bn.affine and bn.bias is None:
        return None  # MLX's affine BatchNorm always has a bias
    kwargs = [
        ("eps", bn.eps),
        ("momentum", 0.1 if bn.momentum is None else bn.momentum),
        ("affine", bn.affine),
        ("track_running_stats", bn.track_running_stats),
    ]
    defaults = {"eps": 1e-5, "momentum": 0.1, "affine": True, "track_running_stats": True}
    return Ctor("nn.BatchNorm", [("num_features", bn.num_features)], kwargs, defaults)


@register_layer(
    nn.LayerNorm,
    "nn.LayerNorm",
    layout=last_axis,
    forward_op=(aten.layer_norm.default, ("normalized_shape", "weight", "bias", "eps")),
)
def build_layer_norm(ln: nn.LayerNorm) -> Ctor | None:
    if len(ln.normalized_shape) != 1:
        return None  # MLX's LayerNorm normalizes the last axis only
    kwargs = [
        ("eps", ln.eps),
        ("affine", ln.elementwise_affine),
        ("bias", ln.elementwise_affine and ln.bias is not None),
    ]
    defaults = {"eps": 1e-5, "affine": True, "bias": True}
    if not ln.elementwise_affine:
        kwargs, defaults["bias"] = kwargs[:2], True
    return Ctor("nn.LayerNorm", [("dims", ln.normalized_shape[0])], kwargs, defaults)


@register_layer(nn.GroupNorm, "nn.GroupNorm", layout=to_channels_last)
def build_group_norm(gn: nn.GroupNorm) -> Ctor | None:
    if gn.affine and gn.bias is None:
        return None  # MLX's affine GroupNorm always has a bias
    kwargs = [("eps", gn.eps), ("affine", gn.affine), ("pytorch_compatible", True)]
    defaults = {"eps": 1e-5, "affine": True}
    args = [("num_groups", gn.num_groups), ("dims", gn.num_channels)]
    return Ctor("nn.GroupNorm", args, kwargs, defaults)


# not _native_batch_norm_legit_no_training: it returns (output, saved mean, saved rstd), and
# its users index that tuple; converting it as one tensor wrote `y[0]` for the output
@register_op(aten.batch_norm.default, layout=to_channels_last)
def batch_norm(node: fx.Node, ctx: EmitCtx) -> Expr:
    """Eval-mode batch norm, channels last: with running statistics, or with the batch's own
    (a norm that doesn't track them normalizes with the batch's statistics even in eval)."""
    x, w, b = ctx.arg("input"), ctx.arg("weight"), ctx.arg("bias")
    mean, var, eps = ctx.arg("running_mean"), ctx.arg("running_var"), ctx.arg("eps")
    if mean is None or ctx.arg("training", False):
        out = call(ctx.helper("batch_normalize"), ctx.a("input"), repr(eps))
    else:
        out = binary("*", binary("-", x, mean), call("mx.rsqrt", binary("+", var, eps)))
    if w is not None:
        out = binary("*", out, w)
    return _in_dtype(node, ctx, out if b is None else binary("+", out, b))


@register_op(aten.layer_norm.default, layout=last_axis)
def layer_norm(node: fx.Node, ctx: EmitCtx) -> Expr:
    k = len(ctx.arg("normalized_shape"))
    w, b, eps = ctx.arg("weight"), ctx.arg("bias"), ctx.arg("eps")
    if k == 1:
        out = call("mx.fast.layer_norm", ctx.a("input"), ctx.x(w), ctx.x(b), repr(eps))
        return _in_dtype(node, ctx, out)
    # normalize over several trailing axes: flatten them, normalize, restore
    x = ctx.a("input", ATOM)
    flat = f"{x}.reshape(*{x}.shape[:-{k}], -1)"
    normed = Expr(f"mx.fast.layer_norm({flat}, None, None, {eps!r}).reshape({x}.shape)")
    if w is not None:
        normed = binary("*", normed, w)
    return _in_dtype(node, ctx, normed if b is None else binary("+", normed, b))


@register_op(aten.group_norm.default, layout=to_channels_last)
def group_norm(node: fx.Node, ctx: EmitCtx) -> Expr:
    fn = ctx.helper("group_norm")
    args = [ctx.a(name) for name in ("input", "num_groups", "weight", "bias")]
    return _in_dtype(node, ctx, call(fn, *args, repr(ctx.arg("eps"))))


@register_layer(nn.RMSNorm, "nn.RMSNorm", layout=last_axis)
def build_rms_norm(norm: nn.RMSNorm) -> Ctor | None:
    if len(norm.normalized_shape) != 1 or not norm.elementwise_affine:
        return None  # MLX's RMSNorm normalizes the last axis only, and always has a weight
    # torch's eps=None means the epsilon of the input's dtype
    eps = norm.eps if norm.eps is not None else torch.finfo(norm.weight.dtype).eps
    return Ctor("nn.RMSNorm", [("dims", norm.normalized_shape[0])], [("eps", eps)], {"eps": 1e-5})


def check_rms_norm(node: fx.Node) -> str | None:
    if len(op_args(node)["normalized_shape"]) != 1:
        return "rms_norm over several trailing axes (mx.fast.rms_norm takes the last one)"
    return None


@register_op(aten.rms_norm.default, layout=last_axis, check=check_rms_norm)
def rms_norm(node: fx.Node, ctx: EmitCtx) -> Expr:
    eps = ctx.arg("eps")
    if eps is None:
        eps = torch.finfo(ctx.dtype()).eps  # torch's default: the epsilon of the input's dtype
    out = call("mx.fast.rms_norm", ctx.a("input"), ctx.a("weight"), repr(eps))
    return _in_dtype(node, ctx, out)


@register_layer(nn.InstanceNorm1d, "nn.InstanceNorm", layout=to_channels_last, always=True)
@register_layer(nn.InstanceNorm2d, "nn.InstanceNorm", layout=to_channels_last, always=True)
@register_layer(nn.InstanceNorm3d, "nn.InstanceNorm", layout=to_channels_last, always=True)
def build_instance_norm(norm: nn.Module) -> Ctor | None:
    if norm.track_running_stats:
        return None  # eval normalizes by the running statistics, which MLX's layer lacks
    if norm.affine and norm.bias is None:
        return None  # MLX's affine InstanceNorm always has a bias
    rank = {nn.InstanceNorm1d: 3, nn.InstanceNorm2d: 4, nn.InstanceNorm3d: 5}[type(norm)]
    kwargs = [("eps", norm.eps), ("affine", norm.affine)]
    return Ctor(
        "nn.InstanceNorm",
        [("dims", norm.num_features)],
        kwargs,
        {"eps": 1e-5, "affine": False},
        input_ranks=(rank,),  # unbatched inputs go op by op (torch adds a batch axis)
    )


@register_op(aten.instance_norm.default, layout=to_channels_last)
def instance_norm(node: fx.Node, ctx: EmitCtx) -> Expr:
    if not ctx.arg("use_input_stats"):
        return batch_norm(node, ctx)  # eval with running stats: the same formula
    fn = ctx.helper("instance_norm")
    args = [ctx.a(name) for name in ("input", "weight", "bias")]
    return _in_dtype(node, ctx, call(fn, *args, repr(ctx.arg("eps"))))


@register_layer(nn.LocalResponseNorm, "LocalResponseNorm", layout=to_channels_last, always=True)
def build_local_response_norm(norm: nn.LocalResponseNorm) -> Ctor:
    # MLX has no such layer; torch's functional form traces into a 3-D average pool
    kwargs = [("alpha", norm.alpha), ("beta", norm.beta), ("k", norm.k)]
    defaults = {"alpha": 1e-4, "beta": 0.75, "k": 1.0}
    return Ctor(
        "LocalResponseNorm",
        [("size", norm.size)],
        kwargs,
        defaults,
        helpers=("LocalResponseNorm",),
    )
