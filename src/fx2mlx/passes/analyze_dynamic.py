"""Pass: find sizes that tracing baked in as constants although they came from an input.

Only dimension 0 is exported as dynamic; every other input dimension is static, so code like
``x.view(B, 12, -1)`` or ``pos[:, : x.shape[1]]`` comes out with the example's value written
in. Each shape argument equal to a static input dimension is reported, and the generated line
gets a comment saying where the number came from.
"""

from __future__ import annotations

import torch
from torch import fx

from ..capture import Captured
from ..meta import BAKED, SCOPE

_SHAPE_OPS = {
    "view",
    "reshape",
    "_unsafe_view",
    "expand",
    "full",
    "zeros",
    "ones",
    "new_zeros",
    "new_ones",
    "new_full",
    "arange",
    "repeat",
    "unflatten",
    "slice",
    "narrow",
}


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


def _static_dims(captured: Captured) -> dict[int, str]:
    """Static input sizes (> 1) and where they come from: ``{12: 'tokens.shape[1]'}``."""
    found: dict[int, str] = {}
    for node in captured.graph.nodes:
        val = node.meta.get("val")
        if node.op != "placeholder" or not isinstance(val, torch.Tensor):
            continue
        for d, size in enumerate(val.shape):
            if isinstance(size, int) and size > 1:
                found.setdefault(size, f"{node.name}.shape[{d}]")
    return found


def analyze_dynamic(captured: Captured) -> list[str]:
    """Mark (``meta[BAKED]``) and list shape arguments equal to a static input dimension."""
    dims = _static_dims(captured)
    found: list[str] = []
    for node in captured.graph.nodes:
        if node.op != "call_function" or _op_name(node) not in _SHAPE_OPS:
            continue
        args = node.args[1:]  # the first argument is the tensor being reshaped or sliced
        hits = sorted({v for a in args for v in _ints(a) if v in dims})
        if not hits:
            continue
        note = ", ".join(f"{v} = {dims[v]} when traced" for v in hits)
        node.meta[BAKED] = note
        frames = node.meta.get(SCOPE, ())
        where = frames[-1][1] if frames else "<top>"
        found.append(f"{_op_name(node)} in {where}: {note}")
    return found
