"""Ops without a converter (or refused) that PyTorch can decompose: decompose_unsupported."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import fx2mlx

from .helpers import Lambda, assert_converts


class Composites(nn.Module):
    """Composite ATen ops fx2mlx has no converter for, next to a layer it converts whole."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        y = self.fc(x)
        spread = torch.broadcast_to(x[:, :1], x.shape)
        return torch.tile(y, (2, 1)), torch.rot90(x, 1, (1, 2)), torch.nanmean(x, 1), spread


@pytest.mark.parametrize("frontend", ["export", "fx"])
def test_composites_convert_through_decomposition(frontend: str) -> None:
    conv = assert_converts(Composites(), torch.randn(3, 4, 4), frontend=frontend)
    assert "self.fc = nn.Linear(4, 4)" in conv.source  # the layer stays whole


def test_mutated_input_with_a_decomposed_op() -> None:
    """The re-exported program also returns the mutated input; only forward's outputs stay."""

    def fn(x: torch.Tensor) -> torch.Tensor:
        x.mul_(2)
        return torch.rot90(x, 1, (0, 1)) + 1

    conv = assert_converts(Lambda(fn), torch.randn(4, 4))
    assert ") -> mx.array:" in conv.source  # one tensor out, not the mutated input too


@pytest.mark.parametrize(
    "fn,reason",
    [
        (lambda x: torch.var(x, 1, correction=0.5), "fractional correction"),
        (lambda x: torch.special.erfinv(torch.tanh(x)), "aten.special_erfinv"),
    ],
    ids=["refused", "no_converter"],
)
def test_decomposition_that_does_not_help_keeps_the_original_reason(
    fn: object, reason: str
) -> None:
    """A decomposition leaving as many problems is undone: the message names the user's op,
    not an internal op of its decomposition (``prims.var``, ``prims.erf_inv``)."""
    with pytest.raises(fx2mlx.UnsupportedError, match=reason) as err:
        fx2mlx.convert(Lambda(fn), torch.randn(3, 5))
    assert "prims." not in str(err.value)


def test_decomposed_and_reported_ops_together() -> None:
    """One op decomposes, another can't: the first converts, the second is reported."""

    def fn(x: torch.Tensor) -> torch.Tensor:
        return torch.histc(torch.tile(x, (2, 1)), 4)

    with pytest.raises(fx2mlx.UnsupportedError) as err:
        fx2mlx.convert(Lambda(fn), torch.randn(3, 5))
    assert "aten.histc" in str(err.value) and "tile" not in str(err.value)
