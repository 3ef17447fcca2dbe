"""Transposed convolutions against torch: every stride x padding x output_padding x dilation x
groups combination (bias alternating, and both ways below), 1d/2d/3d, as an MLX layer and op
by op, first in the model and inside conv stacks; sanitize() of a raw state_dict."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import fx2mlx

from ..helpers import Lambda, assert_converts, assert_roundtrip

TRANSPOSED = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}
SIZES = {1: (9,), 2: (5, 6), 3: (5, 6, 5)}


class Wrap(nn.Module):
    """A parent module, so the leaf layer is collapsed into an MLX layer (not the root)."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)


def _grid(strides: tuple, paddings: tuple, dilations: tuple) -> list[dict]:
    """Every valid combination (torch needs output_padding < max(stride, dilation)); groups
    1 and 2; the bias alternates (``test_conv_transpose_bias`` crosses it with the rest)."""
    out = []
    for s, p, d, g in itertools.product(strides, paddings, dilations, (1, 2)):
        for op in range(max(s, d)):
            out.append(dict(stride=s, padding=p, output_padding=op, dilation=d, groups=g))
    for i, kw in enumerate(out):
        kw["bias"] = i % 2 == 0
    return out


# padding 3 is past the kernel's span dilation * (3 - 1) when dilation is 1: MLX can't pad it
GRID = {
    1: _grid((1, 2, 3), (0, 2, 3), (1, 2)),
    2: _grid((1, 2, 3), (0, 1, 3), (1, 2)),
    3: _grid((1, 2), (0, 3), (1, 2)),
}
CASES = [(dims, kw) for dims, kws in GRID.items() for kw in kws]


def _layer(dims: int, **kw: object) -> nn.Module:
    return TRANSPOSED[dims](4, 6, 3, **kw)  # type: ignore[arg-type]


def _as_mlx_layer(layer: nn.Module) -> bool:
    """MLX's layer has no groups and pads at most dilation * (kernel - 1)."""
    span = [d * (k - 1) for d, k in zip(layer.dilation, layer.kernel_size)]
    return layer.groups == 1 and all(p <= s for p, s in zip(layer.padding, span))


@pytest.mark.parametrize("wrapped", [True, False], ids=["layer", "op"])
@pytest.mark.parametrize("dims,kw", CASES, ids=lambda v: str(v))
def test_conv_transpose(dims: int, kw: dict, wrapped: bool) -> None:
    layer = _layer(dims, **kw)
    conv = assert_converts(Wrap(layer) if wrapped else layer, torch.randn(2, 4, *SIZES[dims]))
    as_layer = f"nn.ConvTranspose{dims}d(" in conv.source
    assert as_layer == (wrapped and _as_mlx_layer(layer)), conv.source
    assert (f"mx.conv_transpose{dims}d" in conv.source) == (not as_layer), conv.source
    grouped = "grouped_conv(" in conv.source
    assert grouped == (dims == 3 and layer.groups > 1), conv.source


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize(
    "kw",
    [dict(), dict(stride=2, padding=1, output_padding=1, groups=2), dict(padding=3, dilation=1)],
    ids=str,
)
def test_conv_transpose_bias(kw: dict, dims: int, bias: bool) -> None:
    layer = _layer(dims, bias=bias, **kw)
    assert_converts(Wrap(layer), torch.randn(2, 4, *SIZES[dims]))


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_conv_transpose_asymmetric(dims: int) -> None:
    kw = dict(
        kernel_size=(3, 2, 4)[:dims],
        stride=(2, 3, 1)[:dims],
        padding=(1, 0, 4)[:dims],
        output_padding=(1, 2, 0)[:dims],
        dilation=(1, 1, 2)[:dims],
    )
    layer = TRANSPOSED[dims](4, 6, **kw)  # type: ignore[arg-type]
    assert_converts(Wrap(layer), torch.randn(2, 4, *SIZES[dims]))


FUNCTIONAL = [
    dict(),
    dict(stride=2, padding=1, output_padding=1),
    dict(groups=2, stride=3, output_padding=2, dilation=2),
    dict(groups=4, padding=3),
]


