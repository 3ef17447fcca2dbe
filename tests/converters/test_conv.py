"""Convolutions against torch: layer and functional forms, every padding style."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ..helpers import Lambda, assert_converts, assert_op_converts

CONV2D = [
    dict(),
    dict(stride=2),
    dict(stride=(2, 1)),
    dict(padding=1),
    dict(padding=(2, 1)),
    dict(padding="same"),
    dict(padding="same", kernel_size=4),
    dict(padding="same", kernel_size=(2, 3), dilation=2),
    dict(padding="valid"),
    dict(dilation=2, padding=2),
    dict(dilation=(1, 2)),
    dict(groups=2),
    dict(groups=4, in_channels=4, out_channels=8),
    dict(groups=4, in_channels=4, out_channels=4),
    dict(bias=False),
    dict(padding=1, padding_mode="reflect"),
    dict(padding=(1, 2), padding_mode="replicate"),
    dict(padding=2, padding_mode="circular"),
    dict(padding="same", kernel_size=4, padding_mode="reflect"),
]


def _conv2d(**kw: object) -> nn.Conv2d:
    args = dict(in_channels=4, out_channels=6, kernel_size=3)
    args.update(kw)
    return nn.Conv2d(**args)  # type: ignore[arg-type]


class Wrap(nn.Module):
    """A parent module, so the leaf layer is collapsed into an MLX layer (not the root)."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)


def _check(layer: nn.Module, x: torch.Tensor, wrapped: bool) -> None:
    conv = assert_converts(Wrap(layer) if wrapped else layer, x)
    as_layer = f"nn.{type(layer).__name__}(" in conv.source
    # MLX's layers have no circular padding: those convolutions lower to mx.conv* calls
    assert as_layer == (wrapped and layer.padding_mode != "circular"), conv.source


@pytest.mark.parametrize("wrapped", [True, False], ids=["layer", "functional"])
@pytest.mark.parametrize("kw", CONV2D, ids=str)
def test_conv2d_layer(kw: dict, wrapped: bool) -> None:
    _check(_conv2d(**kw), torch.randn(2, 4, 9, 10), wrapped)


CONV1D = [
    dict(),
    dict(stride=3),
    dict(padding=2),
    dict(padding="same", kernel_size=4),
    dict(padding="valid"),
    dict(dilation=3),
    dict(groups=4, in_channels=4, out_channels=4),
    dict(bias=False),
    dict(padding=2, padding_mode="reflect"),
    dict(padding=1, padding_mode="replicate"),
    dict(padding=1, padding_mode="circular"),
]


@pytest.mark.parametrize("wrapped", [True, False], ids=["layer", "functional"])
@pytest.mark.parametrize("kw", CONV1D, ids=str)
def test_conv1d_layer(kw: dict, wrapped: bool) -> None:
    args = dict(in_channels=4, out_channels=6, kernel_size=3)
    args.update(kw)
    _check(nn.Conv1d(**args), torch.randn(2, 4, 17), wrapped)  # type: ignore[arg-type]


FUNCTIONAL = [
    dict(),
    dict(stride=2, padding=1),
    dict(padding=(1, 0), dilation=(2, 1)),
    dict(padding="valid"),
    dict(padding="same"),
    dict(groups=2),
]


@pytest.mark.parametrize("kw", FUNCTIONAL, ids=str)
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_functional(kw: dict, bias: bool) -> None:
    groups = kw.get("groups", 1)
    w = torch.randn(6, 4 // groups, 3, 3)
    b = torch.randn(6) if bias else None
    model = Lambda(lambda x: F.conv2d(x, w, b, **kw))
    assert_converts(model, torch.randn(2, 4, 8, 9))


@pytest.mark.parametrize(
    "kw", [dict(), dict(stride=2, padding=1), dict(groups=4), dict(padding="same")], ids=str
)
def test_conv1d_functional(kw: dict) -> None:
    w = torch.randn(8, 4 // kw.get("groups", 1), 3)
    assert_converts(Lambda(lambda x: F.conv1d(x, w, **kw)), torch.randn(2, 4, 12))


@pytest.mark.parametrize("frontend", ["export", "fx"])
def test_conv_stack_both_frontends(frontend: str) -> None:
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, stride=2, groups=8),
        nn.Conv2d(8, 4, 1),
        nn.Flatten(),
        nn.Linear(4 * 4 * 4, 5),
    )
    assert_converts(model, torch.randn(2, 3, 10, 10), frontend=frontend)


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("pad", [(1, 0, 2, 1), (2, 2, 0, 1)], ids=str)
def test_pad_after_conv(mode: str, pad: tuple) -> None:
    conv = nn.Conv2d(3, 4, 3)
    model = nn.Sequential(conv, Lambda(lambda y: F.pad(y, pad, mode=mode)), nn.Conv2d(4, 2, 1))
    assert_converts(model, torch.randn(2, 3, 8, 9))


def test_constant_pad_value() -> None:
    assert_converts(Lambda(lambda x: F.pad(x, (2, 1, 0, 3), value=-1.5)), torch.randn(2, 3, 4))


