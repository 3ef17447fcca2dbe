"""Which values an integer input may take: read from the first op that uses it as an index.

Random token ids must stay below an embedding's row count, class ids below ``one_hot``'s width.
One forward pass on all-zero integer inputs (index 0 is valid for any table) watches, through a
``TorchFunctionMode``, where each input, or a reshaped or sliced view of it, is used as an index.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

# ops that move or reshape values without changing them: their result is still "the input"
VALUE_KEEPING = frozenset(
    {
        "view", "reshape", "flatten", "unflatten", "unsqueeze", "squeeze", "transpose",
        "permute", "movedim", "t", "contiguous", "clone", "detach", "to", "long", "int",
        "expand", "expand_as", "view_as", "reshape_as", "narrow", "select", "__getitem__",
        "unbind", "split", "chunk",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Bound:
    """Values of one input must lie in ``[low, high)`` because ``why``."""

    low: int
    high: int
    why: str


def index_bounds(model: torch.nn.Module, inputs: tuple[torch.Tensor, ...]) -> dict[int, Bound]:
    """Position of each integer input used as an index -> the tightest bound seen.

    Raises whatever the model's forward raises on these inputs; callers fall back to a default.
    """
    tables = _table_names(model)
    probe = _IndexProbe(inputs, tables)
    model.eval()  # as convert() does: batch-norm statistics must not move
    with torch.no_grad(), probe:
        model(*inputs)
    return probe.bounds


def _table_names(model: torch.nn.Module) -> dict[int, str]:
    """``id(weight)`` -> a readable name for each embedding table in ``model``."""
    names = {}
    for path, module in model.named_modules():
        if isinstance(module, (torch.nn.Embedding, torch.nn.EmbeddingBag)):
            names[id(module.weight)] = f"{type(module).__name__} {path or '<top>'!r}"
    return names


class _IndexProbe(TorchFunctionMode):
    def __init__(self, inputs: tuple[torch.Tensor, ...], tables: dict[int, str]) -> None:
        super().__init__()
        self.origin = {id(x): i for i, x in enumerate(inputs)}
        self.alive: list[Any] = list(inputs)  # keeps tracked tensors alive, so ids stay unique
        self.tables = tables
        self.bounds: dict[int, Bound] = {}

    def __torch_function__(
        self, func: Callable, types: Any, args: tuple = (), kwargs: dict | None = None
    ) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        for position, bound in _uses_as_index(func, args, kwargs, self.tables):
            self._bound(position, bound)
        if args and id(args[0]) in self.origin and getattr(func, "__name__", "") in VALUE_KEEPING:
            self._track(out, self.origin[id(args[0])])
        return out

    def _bound(self, tensor: Any, bound: Bound | None) -> None:
        """Several index uses of one input: it must satisfy them all."""
        i = self.origin.get(id(tensor))
        if i is None or bound is None:
            return
        old = self.bounds.get(i)
        if old is not None:
            why = bound.why if bound.high < old.high else old.why
            bound = Bound(max(old.low, bound.low), min(old.high, bound.high), why)
        self.bounds[i] = bound

    def _track(self, out: Any, i: int) -> None:
        for x in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(x, torch.Tensor):
                self.origin[id(x)] = i
                self.alive.append(x)


def _uses_as_index(
    func: Callable, args: tuple, kwargs: dict, tables: dict[int, str]
) -> list[tuple[Any, Bound | None]]:
    """(tensor used as an index, the bound that use puts on it) for one call."""
    if func in (F.embedding, F.embedding_bag):
        weight = args[1] if len(args) > 1 else kwargs.get("weight")
        index = args[0] if args else kwargs.get("input")
        return [(index, _table_bound(weight, tables))]
    if func is torch.embedding:
        return [(args[1], _table_bound(args[0], tables))]
    if func is F.one_hot:
        classes = args[1] if len(args) > 1 else kwargs.get("num_classes", -1)
        why = f"it is one-hot encoded with F.one_hot(num_classes={classes})"
        bound = Bound(0, classes, why) if classes > 0 else None
        return [(args[0], bound)]
    if func is torch.Tensor.__getitem__ and isinstance(args[1], torch.Tensor) and args[0].dim():
        rows = args[0].shape[0]
        return [(args[1], Bound(-rows, rows, f"it indexes a tensor of {rows} rows"))]
    if func in (torch.index_select, torch.Tensor.index_select) and len(args) == 3:
        size = args[0].shape[args[1]]
        why = f"index_select reads it as indices into a dimension of size {size}"
        return [(args[2], Bound(0, size, why))]
    return []


def _table_bound(weight: Any, tables: dict[int, str]) -> Bound | None:
    if not isinstance(weight, torch.Tensor):
        return None
    rows = weight.shape[0]
    return Bound(
        0, rows, f"it indexes {tables.get(id(weight), 'an embedding table')} ({rows} rows)"
    )
