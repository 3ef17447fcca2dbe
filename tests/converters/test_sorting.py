"""Sorting against torch: sort, argsort, topk; values and indices, on both layouts, with ties
(stable sorts) and NaN."""

from __future__ import annotations

import pytest
import torch

from ..helpers import AfterConv, Lambda, assert_converts

NAN = float("nan")


def _pair(result: tuple) -> tuple[torch.Tensor, torch.Tensor]:
    return result[0], result[1]


SORTS = {
    "sort": lambda y, d: _pair(torch.sort(y, d)),
    "sort_desc": lambda y, d: _pair(y.sort(d, descending=True)),
    "sort_stable": lambda y, d: _pair(torch.sort(y, dim=d, stable=True)),
    "sort_stable_desc": lambda y, d: _pair(y.sort(dim=d, stable=True, descending=True)),
    "argsort": lambda y, d: torch.argsort(y, d),
    "argsort_desc": lambda y, d: y.argsort(d, descending=True),
    "argsort_stable_desc": lambda y, d: torch.argsort(y, dim=d, descending=True, stable=True),
    "topk": lambda y, d: _pair(y.topk(2, d)),
    "topk_smallest": lambda y, d: _pair(torch.topk(y, 2, d, largest=False)),
    "topk_all": lambda y, d: _pair(y.topk(y.shape[d], d)),
}


@pytest.mark.parametrize("after_conv", [True, False], ids=["after_conv", "root"])
@pytest.mark.parametrize("dim", [1, -1, 0, 2])
@pytest.mark.parametrize("name", SORTS)
def test_sort(name: str, dim: int, after_conv: bool) -> None:
    fn = SORTS[name]
    model = AfterConv(lambda y: fn(y, dim)) if after_conv else Lambda(lambda y: fn(y, dim))
    assert_converts(model, torch.randn(2, 3 if after_conv else 4, 5, 6))


STABLE = ["sort_stable", "sort_stable_desc", "argsort_stable_desc"]


@pytest.mark.parametrize("dtype", [torch.float32, torch.int64, torch.int32], ids=str)
@pytest.mark.parametrize("name", STABLE)
def test_stable_sort_ties(name: str, dtype: torch.dtype) -> None:
    """Small integers tie often: a stable sort keeps tied values in their original order."""
    x = torch.randint(-2, 3, (3, 40)).to(dtype)
    assert_converts(Lambda(lambda y: SORTS[name](y, 1)), x, fresh=0)


@pytest.mark.parametrize("name", STABLE)
def test_stable_sort_of_bools(name: str) -> None:
    assert_converts(Lambda(lambda y: SORTS[name](y > 0, -1)), torch.randn(3, 20), fresh=0)


@pytest.mark.parametrize(
    "name,nans",
    [
        ("sort_stable", 2),
        ("sort_stable_desc", 2),
        ("argsort_stable_desc", 2),
        ("topk", 1),  # NaNs tie: which of several torch's topk picks is unspecified
        ("topk_smallest", 1),
    ],
)
def test_sort_nan(name: str, nans: int) -> None:
    """NaN sorts last ascending and first descending; topk counts it as the largest."""

    def fn(y: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = SORTS[name](torch.where(y > 1.0, NAN, y), 1)
        out = out if isinstance(out, tuple) else (out,)
        # the validator compares numbers: NaN places apart
        return tuple(
            torch.where(torch.isnan(o), 99.0, o) if o.is_floating_point() else o for o in out
        )

    x = torch.rand(4, 12) * 1.8 - 0.9  # distinct values below the NaN threshold
    x[:, [3, 7][:nans]] = 2.0  # NaN there
    assert_converts(Lambda(fn), x, fresh=0)


def test_topk_unsorted_is_sorted_and_says_so() -> None:
    """sorted=False leaves the order to the implementation: an order-free use matches."""
    fn = Lambda(lambda y: y.topk(3, dim=1, sorted=False).values.sum(1))
    conv = assert_converts(fn, torch.randn(4, 9))
    assert "sorted=False" in conv.source


def test_topk_gather_head() -> None:
    """A top-k router: pick the best experts' scores and gather their rows."""

    def route(scores: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        weights, index = scores.softmax(-1).topk(2, dim=-1)
        return (weights.unsqueeze(-1) * values[index]).sum(1)

    assert_converts(Lambda(route), (torch.randn(5, 8), torch.randn(8, 4)))


@pytest.mark.parametrize("name", ["sort", "sort_desc", "argsort", "argsort_desc", "topk_one"])
def test_sort_of_a_scalar(name: str) -> None:
    fns = {**SORTS, "topk_one": lambda y, d: _pair(y.topk(1, d))}
    assert_converts(Lambda(lambda y: fns[name](y.sum(), 0)), torch.randn(3, 4))
