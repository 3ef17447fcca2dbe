"""Writing into tensors: slice_scatter, select_scatter (what writes through slices become)."""

from __future__ import annotations

import pytest
import torch

from fx2mlx.capture import capture
from fx2mlx.converters import is_layer

from ..helpers import Lambda, assert_converts, assert_op_converts

aten = torch.ops.aten

# (dim, start, end): negative, open and out-of-range bounds, which torch clamps
SLICES = [(0, 1, 3), (1, -3, None), (1, None, 2), (2, 1, -1), (-1, 0, 100), (2, -100, 2)]


def _slice_shape(shape: tuple[int, ...], dim: int, start: int | None, end: int | None) -> list:
    index = [slice(None)] * len(shape)
    index[dim] = slice(start, end)
    return list(torch.empty(shape)[tuple(index)].shape)


@pytest.mark.parametrize("dim,start,end", SLICES)
def test_slice_scatter(dim: int, start: int | None, end: int | None) -> None:
    x = torch.randn(4, 5, 6)
    src = torch.randn(_slice_shape(x.shape, dim, start, end))

    def fn(x: torch.Tensor, src: torch.Tensor) -> torch.Tensor:
        return torch.slice_scatter(x, src, dim, start, end)

    assert_op_converts(fn, (x, src), {aten.slice_scatter.default})


@pytest.mark.parametrize("start,end,step", [(0, 6, 2), (1, 6, 2), (0, 7, 3)])
def test_slice_scatter_with_a_step_is_decomposed(start: int, end: int, step: int) -> None:
    """The converter writes contiguous slices only; PyTorch's decomposition (an index
    scatter) covers a step."""

    def fn(x: torch.Tensor, src: torch.Tensor) -> torch.Tensor:
        return torch.slice_scatter(x, src, 1, start, end, step)

    n = len(range(start, min(end, 7), step))
    assert_converts(Lambda(fn), (torch.randn(2, 7), torch.randn(2, n)))


@pytest.mark.parametrize("dim,index", [(0, 1), (1, -1), (2, 0), (-1, 3)])
def test_select_scatter(dim: int, index: int) -> None:
    x = torch.randn(4, 5, 6)
    src = torch.randn(x.select(dim, index).shape)

    def fn(x: torch.Tensor, src: torch.Tensor) -> torch.Tensor:
        return torch.select_scatter(x, src, dim, index)

    assert_op_converts(fn, (x, src), {aten.select_scatter.default})


def _fill_scalar(x: torch.Tensor) -> torch.Tensor:
    return torch.fill(x, 2.5) + x


def _fill_tensor(x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return torch.fill(x, v[0, 0]) * x


def _zero(x: torch.Tensor) -> torch.Tensor:
    y = x * 2
    y.zero_()
    return y + x


def _copy(x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    y = x * 2
    y.copy_(v[:1].to(torch.int32))  # broadcast over rows, cast to y's dtype
    return y + x


FILLS = {  # the captured op (in place for zero_ and copy_: normalize_graph makes it functional)
    "fill_scalar": (_fill_scalar, aten.fill.Scalar, "mx.full("),
    "fill_tensor": (_fill_tensor, aten.fill.Tensor, "mx.broadcast_to("),
    "zero": (_zero, aten.zero_.default, "mx.full("),
    "copy": (_copy, aten.copy_.default, ".astype(mx.float32)"),
}


@pytest.mark.parametrize("name", list(FILLS))
def test_fill_and_copy(name: str) -> None:
    fn, target, text = FILLS[name]
    inputs = tuple(torch.randn(3, 4) * 3 for _ in range(fn.__code__.co_argcount))
    graph = capture(Lambda(fn), inputs, is_layer, "export").graph
    assert target in {n.target for n in graph.nodes}
    assert text in assert_converts(Lambda(fn), inputs, fresh=2).source
