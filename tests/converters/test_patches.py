"""Sliding blocks against torch: F.unfold (im2col), F.fold (col2im), Tensor.unfold."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ..helpers import AfterConv, Lambda, assert_converts

GEOMETRY = [
    dict(kernel_size=3),
    dict(kernel_size=(2, 3), stride=2),
    dict(kernel_size=3, padding=1, stride=(2, 1)),
    dict(kernel_size=(3, 2), dilation=2, padding=(2, 1)),
    dict(kernel_size=2, dilation=(1, 2), stride=(1, 3), padding=(0, 2)),
    dict(kernel_size=1),
]


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
@pytest.mark.parametrize("kw", GEOMETRY, ids=str)
def test_unfold_im2col(kw: dict, batched: bool) -> None:
    x = torch.randn(2, 3, 9, 8) if batched else torch.randn(3, 9, 8)
    conv = assert_converts(nn.Unfold(**kw), x)
    assert "im2col(" in conv.source


@pytest.mark.parametrize("kw", GEOMETRY, ids=str)
def test_unfold_after_conv_then_tokens(kw: dict) -> None:
    """Patches of a conv output, as tokens: blocks come out channels-last, no transposes."""
    model = AfterConv(lambda y: F.unfold(y, **kw).transpose(1, 2) * 2)
    conv = assert_converts(model, torch.randn(2, 3, 9, 8))
    assert conv.report.transposes == 1  # the model's input only


def _blocks(size: tuple, kw: dict, channels: int = 2, batch: int | None = 2) -> torch.Tensor:
    """Random blocks of the right count for folding into ``size``."""
    k = nn.modules.utils._pair(kw["kernel_size"])
    reference = F.unfold(torch.zeros(1, channels, *size), **kw)
    shape = (channels * k[0] * k[1], reference.shape[-1])
    return torch.randn(*((batch,) if batch else ()), *shape)


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
@pytest.mark.parametrize("kw", GEOMETRY, ids=str)
def test_fold_col2im(kw: dict, batched: bool) -> None:
    blocks = _blocks((9, 8), kw, batch=2 if batched else None)
    conv = assert_converts(nn.Fold((9, 8), **kw), blocks)
    assert "col2im(" in conv.source


@pytest.mark.parametrize("kw", GEOMETRY, ids=str)
def test_fold_of_unfold_counts_overlaps(kw: dict) -> None:
    fn = Lambda(lambda x: F.fold(F.unfold(x, **kw) * 2, (9, 8), **kw))
    conv = assert_converts(fn, torch.randn(2, 3, 9, 8))
    assert conv.report.transposes == 2  # into and out of channels-last


def test_fold_into_conv() -> None:
    class M(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(2, 4, 3, padding=1)

        def forward(self, blocks: torch.Tensor) -> torch.Tensor:
            return self.conv(F.fold(blocks, (6, 6), 2, stride=2))

    conv = assert_converts(M(), torch.randn(2, 8, 9))
    assert conv.report.transposes == 2  # blocks in, image out


TENSOR_UNFOLD = [(0, 2, 1), (1, 3, 2), (-1, 4, 1), (2, 5, 5), (3, 1, 2), (1, 4, 3)]


@pytest.mark.parametrize("after_conv", [True, False], ids=["after_conv", "root"])
@pytest.mark.parametrize("dim,size,step", TENSOR_UNFOLD, ids=str)
def test_tensor_unfold(dim: int, size: int, step: int, after_conv: bool) -> None:
    fn = lambda y: y.unfold(dim, size, step) * 2  # noqa: E731
    model = AfterConv(fn) if after_conv else Lambda(fn)
    conv = assert_converts(model, torch.randn(2, 4 if not after_conv else 3, 5, 6))
    assert "unfold(" in conv.source


def test_tensor_unfold_framing_audio() -> None:
    """Overlapping frames of a signal, as spectrogram front-ends cut them."""
    fn = Lambda(lambda s: s.unfold(-1, 16, 4).mean(-1))
    assert_converts(fn, torch.randn(3, 100))


def test_tensor_unfold_scalar() -> None:
    assert_converts(Lambda(lambda x: x.sum().unfold(0, 1, 1) + x[0]), torch.randn(3))


@pytest.mark.parametrize("kernel,stride", [(2, 1), (3, 2)])
def test_unfold_of_an_empty_batch(kernel: int, stride: int) -> None:
    """An empty batch has no size to infer from: the block width is spelled out."""
    fn = Lambda(lambda x: F.unfold(x, kernel, stride=stride))
    assert_converts(fn, torch.randn(0, 3, 6, 6), fresh=0)
