"""A second capture with every input dim dynamic, to learn where size constants come from.

The real capture keeps only the batch, the token sequence and declared dims dynamic, so a
size derived from another input dim (a Whisper encoder's ``frames // 2``, a ViT's patch
count) is a plain number in its graph. The probe exports once more with every dim dynamic
wherever the model allows; there the same argument is an expression of input sizes. Nodes
are matched by (op, user line, occurrence), so ``analyze_dynamic`` reports the input dim a
constant derives from instead of guessing from equal numbers.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import sympy
import torch
from torch import fx

from ..meta import ORIGIN
from .dynamic import Dynamic, _by_signature
from .graph import Captured, is_symbolic

Key = tuple[str, str, int]
# ops whose integer arguments are sizes (a probe is worth its export only if some are set)
SHAPE_OPS = {
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


@dataclass
class Probe:
    """The probe's shape arguments by node key, and what input dim each size symbol is."""

    args: dict[Key, tuple] = field(default_factory=dict)
    symbols: dict[sympy.Symbol, tuple[int, int]] = field(default_factory=dict)  # (input, dim)
    # (input, dim, size) the probe could not make dynamic: the model itself fixes them (a
    # weight's shape, a check like Whisper's frame count); size-1 dims are left out (export
    # specializes 0 and 1 whatever the model does)
    fixed: list[tuple[int, int, int]] = field(default_factory=list)


def probe(
    model: torch.nn.Module, inputs: tuple, dynamic: Dynamic, captured: Captured, export: object
) -> None:
    """Set ``captured.probe`` (None when every dim is already dynamic or the probe fails)."""
    static = any(d not in dims for x, dims in zip(inputs, dynamic.dims) for d in range(x.dim()))
    if dynamic.passthrough is not None or not static or not _has_sizes(captured.graph):
        return
    auto = torch.export.Dim.AUTO
    shapes = _by_signature(model, tuple({d: auto for d in range(x.dim())} or None for x in inputs))
    try:
        ep = export(model, dynamic.widened(inputs), shapes)  # type: ignore[operator]
    except Exception:  # noqa: BLE001 - the probe only sharpens reports; the capture stands
        return
    found = Probe()
    user = list(ep.graph_signature.user_inputs)
    tensors = [n for n in ep.graph.nodes if n.op == "placeholder" and n.name in user]
    for index, node in enumerate(tensors):
        for d, size in enumerate(node.meta["val"].shape):
            if is_symbolic(size) and isinstance(size.node.expr, sympy.Symbol):
                found.symbols.setdefault(size.node.expr, (index, d))
            elif not is_symbolic(size) and size > 1:
                found.fixed.append((index, d, int(size)))
    found.args = {key: node.args for node, key in keys(ep.graph)}
    for node, key in keys(captured.graph):
        node.meta[ORIGIN] = key
    captured.probe = found


def _has_sizes(graph: fx.Graph) -> bool:
    """Whether some shape op takes a size > 1 as a number (what the probe would explain)."""
    return any(
        node.op == "call_function"
        and op_name(node) in SHAPE_OPS
        and any(v > 1 for v in size_ints(node.args[1:]))
        for node in graph.nodes
    )


def op_name(node: fx.Node) -> str:
    """The ATen op's name without namespace or overload (``view``), "" for other targets."""
    schema = getattr(node.target, "_schema", None)
    return schema.name.split("::")[-1] if schema is not None else ""


def size_ints(value: object) -> list[int]:
    """Every int in ``value`` (nested lists and tuples; bools are not sizes)."""
    if isinstance(value, (list, tuple)):
        return [v for x in value for v in size_ints(x)]
    return [value] if isinstance(value, int) and not isinstance(value, bool) else []


def keys(graph: fx.Graph) -> Iterator[tuple[fx.Node, Key]]:
    """Each call's (op, innermost stack-trace line, occurrence of that pair)."""
    seen: dict[tuple[str, str], int] = {}
    for node in graph.nodes:
        if node.op != "call_function":
            continue
        trace = (node.meta.get("stack_trace") or "").strip().splitlines()
        pair = (str(node.target), trace[-2] if len(trace) > 1 else "")
        seen[pair] = seen.get(pair, -1) + 1
        yield node, (*pair, seen[pair])
