"""Recurrent layers: ``nn.LSTM``, ``nn.GRU``, ``nn.RNN`` and their cells.

A leaf layer becomes the generated class of the same name (helpers_rnn.py), with PyTorch's
parameter names: ``self.rnn = LSTM(16, 32, num_layers=2)`` and ``self.rnn(x)`` or
``self.rnn(x, (h0, c0))``, its result read by index as torch's is. The ops that a root
module or a subclass with its own forward leaves in the graph run the same code:
``aten.lstm.input`` and its kin become ``lstm(x, hx, [weights...], ...)``, the class on
PyTorch's flat parameter list; ``aten.lstm_cell`` and its kin the cells' own functions.
"""

from __future__ import annotations

import operator
from typing import Any

import torch
from torch import fx, nn

from ..emit_ctx import EmitCtx, op_args
from ..expr import Expr, call
from ..layout import canonical
from .helpers import closure
from .registry import Ctor, Inherent, LayerIO, register_layer, register_op

aten = torch.ops.aten

_SEQUENCE_DEFAULTS = {
    "num_layers": 1,
    "bias": True,
    "batch_first": False,
    "bidirectional": False,
    "proj_size": 0,
    "nonlinearity": "tanh",
}

# each core op's result as the module returns it: indices into the op's flat outputs
_RESULTS: dict[object, Any] = {
    aten.lstm.input: (0, (1, 2)),
    aten.gru.input: (0, 1),
    aten.rnn_tanh.input: (0, 1),
    aten.rnn_relu.input: (0, 1),
    aten.lstm_cell.default: (0, 1),
    aten.gru_cell.default: 0,
    aten.rnn_tanh_cell.default: 0,
    aten.rnn_relu_cell.default: 0,
}


class _Unbound(Exception):
    """The layer's call can't be read off the graph; its ops are converted one by one."""


def _tensor_inputs(node: fx.Node) -> list[fx.Node]:
    return [a for a in node.all_input_nodes if isinstance(a.meta.get("val"), torch.Tensor)]


def _origin(value: fx.Node, inputs: list[fx.Node], inside: set[fx.Node]) -> fx.Node | None:
    """The layer input a core argument comes from, through the forward's own reshapes
    (unbatched inputs gain a batch axis); None for a state the forward makes (zeros)."""
    while value in inside:
        sources = _tensor_inputs(value)
        if not sources:
            return None
        if len(sources) != 1:
            raise _Unbound
        value = sources[0]
    if value not in inputs:
        raise _Unbound
    return value


def _result_index(out: fx.Node, core: fx.Node, inside: set[fx.Node]) -> int:
    """Which of the core op's outputs a value the caller reads is (through squeezes)."""
    while out is not core:
        if out.target is operator.getitem and op_args(out)["a"] is core:
            return op_args(out)["b"]
        sources = _tensor_inputs(out)
        if out not in inside or len(sources) != 1:
            raise _Unbound
        out = sources[0]
    return 0


def _paths(result: Any, prefix: tuple[int, ...] = ()) -> dict[int, tuple[int, ...]]:
    if isinstance(result, int):
        return {result: prefix}
    return {i: p for k, part in enumerate(result) for i, p in _paths(part, (*prefix, k)).items()}


def _nest(result: Any, flat: list[Any]) -> Any:
    return flat[result] if isinstance(result, int) else tuple(_nest(r, flat) for r in result)


def bind_rnn(
    members: list[fx.Node], inputs: list[fx.Node], outputs: list[fx.Node]
) -> LayerIO | None:
    """``rnn(x)``, ``rnn(x, h0)`` or ``rnn(x, (h0, c0))``; each value read outside the layer
    is a part of the result, ``[0]`` or ``[1][0]``, as torch returns it."""
    cores = [n for n in members if n.target in _RESULTS]
    if len(cores) != 1:
        return None
    core, inside = cores[0], set(members)
    args = op_args(core)
    try:
        x = _origin(args["input"], inputs, inside)
        hx = args["hx"] if isinstance(args["hx"], (list, tuple)) else [args["hx"]]
        states = [_origin(h, inputs, inside) for h in hx]
        index = {out: _result_index(out, core, inside) for out in outputs}
    except _Unbound:
        return None
    given = [s for s in states if s is not None]
    if x is None or len(given) not in (0, len(states)) or set(inputs) != {x, *given}:
        return None
    call_args = (x,) if not given else (x, tuple(given) if len(hx) > 1 else given[0])
    result = _RESULTS[core.target]
    flat = list(core.meta["val"]) if isinstance(core.meta["val"], tuple) else [core.meta["val"]]
    for out, i in index.items():
        flat[i] = out.meta["val"]  # the caller's view (unbatched results lose the batch axis)
    paths = _paths(result)
    return LayerIO(call_args, {out: paths[i] for out, i in index.items()}, _nest(result, flat))


