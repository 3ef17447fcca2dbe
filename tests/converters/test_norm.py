"""Normalization against torch: eval BatchNorm, LayerNorm, GroupNorm, RMSNorm, InstanceNorm,
LocalResponseNorm (layers and functional)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

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


@pytest.mark.parametrize("affine", [True, False])
def test_rms_norm_over_several_axes_is_decomposed(affine: bool) -> None:
    """MLX's rms_norm takes the last axis; PyTorch's decomposition covers several."""
    norm = _randomize(nn.RMSNorm((5, 8), eps=1e-3, elementwise_affine=affine))
    conv = assert_converts(Wrap(norm), torch.randn(3, 5, 8) * 2)
    assert "mx.rsqrt" in conv.source


IN_CLASSES = {1: nn.InstanceNorm1d, 2: nn.InstanceNorm2d, 3: nn.InstanceNorm3d}
IN = [
    dict(),
    dict(affine=True),
    dict(eps=1e-3, affine=True),
    dict(track_running_stats=True),
    dict(affine=True, track_running_stats=True),
    dict(affine=True, bias=False),  # a weight only: op by op (MLX's affine layer has a bias)
]


@pytest.mark.parametrize("wrapped", [True, False], ids=["layer", "functional"])
@pytest.mark.parametrize("kw", IN, ids=str)
@pytest.mark.parametrize("dims", [1, 2, 3])
def test_instance_norm(dims: int, kw: dict, wrapped: bool) -> None:
    norm = _randomize(IN_CLASSES[dims](6, **kw))
    x = torch.randn(2, 6, *[5, 4, 3][:dims]) * 2 + 1
    conv = assert_converts(Wrap(norm) if wrapped else norm, x)
    # the running statistics, when tracked, are what eval normalizes by: MLX's layer can't
    layer = wrapped and not norm.track_running_stats and not (norm.affine and norm.bias is None)
    assert ("nn.InstanceNorm(6" in conv.source) == layer


@pytest.mark.parametrize("kw", [dict(), dict(affine=True, track_running_stats=True)], ids=str)
def test_instance_norm_unbatched(kw: dict) -> None:
    assert_converts(Wrap(_randomize(nn.InstanceNorm1d(6, **kw))), torch.randn(6, 9))


def test_instance_norm_after_conv_keeps_channels_last() -> None:
    model = nn.Sequential(nn.Conv2d(3, 6, 3), _randomize(nn.InstanceNorm2d(6, affine=True)))
    conv = assert_converts(model, torch.randn(2, 3, 8, 8))
    assert conv.report.transposes == 2  # into the conv, out of the model


def test_functional_instance_norm_with_running_stats_in_eval() -> None:
    mean, var = torch.randn(6), torch.rand(6) + 0.5
    fn = Lambda(lambda x: F.instance_norm(x, mean, var, use_input_stats=False))
    assert_converts(fn, torch.randn(2, 6, 7))


LRN = [
    dict(size=1),
    dict(size=2),
    dict(size=3, alpha=0.1, beta=0.5, k=2.0),
    dict(size=5, alpha=1e-2),
    dict(size=8),
]


@pytest.mark.parametrize("kw", LRN, ids=str)
@pytest.mark.parametrize("spatial", [(7,), (5, 4), (3, 4, 2)], ids=str)
def test_local_response_norm_layer(kw: dict, spatial: tuple) -> None:
    model = Wrap(nn.LocalResponseNorm(**kw))
    conv = assert_converts(model, torch.randn(2, 6, *spatial) * 2)
    assert "LocalResponseNorm(" in conv.source


def test_local_response_norm_after_conv() -> None:
    model = nn.Sequential(nn.Conv2d(3, 6, 3), nn.ReLU(), nn.LocalResponseNorm(3, alpha=0.1))
    conv = assert_converts(model, torch.randn(2, 3, 8, 8))
    assert conv.report.transposes == 2


@pytest.mark.parametrize("kw", LRN, ids=str)
def test_local_response_norm_functional_3d(kw: dict) -> None:
    # torch traces the 3-D case into avg_pool2d, which converts op by op
    assert_converts(nn.LocalResponseNorm(**kw), torch.randn(2, 6, 7) * 2)


def test_local_response_norm_functional_4d() -> None:
    assert_converts(nn.LocalResponseNorm(3, alpha=0.1), torch.randn(2, 6, 5, 4) * 2)


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


class FloatLayerNorm(nn.LayerNorm):
    """Whisper's ``LayerNorm``: normalizes in float32, returns the input's dtype."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.float()).type(x.dtype)


class LooseLayerNorm(nn.LayerNorm):
    """Overrides forward with another epsilon: must not become ``nn.LayerNorm``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, 1e-2)


@pytest.mark.parametrize("bias", [True, False])
def test_layer_norm_subclass_with_same_math_is_nn_layer_norm(bias: bool) -> None:
    norm = FloatLayerNorm(8, bias=bias)
    with torch.no_grad():
        for p in norm.parameters():
            p.normal_()
    conv = assert_converts(Wrap(norm), torch.randn(2, 3, 8))
    assert "nn.LayerNorm(8" in conv.source


def test_layer_norm_subclass_with_other_math_stays_expanded() -> None:
    conv = assert_converts(Wrap(LooseLayerNorm(8)), torch.randn(2, 3, 8) * 0.01)
    assert "nn.LayerNorm(" not in conv.source and "0.01" in conv.source
