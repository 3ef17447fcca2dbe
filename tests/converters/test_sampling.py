"""Sampling against torch: F.grid_sample in every mode and padding (with F.affine_grid),
F.max_unpool1d/2d/3d and nn.MaxUnpool*, torch.round with decimals."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import fx2mlx

from ..helpers import AfterConv, Lambda, assert_converts, assert_op_converts

aten = torch.ops.aten

# -- grid_sample ----------------------------------------------------------------------------

INPUTS = {2: (2, 3, 5, 6), 3: (2, 3, 4, 5, 6)}
GRIDS = {2: (2, 4, 7, 2), 3: (2, 3, 4, 5, 3)}
MODES = {2: ["bilinear", "nearest", "bicubic"], 3: ["bilinear", "nearest"]}
PADDINGS = ["zeros", "border", "reflection"]


def _grid(dims: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Sample positions slightly beyond [-1, 1], where the padding modes differ."""
    return (torch.rand(GRIDS[dims]) * 2.6 - 1.3).to(dtype)


def _sampling_cases() -> list[Any]:
    return [
        pytest.param(dims, mode, padding, corners, id=f"{dims}d-{mode}-{padding}-corners={corners}")
        for dims in (2, 3)
        for mode in MODES[dims]
        for padding in PADDINGS
        for corners in (False, True)
    ]


def _sample(mode: str, padding: str, corners: bool) -> Any:
    return lambda x, grid: F.grid_sample(
        x, grid, mode=mode, padding_mode=padding, align_corners=corners
    )


@pytest.mark.parametrize("dims,mode,padding,corners", _sampling_cases())
def test_grid_sample(dims: int, mode: str, padding: str, corners: bool) -> None:
    fn = _sample(mode, padding, corners)
    conv = assert_converts(Lambda(fn), (torch.randn(INPUTS[dims]), _grid(dims)), fresh=2)
    assert "grid_sample(" in conv.source


class SampleAfterConv(nn.Module):
    """conv -> grid_sample -> conv: the sampled input stays channels-last between the convs."""

    def __init__(self, dims: int, **kw: Any) -> None:
        super().__init__()
        conv = {2: nn.Conv2d, 3: nn.Conv3d}[dims]
        self.conv1, self.conv2 = conv(3, 4, 1), conv(4, 2, 1)
        self.kw = kw

    def forward(self, x: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
        return self.conv2(F.grid_sample(self.conv1(x), grid, **self.kw))


@pytest.mark.parametrize("dims,mode,padding,corners", _sampling_cases())
def test_grid_sample_in_conv_stack(dims: int, mode: str, padding: str, corners: bool) -> None:
    kw = dict(mode=mode, padding_mode=padding, align_corners=corners)
    model = SampleAfterConv(dims, **kw)
    conv = assert_converts(model, (torch.randn(INPUTS[dims]), _grid(dims)))
    assert conv.source.count(".transpose(") == 2  # the model's input and output only


def test_grid_from_the_input_after_a_conv() -> None:
    """A grid computed from channels-last values is read in PyTorch's (N, H, W, 2) layout."""

    def fn(x: torch.Tensor) -> torch.Tensor:
        return F.grid_sample(x, x[:, :2].permute(0, 2, 3, 1).tanh() * 1.2, align_corners=False)

    assert_converts(AfterConv(fn), torch.randn(2, 3, 7, 8), fresh=2)


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
@pytest.mark.parametrize("corners", [False, True])
def test_grid_sample_nearest_ties_round_half_to_even(mode: str, corners: bool) -> None:
    """Grid values in steps of 1/4 on inputs of 4 and 5 pixels land on pixel centers and on
    the half-way points between them, where nearest rounds half to even as ATen does."""
    steps = torch.arange(-6, 15) / 4 - 1
    grid = torch.stack(torch.meshgrid(steps, steps[:-3], indexing="xy"), dim=-1)[None]
    fn = _sample(mode, "zeros", corners)
    assert_converts(Lambda(fn), (torch.randn(2, 2, 4, 5), grid.expand(2, -1, -1, -1).clone()))


@pytest.mark.parametrize(
    "dims,mode", [(2, "bilinear"), (2, "nearest"), (2, "bicubic"), (3, "bilinear"), (3, "nearest")]
)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64], ids=str)
def test_grid_sample_dtypes(dims: int, mode: str, dtype: torch.dtype) -> None:
    """Half types are rounded after every step, as ATen's kernels compute them."""
    inputs = (torch.randn(INPUTS[dims], dtype=dtype), _grid(dims, dtype))
    assert_converts(Lambda(_sample(mode, "reflection", False)), inputs, fresh=2)


@pytest.mark.parametrize("op", [aten.grid_sampler_2d.default, aten.grid_sampler_3d.default])
def test_grid_sampler_overloads(op: Any) -> None:
    dims = 2 if op is aten.grid_sampler_2d.default else 3
    inputs = (torch.randn(INPUTS[dims]), _grid(dims))
    assert_op_converts(lambda x, grid: op(x, grid, 1, 2, False), inputs, {op})


def test_grid_sample_on_a_single_pixel_axis() -> None:
    """Reflection with align_corners on a length-1 axis reads that pixel (ATen's empty span)."""
    fn = _sample("bilinear", "reflection", True)
    assert_converts(Lambda(fn), (torch.randn(2, 3, 1, 6), _grid(2)), fresh=2)