def test_conv1d_then_conv2d_reshape() -> None:
    class M(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Conv1d(4, 6, 3, padding=1)
            self.b = nn.Conv2d(2, 3, 3, padding=1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.a(x)  # (N, 6, L)
            return self.b(y.reshape(y.shape[0], 2, 3, y.shape[-1]))

    assert_converts(M(), torch.randn(2, 4, 8))


@pytest.mark.parametrize("kw", [dict(), dict(padding="same"), dict(stride=2, padding=1)], ids=str)
@pytest.mark.parametrize("dims", [1, 2])
def test_functional_conv_unbatched(kw: dict, dims: int) -> None:
    w = torch.randn(5, 4, *(3,) * dims)
    b = torch.randn(5)
    fn = F.conv1d if dims == 1 else F.conv2d
    assert_converts(Lambda(lambda x: fn(x, w, b, **kw)), torch.randn(4, *(6, 7)[:dims]))


CONV3D = [
    dict(),
    dict(stride=2),
    dict(stride=(1, 2, 3)),
    dict(padding=1),
    dict(padding=(2, 0, 1)),
    dict(padding="same"),
    dict(padding="same", kernel_size=(2, 3, 4), dilation=(1, 2, 1)),
    dict(padding="valid"),
    dict(dilation=2, padding=2),
    dict(groups=2),
    dict(groups=2, stride=2, padding=1, dilation=(2, 1, 1)),
    dict(groups=4, in_channels=4, out_channels=8, padding="same"),
    dict(bias=False),
    dict(bias=False, groups=2),
    dict(padding=1, padding_mode="reflect"),
    dict(padding=(1, 2, 0), padding_mode="replicate"),
    dict(padding=1, padding_mode="circular"),
    dict(padding=1, padding_mode="reflect", groups=2, stride=2),
    dict(padding="same", kernel_size=2, padding_mode="replicate"),
]


@pytest.mark.parametrize("wrapped", [True, False], ids=["layer", "functional"])
@pytest.mark.parametrize("kw", CONV3D, ids=str)
def test_conv3d(kw: dict, wrapped: bool) -> None:
    args = dict(in_channels=4, out_channels=6, kernel_size=3)
    args.update(kw)
    conv3d = nn.Conv3d(**args)  # type: ignore[arg-type]
    conv = assert_converts(Wrap(conv3d) if wrapped else conv3d, torch.randn(2, 4, 5, 6, 7))
    # MLX's Conv3d has no groups and no circular padding: those go op by op
    layer = wrapped and conv3d.groups == 1 and conv3d.padding_mode != "circular"
    assert ("nn.Conv3d(" in conv.source) == layer, conv.source
    grouped = "grouped_conv(mx.conv3d," in "".join(conv.source.split())  # black may wrap it
    assert grouped == (conv3d.groups > 1), conv.source


@pytest.mark.parametrize(
    "kw",
    [dict(), dict(stride=2, padding=1), dict(groups=2), dict(padding="same", dilation=2)],
    ids=str,
)
@pytest.mark.parametrize("unbatched", [False, True], ids=["batched", "unbatched"])
def test_conv3d_functional(kw: dict, unbatched: bool) -> None:
    w = torch.randn(6, 4 // kw.get("groups", 1), 3, 2, 3)
    b = torch.randn(6)
    x = torch.randn(4, 5, 6, 5) if unbatched else torch.randn(2, 4, 5, 6, 5)
    assert_converts(Lambda(lambda x: F.conv3d(x, w, b, **kw)), x)


class Video(nn.Module):
    """A 3-d conv stack (video/volume models): channels-last from the first conv to the head."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv3d(3, 8, (1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1), bias=False)
        self.norm = nn.BatchNorm3d(8)
        self.depthwise = nn.Conv3d(8, 8, 3, padding=1, groups=8)
        self.pool = nn.MaxPool3d((1, 2, 2))
        self.point = nn.Conv3d(8, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.norm(self.stem(x)))
        x = self.point(self.pool(x + self.depthwise(x)))
        return F.adaptive_avg_pool3d(x, 1).flatten(1)


@pytest.mark.parametrize("frontend", ["export", "fx"])
def test_conv3d_stack(frontend: str) -> None:
    conv = assert_converts(Video(), torch.randn(2, 3, 4, 10, 12), frontend=frontend)
    assert conv.report.transposes == 1, conv.source  # the input only: the head is a mean
    assert "mx.mean(x, axis=(1, 2, 3))" in conv.source, conv.source


MODE_PADS = ["reflection_pad1d", "reflection_pad2d", "reflection_pad3d"]
MODE_PADS += [name.replace("reflection", "replication") for name in MODE_PADS]


@pytest.mark.parametrize("name", MODE_PADS)
def test_mode_specific_pad_ops(name: str) -> None:
    # the ATen spellings of F.pad(mode=...) that decompositions and older graphs carry
    dims = int(name[-2])
    pad = [2, 1, 0, 2, 1, 1][: 2 * dims]
    op = getattr(torch.ops.aten, name).default
    conv = getattr(nn, f"Conv{dims}d")(3, 4, 1)  # the pad sees a channels-last tensor
    model = nn.Sequential(conv, Lambda(lambda x: op(x, pad)))
    assert_op_converts(model, (torch.randn(2, 3, *(4, 5, 6)[:dims]),), {op})


class DepthwiseConv2d(nn.Conv2d):
    """A subclass that keeps Conv2d's forward (Hugging Face's EfficientNetDepthwiseConv2d)."""

    def __init__(self, channels: int) -> None:
        super().__init__(channels, channels, 3, padding=1, groups=channels)


def test_conv_subclass_is_the_mlx_layer_of_its_base() -> None:
    conv = assert_converts(nn.Sequential(DepthwiseConv2d(4), nn.ReLU()), torch.randn(2, 4, 6, 6))
    assert "nn.Conv2d(4, 4, kernel_size=3, padding=1, groups=4)" in conv.source
