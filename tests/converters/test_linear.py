"""Linear algebra and lookups against torch: linear, bilinear, matmul, bmm, addmm, embedding."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ..helpers import Lambda, assert_converts


class Wrap(nn.Module):
    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)


@pytest.mark.parametrize("wrapped", [True, False], ids=["layer", "functional"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(5, 6), (2, 3, 6), (2, 3, 4, 6), (6,)], ids=str)
def test_linear(shape: tuple, bias: bool, wrapped: bool) -> None:
    layer = nn.Linear(6, 4, bias=bias)
    conv = assert_converts(Wrap(layer) if wrapped else layer, torch.randn(*shape))
    assert ("nn.Linear(" in conv.source) == wrapped


class CastLinear(nn.Linear):
    """Whisper's ``Linear``: forward re-spelled with casts to the input's dtype."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = None if self.bias is None else self.bias.to(x.dtype)
        return F.linear(x, self.weight.to(x.dtype), bias)


class ScaledLinear(nn.Linear):
    """Overrides forward with other math: must not become ``nn.Linear``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * 2, self.bias)


class SwappedLinear(nn.Linear):
    """F.linear on its own parameters, but not the base's math (an extra parameter as bias)."""

    def __init__(self) -> None:
        super().__init__(6, 6, bias=False)
        self.shift = nn.Parameter(torch.randn(6))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.shift)


@pytest.mark.parametrize("bias", [True, False])
def test_linear_subclass_with_same_math_is_nn_linear(bias: bool) -> None:
    model = nn.Sequential(CastLinear(6, 8, bias=bias), nn.ReLU(), CastLinear(8, 4, bias=bias))
    conv = assert_converts(Wrap(model), torch.randn(2, 3, 6))
    assert conv.source.count("nn.Linear(") == 2 and ".T" not in conv.source


@pytest.mark.parametrize("layer", [ScaledLinear(6, 4), SwappedLinear()], ids=["scaled", "shift"])
def test_linear_subclass_with_other_math_stays_expanded(layer: nn.Module) -> None:
    conv = assert_converts(Wrap(layer), torch.randn(2, 3, 6))
    assert "nn.Linear(" not in conv.source


def test_linear_op_with_a_bias_is_one_addmm() -> None:
    # a subclass whose forward is other math stays op by op: F.linear with a bias is emitted
    # as MLX's nn.Linear computes it, one mx.addmm
    conv = assert_converts(Wrap(ScaledLinear(6, 4)), torch.randn(2, 3, 6))
    assert "mx.addmm(" in conv.source and ".T +" not in conv.source


def test_linear_on_conv_channels() -> None:
    # a Linear over a conv's channel axis (after a permute) meets the channels-last layout
    class M(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3)
            self.fc = nn.Linear(8, 5)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(self.conv(x).permute(0, 2, 3, 1))

    assert_converts(M(), torch.randn(2, 3, 6, 7))


def test_linear_on_conv_width() -> None:
    # ... and over the width axis, which channels-last does not keep last
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Linear(5, 4))
    assert_converts(model, torch.randn(2, 3, 6, 7))


MATMUL = [
    ((3, 4), (4, 5)),
    ((2, 3, 4), (4, 5)),
    ((2, 3, 4), (2, 4, 5)),
    ((4,), (4, 5)),
    ((3, 4), (4,)),
    ((4,), (4,)),
    ((2, 1, 3, 4), (5, 4, 2)),
    ((6, 3, 4), (4,)),
]


@pytest.mark.parametrize("a,b", MATMUL, ids=str)
def test_matmul(a: tuple, b: tuple) -> None:
    assert_converts(Lambda(torch.matmul), (torch.randn(*a), torch.randn(*b)))


def test_mm_and_bmm() -> None:
    fn = Lambda(lambda a, b, c: torch.bmm(a, b) + torch.mm(a[0], b[0]) * c)
    assert_converts(fn, (torch.randn(2, 3, 4), torch.randn(2, 4, 5), torch.randn(())))


