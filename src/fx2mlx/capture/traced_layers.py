"""``torch.nn`` layers rebuilt from a traced module's graph.

``torch.jit.trace`` keeps a layer's tensors but not its constructor arguments: they are
baked into the one op it recorded (``aten::_convolution(x, w, b, [2, 2], [1, 1], ...)``). A
traced layer whose forward is exactly that op is rebuilt from the op's constant arguments
and its tensors' shapes, so codegen emits it as an MLX layer; anything else (a padding mode
recorded as a separate pad, a batch norm traced in training mode) stays a generated class.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.conv import _ConvNd, _ConvTransposeNd

__all__ = ["traced_layer"]

Args = list[object]


def traced_layer(script: torch.jit.ScriptModule, cls: type[nn.Module]) -> nn.Module | None:
    """``cls`` built to do what ``script``'s one recorded op does, or None."""
    graph = script._c._get_method("forward").graph
    ops = [n for n in graph.nodes() if n.kind().startswith("aten::")]
    build = _BUILDERS.get(ops[0].kind()) if len(ops) == 1 else None
    if build is None:
        return None
    try:
        return build(cls, script, [_constant(v) for v in ops[0].inputs()])
    except (TypeError, ValueError, RuntimeError, IndexError, AttributeError):
        return None  # arguments no constructor takes: the generated class does it


_UNKNOWN = object()


def _constant(value: torch._C.Value) -> object:
    """A constant argument's value (lists of constants too); a tensor or other input: _UNKNOWN."""
    node = value.node()
    if node.kind() == "prim::Constant":
        return value.toIValue()
    if node.kind() == "prim::ListConstruct":
        items = [_constant(v) for v in node.inputs()]
        return _UNKNOWN if any(i is _UNKNOWN for i in items) else items
    return _UNKNOWN


def _has(script: torch.jit.ScriptModule, name: str) -> bool:
    return isinstance(getattr(script, name, None), torch.Tensor)


def _linear(cls: type, script: torch.jit.ScriptModule, args: Args) -> nn.Module | None:
    if cls is not nn.Linear:
        return None
    out_features, in_features = script.weight.shape
    return nn.Linear(in_features, out_features, bias=_has(script, "bias"))


def _conv(cls: type, script: torch.jit.ScriptModule, args: Args) -> nn.Module | None:
    stride, padding, dilation, transposed, output_padding, groups = args[3:9]
    if not issubclass(cls, _ConvNd) or transposed != issubclass(cls, _ConvTransposeNd):
        return None
    weight, bias = script.weight, _has(script, "bias")
    kernel = tuple(weight.shape[2:])
    if transposed:
        channels = (weight.shape[0], weight.shape[1] * groups)
        return cls(*channels, kernel, stride, padding, output_padding, groups, bias, dilation)
    channels = (weight.shape[1] * groups, weight.shape[0])
    return cls(*channels, kernel, stride, padding, dilation, groups, bias)


def _batch_norm(cls: type, script: torch.jit.ScriptModule, args: Args) -> nn.Module | None:
    training, momentum, eps = args[5:8]
    if not issubclass(cls, _BatchNorm) or training is not False:
        return None  # training mode: batch statistics, and the running ones updated
    tracked = _has(script, "running_mean")
    size = (script.running_mean if tracked else script.weight).shape[0]
    affine = _has(script, "weight")
    return cls(size, eps=eps, momentum=momentum, affine=affine, track_running_stats=tracked)


def _layer_norm(cls: type, script: torch.jit.ScriptModule, args: Args) -> nn.Module | None:
    shape, eps = args[1], args[4]
    if cls is not nn.LayerNorm:
        return None
    affine, bias = _has(script, "weight"), _has(script, "bias")
    return nn.LayerNorm(shape, eps=eps, elementwise_affine=affine, bias=bias)


def _embedding(cls: type, script: torch.jit.ScriptModule, args: Args) -> nn.Module | None:
    padding_idx, scale, sparse = args[2:5]
    if cls is not nn.Embedding:
        return None
    rows, dim = script.weight.shape
    padding = None if padding_idx == -1 else padding_idx  # -1: none, as F.embedding writes it
    return nn.Embedding(rows, dim, padding, scale_grad_by_freq=scale, sparse=sparse)


_BUILDERS: dict[str, Callable[[type, torch.jit.ScriptModule, Args], nn.Module | None]] = {
    "aten::linear": _linear,
    "aten::_convolution": _conv,
    "aten::batch_norm": _batch_norm,
    "aten::layer_norm": _layer_norm,
    "aten::embedding": _embedding,
}
