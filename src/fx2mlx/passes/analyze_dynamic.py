"""Pass: find sizes that tracing baked in as constants although they came from an input.

With a dynamic batch, ``x.size(0)`` stays symbolic. When export had to specialize the batch,
any shape argument equal to the example batch size is reported and commented, since the
generated code then only works for that batch size.
"""

from __future__ import annotations

import torch
from torch import fx

from ..capture import Captured

BAKED = "fx2mlx.baked"
_SHAPE_OPS = {"view", "reshape", "_unsafe_view", "expand", "full", "zeros", "ones", "new_zeros",
              "new_ones", "new_full", "arange", "repeat", "unflatten"}


def _op_name(node: fx.Node) -> str:
    schema = getattr(node.target, "_schema", None)
    return schema.name.split("::")[-1] if schema is not None else ""


def _ints(value: object) -> list[int]:
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [value]
    if isinstance(value, (list, tuple)):
        return [v for x in value for v in _ints(x)]
    return []


def analyze_dynamic(captured: Captured, inputs: tuple) -> list[str]:
    """Mark (``meta[BAKED]``) and list shape arguments that equal a specialized batch size."""
    if captured.dynamic_batch:
        return []
    batch = {x.shape[0] for x in inputs if isinstance(x, torch.Tensor) and x.dim() > 0}
    batch.discard(1)
    found: list[str] = []
    for node in captured.graph.nodes:
        if node.op != "call_function" or _op_name(node) not in _SHAPE_OPS:
            continue
        hits = sorted({v for a in node.args for v in _ints(a) if v in batch})
        if hits:
            note = f"batch size {hits[0]} baked in by tracing"
            node.meta[BAKED] = note
            found.append(f"{node.name} ({_op_name(node)}): {note}")
    return found
