"""Passes that change the graph: each is checked for the code it produces and its numerics."""

from __future__ import annotations

import contextlib

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


def test_write_through_another_view_is_functionalized() -> None:
    """A write through a view slice_scatter can't express is never dropped: the in-place op
    is refused, and PyTorch's functionalization (the decomposition re-export) rewrites it."""

    def fn(x: torch.Tensor) -> torch.Tensor:
        out = x.clone()
        out.t()[0] = 1.0
        return out

    assert_converts(Lambda(fn), (torch.randn(3, 4),))


class Regions(nn.Module):
    """``torch.no_grad()`` / ``enable_grad()`` and autocast regions inside ``forward``,
    nested both ways; ``autocast`` is a device type, or None for no autocast at all."""

    def __init__(self, autocast: str | None, inner_off: bool = False) -> None:
        super().__init__()
        self.autocast, self.inner_off = autocast, inner_off
        self.lin = nn.Linear(6, 5)
        self.norm = nn.LayerNorm(5)

    def region(self) -> contextlib.AbstractContextManager:
        if self.autocast is None:
            return contextlib.nullcontext()
        return torch.autocast(self.autocast, dtype=torch.bfloat16)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with self.region():
            y = self.lin(x)
            with torch.no_grad():
                z = x[:, :5] @ y.T  # nested: still under autocast
            if self.inner_off:
                with torch.autocast("cpu", enabled=False):
                    w = self.norm(x[:, :5] * 2)  # float32 again
            else:
                w = x[:, :5] * 2
        with torch.enable_grad():
            u = w.float() * 3
        return y.float() + 1, z.float() - u.sum()


def _integral(*shape: int) -> torch.Tensor:
    """Integers plus 0.001: bfloat16 rounds the 0.001 away (float32 keeps it), and every
    product and sum after that is an exact small integer, whatever the kernel. A missing cast
    shows as a 1e-3 relative error; exact casts match torch bit for bit."""
    return torch.randint(1, 4, shape) * (torch.randint(0, 2, shape) * 2 - 1) + 0.001


def _integral_weights(model: nn.Module) -> nn.Module:
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randint(-3, 4, p.shape).float())
    return model


def test_grad_regions_are_inlined() -> None:
    conv = assert_converts(Regions(None), torch.randn(4, 6))
    assert "wrap_with" not in conv.source and "astype(mx.bfloat16)" not in conv.source


@pytest.mark.parametrize("inner_off", [False, True], ids=["nested", "inner_disabled"])
def test_autocast_regions_cast_as_torch(inner_off: bool) -> None:
    model = _integral_weights(Regions("cpu", inner_off))
    conv = assert_converts(model, _integral(4, 6), fresh=0)
    # linear and matmul run in bfloat16 on CPU: their inputs are cast; x * 2 is not
    assert conv.source.count("astype(mx.bfloat16)") == 4  # x, weight, bias; x[:, :5] (y is)
    assert ("nn.LayerNorm(5)" in conv.source) == inner_off


def test_autocast_casts_are_needed() -> None:
    """The test input is one where leaving the casts out shows (see _integral)."""
    model = _integral_weights(Regions("cpu")).eval()
    x = _integral(4, 6)
    with torch.no_grad():
        plain = Regions(None)
        plain.load_state_dict(model.state_dict())
        assert (model(x)[0] - plain(x)[0]).abs().max() > 1e-3


def test_autocast_for_another_device_changes_nothing_here() -> None:
    """A CUDA autocast region leaves CPU tensors alone: float32 throughout, as in torch."""
    conv = assert_converts(Regions("cuda"), torch.randn(4, 6))
    assert "astype(mx.bfloat16)" not in conv.source


def test_autocast_inside_no_grad() -> None:
    class M(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.proj = nn.Linear(6, 4, bias=False)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    y = self.proj(x)
                return y.float() * 2

    conv = assert_converts(_integral_weights(M()), _integral(3, 6), fresh=0)
    assert conv.source.count("astype(mx.bfloat16)") == 2  # x and the weight
