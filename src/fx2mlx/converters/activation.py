"""Activations: elementwise, parameter-free, layout-agnostic (softmax remaps its axis)."""

from __future__ import annotations

import torch
from torch import fx

from ..emit_ctx import EmitCtx
from ..expr import ATOM, Expr, binary, call
from ..layout import keep
from .registry import Ctor, Inherent, register_layer, register_op

aten = torch.ops.aten

_SIMPLE = {
    aten.relu.default: "nn.relu",
    aten.silu.default: "nn.silu",
    aten.sigmoid.default: "mx.sigmoid",
    aten.tanh.default: "mx.tanh",
    aten.hardswish.default: "nn.hardswish",
    aten.mish.default: "nn.mish",
    aten.relu6.default: "nn.relu6",
    aten.log_sigmoid.default: "nn.log_sigmoid",
    aten.selu.default: "nn.selu",
}


@register_op(*_SIMPLE, layout=keep)
def simple(node: fx.Node, ctx: EmitCtx) -> Expr:
    return call(_SIMPLE[node.target], ctx.a("self"))


@register_op(aten.gelu.default, layout=keep)
def gelu(node: fx.Node, ctx: EmitCtx) -> Expr:
    fn = "nn.gelu_approx" if ctx.arg("approximate") == "tanh" else "nn.gelu"
    return call(fn, ctx.a("self"))


@register_op(aten.hardsigmoid.default, layout=keep)
def hardsigmoid(node: fx.Node, ctx: EmitCtx) -> Expr:
    # MLX has no hard_sigmoid; this is torch's definition.
    return binary("/", call("nn.relu6", binary("+", ctx.arg("self"), 3.0)), 6.0)


@register_op(aten.hardtanh.default, layout=keep)
def hardtanh(node: fx.Node, ctx: EmitCtx) -> Expr:
    lo, hi = ctx.arg("min_val"), ctx.arg("max_val")
    if (lo, hi) == (0.0, 6.0):
        return call("nn.relu6", ctx.a("self"))
    return call("mx.clip", ctx.a("self"), ctx.x(lo), ctx.x(hi))


@register_op(aten.leaky_relu.default, layout=keep)
def leaky_relu(node: fx.Node, ctx: EmitCtx) -> Expr:
    return call("nn.leaky_relu", ctx.a("self"), negative_slope=ctx.a("negative_slope"))


@register_op(aten.elu.default, layout=keep)
def elu(node: fx.Node, ctx: EmitCtx) -> Expr:
    return call("nn.elu", ctx.a("self"), alpha=ctx.a("alpha"))


@register_op(aten.softplus.default, layout=keep)
def softplus(node: fx.Node, ctx: EmitCtx) -> Expr:
    beta, threshold = ctx.arg("beta", 1.0), ctx.arg("threshold", 20.0)
    scaled = ctx.arg("self") if beta == 1.0 else binary("*", beta, ctx.arg("self"))
    soft = call("nn.softplus", scaled)
    if beta != 1.0:
        soft = binary("/", soft, beta)
    if threshold >= 15:
        # torch switches to the identity above `threshold`; there they differ by < 3e-7 * x.
        return soft
    return call("mx.where", binary(">", scaled, threshold), ctx.a("self"), soft)


@register_op(aten.celu.default, layout=keep)
def celu(node: fx.Node, ctx: EmitCtx) -> Expr:
    return call("nn.celu", ctx.a("self"), alpha=ctx.a("alpha"))


@register_op(aten.hardshrink.default, aten.softshrink.default, layout=keep)
def shrink(node: fx.Node, ctx: EmitCtx) -> Expr:
    fn = "nn.hard_shrink" if node.target is aten.hardshrink.default else "nn.softshrink"
    return call(fn, ctx.a("self"), lambd=ctx.a("lambd"))


@register_op(aten.threshold.default, layout=keep)
def threshold(node: fx.Node, ctx: EmitCtx) -> Expr:
    above = binary(">", ctx.arg("self"), ctx.arg("threshold"))
    return call("mx.where", above, ctx.a("self"), ctx.a("value"))


@register_op(aten.glu.default, layout=keep)
def glu(node: fx.Node, ctx: EmitCtx) -> Expr:
    return call("nn.glu", ctx.a("self"), axis=str(ctx.axis(ctx.arg("self"), ctx.arg("dim"))))


