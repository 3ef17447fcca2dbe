"""Pooling against torch: MLX layers where they match, exact helpers otherwise."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ..helpers import Lambda, assert_converts

CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}


class AfterConv(nn.Module):
    """conv -> pool: the pool sees a channels-last tensor, and as a child it may be a layer."""

    def __init__(self, pool: nn.Module, dims: int) -> None:
        super().__init__()
        self.conv = CONV[dims](3, 4, 1)
        self.pool = pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.conv(x))


MAX_POOL = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2),
    dict(kernel_size=3, stride=1, padding=1),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=2, stride=2, ceil_mode=True),
    dict(kernel_size=3, dilation=2),
    dict(kernel_size=3, stride=2, padding=1, dilation=2, ceil_mode=True),
]


@pytest.mark.parametrize("after_conv", [True, False], ids=["after_conv", "root"])
@pytest.mark.parametrize("kw", MAX_POOL, ids=str)
def test_max_pool1d(kw: dict, after_conv: bool) -> None:
    pool = nn.MaxPool1d(**kw)
    model = AfterConv(pool, 1) if after_conv else pool
    assert_converts(model, torch.randn(2, 3, 13))


MAX_POOL_2D = MAX_POOL + [
    dict(kernel_size=(2, 3), stride=(1, 2)),
    dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0), ceil_mode=True),
]


@pytest.mark.parametrize("after_conv", [True, False], ids=["after_conv", "root"])
@pytest.mark.parametrize("kw", MAX_POOL_2D, ids=str)
def test_max_pool2d(kw: dict, after_conv: bool) -> None:
    pool = nn.MaxPool2d(**kw)
    model = AfterConv(pool, 2) if after_conv else pool
    assert_converts(model, torch.randn(2, 3, 11, 12))


AVG_POOL = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
    dict(kernel_size=3, stride=2, ceil_mode=True),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    dict(kernel_size=2, stride=2, padding=1, ceil_mode=True),
]


@pytest.mark.parametrize("after_conv", [True, False], ids=["after_conv", "root"])
@pytest.mark.parametrize("kw", AVG_POOL, ids=str)
def test_avg_pool1d(kw: dict, after_conv: bool) -> None:
    pool = nn.AvgPool1d(**kw)
    model = AfterConv(pool, 1) if after_conv else pool
    assert_converts(model, torch.randn(2, 3, 12))


AVG_POOL_2D = AVG_POOL + [
    dict(kernel_size=3, divisor_override=5),
    dict(kernel_size=3, stride=2, padding=1, divisor_override=4),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, divisor_override=2),
    dict(kernel_size=(2, 3), stride=(2, 1), padding=(1, 0)),
]


@pytest.mark.parametrize("after_conv", [True, False], ids=["after_conv", "root"])
@pytest.mark.parametrize("kw", AVG_POOL_2D, ids=str)
def test_avg_pool2d(kw: dict, after_conv: bool) -> None:
    pool = nn.AvgPool2d(**kw)
    model = AfterConv(pool, 2) if after_conv else pool
    assert_converts(model, torch.randn(2, 3, 11, 12))


MAX_POOL_3D = MAX_POOL + [
    dict(kernel_size=(1, 2, 3), stride=(1, 2, 1)),
    dict(kernel_size=(3, 2, 2), stride=(2, 1, 2), padding=(1, 0, 1), ceil_mode=True),
    dict(kernel_size=(2, 3, 3), padding=(0, 1, 1), dilation=(2, 1, 2)),
]


def _as_mlx_layer(pool: nn.Module) -> bool:
    """Which configurations MLX's pooling layers compute exactly as torch does."""
    if isinstance(pool, nn.MaxPool3d):
        return not pool.ceil_mode and pool.dilation in (1, (1, 1, 1))
    divisor = pool.divisor_override is not None
    excluded = pool.padding not in (0, (0, 0, 0)) and not pool.count_include_pad
    return not (pool.ceil_mode or divisor or excluded)


