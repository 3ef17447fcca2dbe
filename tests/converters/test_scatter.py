"""Writes at computed positions against torch: scatter, scatter_add, scatter_reduce,
index_put (indices and masks), index_add/copy/fill, masked_scatter."""

from __future__ import annotations

import pytest
import torch

import fx2mlx

from ..helpers import Lambda, assert_converts

aten = torch.ops.aten


def _perm_index(shape: tuple, dim: int, size: int) -> torch.Tensor:
    """Distinct positions along ``dim`` (torch leaves repeated scatter targets unspecified),
    ``shape`` elsewhere."""
    rows = torch.rand(*shape[:dim], size, *shape[dim + 1 :]).argsort(dim)
    return rows.narrow(dim, 0, shape[dim])


SCATTER = [
    # (self shape, dim, index shape, src shape): index may be shorter than self and src
    ((4, 6), 0, (4, 6), (4, 6)),
    ((4, 6), 1, (4, 3), (4, 6)),
    ((4, 6), -1, (2, 3), (3, 5)),
    ((3, 4, 5), 1, (2, 2, 5), (3, 4, 5)),
    ((3, 4, 5), 2, (3, 4, 1), (3, 4, 2)),
]


@pytest.mark.parametrize("self_shape,dim,index_shape,src_shape", SCATTER, ids=str)
@pytest.mark.parametrize("kind", ["src", "value", "add"])
def test_scatter(kind: str, self_shape: tuple, dim: int, index_shape: tuple, src_shape: tuple):
    index = _perm_index(index_shape, dim % len(self_shape), self_shape[dim])
    fns = {
        "src": lambda x, s: x.scatter(dim, index, s),
        "value": lambda x, s: torch.scatter(x, dim, index, -2.5) + s.sum(),
        "add": lambda x, s: x.scatter_add(dim, index, s),
    }
    assert_converts(Lambda(fns[kind]), (torch.randn(*self_shape), torch.randn(*src_shape)))


def test_scatter_add_accumulates_repeated_positions() -> None:
    index = torch.randint(0, 3, (5, 6))  # many repeats along dim 0
    fn = Lambda(lambda x, s: torch.scatter_add(x, 0, index, s))
    assert_converts(fn, (torch.randn(3, 6), torch.randn(5, 6)))


def test_scatter_one_hot() -> None:
    """Labels to one-hot rows: the pattern classification heads use."""
    fn = Lambda(lambda labels: torch.zeros(4, 7).scatter(1, labels.unsqueeze(1), 1.0))
    assert_converts(fn, torch.tensor([3, 0, 6, 3]), fresh=0)


@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
def test_scatter_reduce(reduce: str, include_self: bool) -> None:
    index = torch.randint(0, 4, (6, 5))  # repeats, and places nobody writes
    fn = Lambda(lambda x, s: x.scatter_reduce(0, index, s, reduce, include_self=include_self))
    assert_converts(fn, (torch.randn(4, 5), torch.randn(6, 5)))


def test_scatter_reduce_mean_of_integers_is_reported() -> None:
    index = torch.randint(0, 4, (6, 5))
    fn = Lambda(lambda x, s: x.scatter_reduce(0, index, s, "mean"))
    with pytest.raises(fx2mlx.UnsupportedError, match="'mean' of integers"):
        fx2mlx.convert(fn, (torch.randint(0, 9, (4, 5)), torch.randint(0, 9, (6, 5))))


