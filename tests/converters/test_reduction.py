"""Reductions against torch, on PyTorch and on channels-last (after a conv) layouts."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import fx2mlx

from ..helpers import AfterConv, Lambda, assert_converts

REDUCE = {
    "mean": lambda x, d, k: x.mean(dim=d, keepdim=k),
    "sum": lambda x, d, k: x.sum(dim=d, keepdim=k),
    "amax": lambda x, d, k: x.amax(dim=d, keepdim=k),
    "amin": lambda x, d, k: x.amin(dim=d, keepdim=k),
    "var": lambda x, d, k: x.var(dim=d, keepdim=k),
    "var_biased": lambda x, d, k: x.var(dim=d, keepdim=k, unbiased=False),
    "std": lambda x, d, k: x.std(dim=d, keepdim=k),
    "logsumexp": lambda x, d, k: torch.logsumexp(x, dim=d, keepdim=k),
    "norm": lambda x, d, k: torch.linalg.vector_norm(x, dim=d, keepdim=k),
    "norm_1": lambda x, d, k: torch.linalg.vector_norm(x, 1, dim=d, keepdim=k),
    "norm_inf": lambda x, d, k: torch.linalg.vector_norm(x, float("inf"), dim=d, keepdim=k),
    "norm_3": lambda x, d, k: x.norm(p=3, dim=d, keepdim=k),
}
DIMS = [1, -1, (2, 3), (1, 3), (0, 1, 2, 3), 0]


@pytest.mark.parametrize("after_conv", [True, False], ids=["after_conv", "root"])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dims", DIMS, ids=str)
@pytest.mark.parametrize("name", REDUCE)
def test_reduce(name: str, dims: object, keepdim: bool, after_conv: bool) -> None:
    fn = REDUCE[name]
    if after_conv:
        model: nn.Module = AfterConv(lambda y: fn(y, dims, keepdim))
        x = torch.randn(2, 3, 5, 6)
    else:
        model = Lambda(lambda x: fn(x, dims, keepdim))
        x = torch.randn(2, 4, 5, 6)
    assert_converts(model, x)


@pytest.mark.parametrize("name", ["mean", "sum", "amax", "prod", "all_true", "any_true"])
def test_reduce_everything(name: str) -> None:
    fns = {
        "mean": torch.mean,
        "sum": torch.sum,
        "amax": torch.amax,
        "prod": lambda x: torch.prod(x.sigmoid() + 0.5),
        "all_true": lambda x: torch.all(x > -10).float(),
        "any_true": lambda x: torch.any(x > 1).float(),
    }
    assert_converts(Lambda(fns[name]), torch.randn(3, 4, 5))


@pytest.mark.parametrize("after_conv", [True, False], ids=["after_conv", "root"])
@pytest.mark.parametrize("dim", [1, 2, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_max_min_argmax(dim: int, keepdim: bool, after_conv: bool) -> None:
    def fn(y: torch.Tensor) -> torch.Tensor:
        values, index = y.max(dim=dim, keepdim=keepdim)
        low = y.min(dim=dim, keepdim=keepdim).values
        return values + low + index.float() + y.argmax(dim, keepdim).float() - y.argmin(dim).sum()

    model = AfterConv(fn) if after_conv else Lambda(fn)
    assert_converts(model, torch.randn(2, 3, 5, 6))


@pytest.mark.parametrize("fn", ["max", "min"])
def test_max_min_indices_are_int64(fn: str) -> None:
    """The indices are an output of their own (EnCodec's codes): int64 as in torch, not
    MLX's uint32."""
    assert_converts(Lambda(lambda x: getattr(x, fn)(dim=-1)), torch.randn(2, 3, 5))


@pytest.mark.parametrize("dim", [1, -1, 0])
def test_cumsum_after_conv(dim: int) -> None:
    assert_converts(AfterConv(lambda y: torch.cumsum(y, dim)), torch.randn(2, 3, 4, 5))


def test_sum_of_int_and_bool() -> None:
    fn = Lambda(lambda x: (x > 0).sum(dim=1).float() + (x * 10).int().sum(-1).float())
    assert_converts(fn, torch.randn(3, 4))


class Pool(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.fc = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(x).mean(dim=(2, 3)))


@pytest.mark.parametrize("frontend", ["export", "fx"])
def test_global_mean_head_both_frontends(frontend: str) -> None:
    assert_converts(Pool(), torch.randn(2, 3, 8, 8), frontend=frontend)


def _both(pair: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    return pair[0], pair[1]


SCANS = {
    "cumsum": lambda y, d: torch.cumsum(y, d),
    "cumprod": lambda y, d: torch.cumprod(y.sigmoid() + 0.5, d),
    "logcumsumexp": lambda y, d: torch.logcumsumexp(y, d),
    "cummax": lambda y, d: _both(torch.cummax(y, d)),
    "cummin": lambda y, d: _both(y.cummin(d)),
}


@pytest.mark.parametrize("after_conv", [True, False], ids=["after_conv", "root"])
@pytest.mark.parametrize("dim", [1, -1, 0, 2])
@pytest.mark.parametrize("name", SCANS)
def test_scan(name: str, dim: int, after_conv: bool) -> None:
    fn = SCANS[name]
    model = AfterConv(lambda y: fn(y, dim)) if after_conv else Lambda(lambda y: fn(y, dim))
    assert_converts(model, torch.randn(2, 3 if after_conv else 4, 5, 6))


@pytest.mark.parametrize("name", ["cummax", "cummin"])
def test_cummax_ties_take_the_later_index(name: str) -> None:
    """Small integers tie often: torch reports the latest index reaching the extreme."""
    fn = Lambda(lambda y: SCANS[name](y, 1))
    x = torch.randint(-2, 3, (4, 30)).float()
    assert_converts(fn, x, fresh=0)


@pytest.mark.parametrize("name", ["cummax", "cummin"])
def test_cummax_nan(name: str) -> None:
    """A NaN becomes the running extreme from there on, its index the latest NaN's."""

    def fn(y: torch.Tensor) -> tuple[torch.Tensor, ...]:
        values, index = SCANS[name](torch.where(y > 1.2, float("nan"), y), 1)
        # the validator compares numbers: NaN places apart
        return torch.isnan(values), torch.where(torch.isnan(values), 0.0, values), index

    x = torch.randn(5, 20)
    assert torch.isnan(torch.where(x > 1.2, float("nan"), x)).any()
    assert_converts(Lambda(fn), x, fresh=0)


@pytest.mark.parametrize(
    "fn",
    [
        lambda y: torch.cumsum(y > 0, 1),
        lambda y: torch.cumsum((y * 4).int(), 0),
        lambda y: torch.cumprod((y * 2).long().clamp(-2, 2), 1),
        lambda y: torch.cumsum(y, 1, dtype=torch.float16).float(),
        lambda y: torch.cumprod(y.half(), 1).float() + torch.cumsum(y.bfloat16(), 0).float(),
        lambda y: torch.cumprod(y, -1, dtype=torch.float64),
        lambda y: y.sum().cumsum(0) + y.sum().cumprod(0),
        lambda y: _both(y.sum().cummax(0)),
    ],
    ids=["bool", "int32", "int64", "to_half", "half", "to_double", "scalar", "scalar_cummax"],
)
def test_scan_dtypes(fn: object) -> None:
    assert_converts(Lambda(fn), torch.randn(3, 6))


@pytest.mark.parametrize("order", [0, -float("inf"), -2.0], ids=str)
@pytest.mark.parametrize("dims", [None, 1, (0, 2)], ids=str)
def test_vector_norm_orders(order: float, dims: object) -> None:
    """ord=0 counts non-zero entries, -inf is the smallest magnitude."""
    x = torch.relu(torch.randn(3, 4, 5))  # half zeros: ord 0 must count them out
    fn = Lambda(lambda t: torch.linalg.vector_norm(t, order, dim=dims))
    assert_converts(fn, x + 0.1 if order == -2.0 else x)


ZERO_D = {
    "amax": lambda x: x.amax(dim=0, keepdim=True),
    "amin": lambda x: x.amin(dim=-1),
    "sum": lambda x: x.sum(dim=0),
    "argmax": lambda x: x.argmax(),
    "argmin": lambda x: x.argmin(dim=0, keepdim=True),
    "logsumexp": lambda x: torch.logsumexp(x, dim=0),
    "cumsum": lambda x: torch.cumsum(x, 0),
    "norm": lambda x: torch.linalg.vector_norm(x, dim=-1),
}


@pytest.mark.parametrize("name", ZERO_D)
def test_reduce_zero_dim_tensor(name: str) -> None:
    """torch reduces a 0-d tensor over dim 0 or -1 and returns a 0-d tensor."""
    assert_converts(Lambda(ZERO_D[name]), torch.tensor(1.5))


def test_fractional_correction_is_reported() -> None:
    with pytest.raises(fx2mlx.UnsupportedError, match="fractional correction"):
        fx2mlx.convert(Lambda(lambda x: x.var(dim=1, correction=0.5)), torch.randn(3, 4))