@pytest.mark.parametrize("beta,alpha", [(1, 1), (0.5, 1), (1, 2.0), (0, 3), (-1, -0.5)])
def test_addmm(beta: float, alpha: float) -> None:
    fn = Lambda(lambda i, a, b: torch.addmm(i, a, b, beta=beta, alpha=alpha))
    assert_converts(fn, (torch.randn(3, 5), torch.randn(3, 4), torch.randn(4, 5)))


def test_addmm_broadcast_bias_and_baddbmm() -> None:
    # (inputs used in signature order: see test_inputs_keep_signature_order)
    fn = Lambda(lambda i, a, b: torch.baddbmm(i, a, b, beta=2) + torch.addmm(i, a[0], b[0]).sum())
    assert_converts(fn, (torch.randn(5), torch.randn(2, 3, 4), torch.randn(2, 4, 5)))


class FirstInputUsedLast(nn.Module):
    def forward(self, i: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return (a @ b).sum() + i


def test_inputs_keep_signature_order() -> None:
    assert_converts(FirstInputUsedLast(), (torch.randn(5), torch.randn(3, 4), torch.randn(4, 5)))


def test_matmul_after_conv() -> None:
    # matmul of a conv output with its own transpose (attention-like, over spatial positions)
    class M(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.conv(x).flatten(2)  # (N, C, HW)
            return y @ y.transpose(1, 2)

    assert_converts(M(), torch.randn(2, 3, 4, 5))


class Emb(nn.Module):
    def __init__(self, **kw: object) -> None:
        super().__init__()
        self.emb = nn.Embedding(11, 6, **kw)  # type: ignore[arg-type]

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.emb(ids)


@pytest.mark.parametrize(
    "kw", [dict(), dict(padding_idx=0), dict(scale_grad_by_freq=True)], ids=str
)
@pytest.mark.parametrize("shape", [(7,), (2, 5), (2, 3, 4)], ids=str)
def test_embedding(kw: dict, shape: tuple) -> None:
    assert_converts(Emb(**kw), torch.randint(0, 11, shape))


@pytest.mark.parametrize("norm_type", [1.0, 2.0])
def test_embedding_max_norm(norm_type: float) -> None:
    assert_converts(Emb(max_norm=1.0, norm_type=norm_type), torch.randint(0, 11, (2, 5)))


class TiedRenorm(nn.Module):
    """The renormed rows are visible to a later reader of the same weight; others are not."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(11, 6, max_norm=0.5)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.emb(ids).sum(1) @ self.emb.weight.T


def test_embedding_max_norm_mutation_is_seen_by_later_readers() -> None:
    assert_converts(TiedRenorm(), torch.randint(0, 5, (2, 3)))


def test_functional_embedding_and_frontends() -> None:
    w = torch.randn(9, 4)
    assert_converts(Lambda(lambda i: F.embedding(i, w) * 2), torch.randint(0, 9, (3, 5)))


@pytest.mark.parametrize("frontend", ["export", "fx"])
def test_embedding_linear_both_frontends(frontend: str) -> None:
    model = nn.Sequential(nn.Embedding(10, 8), nn.Linear(8, 3))
    assert_converts(model, torch.randint(0, 10, (2, 6)), frontend=frontend)


class Pair(nn.Module):
    """A two-input layer inside a model (and a self-bilinear use of the same input)."""

    def __init__(self, layer: nn.Module, same: bool = False) -> None:
        super().__init__()
        self.layer = layer
        self.same = same

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.layer(a, a if self.same else b)


@pytest.mark.parametrize("same", [False, True], ids=["pair", "self"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("lead", [(), (3,), (2, 3)], ids=str)
def test_bilinear(lead: tuple, bias: bool, same: bool) -> None:
    layer = nn.Bilinear(4, 4 if same else 5, 3, bias=bias)
    inputs = (torch.randn(*lead, 4), torch.randn(*lead, 4 if same else 5))
    conv = assert_converts(Pair(layer, same), inputs)
    assert "mx.einsum(" in conv.source


@pytest.mark.parametrize("bias", [True, False])
def test_functional_bilinear(bias: bool) -> None:
    w, b = torch.randn(3, 4, 5), torch.randn(3) if bias else None
    fn = Lambda(lambda x1, x2: F.bilinear(x1, x2, w, b))
    assert_converts(fn, (torch.randn(6, 4), torch.randn(6, 5)))
