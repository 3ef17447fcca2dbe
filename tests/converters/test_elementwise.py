"""Elementwise ops against torch: arithmetic, comparisons, math functions, where, casts."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ..helpers import Lambda, assert_converts

# Some lambdas take (b, a): the first input is then not the first one used, which the
# generated signature must still respect.
BINARY = {
    "add": lambda a, b: a + b,
    "add_alpha": lambda a, b: torch.add(a, b, alpha=2.5),
    "sub": lambda a, b: a - b,
    "sub_alpha": lambda a, b: torch.sub(a, b, alpha=-0.5),
    "rsub_scalar": lambda a, b: 2.0 - a + b,
    "mul": lambda a, b: a * b,
    "div": lambda b, a: a / (b.abs() + 1),
    "div_floor": lambda a, b: torch.div(a * 5, b.abs() + 1, rounding_mode="floor"),
    "div_trunc": lambda a, b: torch.div(a * 5, b.abs() + 1, rounding_mode="trunc"),
    "pow_scalar": lambda a, b: a**2 + b.abs() ** 0.5,
    "rpow": lambda a, b: 2.0**a + b,
    "pow_tensor": lambda a, b: a.abs() ** b,
    "precedence": lambda a, b: (a - b) * (a + 1) / (b - 2) - -a,
    "maximum": lambda a, b: torch.maximum(a, b),
    "minimum": lambda a, b: torch.minimum(a, b),
    "max_other": lambda a, b: torch.max(a, b) + a.max(b),
    "min_other": lambda a, b: torch.min(a, b) - a.min(b),
    "fmax": lambda a, b: torch.fmax(a, b),
    "fmin": lambda a, b: torch.fmin(a, b),
    "where": lambda a, b: torch.where(a > b, a, b * 2),
    "where_scalar": lambda a, b: torch.where(a > 0, a, 0.0) + b,
    "masked_fill": lambda b, a: a.masked_fill(b > 0, -3.0),
    "compare": lambda a, b: (a > b).float()
    + (a <= 0.5).float()
    + (a == a).float()
    + (a != b).float(),
    "logical": lambda a, b: ((a > 0) & (b > 0)).float() - ((a > 0) | (b < 0)).float(),
    "clamp": lambda a, b: torch.clamp(a, min=-0.5) + torch.clamp(b, max=0.3) + a.clamp(-1, 1),
    "clamp_tensor": lambda b, a: torch.clamp(a, min=b - 1, max=b + 1),
    "clamp_tensor_min": lambda a, b: torch.clamp(a, min=b) + torch.clamp_min(b, a * 2),
    "clamp_tensor_max": lambda a, b: torch.clamp(a, max=b) + torch.clamp_max(b, a * 2),
    "clamp_crossed": lambda a, b: torch.clamp(a, min=b + 1, max=b - 1),
    "fmod": lambda a, b: torch.fmod(a * 5, b),
    "remainder": lambda a, b: torch.remainder(a * 5, b),
    "atan2": lambda a, b: torch.atan2(a, b),
    "lerp": lambda b, a: torch.lerp(a, b, b.sigmoid()),
    "addcdiv": lambda b, a: torch.addcdiv(a, a, b.abs() + 1, value=-2),
}


@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize(
    "shapes", [((3, 4, 5), (3, 4, 5)), ((3, 4, 5), (4, 1)), ((5,), (2, 1, 5))], ids=str
)
def test_binary(name: str, shapes: tuple) -> None:
    a, b = (torch.randn(*s) for s in shapes)
    assert_converts(Lambda(BINARY[name]), (a, b))


NAN = float("nan")


def _holes(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """NaN in a where a > 1 and in b where b < -1 (both in some places)."""
    return torch.where(a > 1, NAN, a), torch.where(b < -1, NAN, b)


MIN_MAX = {
    "maximum": torch.maximum,
    "minimum": torch.minimum,
    "max_other": torch.max,
    "min_other": torch.min,
    "fmax": torch.fmax,
    "fmin": torch.fmin,
}


@pytest.mark.parametrize("name", MIN_MAX)
def test_min_max_nan(name: str) -> None:
    """maximum/minimum propagate a NaN; fmax/fmin take the other side (NaN only if both)."""
    fn = MIN_MAX[name]
    a, b = torch.randn(6, 7), torch.randn(6, 7)
    a[0, 0], b[0, 0] = 3, -3  # NaN on both sides at least once
    assert torch.isnan(fn(*_holes(a, b))).any()

    def where_nan(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = fn(*_holes(x, y))  # the validator compares numbers: NaN places apart
        return torch.isnan(out), torch.where(torch.isnan(out), 0.0, out)

    assert_converts(Lambda(where_nan), (a, b))


@pytest.mark.parametrize("name", MIN_MAX)
def test_min_max_integers(name: str) -> None:
    a, b = torch.randint(-9, 9, (4, 5)), torch.randint(-9, 9, (4, 5))
    assert_converts(Lambda(lambda x, y: MIN_MAX[name](x, y) * 2), (a, b))


UNARY = {
    "neg": lambda x: -x,
    "exp": torch.exp,
    "log": lambda x: torch.log(x.abs() + 0.1),
    "log1p": lambda x: torch.log1p(x.abs()),
    "sqrt": lambda x: torch.sqrt(x.abs()),
    "rsqrt": lambda x: torch.rsqrt(x.abs() + 0.5),
    "abs": torch.abs,
    "sin": torch.sin,
    "cos": torch.cos,
    "erf": torch.erf,
    "reciprocal": lambda x: torch.reciprocal(x + 10),
    "floor": lambda x: torch.floor(x * 3),
    "ceil": lambda x: torch.ceil(x * 3),
    "round": lambda x: torch.round(x * 3),
    "sign": torch.sign,
    "square": torch.square,
    "not": lambda x: torch.logical_not(x > 0).float(),
    "isnan": lambda x: torch.isnan(x).float(),
    "tan": torch.tan,
    "atan": torch.atan,
    "expm1": torch.expm1,
    "log2": lambda x: torch.log2(x.abs() + 1),
    "trunc": lambda x: torch.trunc(x * 3),
    "frac": lambda x: torch.frac(x * 3),
    "fmod": lambda x: torch.fmod(x * 5, 1.5),
    "remainder": lambda x: torch.remainder(x * 5, 1.5),
    "lerp": lambda x: torch.lerp(x, x * 2 + 1, 0.3),
    "addcmul": lambda x: torch.addcmul(x, x, x, value=0.5),
}


@pytest.mark.parametrize("name", UNARY)
def test_unary(name: str) -> None:
    assert_converts(Lambda(UNARY[name]), torch.randn(3, 4, 5))


@pytest.mark.parametrize("dtype", [torch.float16, torch.int32, torch.int64, torch.bool])
def test_cast_roundtrip(dtype: torch.dtype) -> None:
    assert_converts(Lambda(lambda x: (x * 4).to(dtype).float() + x.type_as(x)), torch.randn(3, 5))


def test_integer_arithmetic() -> None:
    fn = Lambda(lambda i: (i * 3 + 1) // 2 - i % 3)
    assert_converts(fn, torch.randint(-20, 20, (4, 5)))


class Bias(nn.Module):
    """conv -> elementwise with a broadcast (C, 1, 1) parameter: the channels-last remap."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.scale = nn.Parameter(torch.randn(4, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return torch.where(y > 0, y * self.scale, y.exp() - 1) + y.mean(dim=(2, 3), keepdim=True)


