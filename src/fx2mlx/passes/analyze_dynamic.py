"""Pass: find sizes that tracing baked in as constants although they came from an input.

Only the dims ``capture/dynamic.py`` chose are dynamic; every other input dimension is
static, so code like ``x.view(B, 12, -1)`` or ``pos[:, : x.shape[1]]`` comes out with the
example's value written in. The probe capture (every dim dynamic) shows which constants are
computed from which input dims, derived ones included (``frames // 2``); the generated line
gets a comment saying where the number came from. Dims the probe could not make dynamic are
fixed by the model itself (a weight's shape, its own size check): they are listed, and the
generated code refuses other sizes as the model does, since a number derived from one is
baked where no probe can trace it. Without a probe counterpart, a shape argument equal to a
static input dimension is reported.
"""

from __future__ import annotations

import re

import torch
from torch import fx

from ..capture import Captured
from ..capture.graph import is_symbolic, size_expr
from ..capture.probe import SHAPE_OPS, op_name, size_ints
from ..meta import BAKED, ORIGIN, SCOPE
from ..report import BakedDim

_FRAME = re.compile(r'File "([^"]+)", line (\d+)')


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
    """Mark (``meta[BAKED]``) and list shape arguments traced from a static input dimension:
    as the probe capture shows them derived from one, else equal to one."""
    dims = _static_dims(captured)
    found: list[BakedDim] = []
    for node in captured.graph.nodes:
        if node.op != "call_function" or op_name(node) not in SHAPE_OPS:
            continue
        baked = _from_probe(captured, node)
        if not baked:  # equal numbers: a guess, among the dims the model fixes if it ran
            baked = _by_value(node, _fixed(captured, dims) if _explained(captured, node) else dims)
        if baked:
            node.meta[BAKED] = ", ".join(dict.fromkeys(b.note for b in baked))
            found += baked
    return found + _fixed_by_model(captured)


def _explained(captured: Captured, node: fx.Node) -> bool:
    """Whether the probe has this node with the same numbers: then none derives from an input
    dim the model lets vary (a head count, or a size of a dim the model fixes)."""
    probe, key = captured.probe, node.meta.get(ORIGIN)
    if probe is None or key not in probe.args:
        return False
    mine, theirs = _flat(node.args[1:]), _flat(probe.args[key][1:])
    ints = [(a, b) for a, b in zip(mine, theirs) if isinstance(a, int)]
    return len(mine) == len(theirs) and all(a == b for a, b in ints)


def _fixed(
    captured: Captured, dims: dict[int, tuple[int, str, int]]
) -> dict[int, tuple[int, str, int]]:
    """``dims`` narrowed to the ones the probe found fixed by the model (a ``view(B, 12, ...)``
    written in the user's line fixes the length it splits)."""
    fixed = {(index, dim) for index, dim, _ in captured.probe.fixed}
    return {v: where for v, where in dims.items() if (where[0], where[2]) in fixed}


def _fixed_by_model(captured: Captured) -> list[BakedDim]:
    """Input dims the model itself fixes (the probe could not make them dynamic), listed when
    the graph holds size constants: a number computed from one (Whisper's frames // 2) is
    baked where no probe can trace it, so the generated code must refuse other sizes as the
    model does."""
    probe = captured.probe
    if probe is None:
        return []
    inputs = [n for n in captured.graph.nodes if n.op == "placeholder"]
    found = []
    for index, dim, _ in probe.fixed:
        size = _static_size(inputs, index, dim)
        if size is not None and size > 1:
            name = inputs[index].name
            found.append(BakedDim(name, index, dim, size, op="", module="", by_model=True))
    return found


def _where(node: fx.Node) -> dict[str, str]:
    frames = node.meta.get(SCOPE, ())
    where = frames[-1][1] if frames else "<top>"
    return {"op": op_name(node), "module": where, "source": _user_line(node)}


def _by_value(node: fx.Node, dims: dict[int, tuple[int, str, int]]) -> list[BakedDim]:
    """Shape arguments equal to a static input size (> 1): the guess without a probe."""
    args = node.args[1:]  # the first argument is the tensor being reshaped or sliced
    hits = sorted({v for a in args for v in size_ints(a) if v in dims})
    return [BakedDim(dims[v][1], dims[v][0], dims[v][2], v, **_where(node)) for v in hits]


def _from_probe(captured: Captured, node: fx.Node) -> list[BakedDim]:
    """The static input dims the probe shows this node's constant arguments derive from
    (none where the probe has no counterpart, or the model fixed those dims there too)."""
    probe, key = captured.probe, node.meta.get(ORIGIN)
    if probe is None or key not in probe.args:
        return []
    mine, theirs = _flat(node.args[1:]), _flat(probe.args[key][1:])
    if len(mine) != len(theirs):
        return []
    inputs = [n for n in captured.graph.nodes if n.op == "placeholder"]
    found = []
    for value, other in zip(mine, theirs):
        if not isinstance(value, int) or isinstance(value, bool) or not isinstance(other, fx.Node):
            continue
        size = other.meta.get("val")
        for symbol in sorted(getattr(size_expr(size), "free_symbols", ()), key=str):
            index, dim = probe.symbols.get(symbol, (len(inputs), 0))
            baked = _static_size(inputs, index, dim)
            if baked is not None:
                name = inputs[index].name
                found.append(BakedDim(name, index, dim, baked, derived=value, **_where(node)))
    return found


def _static_size(inputs: list[fx.Node], index: int, dim: int) -> int | None:
    """The size of input ``index``'s ``dim`` if the real capture kept it static."""
    val = inputs[index].meta.get("val") if index < len(inputs) else None
    if not isinstance(val, torch.Tensor) or dim >= val.dim():
        return None
    size = val.shape[dim]
    return None if is_symbolic(size) else int(size)


def _flat(value: object) -> list[object]:
    if isinstance(value, (list, tuple)):
        return [v for x in value for v in _flat(x)]
    return [value]
