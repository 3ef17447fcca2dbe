"""Pass (``--fold-batchnorm``): an eval BatchNorm folds into the convolution before it.

``bn(conv(x))`` with running statistics is one convolution with ``weight * scale`` and bias
``(bias - mean) * scale + beta``, ``scale = gamma / sqrt(var + eps)``: one op less per block.
Only where the convolution's output is read by that BatchNorm alone (anything else reading it
needs the unfolded value). The BatchNorm's layer disappears, its keys with it: the weights are
folded here and by the generated ``sanitize`` (``fold_lines``), from PyTorch's keys.
"""

from __future__ import annotations

import dataclasses
from collections import Counter

import torch
from torch import fx

from ..capture import Captured
from ..meta import LAYER
from ..parametrized import computed_state
from .collapse_layers import LayerCall

CONVS = ("nn.Conv1d", "nn.Conv2d", "nn.Conv3d")


def _foldable(captured: Captured, node: fx.Node, calls: Counter[str]) -> fx.Node | None:
    """The convolution node a BatchNorm layer node can fold into, or None. Each layer must be
    called once: a shared conv or BatchNorm called elsewhere needs its own weights there."""
    layer = node.meta.get(LAYER) if node.op == "call_module" else None
    if layer is None or layer.converter.mlx_type != "nn.BatchNorm" or len(node.args) != 1:
        return None
    if calls[layer.path] != 1:
        return None
    bn = captured.module(layer.path)
    if bn.training or bn.running_mean is None or bn.running_var is None:
        return None  # batch statistics: not a fixed affine map
    conv = node.args[0]
    before = conv.meta.get(LAYER) if isinstance(conv, fx.Node) else None
    if before is None or before.converter.mlx_type not in CONVS or before.folded:
        return None
    if list(conv.users) != [node] or calls[before.path] != 1:
        return None
    return conv if captured.module(before.path).out_channels == bn.num_features else None


def fold_batchnorm(captured: Captured) -> list[tuple[str, str]]:
    """Fold every foldable BatchNorm; returns (convolution path, BatchNorm path) pairs."""
    folded = []
    calls = Counter(n.target for n in captured.graph.nodes if n.op == "call_module")
    for node in list(captured.graph.nodes):
        conv = _foldable(captured, node, calls)
        if conv is None:
            continue
        layer: LayerCall = conv.meta[LAYER]
        bn_path = node.meta[LAYER].path
        ctor = layer.ctor
        kwargs = [(k, True if k == "bias" else v) for k, v in ctor.kwargs]  # the folded bias
        conv.meta[LAYER] = dataclasses.replace(
            layer, ctor=dataclasses.replace(ctor, kwargs=kwargs), folded=bn_path
        )
        node.replace_all_uses_with(conv)
        captured.graph.erase_node(node)
        folded.append((layer.path, bn_path))
    return folded


def folded_state(captured: Captured, layer: LayerCall) -> dict[str, torch.Tensor]:
    """The convolution's weight and bias with its BatchNorm folded in (PyTorch layout)."""
    state = computed_state(captured.module(layer.path))
    bn = captured.module(layer.folded)
    with torch.no_grad():
        scale = torch.rsqrt(bn.running_var + bn.eps)
        shift = -bn.running_mean * scale
        if bn.affine:
            scale, shift = scale * bn.weight, shift * bn.weight + bn.bias
        weight = state["weight"]
        state["weight"] = weight * scale.reshape(-1, *[1] * (weight.dim() - 1)).to(weight.dtype)
        bias = state.get("bias")
        state["bias"] = (shift if bias is None else bias * scale + shift).to(weight.dtype)
    return state


FOLD_CODE = [
    "# --fold-batchnorm: each BatchNorm is folded into the conv before it: weight * scale,",
    "# bias (bias - mean) * scale + beta, where scale = gamma / sqrt(var + eps)",
    "for conv, bn, eps in (",
    "{rows}",
    "):",
    '    mean, var = weights.pop(f"{bn}.running_mean"), weights.pop(f"{bn}.running_var")',
    '    weights.pop(f"{bn}.num_batches_tracked", None)',
    "    scale = mx.rsqrt(var + eps)",
    "    shift = -mean * scale",
    '    if f"{bn}.weight" in weights:  # affine',
    '        gamma, beta = weights.pop(f"{bn}.weight"), weights.pop(f"{bn}.bias")',
    "        scale, shift = scale * gamma, shift * gamma + beta",
    '    weight = weights[f"{conv}.weight"]',
    '    weights[f"{conv}.weight"] = weight * scale.reshape(-1, *[1] * (weight.ndim - 1))',
    '    bias = weights.get(f"{conv}.bias")',
    '    weights[f"{conv}.bias"] = shift if bias is None else bias * scale + shift',
]


def fold_lines(captured: Captured, prefix: str) -> list[str]:
    """The generated ``sanitize``'s fold, on PyTorch's keys (before renaming and layouts)."""
    rows = []
    for node in captured.graph.nodes:
        layer = node.meta.get(LAYER) if node.op == "call_module" else None
        if layer is not None and layer.folded:
            conv, bn = (
                p[len(prefix) :] if p.startswith(prefix) else p for p in (layer.path, layer.folded)
            )
            rows.append(f"    {(conv, bn, captured.module(layer.folded).eps)!r},")
    return [r for line in FOLD_CODE for r in (rows if line == "{rows}" else [line])] if rows else []