@pytest.mark.parametrize("frontend", ["export", "fx"])
def test_elementwise_after_conv_both_frontends(frontend: str) -> None:
    assert_converts(Bias(), torch.randn(2, 3, 6, 7), frontend=frontend)


def test_residual_conv_blocks() -> None:
    class Res(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Conv2d(4, 4, 3, padding=1)
            self.b = nn.Conv1d(4, 4, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = torch.relu(self.a(x)) + x
            z = y.flatten(2)
            return self.b(z) * z.sigmoid() - y.flatten(2)

    assert_converts(Res(), torch.randn(2, 4, 5, 6))


INTEGER_LOGIC = {
    "bitwise_and_add": lambda a, b: torch.bitwise_and(a, b) + 1,
    "bitwise_or_sub": lambda a, b: torch.bitwise_or(a, b) - 2,
    "logical_and_add": lambda a, b: torch.logical_and(a, b) + 1,
    "logical_or_int": lambda a, b: torch.logical_or(a, b).int() * 3,
    "logical_and_float": lambda a, b: torch.logical_and(a.float() - 2, b.float()).float(),
}


@pytest.mark.parametrize("name", INTEGER_LOGIC)
def test_integer_logic(name: str) -> None:
    # logical ops treat any nonzero as True (2 & 1 == 0 bitwise); & and | bind looser than +
    a, b = torch.randint(0, 4, (3, 5)), torch.randint(0, 4, (3, 5))
    assert_converts(Lambda(INTEGER_LOGIC[name]), (a, b), fresh=2)