@register_layer(nn.LSTM, "LSTM", layout=canonical, bind=bind_rnn)
@register_layer(nn.GRU, "GRU", layout=canonical, bind=bind_rnn)
@register_layer(nn.RNN, "RNN", layout=canonical, bind=bind_rnn)
def build_rnn(rnn: nn.RNNBase) -> Ctor:
    name = "LSTM" if isinstance(rnn, nn.LSTM) else "GRU" if isinstance(rnn, nn.GRU) else "RNN"
    kwargs: list[tuple[str, Any]] = [
        ("num_layers", rnn.num_layers),
        ("bias", rnn.bias),
        ("batch_first", rnn.batch_first),
        ("bidirectional", rnn.bidirectional),
    ]
    if isinstance(rnn, nn.LSTM):
        kwargs.append(("proj_size", rnn.proj_size))
    if isinstance(rnn, nn.RNN):
        kwargs.insert(0, ("nonlinearity", rnn.nonlinearity))
    sizes = [("input_size", rnn.input_size), ("hidden_size", rnn.hidden_size)]
    return Ctor(name, sizes, kwargs, _SEQUENCE_DEFAULTS, helpers=tuple(closure([name])))


@register_layer(nn.LSTMCell, "LSTMCell", layout=canonical, bind=bind_rnn)
@register_layer(nn.GRUCell, "GRUCell", layout=canonical, bind=bind_rnn)
@register_layer(nn.RNNCell, "RNNCell", layout=canonical, bind=bind_rnn)
def build_rnn_cell(cell: nn.RNNCellBase) -> Ctor:
    name = (
        "LSTMCell"
        if isinstance(cell, nn.LSTMCell)
        else "GRUCell" if isinstance(cell, nn.GRUCell) else "RNNCell"
    )
    kwargs: list[tuple[str, Any]] = [("bias", cell.bias)]
    if isinstance(cell, nn.RNNCell):
        kwargs.append(("nonlinearity", cell.nonlinearity))
    sizes = [("input_size", cell.input_size), ("hidden_size", cell.hidden_size)]
    return Ctor(name, sizes, kwargs, _SEQUENCE_DEFAULTS, helpers=tuple(closure([name])))


def check_rnn(node: fx.Node) -> str | None:
    args = op_args(node)
    if args["train"] and args["dropout"]:
        return Inherent("recurrent dropout in training mode (fx2mlx converts eval mode)")
    return None


def _sequence_call(fn: str, ctx: EmitCtx, **extra: str) -> Expr:
    args = [ctx.a(name) for name in ("input", "hx", "params")]
    flags = ("has_biases", "num_layers", "bidirectional", "batch_first")
    return call(ctx.helper(fn), *args, **{name: ctx.a(name) for name in flags}, **extra)


@register_op(aten.lstm.input, check=check_rnn)
def lstm(node: fx.Node, ctx: EmitCtx) -> Expr:
    return _sequence_call("lstm", ctx)


@register_op(aten.gru.input, check=check_rnn)
def gru(node: fx.Node, ctx: EmitCtx) -> Expr:
    return _sequence_call("gru", ctx)


@register_op(aten.rnn_tanh.input, aten.rnn_relu.input, check=check_rnn)
def rnn(node: fx.Node, ctx: EmitCtx) -> Expr:
    nonlinearity = "tanh" if node.target is aten.rnn_tanh.input else "relu"
    return _sequence_call("rnn", ctx, nonlinearity=repr(nonlinearity))


def _cell_args(ctx: EmitCtx) -> list[str]:
    return [ctx.a(name) for name in ("input", "hx", "w_ih", "w_hh", "b_ih", "b_hh")]


@register_op(aten.lstm_cell.default)
def lstm_cell(node: fx.Node, ctx: EmitCtx) -> Expr:
    return call(ctx.helper("lstm_cell"), *_cell_args(ctx))


@register_op(aten.gru_cell.default)
def gru_cell(node: fx.Node, ctx: EmitCtx) -> Expr:
    return call(ctx.helper("gru_cell"), *_cell_args(ctx))


@register_op(aten.rnn_tanh_cell.default, aten.rnn_relu_cell.default)
def rnn_cell(node: fx.Node, ctx: EmitCtx) -> Expr:
    nonlinearity = "tanh" if node.target is aten.rnn_tanh_cell.default else "relu"
    return call(ctx.helper("rnn_cell"), *_cell_args(ctx), nonlinearity=repr(nonlinearity))
