"""A tiny module around one database sample: its tensors are the inputs, everything else
(ints, shapes, dtypes, flags) is a constant baked into the module."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils import _pytree as pytree

_TENSOR = object()  # marks where an input goes back in


class Call(nn.Module):
    """Calls ``fn`` (a module or an op) with the sample's arguments rebuilt around its inputs."""

    def __init__(self, fn: Any, spec: pytree.TreeSpec, consts: list[Any]) -> None:
        super().__init__()
        self.fn = fn
        self.spec = spec
        self.consts = consts

    def forward(self, *tensors: torch.Tensor) -> Any:
        it = iter(tensors)
        leaves = [next(it) if c is _TENSOR else c for c in self.consts]
        args, kwargs = pytree.tree_unflatten(leaves, self.spec)
        return self.fn(*args, **kwargs)


def wrap(fn: Any, args: tuple, kwargs: dict) -> tuple[Call, tuple]:
    """The module calling ``fn(*args, **kwargs)`` and the tensors it takes, in order."""
    leaves, spec = pytree.tree_flatten((tuple(args), dict(kwargs)))
    # distinct copies: a sample may pass one tensor twice (two masks), and torch.export would
    # merge the two inputs into one
    tensors = tuple(x.clone() for x in leaves if isinstance(x, torch.Tensor))
    consts = [_TENSOR if isinstance(x, torch.Tensor) else x for x in leaves]
    return Call(fn, spec, consts), tensors