@register_op(aten.prelu.default, aten._prelu_kernel.default, layout=keep)
def prelu(node: fx.Node, ctx: EmitCtx) -> Expr:
    """One slope per channel (torch dim 1), broadcast along wherever that axis is stored."""
    src, weight = ctx.arg("self"), ctx.arg("weight")
    alpha = ctx.x(weight)
    slopes = ctx.shape(weight)  # () for a scalar slope: it broadcasts as it is
    if slopes and ctx.rank(src) == 0:  # a 0-d input stays 0-d: (1,) would broadcast it
        alpha = f"{ctx.x(weight, ATOM)}[0]"
    elif slopes and ctx.rank(src) >= 2 and slopes[-1] != 1:
        trailing = ctx.rank(src) - 1 - ctx.axis(src, 1)
        if trailing:
            alpha = f"{ctx.x(weight, ATOM)}.reshape(-1{', 1' * trailing})"
    return call("nn.prelu", ctx.a("self"), alpha)


def _softmax(fn: str, ctx: EmitCtx) -> Expr:
    src = ctx.arg("self")
    if any(isinstance(d, int) and d == 0 for d in ctx.shape(src)):
        return Expr(ctx.x(src, ATOM))  # empty in, empty out (MLX's log_softmax grows an axis)
    if ctx.rank(src) == 0:
        # torch allows dim 0 (or -1) on a 0-d tensor; MLX needs an axis to exist
        return Expr(f"{call(fn, f'{ctx.x(src, ATOM)}[None]', axis='0').text}[0]")
    return call(fn, ctx.a("self"), axis=ctx.x(ctx.axis(src, ctx.arg("dim"))))


@register_op(aten.softmax.int, aten._softmax.default, layout=keep)
def softmax(node: fx.Node, ctx: EmitCtx) -> Expr:
    return _softmax("mx.softmax", ctx)


@register_op(aten.log_softmax.int, aten._log_softmax.default, layout=keep)
def log_softmax(node: fx.Node, ctx: EmitCtx) -> Expr:
    return _softmax("nn.log_softmax", ctx)


def check_dropout(node: fx.Node) -> str | None:
    return Inherent("dropout with train=True (random; the generated model is for inference)")


@register_op(
    aten.dropout.default,
    aten.feature_dropout.default,
    aten.alpha_dropout.default,
    aten.feature_alpha_dropout.default,
    layout=keep,
    check=check_dropout,
)
def dropout(node: fx.Node, ctx: EmitCtx) -> Expr:
    """Never emitted: normalize_graph removes inert dropouts, the check refuses the rest."""
    raise AssertionError("dropout reached emission")


# Parameter-free layers, used only inside nn.Sequential / nn.ModuleList so the list can be
# iterated; elsewhere their ops are emitted as the functional forms above.
@register_layer(torch.nn.ReLU, "nn.ReLU", layout=keep)
@register_layer(torch.nn.SiLU, "nn.SiLU", layout=keep)
@register_layer(torch.nn.Sigmoid, "nn.Sigmoid", layout=keep)
@register_layer(torch.nn.Tanh, "nn.Tanh", layout=keep)
@register_layer(torch.nn.Hardswish, "nn.Hardswish", layout=keep)
@register_layer(torch.nn.ReLU6, "nn.ReLU6", layout=keep)
@register_layer(torch.nn.Mish, "nn.Mish", layout=keep)
def build_plain(module: torch.nn.Module) -> Ctor:
    """MLX names these layers as torch does; a subclass keeping the forward is its base."""
    base = next(c for c in type(module).__mro__ if c.__module__ == "torch.nn.modules.activation")
    return Ctor(f"nn.{base.__name__}", [])


@register_layer(torch.nn.GELU, "nn.GELU", layout=keep)
def build_gelu(module: torch.nn.GELU) -> Ctor:
    approx = "tanh" if module.approximate == "tanh" else "none"
    return Ctor("nn.GELU", [], [("approx", approx)], {"approx": "none"})


@register_layer(torch.nn.LeakyReLU, "nn.LeakyReLU", layout=keep)
def build_leaky_relu(module: torch.nn.LeakyReLU) -> Ctor:
    return Ctor("nn.LeakyReLU", [("negative_slope", module.negative_slope)])


@register_layer(torch.nn.ELU, "nn.ELU", layout=keep)
def build_elu(module: torch.nn.ELU) -> Ctor:
    return Ctor("nn.ELU", [], [("alpha", module.alpha)], {"alpha": 1.0})
