"""Pass: replace tensor arguments that fix an output's shape by their values, when constant.

``x.repeat_interleave(r)`` has an output length of ``r.sum()``: a data-dependent shape that
MLX code can only have when ``r`` is known. When ``r`` is a constant of the model (a buffer,
or a tensor literal in ``forward``), the call is specialized on its value; otherwise the
argument stays a tensor and the converter's check reports the call as unsupported.
"""

from __future__ import annotations

import torch
from torch import fx

from ..capture import Captured
from ..emit_ctx import op_args

aten = torch.ops.aten

# op -> the tensor argument that must be known at conversion
_SHAPE_ARGS = {aten.repeat_interleave.self_Tensor: "repeats"}


def bake_constant_arguments(captured: Captured) -> int:
    """Bake constant shape-fixing arguments into the graph as lists; returns how many."""
    baked = 0
    for node in list(captured.graph.nodes):
        name = _SHAPE_ARGS.get(node.target) if node.op == "call_function" else None
        value = op_args(node).get(name) if name else None
        if not isinstance(value, fx.Node) or value.op != "get_attr":
            continue
        tensor = captured.consts.get(str(value.target))
        if not isinstance(tensor, torch.Tensor) or tensor.dim() > 1:
            continue
        node.replace_input_with(value, [int(v) for v in tensor.reshape(-1).tolist()])
        if not value.users:
            captured.graph.erase_node(value)
        baked += 1
    return baked
