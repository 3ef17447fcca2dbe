"""Interpolation against torch: F.interpolate in every mode, nn.Upsample and its subclasses."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import fx2mlx

from ..helpers import Lambda, assert_converts, assert_op_converts

aten = torch.ops.aten

SHAPES = {1: (2, 3, 11), 2: (2, 3, 9, 10), 3: (2, 3, 5, 6, 7)}
MODES = {
    1: ["nearest", "nearest-exact", "linear", "linear-corners", "area"],
    2: ["nearest", "nearest-exact", "bilinear", "bilinear-corners", "bicubic"]
    + ["bicubic-corners", "area"],
    3: ["nearest", "nearest-exact", "trilinear", "trilinear-corners", "area"],
}
RESIZES = [
    dict(scale_factor=2),
    dict(scale_factor=3),
    dict(scale_factor=0.5),
    dict(scale_factor=1.5),
    dict(scale_factor=0.6),
    dict(scale_factor=1.05),  # the output length equals the input's on the short axes
    dict(scale_factor=2.01),
    dict(scale_factor=1.7, recompute_scale_factor=True),
    dict(size="up"),
    dict(size="down"),
]
SIZES = {1: {"up": 17, "down": 4}, 2: {"up": (13, 21), "down": (4, 7)}}
SIZES[3] = {"up": (7, 13, 8), "down": (2, 4, 3)}


def _interp_kwargs(mode: str, dims: int, resize: dict) -> dict[str, Any]:
    kw: dict[str, Any] = dict(resize, mode=mode.removesuffix("-corners"))
    if mode.endswith("-corners"):
        kw["align_corners"] = True
    if kw.get("size") in ("up", "down"):
        kw["size"] = SIZES[dims][kw["size"]]
    return kw


def _cases() -> list[Any]:
    cases = []
    for dims, modes in MODES.items():
        for mode in modes:
            for resize in RESIZES:
                cases.append(pytest.param(dims, mode, resize))
    return cases


def _id(value: Any) -> str:
    if isinstance(value, dict):
        return "-".join(f"{k}={v}" for k, v in value.items())
    return str(value)


@pytest.mark.parametrize("dims,mode,resize", _cases(), ids=_id)
def test_interpolate_first_op(dims: int, mode: str, resize: dict) -> None:
    kw = _interp_kwargs(mode, dims, resize)
    assert_converts(Lambda(lambda x: F.interpolate(x, **kw)), torch.randn(SHAPES[dims]))


class ConvSandwich(nn.Module):
    """conv -> interpolate -> conv: the interpolation stays channels-last between the convs."""

    def __init__(self, dims: int, **kw: Any) -> None:
        super().__init__()
        conv = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[dims]
        self.conv1 = conv(3, 4, 3, padding=1)
        self.conv2 = conv(4, 5, 3, padding=1)
        self.kw = kw

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(F.interpolate(self.conv1(x), **self.kw))


STACKED = [dict(scale_factor=2), dict(scale_factor=1.5), dict(size="down")]


@pytest.mark.parametrize("resize", STACKED, ids=_id)
@pytest.mark.parametrize("dims,mode", [(d, m) for d in (1, 2) for m in MODES[d]], ids=_id)
def test_interpolate_in_conv_stack(dims: int, mode: str, resize: dict) -> None:
    model = ConvSandwich(dims, **_interp_kwargs(mode, dims, resize))
    conv = assert_converts(model, torch.randn(SHAPES[dims]))
    assert conv.source.count(".transpose(") == 2  # the model's input and output only


@pytest.mark.parametrize("mode", ["nearest", "trilinear"])
def test_interpolate_in_conv3d_stack(mode: str) -> None:
    conv = assert_converts(ConvSandwich(3, scale_factor=1.5, mode=mode), torch.randn(SHAPES[3]))
    assert conv.source.count(".transpose(") == 2


@pytest.mark.parametrize("mode", MODES[3])
def test_interpolate_3d_keeps_channels_last(mode: str) -> None:
    """Two 3d resizes in a row and a softmax over channels: one layout change each way."""
    first = _interp_kwargs(mode, 3, dict(scale_factor=1.5))
    second = _interp_kwargs(mode, 3, dict(size="down"))

    def fn(x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(F.interpolate(x, **first), **second).softmax(dim=1)

    conv = assert_converts(Lambda(fn), torch.randn(SHAPES[3]))
    assert conv.source.count(".transpose(") == 2


# -- nn.Upsample: MLX's layer where it samples PyTorch's grid, the exact helpers elsewhere ----

UPSAMPLE = [
    (dict(scale_factor=2), True),
    (dict(scale_factor=3, mode="nearest-exact"), True),
    (dict(scale_factor=(2, 3), mode="bilinear"), True),
    (dict(scale_factor=2, mode="bilinear", align_corners=True), True),
    (dict(scale_factor=1.5, mode="bilinear", align_corners=True), True),
    (dict(scale_factor=2, mode="bicubic"), True),
    (dict(scale_factor=2.5, mode="bicubic", align_corners=True), True),
    (dict(scale_factor=1.5), False),  # MLX rounds half-pixel centers; PyTorch floors
    (dict(scale_factor=0.5), False),
    (dict(scale_factor=1.5, mode="bilinear"), False),
    (dict(scale_factor=0.5, mode="bilinear", align_corners=True), True),
    (dict(size=(13, 21), mode="bilinear"), False),
    (dict(scale_factor=2, mode="area"), False),
    (dict(scale_factor=2.0, mode="bilinear", recompute_scale_factor=True), True),
]


class Wrap(nn.Module):
    """conv -> child: the child converts as a layer (at the root it would be op by op)."""

    def __init__(self, child: nn.Module) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)
        self.up = child

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(self.conv(x))


@pytest.mark.parametrize("kw,layer", UPSAMPLE, ids=_id)
def test_upsample_layer(kw: dict, layer: bool) -> None:
    conv = assert_converts(Wrap(nn.Upsample(**kw)), torch.randn(SHAPES[2]))
    assert ("nn.Upsample(scale_factor=" in conv.source) == layer
    assert ("interpolate_" in conv.source) == (not layer and kw.get("mode") != "area")


@pytest.mark.parametrize("scale", [2, 1.5])
@pytest.mark.parametrize("cls", [nn.UpsamplingNearest2d, nn.UpsamplingBilinear2d])
def test_upsampling_subclasses(cls: type, scale: float) -> None:
    conv = assert_converts(Wrap(cls(scale_factor=scale)), torch.randn(SHAPES[2]))
    layer = cls is nn.UpsamplingBilinear2d or scale == 2  # align_corners=True: any scale
    assert ("nn.Upsample(scale_factor=" in conv.source) == layer


@pytest.mark.parametrize("cls", [nn.UpsamplingNearest2d, nn.UpsamplingBilinear2d])
def test_upsampling_by_size(cls: type) -> None:
    conv = assert_converts(Wrap(cls(size=(13, 8))), torch.randn(SHAPES[2]))
    assert "size=(13, 8)" in conv.source and "nn.Upsample(" not in conv.source


@pytest.mark.parametrize("kw,layer", UPSAMPLE[3:5] + UPSAMPLE[7:8], ids=_id)
def test_upsample_layer_fx_frontend(kw: dict, layer: bool) -> None:
    """The fx frontend keeps nn.Upsample a leaf; it becomes the same MLX layer."""
    conv = assert_converts(Wrap(nn.Upsample(**kw)), torch.randn(SHAPES[2]), frontend="fx")
    assert conv.report.frontend == "fx"
    assert ("nn.Upsample(scale_factor=" in conv.source) == layer


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
def test_nearest_on_integers(mode: str) -> None:
    """Masks and label maps: nearest gathers, so any dtype keeps its values."""
    fn = Lambda(lambda x: F.interpolate(x, scale_factor=1.5, mode=mode))
    assert_converts(fn, torch.randint(0, 255, SHAPES[2], dtype=torch.uint8))


@pytest.mark.parametrize("dims", [1, 3])
@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_upsample_layer_1d_3d(dims: int, mode: str) -> None:
    mode = {3: "trilinear"}.get(dims, mode) if mode == "linear" else mode
    model = nn.Sequential(nn.Identity(), nn.Upsample(scale_factor=2, mode=mode))
    conv = assert_converts(model, torch.randn(SHAPES[dims]))
    assert "nn.Upsample(scale_factor=2" in conv.source


# -- antialias=True ------------------------------------------------------------------------

ANTIALIAS = [dict(size=(4, 7)), dict(size=(3, 2)), dict(size=(13, 21)), dict(scale_factor=0.4)]
ANTIALIAS += [dict(scale_factor=0.75), dict(size=(9, 4)), dict(size=(1, 3))]


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("resize", ANTIALIAS, ids=_id)
@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
def test_interpolate_antialiased(mode: str, resize: dict, align_corners: bool) -> None:
    kw = dict(resize, mode=mode, antialias=True, align_corners=align_corners)
    model = ConvSandwich(2, **kw)
    conv = assert_converts(model, torch.randn(SHAPES[2]))
    assert "interpolate_antialiased(" in conv.source


def test_antialiased_to_width_one_is_reported() -> None:
    """PyTorch's CPU kernel repeats one row there: no reference to match, so it is refused."""
    model = Lambda(lambda x: F.interpolate(x, size=(4, 1), mode="bilinear", antialias=True))
    with pytest.raises(fx2mlx.UnsupportedError, match=r"to a width of 1 while the height"):
        fx2mlx.convert(model, torch.randn(SHAPES[2]))


