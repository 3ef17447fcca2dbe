"""Pass (``--fold-batchnorm``): an eval BatchNorm folds into the convolution before it.

``bn(conv(x))`` with running statistics is one convolution with ``weight * scale`` and bias
``(bias - mean) * scale + beta``, ``scale = gamma / sqrt(var + eps)``: one op less per block.
Only where the convolution's output is read by that BatchNorm alone (anything else reading it
needs the unfolded value). Either side may be an MLX layer (``nn.Conv2d``, ``nn.BatchNorm``)
or its module's one op (a BatchNorm3d, which MLX's 2-4-D ``nn.BatchNorm`` can't take; a grouped
transposed convolution, which MLX's layers can't). The BatchNorm disappears, its keys with it:
the weights are folded here (``folded_weights.py``) and by the generated ``sanitize``, from
PyTorch's keys.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass

import torch
from torch import fx
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.conv import _ConvNd, _ConvTransposeNd

from ..capture import Captured
from ..emit_ctx import op_args
from ..folded_weights import fold_tensors, groups_of
from ..meta import FOLDED, LAYER, SCOPE
from .collapse_layers import LayerCall

aten = torch.ops.aten

CONVS = ("nn.Conv1d", "nn.Conv2d", "nn.Conv3d")
TRANSPOSED = ("nn.ConvTranspose1d", "nn.ConvTranspose2d", "nn.ConvTranspose3d")
# a module's convolution op by op, and whether it is transposed
CONV_OPS = {
    **dict.fromkeys((aten.conv1d.default, aten.conv2d.default, aten.conv3d.default), False),
    **dict.fromkeys((aten.conv1d.padding, aten.conv2d.padding, aten.conv3d.padding), False),
    aten.conv_transpose1d.default: True,
    aten.conv_transpose2d.input: True,
    aten.conv_transpose3d.input: True,
}
_NORM_TENSORS = ("weight", "bias", "running_mean", "running_var")


@dataclass(frozen=True)
class Calls:
    """How often each module is called, and how many nodes each call holds."""

    per_module: Counter[str]
    per_frame: Counter[tuple[str, str]]

    @classmethod
    def of(cls, graph: fx.Graph) -> Calls:
        frames = Counter(f for n in graph.nodes for f in n.meta.get(SCOPE, ()))
        return cls(Counter(path for _, path in frames), frames)


@dataclass(frozen=True)
class Fold:
    conv: fx.Node  # the convolution's layer call or op
    conv_path: str
    bn_path: str


def _innermost(node: fx.Node) -> tuple[str, str] | None:
    scope = node.meta.get(SCOPE)
    return scope[-1] if scope else None


def _own(captured: Captured, arg: object, path: str, name: str, user: fx.Node) -> bool:
    """``arg`` is the module's own tensor ``name`` (read by ``user`` alone, tied to nothing),
    or None where the module has none: the fold rewrites or drops it."""
    if getattr(captured.module(path), name, None) is None:
        return arg is None
    if not (isinstance(arg, fx.Node) and arg.op == "get_attr" and list(arg.users) == [user]):
        return False
    key = f"{path}.{name}"
    return str(arg.target) == key and set(captured.aliases.get(key, [key])) == {key}


def _norm_op(captured: Captured, node: fx.Node, calls: Calls) -> str | None:
    """The BatchNorm module whose whole call ``node`` is (``aten.batch_norm`` on its own
    tensors, nothing else in that call), or None."""
    frame = _innermost(node)
    if node.target is not aten.batch_norm.default or frame is None or calls.per_frame[frame] != 1:
        return None
    path, args = frame[1], op_args(node)
    if not isinstance(captured.module(path), _BatchNorm) or args["training"]:
        return None
    if args["eps"] != captured.module(path).eps:
        return None
    return path if all(_own(captured, args[n], path, n, node) for n in _NORM_TENSORS) else None


def _norm(captured: Captured, node: fx.Node, calls: Calls) -> str | None:
    """The eval BatchNorm (running statistics) ``node`` calls, called once, or None."""
    if node.op == "call_module":
        layer = node.meta.get(LAYER)
        is_bn = layer is not None and layer.converter.mlx_type == "nn.BatchNorm"
        path = layer.path if is_bn and len(node.args) == 1 else None
    else:
        path = _norm_op(captured, node, calls) if node.op == "call_function" else None
    if path is None or calls.per_module[path] != 1:
        return None
    bn = captured.module(path)
    if not isinstance(bn, _BatchNorm) or bn.training:
        return None
    return path if bn.running_mean is not None and bn.running_var is not None else None


def _conv_op(captured: Captured, node: fx.Node) -> str | None:
    """The convolution module whose op ``node`` is, on its own weight and bias, batched (a
    BatchNorm's channels are axis 1), or None."""
    frame = _innermost(node)
    if node.target not in CONV_OPS or frame is None or FOLDED in node.meta:
        return None
    path, args = frame[1], op_args(node)
    module = captured.module(path)
    if not isinstance(module, _ConvNd) or args["groups"] != module.groups:
        return None
    if CONV_OPS[node.target] != isinstance(module, _ConvTransposeNd):
        return None
    if node.meta["val"].dim() != module.weight.dim():
        return None  # unbatched (C, *spatial)
    own = all(_own(captured, args[n], path, n, node) for n in ("weight", "bias"))
    return path if own else None


def _conv(captured: Captured, node: fx.Node, calls: Calls) -> str | None:
    """The convolution ``node`` (a BatchNorm's input) calls, called once, or None."""
    if node.op == "call_module":
        layer = node.meta.get(LAYER)
        is_conv = layer is not None and layer.converter.mlx_type in CONVS + TRANSPOSED
        path = layer.path if is_conv and not layer.folded else None
    else:
        path = _conv_op(captured, node) if node.op == "call_function" else None
    if path is None or calls.per_module[path] != 1:
        return None
    return path if isinstance(captured.module(path), _ConvNd) else None


def _foldable(captured: Captured, node: fx.Node, calls: Calls) -> Fold | None:
    """The fold where ``node`` is a BatchNorm that folds into the convolution it reads, or
    None. Each must be called once: a shared conv or BatchNorm
    called elsewhere needs its own weights there."""
    bn_path = _norm(captured, node, calls) if node.args else None
    conv = node.args[0] if bn_path is not None else None
    if not isinstance(conv, fx.Node) or list(conv.users) != [node]:
        return None
    conv_path = _conv(captured, conv, calls)
    if conv_path is None:
        return None
    channels = captured.module(conv_path).out_channels
    if channels != captured.module(bn_path).num_features:
        return None
    return Fold(conv, conv_path, bn_path)


def fold_batchnorm(captured: Captured) -> list[tuple[str, str]]:
    """Fold every foldable BatchNorm; returns (convolution path, BatchNorm path) pairs."""
    folded = []
    calls = Calls.of(captured.graph)
    for node in list(captured.graph.nodes):
        found = _foldable(captured, node, calls)
        if found is None:
            continue
        if found.conv.op == "call_module":
            _fold_layer(found)
        else:
            _fold_op(captured, found)
        node.replace_all_uses_with(found.conv)
        attrs = [a for a in node.all_input_nodes if a.op == "get_attr"]
        captured.graph.erase_node(node)
        for attr in attrs:  # an op-by-op BatchNorm's tensors
            captured.graph.erase_node(attr)
        folded.append((found.conv_path, found.bn_path))
    return folded


def _fold_layer(fold: Fold) -> None:
    """A conv layer: it gets a bias; its weights are folded when written (``folded_state``)."""
    layer: LayerCall = fold.conv.meta[LAYER]
    ctor = layer.ctor
    kwargs = [(k, True if k == "bias" else v) for k, v in ctor.kwargs]
    fold.conv.meta[LAYER] = dataclasses.replace(
        layer, ctor=dataclasses.replace(ctor, kwargs=kwargs), folded=fold.bn_path
    )


def _fold_op(captured: Captured, fold: Fold) -> None:
    """A conv op: its weight and bias tensors are replaced by the folded ones; a conv without
    a bias reads a new one (``{path}.bias``, a weight like any other)."""
    conv, path = fold.conv, fold.conv_path
    args = op_args(conv)
    weight, bias = args["weight"], args["bias"]
    w, b = fold_tensors(
        captured.consts[str(weight.target)],
        None if bias is None else captured.consts[str(bias.target)],
        captured.module(fold.bn_path),
        groups_of(captured.module(path)),
    )
    captured.consts[f"{path}.weight"], captured.consts[f"{path}.bias"] = w, b
    if bias is None:
        with captured.graph.inserting_after(weight):
            bias = captured.graph.get_attr(f"{path}.bias")
        bias.meta["val"] = weight.meta["val"].new_empty(b.shape)
        _set_bias(conv, bias)
    conv.meta[FOLDED] = (path, fold.bn_path)


def _set_bias(conv: fx.Node, bias: fx.Node) -> None:
    """The conv op's ``bias`` argument (the third of every conv op), however it was passed."""
    if len(conv.args) > 2:
        conv.update_arg(2, bias)
    elif "bias" in conv.kwargs:
        conv.update_kwarg("bias", bias)
    else:
        conv.args = (*conv.args, bias)