@pytest.mark.parametrize("after_conv", [True, False], ids=["after_conv", "root"])
@pytest.mark.parametrize("kw", MAX_POOL_3D, ids=str)
def test_max_pool3d(kw: dict, after_conv: bool) -> None:
    pool = nn.MaxPool3d(**kw)
    conv = assert_converts(AfterConv(pool, 3) if after_conv else pool, torch.randn(2, 3, 7, 9, 8))
    assert ("nn.MaxPool3d(" in conv.source) == (after_conv and _as_mlx_layer(pool)), conv.source


AVG_POOL_3D = AVG_POOL_2D[:-1] + [
    dict(kernel_size=(1, 3, 2), stride=(1, 2, 2), padding=(0, 1, 1), count_include_pad=False),
    dict(kernel_size=(3, 2, 3), stride=2, padding=(1, 1, 0), ceil_mode=True, divisor_override=7),
]


@pytest.mark.parametrize("after_conv", [True, False], ids=["after_conv", "root"])
@pytest.mark.parametrize("kw", AVG_POOL_3D, ids=str)
def test_avg_pool3d(kw: dict, after_conv: bool) -> None:
    pool = nn.AvgPool3d(**kw)
    conv = assert_converts(AfterConv(pool, 3) if after_conv else pool, torch.randn(2, 3, 7, 9, 8))
    assert ("nn.AvgPool3d(" in conv.source) == (after_conv and _as_mlx_layer(pool)), conv.source


class Pools(nn.Module):
    # a plain forward(x) (not Lambda's *args) so torch.fx can trace it
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.max_pool2d(x, 3, 2, 1, ceil_mode=True) + F.avg_pool2d(x, 3, 2, 1, ceil_mode=True)
        return F.adaptive_avg_pool2d(y, (2, 3))


@pytest.mark.parametrize("frontend", ["export", "fx"])
def test_functional_pools_both_frontends(frontend: str) -> None:
    assert_converts(Pools(), torch.randn(2, 3, 10, 9), frontend=frontend)


class Indices(nn.Module):
    def __init__(self, pool: nn.Module) -> None:
        super().__init__()
        self.pool = pool

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        values, index = self.pool(x)
        return values, index


@pytest.mark.parametrize("kw", MAX_POOL[:5] + [dict(kernel_size=3, stride=2, dilation=2)], ids=str)
@pytest.mark.parametrize("dims", [1, 2, 3])
def test_max_pool_indices(kw: dict, dims: int) -> None:
    pool = getattr(nn, f"MaxPool{dims}d")(return_indices=True, **kw)
    # small integers: a window's maximum often appears twice, and the index must be the
    # first in row-major order, as torch's is
    ties = torch.randint(0, 3, (2, 3, *(9, 10, 8)[:dims])).float()
    assert_converts(Indices(pool), ties)


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_max_pool_indices_unbatched(dims: int) -> None:
    pool = getattr(nn, f"MaxPool{dims}d")(3, 2, 1, return_indices=True)
    assert_converts(Lambda(lambda x: pool(x)), torch.randn(3, *(7, 6, 7)[:dims]))


def test_resnet_stem() -> None:
    model = nn.Sequential(
        nn.Conv2d(3, 8, 7, 2, 3),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(3, 2, 1),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    )
    assert_converts(model, torch.randn(2, 3, 32, 32))


UNBATCHED = {
    "max_pool1d": lambda x: F.max_pool1d(x, 3, 2, 1, ceil_mode=True),
    "avg_pool1d": lambda x: F.avg_pool1d(x, 3, 2, 1, count_include_pad=False),
    "max_pool2d": lambda x: F.max_pool2d(x.unflatten(-1, (3, 4)), 2),
    "avg_pool2d": lambda x: F.avg_pool2d(x.unflatten(-1, (3, 4)), 2, 1, 1),
    "max_pool3d": lambda x: F.max_pool3d(x.unflatten(-1, (2, 2, 3)), 2, 1, 1, ceil_mode=True),
    "avg_pool3d": lambda x: F.avg_pool3d(x.unflatten(-1, (2, 3, 2)), 2, 1, 1, divisor_override=3),
}


@pytest.mark.parametrize("name", UNBATCHED)
def test_functional_pool_unbatched(name: str) -> None:
    # torch pools accept (C, *spatial); MLX needs a batch axis, added and dropped again
    assert_converts(Lambda(UNBATCHED[name]), torch.randn(3, 12))