# -- the ATen overloads themselves, and both frontends --------------------------------------

OVERLOADS = [
    (aten.upsample_nearest1d.default, 1, ([17], 1.5)),
    (aten.upsample_nearest2d.default, 2, ([13, 21], 1.05, None)),
    (aten.upsample_nearest3d.default, 3, ([7, 13, 8], None, 2.01, 1.2)),
    (aten._upsample_nearest_exact2d.default, 2, ([13, 21], 1.5, 2.0)),
    (aten.upsample_linear1d.default, 1, ([17], False, 1.6)),
    (aten.upsample_bilinear2d.default, 2, ([13, 21], True, None, None)),
    (aten.upsample_bilinear2d.default, 2, ([13, 21], False, 1.5, 2.2)),
    (aten.upsample_trilinear3d.default, 3, ([7, 13, 8], False, 1.5, None, 1.2)),
    (aten.upsample_bicubic2d.default, 2, ([4, 7], False, 0.5, 0.7)),
    (aten._upsample_bilinear2d_aa.default, 2, ([4, 7], False, None, None)),
    (aten._upsample_bicubic2d_aa.default, 2, ([4, 7], True, None, None)),
]


@pytest.mark.parametrize("op,dims,args", OVERLOADS, ids=_id)
def test_default_overloads(op: Any, dims: int, args: tuple) -> None:
    """Output size and per-axis scales together: the scales decide where ATen samples."""
    assert_op_converts(lambda x: op(x, *args), (torch.randn(SHAPES[dims]),), {op})


