"""Which input dimensions are captured as dynamic (any size), and the example to capture at.

By default the batch (dim 0 of every input) is dynamic, and so is the sequence (dim 1) of
integer token inputs of rank 2 or more and of every input shaped like one (its attention
mask). The user declares more per input, by name or position (``{"x": [2, 3]}``, on the
command line ``--dynamic x:2,3``); those must stay dynamic or the conversion is refused.
``torch.export``'s own ``dynamic_shapes`` are passed through as given.

``torch.export`` fixes any dimension of size 1 (its 0/1 specialization), so a dynamic
dimension of size 1 is captured from a copy of the example repeated to size 2. A graph
traced at size 2 may differ at size 1 (a ``squeeze`` of that dim, a branch on ``size == 1``):
``fx2mlx.convert`` keeps such a capture only if the generated code matches torch on the
example itself, and otherwise captures again with those dims static.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch

from ..errors import Fx2MlxError


@dataclass
class Dynamic:
    """The dynamic dimensions of each input (by position) and which of them were declared."""

    dims: list[set[int]]
    declared: list[set[int]] = field(default_factory=list)
    passthrough: object = None  # torch.export dynamic_shapes given by the user, used as is
    widen: bool = True  # capture size-1 dynamic dims from the example repeated to 2

    def shapes(self, model: torch.nn.Module) -> object:
        """``dynamic_shapes`` for ``torch.export``, shaped like ``forward``'s signature."""
        if self.passthrough is not None:
            return self.passthrough
        auto = torch.export.Dim.AUTO
        return _by_signature(model, tuple({d: auto for d in sorted(s)} or None for s in self.dims))

    def widened(self, inputs: tuple) -> tuple:
        """The example with every dynamic dim of size 1 repeated to size 2."""
        if self.passthrough is not None or not self.widen:
            return inputs
        out = []
        for x, dims in zip(inputs, self.dims):
            reps = [2 if d in dims and x.shape[d] == 1 else 1 for d in range(x.dim())]
            out.append(x.repeat(*reps) if 2 in reps else x)
        return inputs if all(o is x for o, x in zip(out, inputs)) else tuple(out)


def input_names(model: torch.nn.Module, count: int) -> list[str]:
    """``forward``'s parameter name for each positional input (``args[i]`` for ``*args``)."""
    try:
        params = list(inspect.signature(model.forward).parameters.values())
    except (TypeError, ValueError):
        params = []
    names: list[str] = []
    for p in params:
        if p.kind == p.VAR_POSITIONAL:
            names += [f"{p.name}[{i}]" for i in range(count - len(names))]
        elif p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            names.append(p.name)
    names += [f"input {i}" for i in range(len(names), count)]
    return names[:count]


def default_dims(inputs: tuple) -> list[set[int]]:
    """Batch everywhere; the sequence of token inputs and of inputs shaped like them."""
    dims = [{0} if x.dim() > 0 else set() for x in inputs]
    tokens = {
        tuple(x.shape)
        for x in inputs
        if x.dim() >= 2 and not x.is_floating_point() and x.dtype != torch.bool
    }
    for x, d in zip(inputs, dims):
        if tuple(x.shape) in tokens:
            d.add(1)
    return dims


def plan(
    model: torch.nn.Module, inputs: tuple, declared: object = None, widen: bool = True
) -> Dynamic:
    """The defaults plus what the user declared (``None``: the defaults only)."""
    dims = default_dims(inputs)
    if declared is None:
        return Dynamic(dims, [set() for _ in inputs], widen=widen)
    if _is_export_spec(declared):
        return Dynamic(dims, [set() for _ in inputs], passthrough=declared)
    asked = resolve(declared, input_names(model, len(inputs)), inputs)
    return Dynamic([d | a for d, a in zip(dims, asked)], asked, widen=widen)


def resolve(declared: object, names: list[str], inputs: tuple) -> list[set[int]]:
    """Per input, the dims declared for it; names and dims are checked against the inputs."""
    if not isinstance(declared, Mapping):
        raise Fx2MlxError("dynamic= takes a dict of input name (or position) -> list of dims")
    asked: list[set[int]] = [set() for _ in inputs]
    for key, dims in declared.items():
        index = _input_index(key, names)
        rank = inputs[index].dim()
        for d in [dims] if isinstance(dims, int) else list(dims):
            if not isinstance(d, int) or not -rank <= d < rank:
                raise Fx2MlxError(
                    f"dynamic dim {d!r} of {names[index]} is not a dim of its example "
                    f"(rank {rank})"
                )
            asked[index].add(d % rank)
    return asked


def _input_index(key: object, names: list[str]) -> int:
    if isinstance(key, int) and 0 <= key < len(names):
        return key
    if isinstance(key, str) and key in names:
        return names.index(key)
    if isinstance(key, str) and key.isdigit() and int(key) < len(names):
        return int(key)
    raise Fx2MlxError(
        f"dynamic dims given for {key!r}, which is not an input; the inputs are: "
        + ", ".join(names)
    )


def _is_export_spec(declared: object) -> bool:
    """torch.export's own ``dynamic_shapes``: ``Dim`` objects (or AUTO/STATIC markers)."""
    leaves = torch.utils._pytree.tree_leaves(declared)
    return any(
        isinstance(v, (torch.export.Dim, type(torch.export.Dim.AUTO)))
        or type(v).__name__ == "_DimHint"
        for v in leaves
    )


def _by_signature(model: torch.nn.Module, per_input: tuple) -> tuple:
    """``per_input`` nested like ``forward``'s signature: inputs caught by ``*args`` form one
    nested tuple."""
    try:
        params = list(inspect.signature(model.forward).parameters.values())
    except (TypeError, ValueError):
        return per_input
    fixed = 0
    for p in params:
        if p.kind == p.VAR_POSITIONAL:
            return per_input[:fixed] + (per_input[fixed:],)
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            fixed += 1
    return per_input


def parse_cli(specs: list[str]) -> dict[str, list[int]]:
    """``["x:2,3", "mask:1"]`` -> ``{"x": [2, 3], "mask": [1]}``."""
    out: dict[str, list[int]] = {}
    for spec in specs:
        name, sep, dims = spec.rpartition(":")
        try:
            values = [int(d) for d in dims.split(",") if d.strip()]
        except ValueError:
            values = []
        if not sep or not name or not values:
            raise Fx2MlxError(f"--dynamic takes NAME:DIM[,DIM...] (e.g. x:2,3), got {spec!r}")
        out.setdefault(name, []).extend(values)
    return out