@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("corners", [False, True])
def test_affine_grid_converts_through_its_decomposition(dims: int, corners: bool) -> None:
    """A spatial transformer: F.affine_grid (decomposed) feeding F.grid_sample."""
    size = (2, 3, 6, 8) if dims == 2 else (2, 3, 4, 6, 5)

    def fn(x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        grid = F.affine_grid(theta, list(size), align_corners=corners)
        return F.grid_sample(x, grid, align_corners=corners)

    theta = torch.eye(dims, dims + 1) + torch.randn(2, dims, dims + 1) * 0.3
    conv = assert_converts(Lambda(fn), (torch.randn(INPUTS[dims]), theta), fresh=2)
    assert "grid_sample(" in conv.source


# -- max_unpool -----------------------------------------------------------------------------

UNPOOL_SHAPES = {1: (2, 3, 9), 2: (2, 3, 6, 7), 3: (2, 3, 4, 6, 5)}
UNPOOLS = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),  # overlapping windows share maxima
    dict(kernel_size=2, stride=1),
    dict(kernel_size=3, stride=3, padding=1),
]
POOL = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
UNPOOL = {1: F.max_unpool1d, 2: F.max_unpool2d, 3: F.max_unpool3d}


def _unpool_fn(dims: int, kw: dict) -> Any:
    """max_pool with indices, then max_unpool back to the input's size."""

    def fn(x: torch.Tensor) -> torch.Tensor:
        values, indices = POOL[dims](x, return_indices=True, **kw)
        return UNPOOL[dims](values, indices, output_size=x.shape[-dims:], **kw)

    return fn


def _unpool_cases() -> list[Any]:
    return [
        pytest.param(dims, kw, batched, id=f"{dims}d-{kw}-batched={batched}")
        for dims in (1, 2, 3)
        for kw in UNPOOLS
        for batched in (True, False)
    ]


@pytest.mark.parametrize("dims,kw,batched", _unpool_cases())
def test_max_unpool(dims: int, kw: dict, batched: bool) -> None:
    shape = UNPOOL_SHAPES[dims] if batched else UNPOOL_SHAPES[dims][1:]
    conv = assert_converts(Lambda(_unpool_fn(dims, kw)), torch.randn(shape), fresh=2)
    assert "max_unpool(" in conv.source


@pytest.mark.parametrize("kw", UNPOOLS, ids=str)
def test_max_unpool_in_conv_stack(kw: dict) -> None:
    conv = assert_converts(AfterConv(_unpool_fn(2, kw)), torch.randn(2, 3, 6, 7), fresh=2)
    assert conv.source.count(".transpose(") == 2  # the model's input and output only


def test_max_unpool_default_output_size() -> None:
    """Without output_size, torch unpools to (in - 1) * stride - 2 * padding + kernel."""

    def fn(x: torch.Tensor) -> torch.Tensor:
        values, indices = F.max_pool2d(x, 2, return_indices=True)
        return F.max_unpool2d(values * 2, indices, 2)

    assert_converts(Lambda(fn), torch.randn(2, 3, 6, 8), fresh=2)


class UnpoolModules(nn.Module):
    def __init__(self, dims: int) -> None:
        super().__init__()
        pool = {1: nn.MaxPool1d, 2: nn.MaxPool2d, 3: nn.MaxPool3d}[dims]
        unpool = {1: nn.MaxUnpool1d, 2: nn.MaxUnpool2d, 3: nn.MaxUnpool3d}[dims]
        self.pool, self.unpool = pool(2, return_indices=True), unpool(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.unpool(*self.pool(x))


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_max_unpool_modules(dims: int) -> None:
    shape = {1: (2, 3, 8), 2: (2, 3, 6, 8), 3: (2, 3, 4, 6, 4)}[dims]
    assert_converts(UnpoolModules(dims), torch.randn(shape), fresh=2)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_max_unpool_dtypes(dtype: torch.dtype) -> None:
    fn = _unpool_fn(2, dict(kernel_size=2))
    assert_converts(Lambda(fn), torch.randn(2, 3, 6, 7, dtype=dtype), fresh=2)


# -- round with decimals --------------------------------------------------------------------

DECIMALS = [-3, -1, 0, 1, 2, 4, 12]
DTYPES = [torch.float32, torch.float16, torch.bfloat16, torch.float64]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("decimals", DECIMALS)
def test_round_decimals(decimals: int, dtype: torch.dtype) -> None:
    fn = Lambda(lambda x: torch.round(x * 300, decimals=decimals))
    conv = assert_converts(fn, torch.randn(4, 50, dtype=dtype), fresh=2)
    assert "mx.round(" in conv.source


@pytest.mark.parametrize("decimals", [2, -2])
def test_round_decimals_ties_to_even(decimals: int) -> None:
    """0.125 * 100 = 12.5 rounds to 12, 250 / 100 = 2.5 to 2, as ATen's nearbyint."""
    ties = torch.tensor([0.125, 0.375, -0.125, 2.5, 0.5, 250.0, 350.0, -250.0, 1.005, 0.0])
    assert_converts(Lambda(lambda x: torch.round(x, decimals=decimals)), ties)


def test_round_decimals_after_conv() -> None:
    conv = assert_converts(AfterConv(lambda x: torch.round(x, decimals=1)), torch.randn(2, 3, 5, 5))
    assert conv.source.count(".transpose(") == 2  # the model's input and output only


def test_round_decimals_beyond_a_double_is_refused() -> None:
    with pytest.raises(fx2mlx.UnsupportedError, match="overflows a double"):
        fx2mlx.convert(Lambda(lambda x: torch.round(x, decimals=400)), (torch.randn(3),))
