"""Pass: find sizes that tracing baked in as constants although they came from an input.

Only dimension 0 is exported as dynamic; every other input dimension is static, so code like
``x.view(B, 12, -1)`` or ``pos[:, : x.shape[1]]`` comes out with the example's value written
in. Each shape argument equal to a static input dimension is reported, and the generated line
gets a comment saying where the number came from.
"""

from __future__ import annotations

import re

import torch
from torch import fx

from ..capture import Captured
from ..meta import BAKED, SCOPE
from ..report import BakedDim

_FRAME = re.compile(r'File "([^"]+)", line (\d+)')
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
    # F.interpolate(size=...): the output size
    "upsample_nearest1d",
    "upsample_nearest2d",
    "upsample_nearest3d",
    "_upsample_nearest_exact1d",
    "_upsample_nearest_exact2d",
    "_upsample_nearest_exact3d",
    "upsample_linear1d",
    "upsample_bilinear2d",
    "upsample_trilinear3d",
    "upsample_bicubic2d",
    "_upsample_bilinear2d_aa",
    "_upsample_bicubic2d_aa",
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


def _static_dims(captured: Captured) -> dict[int, tuple[int, str, int]]:
    """Static input sizes (> 1) and where they come from: ``{12: (0, 'tokens', 1)}``."""
    found: dict[int, tuple[int, str, int]] = {}
    index = 0
    for node in captured.graph.nodes:
        if node.op != "placeholder":
            continue
        val = node.meta.get("val")
        for d, size in enumerate(val.shape if isinstance(val, torch.Tensor) else ()):
            if isinstance(size, int) and size > 1:
                found.setdefault(size, (index, node.name, d))
        index += 1
    return found


def _user_line(node: fx.Node) -> str:
    """``path:line`` of the innermost frame outside torch that produced ``node``."""
    found = ""
    for m in _FRAME.finditer(node.meta.get("stack_trace") or ""):
        if "/torch/" not in m.group(1).replace("\\", "/"):
            found = f"{m.group(1)}:{m.group(2)}"
    return found


def analyze_dynamic(captured: Captured) -> list[BakedDim]:
    """Mark (``meta[BAKED]``) and list shape arguments equal to a static input dimension."""
    dims = _static_dims(captured)
    found: list[BakedDim] = []
    for node in captured.graph.nodes:
        if node.op != "call_function" or _op_name(node) not in _SHAPE_OPS:
            continue
        args = node.args[1:]  # the first argument is the tensor being reshaped or sliced
        hits = sorted({v for a in args for v in _ints(a) if v in dims})
        if not hits:
            continue
        frames = node.meta.get(SCOPE, ())
        where = frames[-1][1] if frames else "<top>"
        baked = [
            BakedDim(
                input=dims[v][1],
                index=dims[v][0],
                dim=dims[v][2],
                value=v,
                op=_op_name(node),
                module=where,
                source=_user_line(node),
            )
            for v in hits
        ]
        node.meta[BAKED] = ", ".join(b.note for b in baked)
        found += baked
    return found
