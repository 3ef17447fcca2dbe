"""Activations: elementwise, parameter-free, layout-agnostic (softmax remaps its axis)."""

from __future__ import annotations

import torch
from torch import fx

from ..emit_ctx import EmitCtx
from ..expr import ADD, ATOM, MUL, Expr, call
from ..layout import keep
from .registry import Ctor, register_layer, register_op

aten = torch.ops.aten

_SIMPLE = {
    aten.relu.default: "nn.relu",
    aten.silu.default: "nn.silu",
    aten.sigmoid.default: "mx.sigmoid",
    aten.tanh.default: "mx.tanh",
    aten.hardswish.default: "nn.hardswish",
    aten.mish.default: "nn.mish",
    aten.softplus.default: None,
    aten.relu6.default: "nn.relu6",
    aten.elu.default: None,
    aten.log_sigmoid.default: "nn.log_sigmoid",
    aten.selu.default: "nn.selu",
}


def _simple(node: fx.Node, ctx: EmitCtx) -> Expr:
    return call(_SIMPLE[node.target], ctx.a(0))


register_op(*(t for t, fn in _SIMPLE.items() if fn), layout=keep)(_simple)


@register_op(aten.gelu.default, layout=keep)
def gelu(node: fx.Node, ctx: EmitCtx) -> Expr:
    approx = ctx.arg("approximate", "none")
    fn = "nn.gelu_approx" if approx == "tanh" else "nn.gelu"
    return call(fn, ctx.a(0))


@register_op(aten.hardsigmoid.default, layout=keep)
def hardsigmoid(node: fx.Node, ctx: EmitCtx) -> Expr:
    # MLX has no hard_sigmoid; this is torch's definition.
    return Expr(f"nn.relu6({ctx.a(0, ADD)} + 3.0) / 6.0", MUL)


@register_op(aten.hardtanh.default, layout=keep)
def hardtanh(node: fx.Node, ctx: EmitCtx) -> Expr:
    lo, hi = ctx.arg("min_val", -1.0), ctx.arg("max_val", 1.0)
    if (lo, hi) == (0.0, 6.0):
        return call("nn.relu6", ctx.a(0))
    return call("mx.clip", ctx.a(0), ctx.x(lo), ctx.x(hi))


@register_op(aten.leaky_relu.default, layout=keep)
def leaky_relu(node: fx.Node, ctx: EmitCtx) -> Expr:
    return call("nn.leaky_relu", ctx.a(0), negative_slope=ctx.a("negative_slope", default=0.01))


@register_op(aten.elu.default, layout=keep)
def elu(node: fx.Node, ctx: EmitCtx) -> Expr:
    return call("nn.elu", ctx.a(0), alpha=ctx.a("alpha", default=1.0))


@register_op(aten.softplus.default, layout=keep)
def softplus(node: fx.Node, ctx: EmitCtx) -> Expr:
    beta, threshold = ctx.arg("beta", 1.0), ctx.arg("threshold", 20.0)
    if beta == 1.0:
        soft = call("nn.softplus", ctx.a(0))
    else:
        scaled = f"nn.softplus({ctx.x(beta)} * {ctx.a(0, MUL + 1)})"
        soft = Expr(f"{scaled} / {ctx.x(beta, MUL + 1)}", MUL)
    if threshold >= 15:
        # torch switches to the identity above `threshold`; there they differ by < 3e-7 * x.
        return soft
    linear = (
        f"{ctx.x(beta)} * {ctx.a(0, MUL + 1)} > {ctx.x(threshold)}"
        if beta != 1.0
        else f"{ctx.a(0, MUL + 1)} > {ctx.x(threshold)}"
    )
    return call("mx.where", linear, ctx.a(0), soft.text)


@register_op(aten.celu.default, layout=keep)
def celu(node: fx.Node, ctx: EmitCtx) -> Expr:
    return call("nn.celu", ctx.a(0), alpha=ctx.a("alpha", default=1.0))