def _put(index: tuple, accumulate: bool = False):  # noqa: ANN202 - a test lambda factory
    def fn(x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        idx = tuple(i(x) if callable(i) else i for i in index)
        return x.index_put(idx, v, accumulate=accumulate)

    return fn


ROWS = torch.tensor([3, 0, -2])
COLS = torch.tensor([1, 4, 2])
PUT = {
    # name: (index, self shape, values shape)
    "rows": ((ROWS,), (5, 6), (3, 6)),
    "rows_broadcast": ((ROWS,), (5, 6), (6,)),
    "rows_scalar": ((ROWS,), (5, 6), ()),
    "cols": ((slice(None), COLS), (5, 6), (5, 3)),
    "pairs": ((ROWS, COLS), (5, 6), (3,)),
    "pairs_grid": ((ROWS[:, None], COLS[None, :2]), (5, 6, 2), (3, 2, 2)),
    "mask": ((lambda x: x > 0.5,), (5, 6), ()),
    "mask_rows_value": ((lambda x: x[:, 0] > 0,), (5, 6), (6,)),
    "mask_cols": ((slice(None), lambda x: x[0] > 0), (5, 6), ()),
}


@pytest.mark.parametrize("accumulate", [False, True])
@pytest.mark.parametrize("name", PUT)
def test_index_put(name: str, accumulate: bool) -> None:
    index, shape, values = PUT[name]

    def fn(x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        idx = [None if isinstance(i, slice) else i(x) if callable(i) else i for i in index]
        return torch.ops.aten.index_put(x, idx, v, accumulate)

    assert_converts(Lambda(fn), (torch.randn(shape), torch.randn(values)))


def test_index_put_repeated_rows_accumulate() -> None:
    rows = torch.tensor([1, 1, 3, 1])
    fn = Lambda(lambda x, v: x.index_put((rows,), v, accumulate=True))
    assert_converts(fn, (torch.randn(5, 3), torch.randn(4, 3)))


class Masked(torch.nn.Module):
    """The user's spelling: in-place writes through ``[]`` on a copy."""

    def __init__(self, how: str) -> None:
        super().__init__()
        self.how = how

    def forward(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        out = x.clone()
        if self.how == "mask_value":
            out[out < 0] = 0.25
        elif self.how == "mask_rows":
            out[x[:, 0] > 0] = v  # one row of values for each selected row
        elif self.how == "index":
            out[:, torch.tensor([2, 0])] = v[:, :2]
        elif self.how == "half":
            out = out.half()
            out[out > 0] = v[0, 0]  # a float32 value written into float16
            out = out.float()
        return out * 2


@pytest.mark.parametrize("how", ["mask_value", "half"])
def test_setitem(how: str) -> None:
    assert_converts(Masked(how), (torch.randn(4, 5), torch.randn(4, 5)))


def test_setitem_through_a_slice() -> None:
    assert_converts(Masked("index"), (torch.randn(4, 5), torch.randn(4, 5)))


def test_setitem_rows_through_a_mask() -> None:
    """One row per selected row: only inputs that select that many rows fit torch too."""
    x = torch.randn(5, 3)
    x[:, 0] = torch.tensor([1.0, -1.0, 2.0, -2.0, 3.0])  # rows 0, 2, 4 selected
    conv = assert_converts(Masked("mask_rows"), (x, torch.randn(3, 3)), fresh=0)
    assert "masked_scatter(" in conv.source


def test_index_put_through_a_mask_after_a_slice_of_rows_is_reported() -> None:
    fn = Lambda(lambda x, v: torch.ops.aten.index_put(x, [None, x[0] > 0], v))
    with pytest.raises(fx2mlx.UnsupportedError, match="mask after a slice"):
        fx2mlx.convert(fn, (torch.randn(3, 4), torch.randn(3, 2)))


INDEX_OPS = {
    "index_add": lambda x, s: x.index_add(1, torch.tensor([2, 0, 2]), s),
    "index_add_alpha": lambda x, s: torch.index_add(x, 1, torch.tensor([3, 1, 0]), s, alpha=-2),
    "index_copy": lambda x, s: x.index_copy(1, torch.tensor([3, 0, 1]), s),
    "index_fill": lambda x, s: x.index_fill(1, torch.tensor([1, 3]), -1.5) + s.sum(),
    "index_fill_tensor": lambda x, s: x.index_fill(1, torch.tensor([2]), s[0, 0, 0]),
}


@pytest.mark.parametrize("name", INDEX_OPS)
def test_index_ops(name: str) -> None:
    assert_converts(Lambda(INDEX_OPS[name]), (torch.randn(2, 4, 5), torch.randn(2, 3, 5)))


@pytest.mark.parametrize("mask_shape", [(3, 4), (4,), (3, 1)], ids=str)
def test_masked_scatter(mask_shape: tuple) -> None:
    fn = Lambda(lambda x, m, s: x.masked_scatter(m > 0, s))
    assert_converts(fn, (torch.randn(3, 4), torch.randn(*mask_shape), torch.randn(5, 4)))


ZERO_D_WRITES = {
    "index_add": lambda x, s: x.index_add(0, torch.tensor([0]), s, alpha=2),
    "index_copy": lambda x, s: x.index_copy(0, torch.tensor([0]), s),
    "index_fill": lambda x, s: x.index_fill(0, torch.tensor([0]), 3.0) + s,
}


@pytest.mark.parametrize("name", ZERO_D_WRITES)
def test_index_write_into_zero_dim_tensor(name: str) -> None:
    """torch indexes a 0-d tensor's dim 0 as if it had size 1; the result stays 0-d."""
    assert_converts(Lambda(ZERO_D_WRITES[name]), (torch.tensor(1.5), torch.tensor(-2.0)))
