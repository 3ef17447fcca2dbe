"""Passes that change the graph: each is checked for the code it produces and its numerics."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from .helpers import Lambda, assert_converts


class Head(nn.Module):
    def __init__(self, dims: int, flatten: str) -> None:
        super().__init__()
        conv = nn.Conv1d if dims == 1 else nn.Conv2d
        self.conv = conv(3, 8, 3)
        self.pool = nn.AdaptiveAvgPool1d(1) if dims == 1 else nn.AdaptiveAvgPool2d(1)
        self.flatten = flatten
        self.fc = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.conv(x))
        x = torch.flatten(x, 1) if self.flatten == "flatten" else x.view(x.size(0), -1)
        return self.fc(x)


@pytest.mark.parametrize("dims", [1, 2])
@pytest.mark.parametrize("flatten", ["flatten", "view"])
def test_global_pool_and_flatten_become_one_mean(dims: int, flatten: str) -> None:
    shape = (2, 3, 10) if dims == 1 else (2, 3, 10, 10)
    conv = assert_converts(Head(dims, flatten), torch.randn(*shape))
    assert f"AdaptiveAvgPool{dims}d(1) + flatten" in conv.source
    assert "reshape" not in conv.source and conv.report.transposes == 1


def test_global_pool_used_twice_is_left_alone() -> None:
    def fn(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pooled = nn.functional.adaptive_avg_pool2d(x, 1)
        return pooled.flatten(1), pooled * 2

    conv = assert_converts(Lambda(fn), torch.randn(2, 3, 6, 6))
    assert "+ flatten" not in conv.source


def test_inplace_and_noops_are_normalized() -> None:
    def fn(x: torch.Tensor) -> torch.Tensor:
        y = x.clone().contiguous()
        y.relu_()
        y = torch.nn.functional.dropout(y, 0.5, training=False)
        return y.to(torch.float32).add_(1.0)

    conv = assert_converts(Lambda(fn), torch.randn(3, 4))
    body = conv.source.split("def __call__", 1)[1]
    assert "dropout" not in body and "clone" not in body and "astype" not in body


def test_channels_last_io_takes_nhwc() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 2, 1))
    conv = assert_converts(model, torch.randn(2, 3, 8, 8), fresh=0, channels_last_io=True)
    assert conv.report.transposes == 0 and ".transpose(" not in conv.source.split("class", 1)[1]


def test_pass_through_ops_are_dropped() -> None:
    def fn(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        y = x[:, :][:, 0:] + 0
        y = (y * 1).expand(y.shape).reshape(y.shape)
        keep = torch.ones((), dtype=torch.bool) & (m > 0)
        return torch.where(keep, y, y - 1.0)

    conv = assert_converts(Lambda(fn), (torch.randn(2, 5), torch.randn(2, 5)))
    body = conv.source.split("def __call__", 1)[1]
    for gone in ("[:", "+ 0", "* 1", "broadcast_to", "reshape", "mx.ones"):
        assert gone not in body, gone


def test_pass_through_keeps_ops_that_change_dtype_or_shape() -> None:
    def fn(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        ints = torch.arange(6).reshape(2, 3)
        return ints + 0.0, x[:, :2], x.expand(4, 2, 3)[1:]

    assert_converts(Lambda(fn), torch.randn(2, 3))


def test_inplace_mutation_is_seen_by_later_readers() -> None:
    def fn(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = x * 1.5
        before = y * 2
        y.add_(1.0)  # the result is never used, the mutation is
        return before, y * 3

    assert_converts(Lambda(fn), torch.randn(3, 4))
