"""Adaptive average and max pooling against torch, 1d/2d/3d: global, evenly dividing and
uneven (overlapping) windows, ``None`` entries, after a conv (channels-last) and at the root,
unbatched inputs, and the indices of adaptive max pooling."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ..helpers import Lambda, assert_converts

CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
INPUT = {1: (12,), 2: (9, 8), 3: (5, 7, 6)}
SIZES = {
    1: [1, 4, 5, 7, 12, 16],
    2: [1, (1, 1), 3, (2, 4), (3, 5), (None, 3), (5, None), 7, (9, 8), (4, 11)],
    3: [1, 2, (1, 1, 1), (5, 7, 3), (2, 3, 4), (3, None, 4), (None, None, 5), 4, (7, 9, 8)],
}
CASES = [(dims, size) for dims, sizes in SIZES.items() for size in sizes]
POOLS = {
    "avg": {1: nn.AdaptiveAvgPool1d, 2: nn.AdaptiveAvgPool2d, 3: nn.AdaptiveAvgPool3d},
    "max": {1: nn.AdaptiveMaxPool1d, 2: nn.AdaptiveMaxPool2d, 3: nn.AdaptiveMaxPool3d},
}


class AfterConv(nn.Module):
    """conv -> pool: the pool sees a channels-last tensor."""

    def __init__(self, pool: nn.Module, dims: int) -> None:
        super().__init__()
        self.conv = CONV[dims](3, 4, 1)
        self.pool = pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.conv(x))


def _uneven(dims: int, size: object) -> bool:
    sizes = (size,) * dims if isinstance(size, int) else size
    return any(o is not None and n % o for n, o in zip(INPUT[dims], sizes))  # type: ignore


@pytest.mark.parametrize("kind", ["avg", "max"])
@pytest.mark.parametrize("after_conv", [True, False], ids=["after_conv", "root"])
@pytest.mark.parametrize("dims,size", CASES, ids=str)
def test_adaptive_pool(dims: int, size: object, after_conv: bool, kind: str) -> None:
    pool = POOLS[kind][dims](size)
    model = AfterConv(pool, dims) if after_conv else pool
    conv = assert_converts(model, torch.randn(2, 3, *INPUT[dims]))
    # only windows that don't divide the input need the helper
    assert ("def adaptive_pool(" in conv.source) == _uneven(dims, size), conv.source


class Indices(nn.Module):
    def __init__(self, dims: int, size: object) -> None:
        super().__init__()
        self.pool = POOLS["max"][dims](size, return_indices=True)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        values, index = self.pool(x)
        return values, index


@pytest.mark.parametrize("dims,size", CASES, ids=str)
def test_adaptive_max_pool_indices(dims: int, size: object) -> None:
    # small integers: a window's maximum often appears twice (in another row, not only in
    # another column), and the index must be the first in row-major order, as torch's is
    ties = torch.randint(0, 3, (2, 3, *INPUT[dims])).float()
    assert_converts(Indices(dims, size), ties)


UNBATCHED = {
    "avg1d": lambda x: F.adaptive_avg_pool1d(x, 5),
    "avg1d_even": lambda x: F.adaptive_avg_pool1d(x, 4),
    "avg1d_global": lambda x: F.adaptive_avg_pool1d(x, 1),
    "avg2d": lambda x: F.adaptive_avg_pool2d(x.unflatten(-1, (3, 4)), (2, 3)),
    "avg3d": lambda x: F.adaptive_avg_pool3d(x.unflatten(-1, (2, 3, 2)), (2, 2, 1)),
    "max1d": lambda x: F.adaptive_max_pool1d(x, 5),
    "max2d": lambda x: F.adaptive_max_pool2d(x.unflatten(-1, (3, 4)), (2, 3)),
    "max3d_global": lambda x: F.adaptive_max_pool3d(x.unflatten(-1, (2, 3, 2)), 1),
    "max2d_indices": lambda x: F.adaptive_max_pool2d(x.unflatten(-1, (4, 3)), 3, True),
}


@pytest.mark.parametrize("name", UNBATCHED)
def test_adaptive_pool_unbatched(name: str) -> None:
    # torch pools accept (C, *spatial); MLX needs a batch axis, added and dropped again
    assert_converts(Lambda(UNBATCHED[name]), torch.randn(3, 12))


class Head(nn.Module):
    """A video classifier's head: the global pools fold into one reduction each."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv3d(3, 8, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        return F.adaptive_avg_pool3d(x, 1).flatten(1) + F.adaptive_max_pool3d(x, 1).flatten(1)


def test_global_pools_fold() -> None:
    conv = assert_converts(Head(), torch.randn(2, 3, 4, 5, 6))
    assert "mx.mean(x, axis=(1, 2, 3))" in conv.source, conv.source
    assert "mx.max(" in conv.source and "def adaptive_pool(" not in conv.source, conv.source