@pytest.mark.parametrize("unbatched", [False, True], ids=["batched", "unbatched"])
@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("kw", FUNCTIONAL, ids=str)
def test_conv_transpose_functional(kw: dict, dims: int, unbatched: bool) -> None:
    groups = kw.get("groups", 1)
    w = torch.randn(4, 8 // groups, *(3, 2, 3)[:dims])
    b = torch.randn(8)
    fn = getattr(F, f"conv_transpose{dims}d")
    x = torch.randn(4, *SIZES[dims]) if unbatched else torch.randn(2, 4, *SIZES[dims])
    assert_converts(Lambda(lambda x: fn(x, w, b, **kw)), x)


class Decoder(nn.Module):
    """An upsampling conv stack: the transposed convolutions stay channels-last throughout."""

    def __init__(self, dims: int) -> None:
        super().__init__()
        conv, norm = getattr(nn, f"Conv{dims}d"), getattr(nn, f"BatchNorm{dims}d")
        self.inp = conv(3, 8, 3, padding=1)
        self.up1 = TRANSPOSED[dims](8, 8, 3, stride=2, padding=1, output_padding=1, groups=4)
        self.norm = norm(8)
        self.up2 = TRANSPOSED[dims](8, 4, 2, stride=2)
        self.out = conv(4, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.inp(x))
        x = torch.relu(self.norm(self.up1(x)))
        return self.out(self.up2(x))


@pytest.mark.parametrize("frontend", ["export", "fx"])
@pytest.mark.parametrize("dims", [1, 2, 3])
def test_conv_transpose_in_conv_stack(dims: int, frontend: str) -> None:
    model = Decoder(dims)
    conv = assert_converts(model, torch.randn(2, 3, *SIZES[dims]), frontend=frontend)
    assert conv.report.transposes == 2, conv.source  # the model's input and output only


class Skip(nn.Module):
    """``up(x, output_size=...)``: torch picks the output padding from the wanted size."""

    def __init__(self, output_padding: int) -> None:
        super().__init__()
        self.down = nn.Conv2d(3, 4, 3, stride=2, padding=1)
        self.up = nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=output_padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.up(self.down(x), output_size=x.shape[-2:])


@pytest.mark.parametrize("frontend", ["export", "fx"])
@pytest.mark.parametrize("output_padding", [0, 1])
def test_conv_transpose_output_size(output_padding: int, frontend: str) -> None:
    # (9, 10) -> (5, 5) -> (9, 10) needs output_padding (0, 1), whatever the module says
    conv = assert_converts(Skip(output_padding), torch.randn(2, 3, 9, 10), frontend=frontend)
    assert "nn.ConvTranspose2d(" not in conv.source, conv.source


def test_conv_transpose_output_size_as_built() -> None:
    # (8, 8) -> (4, 4) -> (8, 8) needs the module's own output_padding: the MLX layer fits
    conv = assert_converts(Skip(1), torch.randn(2, 3, 8, 8))
    assert (
        "nn.ConvTranspose2d(4, 3, kernel_size=3, stride=2, padding=1, output_padding=1)"
        in conv.source
    )


class Mixed(nn.Module):
    """Every weight layout sanitize() must handle: Conv3d, ConvTranspose1d/2d/3d as MLX layers,
    a grouped ConvTranspose2d (kept in PyTorch's layout, regrouped at run time)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv3d = nn.Conv3d(2, 4, 3, padding=1)
        self.up3d = nn.ConvTranspose3d(4, 2, 2, stride=2)
        self.up2d = nn.ConvTranspose2d(4, 6, 3, stride=2, output_padding=1, dilation=2)
        self.grouped = nn.ConvTranspose2d(6, 4, 3, padding=1, groups=2)
        self.up1d = nn.ConvTranspose1d(4, 3, 4, stride=2, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        video = self.up3d(self.conv3d(x))
        image = self.grouped(self.up2d(self.conv3d(x).mean(2)))
        return video, self.up1d(image.flatten(2))


def test_sanitize_loads_a_raw_state_dict(tmp_path: Path) -> None:
    model = Mixed().eval()
    x = torch.randn(2, 2, 3, 4, 5)
    conv = assert_converts(model, x)
    assert "nn.ConvTranspose3d(" in conv.source and "nn.Conv3d(" in conv.source
    assert "nn.ConvTranspose1d(" in conv.source and "nn.ConvTranspose2d(" in conv.source
    assert_roundtrip(model, conv, (x,), tmp_path)


@pytest.mark.parametrize("groups", [1, 2])
def test_weight_as_input_with_dynamic_channels(groups: int) -> None:
    # an unbatched input's dim 0 is its channels: exported dynamic, in the weight too
    model = Lambda(lambda x, w: F.conv_transpose1d(x, w, stride=2, groups=groups))
    conv = assert_converts(model, (torch.randn(4, 9), torch.randn(4, 6, 3)))
    assert conv.report.dynamic_dims, "the channels were meant to be dynamic"


def test_weight_with_dynamic_output_channels_is_reported() -> None:
    # the weight's dim 0 is the input's channels, its dim 1 (here the same size) the outputs
    model = Lambda(lambda x, w: F.conv_transpose1d(x, w.transpose(0, 1), groups=2))
    with pytest.raises(fx2mlx.UnsupportedError, match="dynamic kernel or output channels"):
        fx2mlx.convert(model, (torch.randn(4, 9), torch.randn(4, 4, 3)))
