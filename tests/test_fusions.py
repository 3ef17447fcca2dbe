"""Fusions: attention, RMSNorm, LayerNorm and GELU written out become MLX's fused primitives
only where a float64 evaluation proves the same function; near misses stay as written. Every
model is checked against torch on fresh random inputs (random weights), at a second sequence
length where the length is dynamic."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
from torch import nn

from .helpers import assert_converts

SDPA = "mx.fast.scaled_dot_product_attention"
_SEQ = {0: [1]}  # the sequence axis dynamic: validation also runs at a second length


class _Attention(nn.Module):
    """timm's attention (packed qkv, ``q @ k^T * scale``, softmax, ``@ v``), with knobs for
    the near misses."""

    def __init__(self, scores: Callable[..., torch.Tensor], softmax_dim: int = -1) -> None:
        super().__init__()
        self.scores, self.dim = scores, softmax_dim
        self.qkv = nn.Linear(32, 96)
        self.proj = nn.Linear(32, 32)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, 4, c // 4).permute(2, 0, 3, 1, 4).unbind(0)
        attn = self.scores(q, k, mask).softmax(dim=self.dim)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))


def _timm(q: torch.Tensor, k: torch.Tensor, mask: object) -> torch.Tensor:
    return (q @ k.transpose(-2, -1)) * (q.shape[-1] ** -0.5)


def _divided(q: torch.Tensor, k: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return torch.matmul(q, k.transpose(2, 3)) / math.sqrt(q.shape[-1]) + mask


def _other_scale(q: torch.Tensor, k: torch.Tensor, mask: object) -> torch.Tensor:
    return 0.3 * (q @ k.transpose(-1, -2))


def _scaled_query(q: torch.Tensor, k: torch.Tensor, mask: object) -> torch.Tensor:
    return (q * 0.25) @ k.transpose(-2, -1)


def _mask_scaled(q: torch.Tensor, k: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (q @ k.transpose(-2, -1) + mask) * 0.35  # the mask is scaled too: not sdpa's


def _x() -> torch.Tensor:
    return torch.randn(2, 6, 32)


def _mask() -> torch.Tensor:
    return torch.randn(2, 1, 6, 6)


@pytest.mark.parametrize(
    "scores,scale,masked",
    [(_timm, "0.3535533905932738", False), (_divided, "0.35355339059327373", True)],
    ids=["times-d**-0.5", "over-sqrt-d-plus-mask"],
)
def test_written_out_attention_is_fused(scores: Callable, scale: str, masked: bool) -> None:
    inputs = (_x(), _mask()) if masked else (_x(),)
    dynamic = {0: [1], 1: [2, 3]} if masked else _SEQ
    conv = assert_converts(_Attention(scores), inputs, dynamic=dynamic)
    assert SDPA in conv.source and "mx.softmax" not in conv.source, conv.source
    assert f"scale={scale}" in conv.source, conv.source
    # a written-out softmax doesn't zero fully masked rows: no guard
    assert "mx.where" not in conv.source and "mx.any" not in conv.source


def test_any_scale_becomes_the_scale() -> None:
    conv = assert_converts(_Attention(_other_scale), _x(), dynamic=_SEQ)
    assert SDPA in conv.source and "scale=0.3" in conv.source, conv.source


def test_scale_folded_into_the_query_stays_with_the_query() -> None:
    conv = assert_converts(_Attention(_scaled_query), _x(), dynamic=_SEQ)
    assert SDPA in conv.source and "scale=1.0" in conv.source, conv.source
    assert "* 0.25" in conv.source


def test_softmax_over_the_query_axis_is_not_attention() -> None:
    conv = assert_converts(_Attention(_timm, softmax_dim=-2), _x(), dynamic=_SEQ)
    assert SDPA not in conv.source and "mx.softmax" in conv.source, conv.source


def test_a_scaled_mask_is_not_fused() -> None:
    conv = assert_converts(_Attention(_mask_scaled), (_x(), _mask()))
    assert SDPA not in conv.source, conv.source


class _LlamaRMSNorm(nn.Module):
    def __init__(self, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(32))
        self.eps = eps

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        dtype = h.dtype
        h = h.to(torch.float32)
        variance = h.pow(2).mean(-1, keepdim=True)
        return self.weight * (h * torch.rsqrt(variance + self.eps)).to(dtype)


class _Norm(nn.Module):
    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor], affine: bool = True) -> None:
        super().__init__()
        self.fn = fn
        self.w = nn.Parameter(torch.randn(32)) if affine else None
        self.b = nn.Parameter(torch.randn(32)) if affine else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.fn(x)
        return y if self.w is None else self.w * y + self.b


def _rms_div(x: torch.Tensor) -> torch.Tensor:
    return x / torch.sqrt((x * x).mean(-1, keepdim=True) + 1e-5)


def _rms_eps_outside(x: torch.Tensor) -> torch.Tensor:
    return x / (torch.sqrt(x.pow(2).mean(-1, keepdim=True)) + 1e-5)


def _layer_norm(x: torch.Tensor) -> torch.Tensor:
    u = x.mean(-1, keepdim=True)
    s = (x - u).pow(2).mean(-1, keepdim=True)
    return (x - u) / torch.sqrt(s + 1e-5)


def _layer_norm_rsqrt(x: torch.Tensor) -> torch.Tensor:
    centered = x - x.mean(dim=-1, keepdim=True)
    return centered * torch.rsqrt(centered.pow(2).mean(dim=-1, keepdim=True) + 1e-6)


def _unbiased(x: torch.Tensor) -> torch.Tensor:
    u = x.mean(-1, keepdim=True)
    return (x - u) / torch.sqrt(x.var(-1, keepdim=True) + 1e-5)  # Bessel's correction


def _over_axis_1(x: torch.Tensor) -> torch.Tensor:
    return x * torch.rsqrt(x.pow(2).mean(1, keepdim=True) + 1e-6)


def test_llama_rms_norm_is_fused() -> None:
    conv = assert_converts(_LlamaRMSNorm(), _x(), dynamic=_SEQ)
    assert "mx.fast.rms_norm(h, self.weight, 1e-06)" in conv.source, conv.source


def test_bfloat16_rms_norm_keeps_its_float32_upcast() -> None:
    """Casts stay outside a fusion: the float32 core becomes rms_norm, the bf16 weight
    multiply after the downcast stays as written (same rounding as torch)."""
    model = _LlamaRMSNorm().to(torch.bfloat16)
    conv = assert_converts(model, _x().to(torch.bfloat16), dynamic=_SEQ)
    assert "self.weight * mx.fast.rms_norm(h, None, 1e-06).astype(mx.bfloat16)" in conv.source


@pytest.mark.parametrize(
    "fn,affine,want",
    [
        (_rms_div, False, "mx.fast.rms_norm(x, None, 1e-05)"),
        (_layer_norm, True, "mx.fast.layer_norm(x, self.w, self.b, 1e-05)"),
        (_layer_norm_rsqrt, False, "mx.fast.layer_norm(x, None, None, 1e-06)"),
    ],
    ids=["rms-over-sqrt", "layer-norm-affine", "layer-norm-rsqrt"],
)
def test_written_out_norms_are_fused(fn: Callable, affine: bool, want: str) -> None:
    conv = assert_converts(_Norm(fn, affine), _x(), dynamic=_SEQ)
    assert want in conv.source, conv.source


@pytest.mark.parametrize(
    "fn", [_rms_eps_outside, _unbiased, _over_axis_1], ids=["eps-outside", "unbiased", "axis-1"]
)
def test_norm_near_misses_stay_as_written(fn: Callable) -> None:
    conv = assert_converts(_Norm(fn), _x(), dynamic=_SEQ)
    assert "mx.fast" not in conv.source, conv.source


class _Activation(nn.Module):
    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.fn = fn
        self.fc = nn.Linear(32, 32)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.fn(self.fc(x)))


def _gelu_new(x: torch.Tensor, c: float = 0.044715) -> torch.Tensor:
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + c * torch.pow(x, 3.0))))


def _gelu_erf(x: torch.Tensor) -> torch.Tensor:
    return x * 0.5 * (1.0 + torch.erf(x / math.sqrt(2.0)))


@pytest.mark.parametrize(
    "fn,want", [(_gelu_new, "nn.gelu_approx("), (_gelu_erf, "nn.gelu(")], ids=["tanh", "erf"]
)
def test_written_out_gelu_is_fused(fn: Callable, want: str) -> None:
    conv = assert_converts(_Activation(fn), _x() * 3, dynamic=_SEQ)
    assert want in conv.source and "mx.tanh" not in conv.source, conv.source
    assert "mx.erf" not in conv.source


@pytest.mark.parametrize(
    "fn",
    [lambda x: _gelu_new(x, 0.0447), torch.tanh, lambda x: 0.5 * x * (1.0 + torch.tanh(x))],
    ids=["other-constant", "plain-tanh", "no-cubic"],
)
def test_gelu_near_misses_stay_as_written(fn: Callable) -> None:
    conv = assert_converts(_Activation(fn), _x() * 3, dynamic=_SEQ)
    assert "gelu" not in conv.source and "mx.tanh" in conv.source, conv.source
