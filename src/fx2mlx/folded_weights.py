"""``--fold-batchnorm``'s weights: a convolution's weight and bias with its BatchNorm folded in,
computed in torch at conversion, and the same fold written into the generated ``sanitize``
(``fold_lines``), on PyTorch's keys and layouts.

A plain convolution's weight is ``(out, in / groups, *kernel)``: the scale runs along axis 0.
A transposed one's is ``(in, out / groups, *kernel)``, output channel ``g * out / groups + j``
being column ``j`` of group ``g``'s rows: the scale runs along axis 1, group by group.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.modules.conv import _ConvTransposeNd

from .capture import Captured
from .meta import FOLDED, LAYER
from .parametrized import computed_state
from .passes.collapse_layers import LayerCall


def groups_of(conv: nn.Module) -> int:
    """A transposed convolution's groups (its scale goes group by group); 0 for a plain one."""
    return conv.groups if isinstance(conv, _ConvTransposeNd) else 0


def fold_tensors(
    weight: torch.Tensor, bias: torch.Tensor | None, bn: nn.Module, groups: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(weight, bias) of ``bn(conv(x))`` as one convolution; ``groups`` as ``groups_of``."""
    with torch.no_grad():
        scale = torch.rsqrt(bn.running_var + bn.eps)
        shift = -bn.running_mean * scale
        if bn.affine:
            scale, shift = scale * bn.weight, shift * bn.weight + bn.bias
        ones = [1] * (weight.dim() - 2)
        if groups:
            split = weight.unflatten(0, (groups, -1))
            folded = (split * scale.reshape(groups, 1, -1, *ones).to(weight.dtype)).flatten(0, 1)
        else:
            folded = weight * scale.reshape(-1, 1, *ones).to(weight.dtype)
        shift = shift if bias is None else bias * scale + shift
    return folded, shift.to(weight.dtype)


def folded_state(captured: Captured, layer: LayerCall) -> dict[str, torch.Tensor]:
    """A conv layer's weight and bias with its BatchNorm folded in (PyTorch layout)."""
    conv = captured.module(layer.path)
    state = computed_state(conv)
    bn = captured.module(layer.folded)
    state["weight"], state["bias"] = fold_tensors(
        state["weight"], state.get("bias"), bn, groups_of(conv)
    )
    return state


def folds(captured: Captured) -> list[tuple[str, str]]:
    """(convolution path, BatchNorm path) of every fold, in graph order."""
    out = []
    for node in captured.graph.nodes:
        layer = node.meta.get(LAYER) if node.op == "call_module" else None
        if layer is not None and layer.folded:
            out.append((layer.path, layer.folded))
        elif FOLDED in node.meta:
            out.append(node.meta[FOLDED])
    return out


def fold_biases(captured: Captured) -> list[str]:
    """The bias keys the fold gave convolutions that had none (PyTorch's naming)."""
    return [f"{c}.bias" for c, _ in folds(captured) if captured.module(c).bias is None]


FOLD_CODE = [
    "# --fold-batchnorm: each BatchNorm is folded into the conv before it: weight * scale,",
    "# bias (bias - mean) * scale + beta, where scale = gamma / sqrt(var + eps)",
    "{names}",
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
    "{scale}",
    '    bias = weights.get(f"{conv}.bias")',
    '    weights[f"{conv}.bias"] = shift if bias is None else bias * scale + shift',
]
_PLAIN = ['    weights[f"{conv}.weight"] = weight * scale.reshape(-1, *[1] * (weight.ndim - 1))']
# with a transposed conv among them: each row names its groups (0: a plain conv)
_TRANSPOSED = [
    "    if groups:  # transposed, weight (in, out / groups, *kernel): by column, group by group",
    "        split = weight.reshape(groups, -1, *weight.shape[1:])",
    "        split = split * scale.reshape(groups, 1, -1, *[1] * (weight.ndim - 2))",
    '        weights[f"{conv}.weight"] = split.reshape(weight.shape)',
    "    else:",
    "    " + _PLAIN[0],
]


def fold_lines(captured: Captured, prefix: str) -> list[str]:
    """The generated ``sanitize``'s fold, on PyTorch's keys (before renaming and layouts)."""
    found = folds(captured)
    groups = [groups_of(captured.module(conv)) for conv, _ in found]
    rows = []
    for (conv, bn), g in zip(found, groups):
        keys = [p[len(prefix) :] if p.startswith(prefix) else p for p in (conv, bn)]
        row = (*keys, captured.module(bn).eps, *([g] if any(groups) else []))
        rows.append(f"    {row!r},")
    fill = {
        "{names}": ["for conv, bn, eps, groups in (" if any(groups) else "for conv, bn, eps in ("],
        "{rows}": rows,
        "{scale}": _TRANSPOSED if any(groups) else _PLAIN,
    }
    return [r for line in FOLD_CODE for r in fill.get(line, [line])] if rows else []
