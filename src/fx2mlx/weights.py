"""Weights: the generated model's parameters from the torch model, in MLX layout.

Transforms are chosen by layer type (never guessed from rank). ``RULES`` pairs each torch
transform with its MLX spelling: ``codegen/sanitize.py`` writes the generated ``sanitize`` method
from the same table, so a user can load any checkpoint of the architecture later.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

import mlx.core as mx
import torch

from .capture import Captured
from .codegen.attrs import state_key
from .folded_weights import folded_state
from .meta import LAYER
from .parametrized import computed_state
from .passes.collapse_layers import LayerCall
from .progress import SILENT, Progress
from .shards import write_safetensors
from .tensors import mlx_dtype, to_mlx


@dataclass(frozen=True)
class Rule:
    """How one kind of parameter moves from PyTorch's layout to MLX's."""

    torch_fn: Callable[[torch.Tensor], torch.Tensor]
    mlx_code: str
    why: str


RULES: dict[str, Rule] = {
    "conv": Rule(
        lambda w: w.movedim(1, -1),
        "mx.contiguous(mx.moveaxis(value, 1, -1))",
        "PyTorch (out, in, *kernel) -> MLX (out, *kernel, in), contiguous",
    ),
    "conv_transpose": Rule(
        lambda w: w.movedim(0, -1),
        "mx.contiguous(mx.moveaxis(value, 0, -1))",
        "PyTorch ConvTranspose (in, out, *kernel) -> MLX (out, *kernel, in), contiguous",
    ),
    "transpose": Rule(
        lambda w: w.t(),
        "mx.contiguous(value.T)",
        "stored (in, out) like Hugging Face's Conv1D; MLX's Linear wants (out, in)",
    ),
}

SKIPPED = ("num_batches_tracked",)


def _layer_weights(captured: Captured, layer: LayerCall) -> dict[str, torch.Tensor]:
    module = captured.module(layer.path)
    state = folded_state(captured, layer) if layer.folded else computed_state(module)
    out: dict[str, torch.Tensor] = {}
    for name, tensor in state.items():
        if name.split(".")[-1] in SKIPPED:
            continue
        rule = layer.converter.weight_fix.get(name)
        out[f"{layer.path}.{name}"] = RULES[rule].torch_fn(tensor) if rule else tensor
    return out


# A forward may write its buffers (streaming state): tensors this small are copied now, as
# converted; larger ones (the weights) are read when written, so a big model is held once.
SNAPSHOT_BYTES = 1 << 20


class Weights(MutableMapping[str, mx.array]):
    """The generated model's arrays by parameter path, each converted to MLX when read: the
    torch tensors (views in MLX layout) are the only copy held. An array set by the caller
    replaces its tensor (a user editing ``Conversion.weights`` before saving)."""

    def __init__(self, tensors: dict[str, torch.Tensor]) -> None:
        self._tensors = tensors
        self._set: dict[str, mx.array] = {}

    def __getitem__(self, key: str) -> mx.array:
        return self._set[key] if key in self._set else to_mlx(self._tensors[key])

    def __setitem__(self, key: str, value: mx.array) -> None:
        self._set[key] = value

    def __delitem__(self, key: str) -> None:
        if key not in self._set and key not in self._tensors:
            raise KeyError(key)
        self._set.pop(key, None)
        self._tensors.pop(key, None)

    def __iter__(self) -> Iterator[str]:
        return iter({**dict.fromkeys(self._tensors), **dict.fromkeys(self._set)})

    def __len__(self) -> int:
        return len(self._tensors.keys() | self._set.keys())

    def spec(self, key: str) -> tuple[mx.Dtype, tuple[int, ...]]:
        """An array's MLX dtype and shape, without converting it."""
        if key in self._set:
            return self._set[key].dtype, tuple(self._set[key].shape)
        tensor = self._tensors[key]
        return mlx_dtype(tensor.dtype), tuple(tensor.shape)


def collect_weights(
    captured: Captured, declared: list[str], progress: Progress = SILENT
) -> Weights:
    """Every array the generated model holds, by its parameter path."""
    flat: dict[str, torch.Tensor] = {}
    for node in captured.graph.nodes:
        if node.op == "call_module":
            flat.update(_layer_weights(captured, node.meta[LAYER]))
    for key in declared:
        flat.setdefault(key, captured.consts[key])
    keys = progress.track(sorted(flat), len(flat), "weights")
    return Weights({state_key(captured.model, k): _held(flat[k]) for k in keys})


def _held(value: Any) -> Any:
    if not isinstance(value, torch.Tensor):
        return value  # not an array: strict loading names it
    tensor = value.detach()
    return tensor.clone() if tensor.nbytes < SNAPSHOT_BYTES else tensor


def save_weights(path: str, weights: Mapping[str, mx.array]) -> None:
    """One safetensors file, written one array at a time."""
    with open(path, "wb") as f:
        write_safetensors(f, weights, sorted(weights))
