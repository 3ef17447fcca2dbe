"""Normalization against torch: eval BatchNorm, LayerNorm, GroupNorm, RMSNorm (layers and
functional)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import fx2mlx

from ..helpers import Lambda, assert_converts


def _randomize(module: nn.Module) -> nn.Module:
    """Non-trivial running statistics and affine parameters, so mistakes show."""
    with torch.no_grad():
        for name, t in list(module.named_parameters()) + list(module.named_buffers()):
            if t.is_floating_point():
                t.copy_(torch.rand_like(t) + 0.5 if "var" in name else torch.randn_like(t))
    return module


class Wrap(nn.Module):
    def __init__(self, layer: nn.Module, conv: nn.Module | None = None) -> None:
        super().__init__()
        self.conv = conv
        self.layer = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(self.conv(x) if self.conv is not None else x)


BN = [dict(), dict(eps=1e-3), dict(affine=False), dict(momentum=None), dict(bias=False)]


@pytest.mark.parametrize("wrapped", [True, False], ids=["layer", "functional"])
@pytest.mark.parametrize("kw", BN, ids=str)
@pytest.mark.parametrize("shape", [(3, 4), (3, 4, 7)], ids=str)
def test_batch_norm1d(kw: dict, shape: tuple, wrapped: bool) -> None:
    bn = _randomize(nn.BatchNorm1d(4, **kw))
    assert_converts(Wrap(bn) if wrapped else bn, torch.randn(*shape))


@pytest.mark.parametrize("wrapped", [True, False], ids=["layer", "functional"])
@pytest.mark.parametrize("kw", BN, ids=str)
def test_batch_norm2d(kw: dict, wrapped: bool) -> None:
    bn = _randomize(nn.BatchNorm2d(4, **kw))
    assert_converts(Wrap(bn) if wrapped else bn, torch.randn(2, 4, 5, 6))


def test_batch_norm_after_conv1d() -> None:
    model = Wrap(_randomize(nn.BatchNorm1d(4)), nn.Conv1d(3, 4, 3))
    assert_converts(model, torch.randn(2, 3, 9))


def test_batch_norm_without_running_stats_uses_batch_statistics() -> None:
    bn = nn.BatchNorm2d(4, track_running_stats=False)
    assert_converts(Wrap(bn), torch.randn(3, 4, 5, 6))


LN = [
    ((8,), dict()),
    ((8,), dict(eps=1e-6)),
    ((8,), dict(elementwise_affine=False)),
    ((8,), dict(bias=False)),
    ((5, 8), dict()),
    ((5, 8), dict(elementwise_affine=False)),
    ((5, 8), dict(bias=False)),
]


@pytest.mark.parametrize("wrapped", [True, False], ids=["layer", "functional"])
@pytest.mark.parametrize("shape,kw", LN, ids=str)
def test_layer_norm(shape: tuple, kw: dict, wrapped: bool) -> None:
    ln = _randomize(nn.LayerNorm(shape, **kw))
    assert_converts(Wrap(ln) if wrapped else ln, torch.randn(3, 5, 8) * 3 + 1)


def test_layer_norm_over_channels_after_conv() -> None:
    # normalize the channel axis of a conv output: torch needs it last, so permute first
    class M(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3)
            self.ln = _randomize(nn.LayerNorm(8))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.ln(self.conv(x).permute(0, 2, 3, 1)).permute(0, 3, 1, 2)

    assert_converts(M(), torch.randn(2, 3, 7, 7))


GN = [
    (2, 8, dict()),
    (1, 8, dict()),
    (8, 8, dict()),
    (4, 8, dict(affine=False)),
    (2, 6, dict(eps=1e-3)),
    (2, 6, dict(bias=False)),
]


@pytest.mark.parametrize("wrapped", [True, False], ids=["layer", "functional"])
@pytest.mark.parametrize("groups,channels,kw", GN, ids=str)
@pytest.mark.parametrize("spatial", [(), (7,), (5, 6)], ids=str)
def test_group_norm(groups: int, channels: int, kw: dict, spatial: tuple, wrapped: bool) -> None:
    gn = _randomize(nn.GroupNorm(groups, channels, **kw))
    assert_converts(Wrap(gn) if wrapped else gn, torch.randn(2, channels, *spatial) * 2 + 1)


def test_group_norm_after_conv() -> None:
    model = Wrap(_randomize(nn.GroupNorm(2, 8)), nn.Conv2d(3, 8, 3))
    assert_converts(model, torch.randn(2, 3, 8, 8))


@pytest.mark.parametrize("frontend", ["export", "fx"])
def test_norm_stack_both_frontends(frontend: str) -> None:
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3),
        _randomize(nn.BatchNorm2d(8)),
        nn.ReLU(),
        _randomize(nn.GroupNorm(4, 8)),
        nn.Flatten(),
        nn.LayerNorm(8 * 36),
    )
    assert_converts(model, torch.randn(2, 3, 8, 8), frontend=frontend)


def test_functional_layer_norm_no_weight() -> None:
    assert_converts(Lambda(lambda x: F.layer_norm(x, (4, 6))), torch.randn(2, 4, 6))


RMS = [dict(), dict(eps=1e-3), dict(elementwise_affine=False)]


@pytest.mark.parametrize("wrapped", [True, False], ids=["layer", "functional"])
@pytest.mark.parametrize("kw", RMS, ids=str)
def test_rms_norm(kw: dict, wrapped: bool) -> None:
    norm = _randomize(nn.RMSNorm(8, **kw))
    conv = assert_converts(Wrap(norm) if wrapped else norm, torch.randn(3, 5, 8) * 3 + 1)
    layer = wrapped and norm.elementwise_affine  # MLX's RMSNorm always has a weight
    assert ("nn.RMSNorm(8" in conv.source) == layer
    assert ("mx.fast.rms_norm(" in conv.source) == (not layer)


def test_rms_norm_over_several_axes_is_reported() -> None:
    with pytest.raises(fx2mlx.UnsupportedError, match="several trailing axes"):
        fx2mlx.convert(nn.RMSNorm((5, 8)), torch.randn(3, 5, 8))


@pytest.mark.parametrize("shape", [(3, 4), (3, 4, 7), (2, 4, 3, 5, 6)], ids=str)
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_batch_statistics_functional(shape: tuple, affine: bool) -> None:
    """Without running statistics, or with training=True, torch normalizes with the batch's
    own statistics; the op path computes them (any rank, 3-d spatial included)."""
    w, b = (torch.randn(4), torch.randn(4)) if affine else (None, None)
    rm, rv = torch.randn(4), torch.rand(4) + 0.5
    plain = Lambda(lambda x: F.batch_norm(x, None, None, w, b, training=True, eps=1e-3))
    assert_converts(plain, torch.randn(*shape) * 2 + 1)
    tracked = Lambda(lambda x: F.batch_norm(x, rm.clone(), rv.clone(), w, b, training=True))
    assert_converts(tracked, torch.randn(*shape) * 2 + 1)


def test_batch_norm3d_without_running_stats() -> None:
    # MLX's BatchNorm takes rank 2 to 4: BatchNorm3d is converted op by op
    bn = _randomize(nn.BatchNorm3d(4, track_running_stats=False))
    assert_converts(Wrap(bn), torch.randn(2, 4, 3, 5, 6))
    assert_converts(bn, torch.randn(2, 4, 3, 5, 6))


@pytest.mark.parametrize("shape", [(0, 4), (0, 4, 3, 3)], ids=str)
def test_group_norm_of_empty_batch(shape: tuple) -> None:
    w, b = torch.randn(4), torch.randn(4)
    assert_converts(Lambda(lambda x: F.group_norm(x, 2, w, b)), torch.randn(*shape))
