"""Minimal layout: transposes only at the boundary (none with ``channels_last_io``), every
axis-taking op remapped instead, each case checked against torch on fresh random inputs."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from fx2mlx.layout import reshape_perm, unit_only

from .fixtures.layout_models import MODELS
from .helpers import assert_converts


def _transposes_in_forward(source: str) -> int:
    """Transposes written in the generated model's code (``sanitize``'s weight moves aside)."""
    code = source.split("def sanitize")[0]
    return len(re.findall(r"\.transpose\(|mx\.transpose\(|mx\.moveaxis\(|mx\.swapaxes\(", code))


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("cl_io", [False, True], ids=["torch-io", "channels-last-io"])
def test_conv_nets_transpose_only_at_the_boundary(name: str, cl_io: bool) -> None:
    cls, shape = MODELS[name]
    torch.manual_seed(0)
    conv = assert_converts(cls(), torch.randn(*shape), channels_last_io=cl_io)
    limit = 0 if cl_io else 2  # the input's transpose, and the output's for an image output
    assert conv.report.transposes <= limit, conv.source
    assert _transposes_in_forward(conv.source) == conv.report.transposes, conv.source


class Probe(nn.Module):
    """Two convs around ``fn``: the value ``fn`` sees is stored channels-last."""

    def __init__(self, fn: Callable[[Probe, torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.fn = fn
        self.c1 = nn.Conv2d(4, 4, 3, padding=1)
        self.c2 = nn.Conv2d(4, 4, 3, padding=1)
        self.w = nn.Parameter(torch.randn(4))
        self.register_buffer("b", torch.randn(1, 4, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(self, x)


def _shuffle(m: Probe, y: torch.Tensor) -> torch.Tensor:
    n, c, h, w = y.shape
    return m.c2(y.view(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w))


def _group_norm(y: torch.Tensor) -> torch.Tensor:
    n, c, h, w = y.shape
    g = y.view(n, 2, c // 2, h, w)
    g = (g - g.mean((2, 3, 4), keepdim=True)) / (g.var((2, 3, 4), keepdim=True) + 1e-5).sqrt()
    return g.view(n, c, h, w)


def _tokens(m: Probe, y: torch.Tensor) -> torch.Tensor:
    n, c, h, w = y.shape  # SegFormer: (N, C, H, W) -> tokens (N, HW, C) -> back, around a conv
    t = y.flatten(2).transpose(1, 2)
    t = F.layer_norm(t, (c,))
    return m.c2(t.transpose(1, 2).view(n, c, h, w))


# name: (the function between the convs, transposes with PyTorch's layout at the boundary)
CASES: dict[str, tuple[Callable[[Probe, torch.Tensor], torch.Tensor], int]] = {
    "cat_dim1": (lambda m, x: m.c2(torch.cat([m.c1(x), x], 1)[:, 1:5]), 2),
    "residual_of_input": (lambda m, x: m.c2(x + m.c1(x)), 2),
    "softmax_channels": (lambda m, x: m.c2(torch.softmax(m.c1(x), 1)), 2),
    "mean_hw_keepdim": (lambda m, x: m.c2(m.c1(x) - m.c1(x).mean((2, 3), keepdim=True)), 2),
    "max_channels_expand": (
        lambda m, x: m.c2(m.c1(x).max(1, keepdim=True)[0].expand(-1, 4, -1, -1)),
        2,
    ),
    "var_channels": (lambda m, x: m.c2(m.c1(x) / (m.c1(x).var(1, keepdim=True) + 1).sqrt()), 2),
    "pad": (lambda m, x: m.c2(F.pad(m.c1(x), [1, 2, 0, 1])), 2),
    "pad_reflect": (lambda m, x: m.c2(F.pad(m.c1(x), [1, 2, 0, 1], mode="reflect")), 2),
    "slice_h": (lambda m, x: m.c2(m.c1(x)[:, :, 1:5:2]), 2),
    "chunk_channels": (lambda m, x: m.c2(torch.cat(m.c1(x).chunk(2, 1)[::-1], 1)), 2),
    "split_channels": (
        lambda m, x: (lambda a, b: m.c2(torch.cat([b * 2, a], 1)))(*m.c1(x).split([1, 3], 1)),
        2,
    ),
    "flatten_unflatten": (lambda m, x: m.c2(m.c1(x).flatten(2).unflatten(2, (8, 8))), 2),
    "tokens_and_back": (_tokens, 2),
    "group_norm_by_hand": (lambda m, x: m.c2(_group_norm(m.c1(x))), 2),
    "param_view_broadcast": (lambda m, x: m.c2(m.c1(x) * m.w.view(1, -1, 1, 1) + m.b), 2),
    "param_rank3_broadcast": (lambda m, x: m.c2(m.c1(x) * m.w.reshape(-1, 1, 1)), 2),
    "where_buffer": (lambda m, x: m.c2(torch.where(m.c1(x) > 0, m.c1(x), m.b)), 2),
    "permute_round_trip": (
        lambda m, x: m.c2((m.c1(x).permute(0, 2, 3, 1) * m.w).permute(0, 3, 1, 2)),
        2,
    ),
    # these move data in any layout: one transpose more is the minimum
    "flatten_to_linear": (lambda m, x: m.c1(x).flatten(1)[:, :10], 2),
    "swap_h_w": (lambda m, x: m.c2(m.c1(x).transpose(2, 3)), 3),
    "channel_shuffle": (lambda m, x: _shuffle(m, m.c1(x)), 3),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_axis_taking_ops_are_remapped(case: str) -> None:
    fn, expected = CASES[case]
    torch.manual_seed(1)
    conv = assert_converts(Probe(fn), torch.randn(2, 4, 8, 8))
    assert conv.report.transposes == expected, conv.source
    assert _transposes_in_forward(conv.source) == expected


@pytest.mark.parametrize(
    "case,expected",
    [
        ("cat_dim1", 0),
        ("residual_of_input", 0),
        ("param_view_broadcast", 0),
        # the input is read by flatten, not a conv: it is taken in PyTorch's layout, and the
        # one transpose left is the model's own (tokens -> (N, HW, C))
        ("tokens_and_back", 1),
    ],
)
def test_channels_last_io_needs_no_transpose(case: str, expected: int) -> None:
    conv = assert_converts(Probe(CASES[case][0]), torch.randn(2, 4, 8, 8), channels_last_io=True)
    assert conv.report.transposes == expected, conv.source
    assert _transposes_in_forward(conv.source) == expected


def test_pooled_output_is_a_reshape_not_a_transpose() -> None:
    """(N, 1, 1, C) stored channels-last is (N, C, 1, 1) in PyTorch's order already: only unit
    axes move, so the output needs a reshape (the batch stays symbolic), not a transpose."""

    def fn(m: Probe, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = m.c1(x)
        return y, y.mean((2, 3), keepdim=True)

    conv = assert_converts(Probe(fn), torch.randn(2, 4, 8, 8))
    assert conv.report.transposes == 2, conv.source  # the input's and the image output's
    assert re.search(r"(\w+)\.reshape\(\1\.shape\[0\], \1\.shape\[3\], 1, 1\)", conv.source)


class Conv1dPair(nn.Module):
    """One input channel in and one out: both boundary relayouts move only a unit axis."""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv1d(1, 8, 5, padding=2)
        self.c2 = nn.Conv1d(8, 1, 5, padding=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c2(torch.relu(self.c1(x)))


@pytest.mark.parametrize("dynamic", [None, {"x": [2]}], ids=["static-length", "dynamic-length"])
def test_unit_axis_relayout_bakes_no_length(dynamic: dict | None) -> None:
    """NCL -> NLC with one channel is a reshape; its length is read from the array (a static
    100 would be a baked number; a dynamic length must never be; ``-1`` fails on an empty
    batch), checked at another length when dynamic."""
    torch.manual_seed(2)
    conv = assert_converts(Conv1dPair(), torch.randn(2, 1, 100), dynamic=dynamic)
    assert conv.report.transposes == 0, conv.source
    assert "x = x.reshape(x.shape[0], x.shape[2], 1)" in conv.source, conv.source
    assert re.search(r"(\w+)\.reshape\(\1\.shape\[0\], 1, \1\.shape\[1\]\)", conv.source)
    assert "100" not in conv.source.split("def __call__")[1].split("def sanitize")[0]
    if dynamic:
        result = conv.validate()  # the example, then fresh inputs at another length
        assert result.ok and "resized" in result.table(), result.table()


NHWC, NCHW = (0, 2, 3, 1), (0, 1, 2, 3)


@pytest.mark.parametrize(
    "src,dst,perm,expected",
    [
        ((2, 4, 8, 8), (2, 4, 64), NHWC, (0, 2, 1)),  # flatten(2): the channel axis stays whole
        ((2, 4, 64), (2, 4, 8, 8), (0, 2, 1), NHWC),  # and back
        ((2, 4, 8, 8), (2, 256), NHWC, None),  # flatten(1) mixes the channel axis
        ((2, 4, 8, 8), (2, 2, 2, 8, 8), NHWC, (0, 3, 4, 1, 2)),  # channel groups split in place
        ((2, 4, 8, 8), (2, 4, 8, 8), NCHW, NCHW),
        ((2, 4, 1, 1), (2, 4), NHWC, (0, 1)),  # unit axes go anywhere
        ((4,), (1, 4, 1, 1), (0,), (0, 1, 2, 3)),
        ((6, 4), (4, 6), (1, 0), None),  # a genuine regrouping
    ],
)
def test_reshape_perm(src: tuple, dst: tuple, perm: tuple, expected: tuple | None) -> None:
    got = reshape_perm(list(src), list(dst), perm)
    assert got == expected
    if got is not None:  # the claim itself: reshaping the stored array gives dst stored as got
        x = torch.randn(*src)
        stored = x.permute(*perm).reshape([dst[d] for d in got])
        assert torch.equal(stored, x.reshape(dst).permute(*got))


def test_unit_only_relayouts_are_reshapes() -> None:
    assert unit_only((1, 4, 1, 1), NCHW, NHWC)
    assert not unit_only((2, 4, 1, 1), NCHW, (0, 2, 3, 1)[::-1])
    assert not unit_only((1, 4, 2, 1), NCHW, NHWC)
