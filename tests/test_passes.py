"""Passes that change the graph: each is checked for the code it produces and its numerics."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import fx2mlx

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


def _shifted_window_mask(x: torch.Tensor) -> torch.Tensor:
    """torchvision's Swin builds its attention mask by assigning window ids to slices."""
    mask = x.new_zeros((8, 8))
    count = 0
    for h in ((0, -4), (-4, -2), (-2, None)):
        for w in ((0, -4), (-4, -2), (-2, None)):
            mask[h[0] : h[1], w[0] : w[1]] = count
            count += 1
    return x + mask


def _column_from_tensor(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    out = x.clone()
    out[:, 1] = y[:, 0]  # select + copy_
    out[:, 2:4] += 1.0  # slice + add_
    return out * 2


def _overlapping_views(x: torch.Tensor) -> torch.Tensor:
    """Both views are taken before either write; the second overlaps the first."""
    out = x.clone()
    first, second = out[:, :2], out[:, 1:3]
    first.mul_(2.0)
    second.add_(1.0)
    return out


def _view_read_after_write(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    out = x.clone()
    row = out[:, 0]
    row.zero_()
    return row + 1, out


WRITES = {
    "shifted_window_mask": (_shifted_window_mask, (8, 8)),
    "column_from_tensor": (_column_from_tensor, (3, 5)),
    "overlapping_views": (_overlapping_views, (3, 5)),
    "view_read_after_write": (_view_read_after_write, (3, 5)),
}


@pytest.mark.parametrize("name", list(WRITES))
def test_writes_through_slices_reach_the_tensor(name: str) -> None:
    """``x[a:b] = v`` and in-place ops on slices change the tensor they slice (the Swin mask
    was silently dropped: rel error 3e-3 on a shifted-window model)."""
    fn, shape = WRITES[name]
    inputs = tuple(torch.randn(2, *shape) for _ in range(fn.__code__.co_argcount))
    with torch.no_grad():  # the write must matter, or this test could not fail on it
        assert not torch.equal(
            torch.as_tensor(_first(fn(*inputs))), _first(fn(*inputs))[..., :0].sum() + inputs[0]
        )
    assert_converts(Lambda(fn), inputs, fresh=2)


def _first(value: object) -> torch.Tensor:
    return value[0] if isinstance(value, tuple) else value  # type: ignore[index,return-value]


def test_write_through_another_view_is_reported() -> None:
    """A write through a view slice_scatter can't express is an error, never dropped."""

    def fn(x: torch.Tensor) -> torch.Tensor:
        out = x.clone()
        out.t()[0] = 1.0
        return out

    with pytest.raises(fx2mlx.UnsupportedError, match="fill_"):
        fx2mlx.convert(Lambda(fn), (torch.randn(3, 4),))