FRONTEND_CASES = [
    (aten.upsample_nearest2d.vec, dict(mode="nearest", scale_factor=1.5)),
    (aten._upsample_nearest_exact2d.vec, dict(mode="nearest-exact", size=(13, 8))),
    (aten.upsample_bilinear2d.vec, dict(mode="bilinear", scale_factor=0.6)),
    (aten.upsample_bicubic2d.vec, dict(mode="bicubic", scale_factor=2, align_corners=True)),
    (aten._upsample_bilinear2d_aa.vec, dict(mode="bilinear", size=(4, 7), antialias=True)),
]


@pytest.mark.parametrize("frontend", ["export", "fx"])
@pytest.mark.parametrize("op,kw", FRONTEND_CASES, ids=_id)
def test_frontends(op: Any, kw: dict, frontend: str) -> None:
    model = ConvSandwich(2, **kw)
    assert_op_converts(model, (torch.randn(SHAPES[2]),), {op})  # export's graph has the op
    conv = assert_converts(model, torch.randn(SHAPES[2]), frontend=frontend)
    assert conv.report.frontend == frontend


# -- a U-Net block: conv -> upsample -> concat skip -> conv, channels-last throughout ---------


class Up(nn.Module):
    def __init__(self, upsample: nn.Module) -> None:
        super().__init__()
        self.up = upsample
        self.conv = nn.Conv2d(16 + 8, 8, 3, padding=1)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv(torch.cat([self.up(x), skip], dim=1)))


class UNetBlock(nn.Module):
    def __init__(self, upsample: nn.Module) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.down = nn.Sequential(nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU())
        self.up = Up(upsample)
        self.head = nn.Conv2d(8, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = self.stem(x)
        return self.head(self.up(self.down(skip), skip))


UNET_UPSAMPLES = [
    nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True),
    nn.Upsample(scale_factor=2, mode="nearest"),
    nn.Upsample(size=(8, 10), mode="bilinear"),
    Lambda(lambda x: F.interpolate(x, scale_factor=2, mode="bicubic")),
]


@pytest.mark.parametrize("upsample", UNET_UPSAMPLES, ids=lambda m: type(m).__name__)
def test_unet_block(upsample: nn.Module) -> None:
    model = UNetBlock(upsample)
    conv = assert_converts(model, torch.randn(2, 3, 8, 10))
    assert conv.report.transposes == 2
    assert conv.source.count(".transpose(") == 2  # NCHW -> NHWC at the input, back at the output


class ResizeLike(nn.Module):
    """``F.interpolate(y, size=x.shape[-2:])``: tracing writes the input's size in."""

    def __init__(self) -> None:
        super().__init__()
        self.down = nn.Conv2d(3, 4, 3, stride=2, padding=1)
        self.skip = nn.Conv2d(3, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(self.down(x), size=x.shape[-2:], mode="bilinear") + self.skip(x)


def test_size_from_an_input_is_flagged_as_baked() -> None:
    conv = assert_converts(ResizeLike(), torch.randn(2, 3, 9, 11))
    baked = [b for b in conv.report.baked_dims if not b.by_model]  # the convs fix dim 1
    assert {(b.op, b.dim, b.value) for b in baked} == {
        ("upsample_bilinear2d", 2, 9),
        ("upsample_bilinear2d", 3, 11),
    }
    assert "9 = x.shape[2] when traced" in conv.source
