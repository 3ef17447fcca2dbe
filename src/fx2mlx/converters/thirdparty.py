"""Layers from third-party libraries, matched by class path so nothing here imports them.

Hugging Face's ``Conv1D`` (GPT-2) is a linear layer whose weight is stored (in, out).
"""

from __future__ import annotations

from torch import nn

from ..layout import last_axis
from .registry import Ctor, register_layer


@register_layer(
    "transformers.pytorch_utils.Conv1D",
    "nn.Linear",
    layout=last_axis,
    weight_fix={"weight": "transpose"},
)
def build_hf_conv1d(conv: nn.Module) -> Ctor:
    args = [("input_dims", int(conv.nx)), ("output_dims", int(conv.nf))]
    return Ctor("nn.Linear", args, [("bias", conv.bias is not None)], {"bias": True})