@register_op(aten.hardshrink.default, aten.softshrink.default, layout=keep)
def shrink(node: fx.Node, ctx: EmitCtx) -> Expr:
    fn = "nn.hard_shrink" if node.target is aten.hardshrink.default else "nn.softshrink"
    return call(fn, ctx.a(0), lambd=ctx.a("lambd", default=0.5))


@register_op(aten.threshold.default, layout=keep)
def threshold(node: fx.Node, ctx: EmitCtx) -> Expr:
    return call("mx.where", f"{ctx.a(0, MUL + 1)} > {ctx.a(1, MUL + 1)}", ctx.a(0), ctx.a(2))


@register_op(aten.glu.default, layout=keep)
def glu(node: fx.Node, ctx: EmitCtx) -> Expr:
    return call("nn.glu", ctx.a(0), axis=str(ctx.axis(ctx.arg(0), ctx.arg("dim", -1))))


@register_op(aten.prelu.default, aten._prelu_kernel.default, layout=keep)
def prelu(node: fx.Node, ctx: EmitCtx) -> Expr:
    """One slope per channel (torch dim 1), broadcast along wherever that axis is stored."""
    src, weight = ctx.arg(0), ctx.arg(1)
    alpha = ctx.x(weight)
    if ctx.rank(src) >= 2 and ctx.shape(weight)[-1] != 1:
        trailing = ctx.rank(src) - 1 - ctx.axis(src, 1)
        if trailing:
            alpha = f"{ctx.x(weight, ATOM)}.reshape(-1{', 1' * trailing})"
    return call("nn.prelu", ctx.a(0), alpha)


def _softmax(fn: str, ctx: EmitCtx) -> Expr:
    src = ctx.arg(0)
    if ctx.rank(src) == 0:
        # torch allows dim 0 (or -1) on a 0-d tensor; MLX needs an axis to exist
        return Expr(f"{call(fn, f'{ctx.x(src, ATOM)}[None]', axis='0').text}[0]")
    return call(fn, ctx.a(0), axis=ctx.x(ctx.axis(src, ctx.arg(1))))


@register_op(aten.softmax.int, aten._softmax.default, layout=keep)
def softmax(node: fx.Node, ctx: EmitCtx) -> Expr:
    return _softmax("mx.softmax", ctx)


@register_op(aten.log_softmax.int, aten._log_softmax.default, layout=keep)
def log_softmax(node: fx.Node, ctx: EmitCtx) -> Expr:
    return _softmax("nn.log_softmax", ctx)


# Parameter-free layers, used only inside nn.Sequential / nn.ModuleList so the list can be
# iterated; elsewhere their ops are emitted as the functional forms above.
_LAYERS: dict[type, str] = {
    torch.nn.ReLU: "nn.ReLU",
    torch.nn.SiLU: "nn.SiLU",
    torch.nn.Sigmoid: "nn.Sigmoid",
    torch.nn.Tanh: "nn.Tanh",
    torch.nn.Hardswish: "nn.Hardswish",
    torch.nn.ReLU6: "nn.ReLU6",
    torch.nn.Mish: "nn.Mish",
}


def _plain(module: torch.nn.Module) -> Ctor:
    return Ctor(_LAYERS[type(module)], [])


for _cls, _fn in _LAYERS.items():
    register_layer(_cls, _fn, layout=keep)(_plain)


@register_layer(torch.nn.GELU, "nn.GELU", layout=keep)
def _gelu_layer(module: torch.nn.GELU) -> Ctor:
    approx = "tanh" if module.approximate == "tanh" else "none"
    return Ctor("nn.GELU", [], [("approx", approx)], {"approx": "none"})


@register_layer(torch.nn.LeakyReLU, "nn.LeakyReLU", layout=keep)
def _leaky_layer(module: torch.nn.LeakyReLU) -> Ctor:
    return Ctor("nn.LeakyReLU", [("negative_slope", module.negative_slope)])


@register_layer(torch.nn.ELU, "nn.ELU", layout=keep)
def _elu_layer(module: torch.nn.ELU) -> Ctor:
    return Ctor("nn.ELU", [], [("alpha", module.alpha)], {"alpha": 1.0})
