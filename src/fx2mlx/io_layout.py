"""Which of a model's inputs and outputs ``channels_last_io`` makes channels-last.

The option removes the transposes at the model's edges: an input that convolutions, pools or
norms read, or an output they write, is taken or returned with axis 1 moved last (NCHW ->
NHWC), as MLX's layers hold it. Every other input and output keeps PyTorch's layout: a
Whisper encoder takes its mels channels-last, (N, T, mels), and returns its (N, T, C) hidden
states as they are. ``assign_layout`` decides; this record carries the decision to the
docstring, the manifest, validation and ``debug``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mlx.core as mx
from torch.utils import _pytree as pytree


@dataclass(frozen=True)
class ChannelsLastIO:
    """Positions of the channels-last inputs, and of the channels-last outputs among the
    leaves of the outputs (PyTorch's pytree order, the order validation compares in)."""

    inputs: tuple[int, ...] = ()
    outputs: tuple[int, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.inputs or self.outputs)

    def to_json(self) -> dict[str, list[int]]:
        return {"inputs": list(self.inputs), "outputs": list(self.outputs)}

    @classmethod
    def from_json(cls, data: Any) -> ChannelsLastIO:
        """The manifest's record (absent: nothing is channels-last)."""
        if not isinstance(data, dict):
            return cls()
        return cls(tuple(data.get("inputs", ())), tuple(data.get("outputs", ())))

    def arguments(self, args: list[Any]) -> list[Any]:
        """PyTorch-layout MLX arrays as the generated model takes them."""
        return [mx.moveaxis(a, 1, -1) if i in self.inputs else a for i, a in enumerate(args)]

    def results(self, got: Any) -> Any:
        """The generated model's outputs in PyTorch's layout (same structure)."""
        leaves, spec = pytree.tree_flatten(got)
        moved = [mx.moveaxis(a, -1, 1) if i in self.outputs else a for i, a in enumerate(leaves)]
        return pytree.tree_unflatten(moved, spec)
