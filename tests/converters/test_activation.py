"""Activations against torch: modules (in a Sequential and as the root) and functional forms."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import fx2mlx

from ..helpers import Lambda, assert_converts

MODULES = [
    nn.ReLU(),
    nn.ReLU6(),
    nn.SiLU(),
    nn.Sigmoid(),
    nn.Tanh(),
    nn.Hardswish(),
    nn.Hardsigmoid(),
    nn.Mish(),
    nn.GELU(),
    nn.GELU(approximate="tanh"),
    nn.LeakyReLU(),
    nn.LeakyReLU(0.2),
    nn.LeakyReLU(-0.5),
    nn.ELU(),
    nn.ELU(alpha=0.5),
    nn.Softplus(),
    nn.Softplus(beta=2.0),
    nn.Softplus(beta=0.5, threshold=2.0),
    nn.Hardtanh(),
    nn.Hardtanh(-2.0, 0.5),
    nn.Softsign(),
    nn.Tanhshrink(),
    nn.LogSigmoid(),
    nn.PReLU(),
    nn.PReLU(4),
    nn.SELU(),
    nn.CELU(0.7),
    nn.Hardshrink(),
    nn.Softshrink(0.3),
    nn.GLU(),
    nn.Threshold(0.1, -2.0),
]


@pytest.mark.parametrize("where", ["sequential", "root", "after_conv"])
@pytest.mark.parametrize("act", MODULES, ids=repr)
def test_activation_module(act: nn.Module, where: str) -> None:
    x = torch.randn(2, 4, 6, 8) * 4
    if where == "sequential":
        model: nn.Module = nn.Sequential(act, nn.Identity())
    elif where == "root":
        model = act
    else:
        model = nn.Sequential(nn.Conv2d(4, 4, 1), act)
    assert_converts(model, x)


FUNCTIONAL = {
    "gelu": lambda x: F.gelu(x),
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "leaky_relu": lambda x: F.leaky_relu(x, 0.3),
    "relu6": lambda x: F.relu6(x),
    "hardtanh": lambda x: F.hardtanh(x, -0.5, 2.0),
    "elu": lambda x: F.elu(x, 2.0),
    "softplus": lambda x: F.softplus(x, beta=3.0, threshold=5.0),
    "silu": lambda x: F.silu(x),
    "sigmoid": lambda x: torch.sigmoid(x),
    "clamp": lambda x: torch.clamp(x, -1.0, 0.5),
}


@pytest.mark.parametrize("name", FUNCTIONAL)
def test_activation_functional(name: str) -> None:
    assert_converts(Lambda(FUNCTIONAL[name]), torch.randn(3, 5, 7) * 4)


@pytest.mark.parametrize("dim", [0, 1, 2, 3, -1, -3])
@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
@pytest.mark.parametrize("after_conv", [True, False], ids=["after_conv", "root"])
def test_softmax(fn: str, dim: int, after_conv: bool) -> None:
    conv = nn.Conv2d(3, 4, 1)
    op = getattr(F, fn)

    def f(x: torch.Tensor) -> torch.Tensor:
        return op(conv(x) if after_conv else x, dim=dim)

    model = nn.Sequential(conv, Lambda(lambda y: op(y, dim=dim))) if after_conv else Lambda(f)
    assert_converts(model, torch.randn(2, 3, 5, 6) * 3)


@pytest.mark.parametrize("cls", [nn.Softmax, nn.LogSoftmax])
@pytest.mark.parametrize("dim", [1, -1])
def test_softmax_module_after_conv1d(cls: type, dim: int) -> None:
    assert_converts(nn.Sequential(nn.Conv1d(3, 4, 1), cls(dim=dim)), torch.randn(2, 3, 7))


class Acts(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(x) + F.hardswish(x) * F.leaky_relu(x, 0.1) - F.softmax(x, dim=1)


@pytest.mark.parametrize("frontend", ["export", "fx"])
def test_activations_both_frontends(frontend: str) -> None:
    assert_converts(Acts(), torch.randn(2, 4, 5) * 3, frontend=frontend)


@pytest.mark.parametrize("shape", [(), (5,), (3, 4), (2, 4, 5)], ids=str)
def test_prelu_keeps_low_rank_shapes(shape: tuple[int, ...]) -> None:
    """A 0-d input stays 0-d (the (1,) slope must not broadcast it to (1,))."""
    prelu = nn.PReLU(4 if len(shape) >= 2 else 1)
    with torch.no_grad():
        prelu.weight.uniform_(-1.0, 1.0)
    assert_converts(prelu, torch.randn(shape) * 3)


@pytest.mark.parametrize("fn", [torch.softmax, torch.log_softmax], ids=["softmax", "log_softmax"])
def test_softmax_of_empty_tensor(fn: object) -> None:
    assert_converts(Lambda(lambda x: fn(x, -1)), torch.randn(5, 0, 0))  # type: ignore[operator]


@pytest.mark.parametrize("fn", [F.dropout, F.alpha_dropout, F.dropout2d], ids=lambda f: f.__name__)
def test_dropout_in_training_mode_is_reported(fn: object) -> None:
    """train=True is random: refused, never emitted as the identity."""
    model = Lambda(lambda x: fn(x, 0.5, True))  # type: ignore[operator]
    with pytest.raises(fx2mlx.UnsupportedError, match="dropout with train=True"):
        fx2mlx.convert(model, torch.randn(2, 4, 5, 5))


def test_dropout_off_is_removed() -> None:
    assert_converts(
        Lambda(lambda x: F.dropout(x, 0.5, False) + F.dropout(x, 0.0, True)), torch.randn(3, 4)
    )


@pytest.mark.parametrize("shape", [(), (5,), (2, 4, 5)], ids=str)
def test_prelu_with_scalar_slope(shape: tuple[int, ...]) -> None:
    """F.prelu takes a 0-d weight: one slope for every element."""
    slope = torch.tensor(0.3)
    assert_converts(Lambda(lambda x: F.prelu(x, slope)), torch.randn(shape) * 3)
