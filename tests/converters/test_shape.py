"""Shape ops against torch, on PyTorch and channels-last (after a conv) layouts."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import fx2mlx

from ..helpers import AfterConv, Lambda, assert_converts, assert_op_converts

aten = torch.ops.aten


SHAPE = {
    "flatten": lambda y: y.flatten(),
    "flatten1": lambda y: torch.flatten(y, 1),
    "flatten2": lambda y: y.flatten(2),
    "flatten12": lambda y: y.flatten(1, 2),
    "view": lambda y: y.view(y.shape[0], -1),
    "reshape": lambda y: y.reshape(2, 4, -1, 2),
    "permute": lambda y: y.permute(0, 2, 3, 1),
    "permute_back": lambda y: y.permute(0, 3, 1, 2) * 2,
    "transpose": lambda y: y.transpose(1, 3),
    "transpose_neg": lambda y: y.transpose(-1, -2).contiguous().view(2, -1),
    "unsqueeze": lambda y: y.unsqueeze(1),
    "unsqueeze_last": lambda y: y.unsqueeze(-1),
    "squeeze": lambda y: y[:, :1].squeeze(1),
    "squeeze_all": lambda y: y[:1, :, :1].squeeze(),
    "chunk": lambda y: y.chunk(2, dim=1)[1],
    "chunk_uneven": lambda y: torch.cat(y.chunk(3, dim=-1)[::2], dim=-1),
    "split": lambda y: y.split([1, 3], dim=1)[1] - y.split(2, dim=2)[0].mean(),
    "unbind": lambda y: torch.stack(y.unbind(1)[::-1], dim=1),
    "slice": lambda y: y[:, 1:3, ::2, -3:],
    "slice_step": lambda y: y[..., 1::3],
    "select": lambda y: y[:, 2],
    "select_last": lambda y: y[..., -1],
    "getitem_none": lambda y: y[:, None, 1],
    "index_tensor": lambda y: y[:, torch.arange(3).flip(0)],
    "expand": lambda y: y[:, :1].expand(-1, 5, -1, -1),
    "expand_new": lambda y: y[0, 0].expand(3, -1, -1),
    "repeat": lambda y: y.repeat(1, 2, 1, 1),
    "cat_channels": lambda y: torch.cat([y, y * 2], dim=1),
    "cat_neg": lambda y: torch.cat([y, -y], dim=-1),
    "stack": lambda y: torch.stack([y, y + 1], dim=1),
    "stack_last": lambda y: torch.stack([y, y + 1], dim=-1),
    "unflatten": lambda y: y.unflatten(1, (2, 2)),
    "roll": lambda y: torch.roll(y, 2, dims=1),
    "roll2": lambda y: torch.roll(y, (1, -2), dims=(1, 3)),
    "roll_flat": lambda y: torch.roll(y, 3),
    "flip": lambda y: torch.flip(y, dims=[1, 3]),
    "gather": lambda y: torch.gather(y, 1, torch.zeros_like(y, dtype=torch.long)[:, :2]),
    "size_math": lambda y: y.reshape(y.size(0) * y.size(1), y.size(2), -1),
    "tril": lambda y: torch.tril(y) + torch.triu(y, 1),
}


@pytest.mark.parametrize("after_conv", [True, False], ids=["after_conv", "root"])
@pytest.mark.parametrize("name", SHAPE)
def test_shape(name: str, after_conv: bool) -> None:
    fn = SHAPE[name]
    if after_conv:
        assert_converts(AfterConv(fn), torch.randn(2, 3, 5, 6))
    else:
        assert_converts(Lambda(fn), torch.randn(2, 4, 5, 6))


class TwoConvs(nn.Module):
    """cat along the channel axis of two conv outputs, then another conv."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, padding=1)
        self.b = nn.Conv2d(3, 2, 1)
        self.c = nn.Conv2d(6, 5, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.cat([self.a(x), self.b(x)], dim=1)
        left, right = y.chunk(2, dim=1)
        return self.c(torch.cat([right, left], 1))


@pytest.mark.parametrize("frontend", ["export", "fx"])
def test_cat_of_conv_outputs_both_frontends(frontend: str) -> None:
    assert_converts(TwoConvs(), torch.randn(2, 3, 6, 7), frontend=frontend)


class ToSequence(nn.Module):
    """A conv feature map turned into a token sequence and back (ViT / conformer style)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 2, stride=2)
        self.fc = nn.Linear(8, 8)
        self.out = nn.Conv2d(8, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        n, c, h, w = y.shape
        tokens = self.fc(y.flatten(2).transpose(1, 2))
        return self.out(tokens.transpose(1, 2).reshape(n, c, h, w))


@pytest.mark.parametrize("frontend", ["export", "fx"])
def test_tokens_roundtrip_both_frontends(frontend: str) -> None:
    assert_converts(ToSequence(), torch.randn(2, 3, 8, 6), frontend=frontend)


def test_tensor_constant_index() -> None:
    assert_converts(Lambda(lambda y: y[:, torch.tensor([2, 0, 1])]), torch.randn(2, 4, 5))


def test_conv1d_stack_with_unsqueeze() -> None:
    model = nn.Sequential(nn.Conv1d(3, 4, 3), Lambda(lambda y: y.unsqueeze(1)), nn.Conv2d(1, 2, 3))
    assert_converts(model, torch.randn(2, 3, 9))


@pytest.mark.parametrize("rank", [2, 3])
def test_numpy_T(rank: int) -> None:
    shape = (2, 3, 4)[:rank]
    assert_converts(Lambda(lambda x: x.T * 2), torch.randn(*shape))


def test_expand_as() -> None:
    def fn(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return x[:, :1].expand_as(y) * y

    assert_op_converts(fn, (torch.randn(2, 3, 4), torch.randn(2, 3, 4)), {aten.expand_as.default})


class Shuffle(nn.Module):
    """pixel_shuffle between convolutions (Swin2SR's upsampler), or alone."""

    def __init__(self, factor: int, unshuffle: bool, convs: bool) -> None:
        super().__init__()
        shuffle = nn.PixelUnshuffle(factor) if unshuffle else nn.PixelShuffle(factor)
        channels = 2 * factor * factor
        before, after = (2, channels) if unshuffle else (channels, 2)
        self.pre = nn.Conv2d(before, before, 1) if convs else nn.Identity()
        self.shuffle = shuffle
        self.post = nn.Conv2d(after, after, 1) if convs else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.post(self.shuffle(self.pre(x)))


@pytest.mark.parametrize("convs", [True, False], ids=["between_convs", "alone"])
@pytest.mark.parametrize("factor", [2, 3])
@pytest.mark.parametrize("unshuffle", [False, True], ids=["shuffle", "unshuffle"])
def test_pixel_shuffle(unshuffle: bool, factor: int, convs: bool) -> None:
    model = Shuffle(factor, unshuffle, convs)
    shape = (2, 2, 4 * factor, 3 * factor) if unshuffle else (2, 2 * factor * factor, 4, 3)
    target = aten.pixel_unshuffle.default if unshuffle else aten.pixel_shuffle.default
    assert_op_converts(model, (torch.randn(*shape),), {target})
    conv = assert_converts(model, torch.randn(*shape))
    assert conv.report.transposes == (2 if convs else 0)  # only at a conv stack's edges


AS = {
    "expand_as": lambda y, o: y[:, :1, :, :1].expand_as(o) + o,
    "expand_as_lower_rank": lambda y, o: y[0, 0, 0].expand_as(o) * 2,
    "reshape_as": lambda y, o: o.reshape_as(y.flatten(2)) * 2,
    "view_as": lambda y, o: y.view_as(o.transpose(2, 3).contiguous()),
    "view_as_channels": lambda y, o: (y * 2).view_as(o.permute(0, 2, 3, 1)) + 1,
}


@pytest.mark.parametrize("after_conv", [True, False], ids=["after_conv", "root"])
@pytest.mark.parametrize("name", AS)
def test_shape_as(name: str, after_conv: bool) -> None:
    """``other`` gives only its shape: it may be stored channels-last."""
    fn = AS[name]
    target = {aten.expand_as.default, aten.reshape_as.default, aten.view_as.default}
    if after_conv:
        assert_op_converts(AfterConv(lambda y: fn(y, y * 3)), (torch.randn(2, 3, 5, 6),), target)
    else:
        assert_op_converts(lambda y: fn(y, y * 3), (torch.randn(2, 4, 5, 6),), target)


RI = {
    "dim1": lambda y: y.repeat_interleave(2, dim=1),
    "dim_neg": lambda y: torch.repeat_interleave(y, 3, dim=-1),
    "flat": lambda y: y.repeat_interleave(2),
    "size_after": lambda y: y.repeat_interleave(2, dim=0).reshape(y.shape[0], -1),
}


@pytest.mark.parametrize("after_conv", [True, False], ids=["after_conv", "root"])
@pytest.mark.parametrize("name", RI)
def test_repeat_interleave_int(name: str, after_conv: bool) -> None:
    model = AfterConv(RI[name]) if after_conv else Lambda(RI[name])
    assert_converts(model, torch.randn(2, 3 if after_conv else 4, 5, 6))


class Repeats(nn.Module):
    """Per-element repeats held by the model: a buffer or a literal in forward."""

    def __init__(self, repeats: list[int], dim: int | None, literal: bool) -> None:
        super().__init__()
        self.register_buffer("repeats", torch.tensor(repeats))
        self.values, self.dim, self.literal = repeats, dim, literal

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        repeats = torch.tensor(self.values) if self.literal else self.repeats
        return torch.repeat_interleave(x, repeats, dim=self.dim) * 2


@pytest.mark.parametrize("literal", [False, True], ids=["buffer", "literal"])
@pytest.mark.parametrize(
    "repeats,dim",
    [([1, 2, 0, 3], 1), ([2, 0, 1, 1, 3], -1), ([3], 1), ([1, 0, 2] * 20, None)],
    ids=str,
)
def test_repeat_interleave_constant_tensor(repeats: list, dim: int | None, literal: bool) -> None:
    conv = assert_converts(
        Repeats(repeats, dim, literal), torch.randn(2, 4, 5) if dim else torch.randn(3, 4, 5)
    )
    if len(repeats) > 1:
        assert "repeats baked in" in conv.source


def test_repeat_interleave_constant_tensor_after_conv() -> None:
    class M(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 1)
            self.register_buffer("repeats", torch.tensor([2, 1, 0, 1]))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.conv(x).repeat_interleave(self.repeats, dim=1)

    conv = assert_converts(M(), torch.randn(2, 3, 5, 6))
    assert conv.report.transposes == 2


def test_repeat_interleave_runtime_repeats_is_reported() -> None:
    fn = Lambda(lambda x, r: x.repeat_interleave(r, dim=0))
    with pytest.raises(fx2mlx.UnsupportedError, match="data-dependent shape"):
        fx2mlx.convert(fn, (torch.randn(4, 3), torch.tensor([1, 2, 0, 3])))


@pytest.mark.parametrize("factor", [1, 2, 3])
@pytest.mark.parametrize("lead", [(), (2,), (2, 3)], ids=str)
def test_pixel_shuffle_any_batch(lead: tuple, factor: int) -> None:
    x = torch.randn(*lead, 2 * factor * factor, 4, 5)
    conv = assert_converts(nn.PixelShuffle(factor), x)
    assert "pixel_shuffle(x, " in conv.source


@pytest.mark.parametrize("factor", [1, 2, 3])
@pytest.mark.parametrize("lead", [(), (2,), (2, 3)], ids=str)
def test_pixel_unshuffle_any_batch(lead: tuple, factor: int) -> None:
    assert_converts(nn.PixelUnshuffle(factor), torch.randn(*lead, 2, 4 * factor, 5 * factor))


class Upscale(nn.Module):
    """A super-resolution tail: conv, shuffle, conv; and an unshuffle stem."""

    def __init__(self, r: int) -> None:
        super().__init__()
        self.down = nn.PixelUnshuffle(r)
        self.conv1 = nn.Conv2d(3 * r * r, 4 * r * r, 3, padding=1)
        self.shuffle = nn.PixelShuffle(r)
        self.conv2 = nn.Conv2d(4, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.shuffle(self.conv1(x))
        return self.conv2(y), F.pixel_unshuffle(self.conv2(y), 2)


@pytest.mark.parametrize("r", [2, 3])
def test_pixel_shuffle_in_conv_stack_stays_channels_last(r: int) -> None:
    conv = assert_converts(Upscale(r), torch.randn(2, 3 * r * r, 4, 6))
    assert "channels_last=True" in conv.source
    assert conv.report.transposes == 3  # the input, and the two outputs


def test_pixel_unshuffle_then_conv() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 1), nn.PixelUnshuffle(2), nn.Conv2d(16, 5, 1))
    conv = assert_converts(model, torch.randn(2, 3, 6, 8))
    assert conv.report.transposes == 2


def test_pixel_shuffle_functional_after_permute() -> None:
    fn = Lambda(lambda x: F.pixel_shuffle(x.permute(0, 3, 1, 2), 2))
    assert_converts(fn, torch.randn(2, 5, 6, 8))


@pytest.mark.parametrize(
    "index", [[0, 2, 3], [0, 0, 3], [4, 4, 4]], ids=["range-ish", "repeat", "constant"]
)
def test_constant_list_index_with_repeats(index: list[int]) -> None:
    """A constant index with a repeated value is no arange (it crashed building one)."""
    assert_converts(Lambda(lambda y: y[index, [1, 3, 3], [0, 0, 2]]), torch.randn(5, 5, 5))


def test_boolean_mask_index_is_reported() -> None:
    with pytest.raises(fx2mlx.UnsupportedError, match="boolean mask"):
        fx2mlx.convert(Lambda(lambda x, m: x[m]), (torch.randn(5, 4), torch.rand(5) > 0.5))


@pytest.mark.parametrize("dims", [(), (0,), (0, 2)], ids=str)
def test_flip_dims(dims: tuple) -> None:
    assert_converts(Lambda(lambda y: torch.flip(y, dims)), torch.randn(3, 4, 5))


def test_flip_zero_dim() -> None:
    assert_converts(Lambda(lambda y: torch.flip(y, (0,))), torch.tensor(2.5))


@pytest.mark.parametrize(
    "shape,index",
    [((), torch.zeros((), dtype=torch.long)), ((), torch.zeros(3, dtype=torch.long))]
    + [((5,), torch.zeros(0, dtype=torch.long)), ((5, 2), torch.zeros(2, 0, dtype=torch.long))],
    ids=["0d", "0d-index3", "empty", "empty2d"],
)
def test_gather_edge_shapes(shape: tuple, index: torch.Tensor) -> None:
    """A 0-d input has only element 0; an empty index gathers an empty tensor."""
    fn = Lambda(lambda x: torch.gather(x, 0, index))
    assert_converts(fn, torch.randn(shape))


@pytest.mark.parametrize(
    "fn",
    [lambda x: x.squeeze(0), lambda x: x.squeeze((0,)), lambda x: x.transpose(0, -1)],
    ids=["squeeze", "squeeze_dims", "transpose"],
)
def test_zero_dim_squeeze_and_transpose(fn: object) -> None:
    """torch accepts dim 0 (or -1) on a 0-d tensor and returns it as it is."""
    assert_converts(Lambda(lambda x: fn(x) * 2), torch.tensor(1.5))  # type: ignore[operator]


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: torch.roll(x, x.shape[0] // 2, 0),
        lambda x: torch.roll(x, x.shape[0], None),
        lambda x: torch.fft.fftshift(x, dim=(0, 1)),
        lambda x: torch.fft.ifftshift(x),
    ],
    ids=["half_batch", "flat_by_batch", "fftshift", "ifftshift"],
)
def test_roll_by_a_symbolic_size(fn: object) -> None:
    """A shift computed from a dynamic size is an expression of it (once emitted as the name
    of the graph node, which the generated file doesn't define)."""
    assert_converts(Lambda(fn), torch.randn(5, 6))


def test_reshape_to_zero_dim() -> None:
    """``x.view(())`` of a one-element tensor: MLX's ``reshape()`` with no sizes crashed the
    process (segfault); the generated code passes an empty tuple."""
    conv = assert_converts(Lambda(lambda x: x.sum(0, keepdim=True).view(()) * x), torch.randn(1))
    assert ".reshape(())" in conv.source
